"""Two-arm scripted policies: per-arm end-effector timelines, solved on the twin's IK.

A bimanual policy plans, at ``reset``, one timeline per arm (ACT's scripted policies: a list of
waypoints each reached at a given step), from the first observation's object poses
(``environment_state``, else the task's facts). At every step it interpolates each arm's timeline
(position and gripper linearly, orientation by slerp; ACT interpolates quaternions componentwise),
solves IK for that arm on the twin's kinematics, warm-started from its previous solution, and
returns the joint targets as an action for the env's controller.

Decisions:

- Waypoints place the *grasp point*, the midpoint of the arm's jaw pads (``ArmSpec.pad_geoms``),
  not the gripper site: "put the pads around the cube" is then independent of where a robot's
  gripper site sits. Its offset in the gripper-site frame is read from the twin's model.
- Orientations are full gripper-frame rotations (6-DoF arms), matched in IK by two axis
  objectives: the site's x axis (approach) and y axis (jaw travel).
- Open loop after planning, as ACT's: the env's objects are only read at ``reset``.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import mujoco
import numpy as np

from lerobot_gym.core.kinematics import AxisObjective
from lerobot_gym.core.spec import ArmSpec, RobotSpec
from lerobot_gym.tasks.scripted.base import STATE_KEYS

if TYPE_CHECKING:
    from lerobot_gym.core.env import RobotEnv

_X, _Y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class ArmWaypoint:
    """Where one arm's grasp point should be, and when.

    Attributes:
        t: the step at which the arm reaches it (the first waypoint is at 0).
        pos: grasp-point position, world frame, metres.
        quat: gripper-frame orientation, world frame, (w, x, y, z).
        gripper: opening, 0 (closed) .. 1 (open).
    """

    t: int
    pos: np.ndarray
    quat: np.ndarray
    gripper: float


def mat_to_quat(rot: np.ndarray) -> np.ndarray:
    """(w, x, y, z) quaternion of a 3x3 rotation matrix."""
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(rot, dtype=np.float64).reshape(9))
    return quat


def quat_to_mat(quat: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix of a (w, x, y, z) quaternion."""
    mat = np.empty(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, dtype=np.float64))
    return mat.reshape(3, 3)


def frame_quat(x_axis: np.ndarray, y_axis: np.ndarray) -> np.ndarray:
    """Orientation whose x and y axes point along the given (orthogonal) world directions."""
    x = np.asarray(x_axis, np.float64) / np.linalg.norm(x_axis)
    y = np.asarray(y_axis, np.float64)
    y = y - (y @ x) * x
    y /= np.linalg.norm(y)
    return mat_to_quat(np.column_stack([x, y, np.cross(x, y)]))


def slerp(q0: np.ndarray, q1: np.ndarray, a: float) -> np.ndarray:
    """Spherical interpolation between two unit quaternions (shortest way)."""
    dot = float(q0 @ q1)
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + a * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(dot)
    return (np.sin((1 - a) * theta) * q0 + np.sin(a * theta) * q1) / np.sin(theta)


