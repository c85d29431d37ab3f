"""Robot definitions: one sub-package per robot (``so101``, ``aloha``).

Each sub-package holds the robot's spec, its motor table, its calibration logic, its register
configuration and its hardware backends, declared per robot type in ``<robot>/backends.py``
(``{"real": builder, "emulated": builder}``, found through
:func:`lerobot_gym.registry.get_robot_backend`). ``factory.py`` dispatches ``backend="real"`` and
``"emulated"`` to them and names no robot. Nothing is imported here so that
``import lerobot_gym.robots`` stays free of hardware SDKs; import the sub-module you need.
"""
