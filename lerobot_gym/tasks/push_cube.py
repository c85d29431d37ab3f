"""PushCube: push the cube onto a goal disc on the table.

The goal is drawn ``GOAL_OFFSET_M`` in front of the cube (further along +x from the robot, with a
little sideways jitter), inside the robot's workspace, and shown as a flat green disc.
Success: the cube centre lies within ``SUCCESS_RADIUS_M`` of the goal in the table plane.

Reward: dense, in [0, 1], the mean of reaching the push side of the cube and ``1 - tanh(10 d)``
of the cube-to-goal distance; sparse 1 on success. ``environment_state``: cube position (3),
quaternion (4) and goal (x, y).
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import ResetSample, TaskContext
from lerobot_gym.tasks._cube import CUBE_HALF_SIZE_M, CubeTask
from lerobot_gym.tasks._props import add_marker

GOAL_OFFSET_M = 0.08
GOAL_JITTER_M = 0.03
SUCCESS_RADIUS_M = 0.025


class PushCube(CubeTask):
    """Push the cube to a goal region."""

    name = "push_cube"
    description = "push the red cube onto the green goal"
    environment_state_dim = 9

    def build_scene(self, scene: mujoco.MjSpec, robot: RobotSpec) -> None:
        super().build_scene(scene, robot)
        add_marker(
            scene,
            "goal",
            geom_type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=(SUCCESS_RADIUS_M, 0.0005),
            rgba=(0.1, 0.8, 0.2, 0.8),
        )

    def sample_reset(self, robot: RobotSpec, np_random: np.random.Generator) -> ResetSample:
        sample = super().sample_reset(robot, np_random)
        # The cube starts far enough from the far edge of the workspace, and the goal is kept
        # inside it, so every goal is within the arm's reach.
        arm = robot.arms[0]
        low, high = np.array(arm.workspace_low), np.array(arm.workspace_high)
        xy = np_random.uniform(low, [max(low[0], high[0] - GOAL_OFFSET_M), high[1]])
        cube_pos, _ = sample.world_init["cube"]
        cube_pos[:2] = xy
        jitter = np_random.uniform(-GOAL_JITTER_M, GOAL_JITTER_M)
        goal = np.clip(xy + np.array([GOAL_OFFSET_M, jitter]), low, high)
        sample.goal = {"goal_xy": goal}
        goal_pos = np.array([goal[0], goal[1], robot.table_height_m + 0.0005])
        sample.world_init["goal"] = (goal_pos, np.array([1.0, 0.0, 0.0, 0.0]))
        return sample

    def evaluate(self, ctx: TaskContext, state: RobotState) -> dict[str, Any]:
        facts = super().evaluate(ctx, state)
        goal = ctx.goal["goal_xy"].copy()
        facts["goal_xy"] = goal
        if "cube_pos" in facts:
            cube = facts["cube_pos"]
            facts["cube_to_goal_m"] = float(np.linalg.norm(cube[:2] - goal))
            push_from = cube - np.append(
                (goal - cube[:2]) / max(np.linalg.norm(goal - cube[:2]), 1e-6), 0.0
            ) * (2 * CUBE_HALF_SIZE_M)
            facts["tcp_to_push_point_m"] = float(np.linalg.norm(facts["tcp_pos"] - push_from))
        return facts

    def dense_reward(self, facts: dict[str, Any]) -> float:
        if "cube_to_goal_m" not in facts:
            return 0.0
        reach = 1.0 - np.tanh(10.0 * facts["tcp_to_push_point_m"])
        place = 1.0 - np.tanh(10.0 * facts["cube_to_goal_m"])
        return float((reach + place) / 2.0)

    def is_success(self, facts: dict[str, Any]) -> bool:
        return "cube_to_goal_m" in facts and facts["cube_to_goal_m"] < SUCCESS_RADIUS_M

    def environment_state(self, facts: dict[str, Any]) -> np.ndarray:
        return np.concatenate([super().environment_state(facts), facts["goal_xy"]]).astype(
            np.float32
        )