def interpolate(timeline: list[ArmWaypoint], t: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Grasp-point position, orientation and gripper of a timeline at step ``t``."""
    if t <= timeline[0].t:
        first = timeline[0]
        return first.pos, first.quat, first.gripper
    for prev, nxt in itertools.pairwise(timeline):
        if t <= nxt.t:
            a = (t - prev.t) / max(nxt.t - prev.t, 1)
            pos = prev.pos + a * (nxt.pos - prev.pos)
            return (
                pos,
                slerp(prev.quat, nxt.quat, a),
                prev.gripper + a * (nxt.gripper - prev.gripper),
            )
    last = timeline[-1]
    return last.pos, last.quat, last.gripper


class BimanualScriptedPolicy:
    """Follow one timeline per arm, planned at reset; subclasses implement :meth:`plan`.

    Args:
        env: the env to act in (any wrapper stack over a lerobot_gym ``RobotEnv`` whose robot
            has two arms).
    """

    def __init__(self, env: gym.Env) -> None:
        self.env = env
        self.robot_env = cast("RobotEnv", env.unwrapped)
        self.robot = self.robot_env.robot
        self.arms: tuple[ArmSpec, ...] = tuple(self.robot.arms[:2])
        self.kinematics = [self.robot_env.arm_kinematics(arm) for arm in self.arms]
        self._grippers = [self.robot.gripper_joint_index(arm) for arm in self.arms]
        self._grasp_offsets = [grasp_offset(self.robot, arm) for arm in self.arms]
        self._timelines: list[list[ArmWaypoint]] = []
        self._q = self.robot.home_rad
        self._t = 0

    # -- planning ---------------------------------------------------------------------------
    def plan(
        self, obs: dict[str, Any], facts: dict[str, Any], start: list[ArmWaypoint]
    ) -> list[list[ArmWaypoint]]:
        """One timeline per arm, each beginning with its ``start`` waypoint (t = 0)."""
        raise NotImplementedError

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """Plan the episode from the first observation."""
        q_now = self.joint_positions(obs)
        self._q, self._t = q_now, 0
        start = []
        for i in range(len(self.arms)):
            pos, rot = self.grasp_point(i, q_now)
            start.append(ArmWaypoint(0, pos, mat_to_quat(rot), self._gripper_fraction(i, q_now)))
        self._timelines = self.plan(obs, info.get("facts", self.robot_env.last_facts), start)

    def grasp_point(self, arm: int, q_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World position of an arm's grasp point and its gripper rotation at ``q_rad``."""
        site, rot = self.kinematics[arm].fk(q_rad)
        return site + rot @ self._grasp_offsets[arm], rot

    # -- acting -----------------------------------------------------------------------------
    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        """The action for this step."""
        if not self._timelines:
            raise gym.error.ResetNeeded("call policy.reset(obs, info) after env.reset()")
        self._t += 1
        targets = self._q.copy()
        for i, timeline in enumerate(self._timelines):
            pos, quat, grip = interpolate(timeline, self._t)
            rot = quat_to_mat(quat)
            axes = (
                AxisObjective(_X, rot[:, 0], 0.3),
                AxisObjective(_Y, rot[:, 1], 0.3),
            )
            site_target = pos - rot @ self._grasp_offsets[i]
            result = self.kinematics[i].ik(site_target, targets, axes=axes, max_iters=30)
            arm_joints = self.robot.arm_slice(self.arms[i])
            targets[arm_joints] = result.q_rad[arm_joints]
            gripper = self._grippers[i]
            if gripper is not None:
                joint = self.robot.joints[gripper]
                closed, opened = joint.closed_position_rad, joint.open_position_rad
                targets[gripper] = closed + float(np.clip(grip, 0.0, 1.0)) * (opened - closed)
        self._q = targets
        previous = self.robot_env.joint_targets_rad
        assert previous is not None  # reset() planned the timelines, so the env has been reset
        return self.robot_env.controller.action_for_targets(targets, previous)

    # -- helpers ----------------------------------------------------------------------------
    def joint_positions(self, obs: dict[str, Any]) -> np.ndarray:
        """Measured joint positions (SI), from the observation or else the env's last reading."""
        for key in STATE_KEYS:
            if key in obs:
                return self.robot.from_user(np.asarray(obs[key], np.float64))
        state = self.robot_env.last_state
        if state is None:
            raise gym.error.ResetNeeded("call env.reset() before planning")
        return state.joint_positions_rad.copy()

    def _gripper_fraction(self, arm: int, q: np.ndarray) -> float:
        gripper = self._grippers[arm]
        if gripper is None:
            return 0.0
        joint = self.robot.joints[gripper]
        lo, hi = joint.closed_position_rad, joint.open_position_rad
        return float(np.clip((q[gripper] - lo) / (hi - lo), 0.0, 1.0))


def grasp_offset(robot: RobotSpec, arm: ArmSpec) -> np.ndarray:
    """Midpoint of the arm's pads in its gripper-site frame, read from the twin's MJCF.

    Only the components along the site's x and z axes: the pads sit symmetrically about the
    jaw axis, wherever the fingers are.
    """
    if not arm.pad_geoms or robot.robot_xml is None:
        return np.zeros(3)
    model = _robot_model(str(robot.robot_xml))
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    site = model.site(arm.gripper_site).id
    rot = data.site_xmat[site].reshape(3, 3)
    mid = np.mean([data.geom_xpos[model.geom(g).id] for g in arm.pad_geoms], axis=0)
    local = rot.T @ (mid - data.site_xpos[site])
    return np.array([local[0], 0.0, local[2]])


@functools.lru_cache(maxsize=4)
def _robot_model(xml_path: str) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(xml_path)
