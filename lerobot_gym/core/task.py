"""The Task part of an env: scene props, reset distribution, facts, reward, success.

A task never branches on a robot's name: it asks the :class:`RobotSpec` for joints and its arms
(``robot.arms[i]``: gripper, pads, workspace) and the table height, and the :class:`TaskContext`
for an arm's kinematics (:mod:`lerobot_gym.core.kinematics`) and, in simulation, the world
(:mod:`lerobot_gym.core.world`). Both are protocols: ``core/`` never imports ``sim/``.

Tasks return *facts* (plain floats and arrays, e.g. ``cube_height_m``, ``tcp_to_cube_m``);
rewards and success are functions of facts, so a wrapper can recompute them, a human can label
them, and a reward classifier can replace them on hardware.

All randomness comes from the ``np_random`` generator the env passes in (the env's
``self.np_random``), so the same seed gives the same episode and an unseeded reset continues the
seeded stream.

A task may also evaluate many twins at once (:meth:`Task.evaluate_batch`, used by the batched
vector env): the same facts, reward, success and ``environment_state`` as its per-twin methods,
bit for bit, as arrays over the twins, so a step's task Python is a few numpy operations instead
of a Python loop over the twins. It is optional; a task without it is evaluated twin by twin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np

from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.kinematics import Kinematics
from lerobot_gym.core.spec import ArmSpec, RobotSpec
from lerobot_gym.core.world import World
from lerobot_gym.errors import ConfigError

if TYPE_CHECKING:
    import mujoco

RewardType = Literal["dense", "sparse"]
REWARD_TYPES: tuple[RewardType, ...] = ("dense", "sparse")


@dataclass
class ResetSample:
    """A drawn initial condition.

    Attributes:
        joint_positions_rad: the robot's start pose.
        world_init: task props to place (simulation), e.g. ``{"cube": (pos, quat)}``.
        goal: task goal values ``evaluate`` reads from ``TaskContext.goal`` (e.g. a reach
            target); the env hands them over, so the task itself keeps no episode state.
    """

    joint_positions_rad: np.ndarray
    world_init: dict[str, Any] = field(default_factory=dict)
    goal: dict[str, np.ndarray] = field(default_factory=dict)


class BatchPoses(Protocol):
    """Poses of several twins at once (the rows a batched evaluation covers)."""

    def site_pos(self, name: str) -> np.ndarray:
        """World positions ``(n, 3)`` of a site, one row per twin (a copy)."""
        ...

    def body_pos(self, name: str) -> np.ndarray:
        """World positions ``(n, 3)`` of a body, one row per twin (a copy)."""
        ...


@dataclass(slots=True)
class BatchTaskContext:
    """What :meth:`Task.evaluate_batch` may look at: ``n`` twins of one robot in simulation.

    Attributes:
        robot: the robot spec.
        world: the twins' poses.
        goal: each goal key of the twins' ``ResetSample.goal`` stacked, ``(n, ...)``; read-only
            (a task copies what it hands out as facts).
        joint_positions_rad: ``(n, joints)``.
    """

    robot: RobotSpec
    world: BatchPoses
    goal: dict[str, np.ndarray]
    joint_positions_rad: np.ndarray


@dataclass(slots=True)
class BatchEvaluation:
    """:meth:`Task.evaluate` and what follows from it, for ``n`` twins.

    Attributes:
        facts: each fact stacked over the twins as Gymnasium batches an info value: a float
            fact as ``(n,)`` float64, a bool as ``(n,)`` bool, an array as ``(n, ...)`` of its
            dtype.
        reward: ``(n,)`` float64, :meth:`Task.reward` of each twin's facts.
        success: ``(n,)`` bool.
        failure: ``(n,)`` bool.
        environment_state: ``(n, environment_state_dim)`` float32.
    """

    facts: dict[str, np.ndarray]
    reward: np.ndarray
    success: np.ndarray
    failure: np.ndarray
    environment_state: np.ndarray


class TaskContext:
    """What a task may look at when evaluating a step.

    Args:
        robot: the robot spec.
        kinematics: arm -> that arm's kinematics (works on hardware too), called on first use
            (a task that never needs kinematics never loads the robot's MJCF).
        world: privileged simulation access, or None on hardware.
        goal: this episode's goal, drawn by ``Task.sample_reset`` (``ResetSample.goal``).
    """

    __slots__ = ("_kinematics", "goal", "robot", "world")

    def __init__(
        self,
        robot: RobotSpec,
        kinematics: Callable[[ArmSpec], Kinematics],
        world: World | None = None,
        goal: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.robot, self.world = robot, world
        self.goal: dict[str, np.ndarray] = dict(goal or {})
        self._kinematics = kinematics

    def arm_kinematics(self, arm: int | str | ArmSpec = 0) -> Kinematics:
        """Kinematics of one of the robot's arms (by index, name or spec)."""
        return self._kinematics(self.robot.arm(arm))

    @property
    def kinematics(self) -> Kinematics:
        """Kinematics of a single-arm robot's arm (multi-arm robots: ``arm_kinematics``)."""
        return self._kinematics(self.robot.single_arm("TaskContext.kinematics"))


class Task:
    """Base class; a variant is a small subclass with fixed parameters.

    Subclasses set ``name`` and override what they need; the episode length is part of the
    registered id (``lerobot_gym.registry.ENV_IDS``).

    Rewards follow one rule, here: ``reward_type="sparse"`` gives 1.0 exactly when
    :meth:`is_success` holds, else 0.0; ``"dense"`` gives :meth:`dense_reward`. A task writes
    only its shaping. A task holds no per-episode state: what a reset draws (a goal) travels in
    the :class:`ResetSample` and reaches ``evaluate`` as ``ctx.goal``, so one task object can
    serve several envs and a reset never leaves a stale goal behind.

    Args:
        reward_type: ``"dense"`` (shaped) or ``"sparse"`` (1 on success, else 0).
        reset_noise_rad: half-width of the uniform noise added to the start pose.
    """

    name: ClassVar[str] = "free"
    #: Size of ``environment_state`` (0: the task adds no such observation).
    environment_state_dim: ClassVar[int] = 0
    #: Whether ``environment_state`` needs privileged simulation state.
    privileged_state: ClassVar[bool] = False
    #: One-line description, used as the dataset's task string by default.
    description: ClassVar[str] = "move freely"

    def __init__(self, reward_type: RewardType = "dense", reset_noise_rad: float = 0.02) -> None:
        if reward_type not in REWARD_TYPES:
            raise ConfigError(f"reward_type must be one of {REWARD_TYPES}, got {reward_type!r}")
        self.reward_type = reward_type
        self.reset_noise_rad = float(reset_noise_rad)

    def build_scene(self, scene: mujoco.MjSpec, robot: RobotSpec) -> None:
        """Add the task's props to the twin's scene (simulation only)."""

    def sample_reset(self, robot: RobotSpec, np_random: np.random.Generator) -> ResetSample:
        """Draw the start pose (home plus small noise) and the props' placement."""
        noise = np_random.uniform(-self.reset_noise_rad, self.reset_noise_rad, len(robot.joints))
        q0 = np.clip(robot.home_rad + noise, robot.lower_rad, robot.upper_rad)
        return ResetSample(joint_positions_rad=q0)

    def evaluate(self, ctx: TaskContext, state: RobotState) -> dict[str, Any]:
        """Facts about the present state (floats, bools, small arrays)."""
        return {}

    def reward(self, facts: dict[str, Any]) -> float:
        """Reward from facts: sparse, 1.0 exactly when the task succeeds; dense, the shaping."""
        if self.reward_type == "sparse":
            return float(self.is_success(facts))
        return float(self.dense_reward(facts))

    def dense_reward(self, facts: dict[str, Any]) -> float:
        """The shaped reward (``reward_type="dense"``); the base task has none."""
        return 0.0

    def is_success(self, facts: dict[str, Any]) -> bool:
        """Whether the task is solved in the present state."""
        return False

    def is_failure(self, facts: dict[str, Any]) -> bool:
        """Whether the episode cannot succeed any more (ends it with ``terminated``)."""
        return False

    def environment_state(self, facts: dict[str, Any]) -> np.ndarray:
        """The ``environment_state`` observation, float32 of size ``environment_state_dim``.

        A new array on every call (the env hands it out as the observation without copying).
        """
        return np.zeros(self.environment_state_dim, dtype=np.float32)

    def evaluate_batch(self, ctx: BatchTaskContext) -> BatchEvaluation | None:
        """Every twin's facts, reward, success, failure and ``environment_state`` at once.

        Optional (None: not vectorised, and the caller evaluates twin by twin). An override
        must give, bit for bit, what :meth:`evaluate` and the methods of its facts give for
        each twin alone (tests/sim/test_vector_env.py compares them): the same float
        operations in the same order, elementwise.
        """
        return None
