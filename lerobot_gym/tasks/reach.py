"""Reach: bring the gripper frame to a target point above the table.

The target is drawn inside the robot's workspace (x, y from the spec, height 5..20 cm above the
table) and shown as a small green sphere in simulation. The target is a goal, not a physics
fact, so ``environment_state`` (the target position) is available on hardware too and the
distance comes from the twin's forward kinematics of the measured joint positions.

Reward: dense ``1 - tanh(10 d)`` with ``d`` the distance in metres; sparse 1 on success.
Success: ``d < 2 cm``.

Goal-conditioned: the achieved goal is the gripper position (fact ``tcp_pos``), the desired
goal the target, which is the whole of ``environment_state``; the vectorised
``goal_success``/``dense_goal_reward`` apply the same formulas as the per-step ones (to float32
precision, not to the bit: relabelled goals arrive as float32 observations).

:meth:`Reach.evaluate_batch` computes the same for many twins with numpy: the distance as
``sqrt(x*x + y*y + z*z)`` in both paths (``d @ d`` goes through BLAS, whose summation differs
from numpy's elementwise one in the last bit for ~10 % of vectors), and ``tanh`` with
``math.tanh`` in both (``np.tanh`` differs from it in the last bit for ~20 % of values).
"""

from __future__ import annotations

import math
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import (
    BatchEvaluation,
    BatchTaskContext,
    ResetSample,
    Task,
    TaskContext,
)
from lerobot_gym.tasks._props import add_marker

SUCCESS_DISTANCE_M = 0.02
TARGET_HEIGHT_M = (0.05, 0.20)


class Reach(Task):
    """Reach a target point with the gripper frame."""

    name = "reach"
    description = "reach the green target with the gripper"
    environment_state_dim = 3
    achieved_goal_fact = "tcp_pos"
    desired_goal_slice = (0, 3)

    def build_scene(self, scene: mujoco.MjSpec, robot: RobotSpec) -> None:
        add_marker(
            scene,
            "target",
            geom_type=mujoco.mjtGeom.mjGEOM_SPHERE,
            size=(0.012,),
            rgba=(0.1, 0.9, 0.2, 0.7),
        )

    def sample_reset(self, robot: RobotSpec, np_random: np.random.Generator) -> ResetSample:
        sample = super().sample_reset(robot, np_random)
        arm = robot.arms[0]  # a single-arm task: the first arm reaches
        xy = np_random.uniform(arm.workspace_low, arm.workspace_high)
        z = robot.table_height_m + np_random.uniform(*TARGET_HEIGHT_M)
        target = np.array([xy[0], xy[1], z])
        sample.goal = {"target_pos": target}
        sample.world_init = {"target": (target, np.array([1.0, 0.0, 0.0, 0.0]))}
        return sample

    def evaluate(self, ctx: TaskContext, state: RobotState) -> dict[str, Any]:
        # Simulation reads the site in the world frame the target lives in; hardware has only
        # forward kinematics, in the base frame, which the twin puts at the world origin.
        if ctx.world is not None:
            tcp = ctx.world.site_pos(ctx.robot.arms[0].gripper_site)
        else:
            tcp, _ = ctx.arm_kinematics(0).fk(state.joint_positions_rad)
        target = ctx.goal["target_pos"].copy()
        # Python floats, not np.linalg.norm (half of this method's time in its dispatch; it runs
        # for every env at every step), summed as evaluate_batch sums (module docstring).
        x, y, z = (tcp - target).tolist()
        return {
            "tcp_pos": tcp,
            "target_pos": target,
            "distance_m": math.sqrt(x * x + y * y + z * z),
        }

    def evaluate_batch(self, ctx: BatchTaskContext) -> BatchEvaluation | None:
        if type(self) is not Reach and _overrides(type(self)):
            return None  # a variant's own facts or rules: evaluated twin by twin
        tcp = ctx.world.site_pos(ctx.robot.arms[0].gripper_site)
        target = ctx.goal["target_pos"].copy()
        squares = tcp - target
        squares *= squares
        # x*x + y*y + z*z, left to right: numpy's add.reduce over a row of three sums it in
        # that order (its pairwise summation starts only at eight terms), in one call.
        distance = np.sqrt(np.add.reduce(squares, axis=1))
        success = distance < SUCCESS_DISTANCE_M
        if self.reward_type == "sparse":
            reward = success.astype(np.float64)
        else:
            # dense_reward's Python float operations, twin by twin (a loop of N floats costs
            # less than the three numpy calls around the same math.tanh).
            tanh = math.tanh
            reward = np.array([1.0 - tanh(10.0 * d) for d in distance.tolist()])
        return BatchEvaluation(
            facts={"tcp_pos": tcp, "target_pos": target, "distance_m": distance},
            reward=reward,
            success=success,
            failure=np.zeros(len(distance), dtype=bool),
            environment_state=target.astype(np.float32),
        )

    def dense_reward(self, facts: dict[str, Any]) -> float:
        return 1.0 - math.tanh(10.0 * facts["distance_m"])

    def is_success(self, facts: dict[str, Any]) -> bool:
        return facts["distance_m"] < SUCCESS_DISTANCE_M

    def goal_success(self, achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
        return _distance(achieved, desired) < SUCCESS_DISTANCE_M

    def dense_goal_reward(self, achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
        return 1.0 - np.tanh(10.0 * _distance(achieved, desired))

    def environment_state(self, facts: dict[str, Any]) -> np.ndarray:
        return facts["target_pos"].astype(np.float32)


def _distance(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
    diff = np.asarray(achieved, np.float64) - np.asarray(desired, np.float64)
    return np.sqrt(np.sum(diff * diff, axis=-1))


def _overrides(cls: type[Reach]) -> bool:
    """Whether a subclass changes what ``evaluate_batch`` computes (then it does not apply)."""
    names = ("evaluate", "reward", "dense_reward", "is_success", "is_failure", "environment_state")
    return any(getattr(cls, name) is not getattr(Reach, name) for name in names)
