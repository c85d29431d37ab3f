"""Tasks: one module per task; ``scripted/`` holds scripted demo policies.

Tasks are looked up by name through :mod:`lerobot_gym.registry` (``"free"``, ``"reach"``,
``"pick_cube"``, ``"push_cube"``).
"""
