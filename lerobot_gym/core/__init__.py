"""The core of every env: four parts and the protocols they meet through.

``RobotEnv`` composes a :class:`RobotSpec` (one or more :class:`ArmSpec`), a :class:`Backend`,
a :class:`Controller` and a :class:`Task`; kinematics and privileged world queries are the
:class:`Kinematics` and :class:`World` protocols, implemented in ``lerobot_gym.sim`` and
injected by ``gym.make``. Nothing here imports ``lerobot_gym.sim`` (``tests/test_layering.py``).

Example:
    >>> from lerobot_gym.core import RobotSpec
    >>> from lerobot_gym.robots.so101.spec import SO101
    >>> isinstance(SO101, RobotSpec), [arm.name for arm in SO101.arms]
    (True, ['main'])
"""

from lerobot_gym.core.backend import Backend, RobotState
from lerobot_gym.core.controller import Controller, make_controller
from lerobot_gym.core.env import RobotEnv
from lerobot_gym.core.kinematics import AxisObjective, IKResult, Kinematics, KinematicsFactory
from lerobot_gym.core.spec import ArmSpec, CameraSpec, JointSpec, RobotSpec
from lerobot_gym.core.task import ResetSample, Task, TaskContext
from lerobot_gym.core.world import World

__all__ = [
    "ArmSpec",
    "AxisObjective",
    "Backend",
    "CameraSpec",
    "Controller",
    "IKResult",
    "JointSpec",
    "Kinematics",
    "KinematicsFactory",
    "ResetSample",
    "RobotEnv",
    "RobotSpec",
    "RobotState",
    "Task",
    "TaskContext",
    "World",
    "make_controller",
]
