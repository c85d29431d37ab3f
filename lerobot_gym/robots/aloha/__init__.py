"""The bimanual ALOHA (two ViperX 300 6-DoF arms): its spec and its backend builders.

Simulation only so far: ``backends.py`` answers ``backend="real"`` and ``backend="emulated"``
with typed errors until the ALOHA hardware issue lands.
"""
