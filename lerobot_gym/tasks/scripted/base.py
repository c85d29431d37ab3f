"""Waypoint-following scripted policy on the twin's kinematics (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import numpy as np

from lerobot_gym.core.kinematics import AxisObjective

if TYPE_CHECKING:
    from lerobot_gym.core.env import RobotEnv

DOWN = np.array([0.0, 0.0, -1.0])
#: Observation keys of the joint state and of the object state, raw and under LeRobotKeys.
STATE_KEYS = ("agent_pos", "observation.state")
ENVIRONMENT_STATE_KEYS = ("environment_state", "observation.environment_state")


def environment_state(obs: dict[str, Any]) -> np.ndarray | None:
    """The observation's ``environment_state`` under either naming, or None."""
    for key in ENVIRONMENT_STATE_KEYS:
        if key in obs:
            return np.asarray(obs[key], np.float64)
    return None


@dataclass(frozen=True)
class Waypoint:
    """Where the gripper frame should be at the end of a segment.

    Attributes:
        pos: gripper-frame position (base frame, metres).
        gripper: gripper opening in [0, 1] (0 closed, 1 open).
        steps: control steps to get there from the previous waypoint.
        jaw_yaw: world yaw of the jaw closing axis (top-down grasps), or None for no
            orientation constraint beyond pointing down.
        top_down: constrain the jaws to point down.
    """

    pos: np.ndarray
    gripper: float
    steps: int
    jaw_yaw: float | None = None
    top_down: bool = True


class ScriptedPolicy:
    """Follow waypoints planned at reset; subclasses implement :meth:`plan`.

    Args:
        env: the env to act in (any wrapper stack over a lerobot_gym ``RobotEnv``).
    """

    def __init__(self, env: gym.Env) -> None:
        self.env = env
        self.robot_env = cast("RobotEnv", env.unwrapped)
        self.robot = self.robot_env.robot
        # A single-arm policy: it drives the robot's first arm.
        self.arm = self.robot.arms[0]
        self.kinematics = self.robot_env.arm_kinematics(self.arm)
        self._gripper = self.robot.gripper_joint_index(self.arm)
        # Which way the jaws point and close in the arm's gripper frame, from its spec.
        self._approach_axis = np.array(self.arm.approach_axis, dtype=np.float64)
        self._jaw_axis = np.array(self.arm.jaw_axis, dtype=np.float64)
        self._path: list[tuple[np.ndarray, float, Waypoint]] = []
        self._t = 0
        self._q = self.robot.home_rad
        self._solved_for: np.ndarray | None = None

    def plan(self, obs: dict[str, Any], facts: dict[str, Any], start: np.ndarray) -> list[Waypoint]:
        """Waypoints for this episode, from the observation and the start gripper position."""
        raise NotImplementedError

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """Plan the episode from the first observation."""
        q_now = self.joint_positions(obs)
        self._q = q_now
        start, _ = self.kinematics.fk(q_now)
        waypoints = self.plan(obs, info.get("facts", self.robot_env.last_facts), start)
        gripper_now = self._gripper_fraction(q_now)
        self._path, self._t, self._solved_for = [], 0, None
        prev_pos, prev_grip = start, gripper_now
        for wp in waypoints:
            for k in range(1, wp.steps + 1):
                a = _smoothstep(k / wp.steps)
                pos = prev_pos + a * (np.asarray(wp.pos) - prev_pos)
                self._path.append((pos, prev_grip + a * (wp.gripper - prev_grip), wp))
            prev_pos, prev_grip = np.asarray(wp.pos, np.float64), wp.gripper

    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        """The action for this step."""
        if not self._path:
            raise gym.error.ResetNeeded("call policy.reset(obs, info) after env.reset()")
        pos, grip, wp = self._path[min(self._t, len(self._path) - 1)]
        self._t += 1
        if self._solved_for is None or not np.array_equal(pos, self._solved_for):
            result = self.kinematics.ik(
                pos, self._q, axes=self._axes(wp.top_down, wp.jaw_yaw), max_iters=50
            )
            self._q, self._solved_for = result.q_rad, pos
        targets = self._q.copy()
        if self._gripper is not None:
            joint = self.robot.joints[self._gripper]
            closed, opened = joint.closed_position_rad, joint.open_position_rad
            targets[self._gripper] = closed + grip * (opened - closed)
        previous = self.robot_env.joint_targets_rad
        assert previous is not None  # reset() planned the path, so the env has been reset
        return self.robot_env.controller.action_for_targets(targets, previous)

    def joint_positions(self, obs: dict[str, Any]) -> np.ndarray:
        """Measured joint positions (SI), from the observation or else the env's last reading.

        The fallback serves observations without a joint state (``obs_type="pixels"``).
        """
        for key in STATE_KEYS:
            if key in obs:
                return self.robot.from_user(np.asarray(obs[key], np.float64))
        state = self.robot_env.last_state
        if state is None:
            raise gym.error.ResetNeeded("call env.reset() before planning")
        return state.joint_positions_rad.copy()

    def tool_rotation(self, pos: np.ndarray, jaw_yaw: float | None) -> np.ndarray:
        """Rotation of the gripper frame after IK to ``pos`` pointing down (planning aid)."""
        result = self.kinematics.ik(pos, self._q, axes=self._axes(True, jaw_yaw), max_iters=100)
        return self.kinematics.fk(result.q_rad)[1]

    def _axes(self, top_down: bool, jaw_yaw: float | None) -> tuple[AxisObjective, ...]:
        axes = []
        if top_down:
            axes.append(AxisObjective(self._approach_axis, DOWN, 0.3))
        if jaw_yaw is not None:
            direction = np.array([np.cos(jaw_yaw), np.sin(jaw_yaw), 0.0])
            axes.append(AxisObjective(self._jaw_axis, direction, 0.3))
        return tuple(axes)

    def _gripper_fraction(self, q: np.ndarray) -> float:
        if self._gripper is None:
            return 0.0
        joint = self.robot.joints[self._gripper]
        return float(
            (q[self._gripper] - joint.closed_position_rad)
            / (joint.open_position_rad - joint.closed_position_rad)
        )


def _smoothstep(a: float) -> float:
    """Ease in and out so segments start and end at rest."""
    return a * a * (3.0 - 2.0 * a)
