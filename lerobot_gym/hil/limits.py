"""Measure the joint and end-effector range an operator drives an arm through.

``lerobot-gym find-joint-limits`` (LeRobot's ``lerobot-find-joint-limits``) lets the operator
move the arm over the whole region it should work in, with a leader arm or the keyboard; the
range of the *measured* joints and of the tool position (forward kinematics of the measured
joints on the twin's model) become the env config's ``joint_bounds`` and
``ee_control.bounds``, the box ``EEDeltaAction`` keeps the tool in.

Decisions:

* Measured positions, not commanded ones: what the arm reached is what is known to be safe
  (a command clipped by safety or blocked by the table never got there).
* A joint-space device (a leader arm) drives the env's joint actions directly; an end-effector
  device (keyboard, gamepad) drives ``EEDeltaAction`` in a box as large as the arm's reach
  (the point is to find the bounds, so none is imposed beyond the table top).
* The operator ends the session with the success or stop event (right arrow / Esc), or it ends
  after ``max_steps``; an env episode that ends meanwhile (a time limit) is reset and measuring
  goes on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError

__all__ = ["MeasuredLimits", "measure_limits"]


@dataclasses.dataclass
class MeasuredLimits:
    """Ranges seen so far: joints in boundary units, tool position in metres (base frame)."""

    joint_names: tuple[str, ...]
    joint_low: np.ndarray
    joint_high: np.ndarray
    ee_low: np.ndarray
    ee_high: np.ndarray
    steps: int = 0

    @classmethod
    def start(cls, names: tuple[str, ...], joints: np.ndarray, ee: np.ndarray) -> MeasuredLimits:
        """The ranges of one sample."""
        return cls(names, joints.copy(), joints.copy(), ee.copy(), ee.copy(), 1)

    def add(self, joints: np.ndarray, ee: np.ndarray) -> None:
        """Widen the ranges to include a sample."""
        np.minimum(self.joint_low, joints, out=self.joint_low)
        np.maximum(self.joint_high, joints, out=self.joint_high)
        np.minimum(self.ee_low, ee, out=self.ee_low)
        np.maximum(self.ee_high, ee, out=self.ee_high)
        self.steps += 1

    def joint_bounds(self, min_size: float = 0.2) -> dict[str, list[float]]:
        """``joint_bounds`` of the env config, each range at least ``min_size`` wide.

        A joint the operator never moved is held within ``min_size`` (boundary units) of
        where it stood: a range that must satisfy ``low < high``.
        """
        low, high = _widened(self.joint_low, self.joint_high, min_size)
        return {"low": _rounded(low, 3), "high": _rounded(high, 3)}

    def ee_bounds(self, min_size_m: float = 1e-3) -> dict[str, list[float]]:
        """``ee_control.bounds``: the tool's box, each side at least ``min_size_m`` wide.

        A side the operator never moved along (a flat box) is widened symmetrically, since
        ``EEDeltaAction`` needs ``low < high``.
        """
        low, high = _widened(self.ee_low, self.ee_high, min_size_m)
        return {"low": _rounded(low, 4), "high": _rounded(high, 4)}


def _widened(low: np.ndarray, high: np.ndarray, min_size: float) -> tuple[np.ndarray, np.ndarray]:
    low, high = low.astype(np.float64), high.astype(np.float64)
    thin = high - low < min_size
    mid = (low + high) / 2
    low[thin], high[thin] = mid[thin] - min_size / 2, mid[thin] + min_size / 2
    return low, high


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    return [round(float(v), digits) for v in values]


def _ee_env(env: gym.Env) -> gym.Env:
    from lerobot_gym.wrappers.ee_delta_action import EEDeltaAction

    base: Any = env.unwrapped
    robot = base.robot
    reach = 0.6  # metres: beyond the reach of a tabletop arm, so the box never binds
    low = np.array([-reach, -reach, robot.table_height_m])
    high = np.array([reach, reach, robot.table_height_m + reach])
    return EEDeltaAction(env, bounds=(low, high))


def measure_limits(
    env: gym.Env,
    teleop: Any,
    *,
    max_steps: int,
    seed: int | None = None,
    on_step: Callable[[MeasuredLimits], None] | None = None,
) -> MeasuredLimits:
    """Drive ``env`` with ``teleop`` and record the range of the measured joints and tool.

    Args:
        env: a single-arm lerobot_gym env with ``control_mode="joint_pos"`` and ``agent_pos``.
        teleop: a connected device of kind ``"joint"`` or ``"ee_delta"``.
        max_steps: the most control steps to measure.
        seed: seed of the first reset.
        on_step: called with the ranges after each step (a live display).

    Raises:
        ConfigError: an env without ``agent_pos`` or a multi-arm robot.
    """
    base: Any = env.unwrapped
    robot = getattr(base, "robot", None)
    if robot is None or "agent_pos" not in getattr(env.observation_space, "spaces", {}):
        raise ConfigError("find-joint-limits needs a lerobot_gym env with obs['agent_pos']")
    arm = robot.single_arm("find-joint-limits")
    kinematics = base.arm_kinematics(arm)
    n = len(robot.joints)
    driven = env if teleop.action_kind == "joint" else _ee_env(env)

    def sample(obs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        joints = np.asarray(obs["agent_pos"][:n], np.float64)
        tool, _ = kinematics.fk(robot.from_user(joints))
        return joints, np.asarray(tool, np.float64)

    obs, _ = driven.reset(seed=seed)
    teleop.reset()
    limits = MeasuredLimits.start(tuple(j.name for j in robot.joints), *sample(obs))
    for _ in range(max_steps):
        action = teleop.get_action()
        events = info_keys.check_events(teleop.events(), type(teleop).__name__)
        if events[info_keys.SUCCESS] or events[info_keys.TERMINATE_EPISODE]:
            break
        obs, _, terminated, truncated, _ = driven.step(action)
        limits.add(*sample(obs))
        if on_step is not None:
            on_step(limits)
        if terminated or truncated:
            obs, _ = driven.reset()
    return limits
