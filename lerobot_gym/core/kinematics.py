"""Kinematics as a protocol: what tasks, policies and wrappers may ask of a robot's arm.

``core/`` states *what* kinematics offer; ``sim/`` implements it on the twin's MJCF
(:class:`lerobot_gym.sim.kinematics.MujocoKinematics`) and the env factory injects it
(``RobotEnv(kinematics_factory=...)``), so ``core/`` never imports ``sim/`` and a robot could
bring analytic kinematics instead.

Decisions:

- One instance per arm, over the robot's *whole* joint vector: ``fk(q)`` reads the arm's joints
  from ``q`` and ``ik`` returns a full vector with only that arm's non-gripper joints moved. A
  bimanual policy then keeps one joint vector and one solver per arm.
- Positions are in the frame of the twin's world (the single-arm twins put the base at its
  origin), rotations are 3x3 matrices; all SI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from lerobot_gym.core.spec import ArmSpec, RobotSpec


@dataclass(frozen=True)
class AxisObjective:
    """Align ``local_axis`` of the tool frame with ``world_direction`` (unit vectors)."""

    local_axis: np.ndarray
    world_direction: np.ndarray
    weight: float = 0.1


@dataclass(frozen=True)
class IKResult:
    """Outcome of :meth:`Kinematics.ik`.

    Attributes:
        q_rad: the full joint vector (spec order), limits respected.
        position_error_m: remaining distance from the target.
        converged: whether the position error fell below the tolerance.
    """

    q_rad: np.ndarray
    position_error_m: float
    converged: bool


@runtime_checkable
class Kinematics(Protocol):
    """Forward and inverse kinematics of one arm (see the module docstring)."""

    #: The robot's joint names, in the order of the vectors ``fk`` and ``ik`` take.
    joint_names: tuple[str, ...]

    def fk(self, q_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tool position (3,) and rotation matrix (3, 3) for a full joint vector."""
        ...

    def ik(
        self,
        target_pos: np.ndarray,
        q0_rad: np.ndarray,
        *,
        axes: tuple[AxisObjective, ...] = (),
        tol_m: float = 1e-3,
        max_iters: int = 200,
        damping: float = 1e-3,
    ) -> IKResult:
        """A full joint vector putting the tool at ``target_pos`` (and aligning ``axes``)."""
        ...


#: Builds the kinematics of one arm of a robot; what the env factory injects.
KinematicsFactory = Callable[["RobotSpec", "ArmSpec"], Kinematics]
