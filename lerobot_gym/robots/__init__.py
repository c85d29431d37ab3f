"""Robot definitions: one sub-package per robot (``so101``, ``aloha``).

Each sub-package holds the robot's spec, its motor table, its calibration logic and its
hardware backend. Nothing is imported here so that ``import lerobot_gym.robots`` stays free of
hardware SDKs; import the sub-module you need.
"""
