"""The MuJoCo side: the twin's backend, scene access for tasks, kinematics.

Importing this package imports mujoco; ``lerobot_gym/__init__.py`` has already chosen a headless
GL backend by then when the user had none.
"""
