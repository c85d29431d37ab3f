"""Shared parts of the cube tasks: the cube prop, its reset distribution and its facts."""

from __future__ import annotations

import math
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import ResetSample, Task, TaskContext
from lerobot_gym.errors import ConfigError
from lerobot_gym.tasks._props import add_free_box, yaw_quat

CUBE_HALF_SIZE_M = 0.0125  # a 2.5 cm cube
CUBE_MASS_KG = 0.03
FALL_BELOW_M = 0.05  # the cube is lost once it is this far below the table top
_CUBE_GEOMS = ("cube",)


class CubeTask(Task):
    """A task with a free cube on the table, placed uniformly in the workspace with any yaw.

    Single-arm tasks: the robot's first arm (``robot.arms[0]``) is the one that reaches, grasps
    and pushes; its workspace bounds the cube's placement.
    """

    privileged_state = True

    def build_scene(self, scene: mujoco.MjSpec, robot: RobotSpec) -> None:
        arm = robot.arms[0]
        if not arm.pad_geoms:
            raise ConfigError(
                f"cube tasks need the jaw pad geoms of robot {robot.name!r} arm {arm.name!r} to "
                "tell a grasp: set ArmSpec.pad_geoms to the names of its jaw collision geoms"
            )
        add_free_box(
            scene, "cube", CUBE_HALF_SIZE_M, mass_kg=CUBE_MASS_KG, rgba=(0.85, 0.15, 0.1, 1.0)
        )

    def sample_reset(self, robot: RobotSpec, np_random: np.random.Generator) -> ResetSample:
        sample = super().sample_reset(robot, np_random)
        arm = robot.arms[0]
        xy = np_random.uniform(arm.workspace_low, arm.workspace_high)
        yaw = np_random.uniform(-np.pi / 4, np.pi / 4)  # a cube's yaw repeats every 90 degrees
        pos = np.array([xy[0], xy[1], robot.table_height_m + CUBE_HALF_SIZE_M])
        sample.world_init = {"cube": (pos, yaw_quat(yaw))}
        return sample

    def evaluate(self, ctx: TaskContext, state: RobotState) -> dict[str, Any]:
        world = ctx.world
        if world is None:  # hardware: no privileged cube pose
            tcp, _ = ctx.arm_kinematics(0).fk(state.joint_positions_rad)
            return {"tcp_pos": tcp}
        robot = ctx.robot
        arm = robot.arms[0]
        tcp = world.site_pos(arm.gripper_site)
        cube = world.body_pos("cube")
        pads = world.geom_id_list(arm.pad_geoms)
        # Only the pads' contacts matter here: the world skips the contact list when no pad
        # can reach the cube (most steps of an exploring policy).
        on_cube = world.touching_among(world.geom_ids(_CUBE_GEOMS), world.geom_ids(arm.pad_geoms))
        d = tcp - cube  # the distance inline (once a helper: a call per step)
        return {
            "tcp_pos": tcp,
            "cube_pos": cube,
            "cube_quat": world.body_quat("cube"),
            "cube_height_m": cube.item(2) - CUBE_HALF_SIZE_M - robot.table_height_m,
            # d.dot(d): the same product as d @ d at half the call cost; math.dist on numpy
            # vectors converts element by element (~4x the cost).
            "tcp_to_cube_m": math.sqrt(d.dot(d)),
            # Set tests in C: any pad touching / every pad touching (and there are pads).
            "touching_cube": not on_cube.isdisjoint(pads),
            "grasped": bool(pads) and on_cube.issuperset(pads),
        }

    def is_failure(self, facts: dict[str, Any]) -> bool:
        return "cube_height_m" in facts and facts["cube_height_m"] < -FALL_BELOW_M

    def environment_state(self, facts: dict[str, Any]) -> np.ndarray:
        state = np.empty(7, dtype=np.float32)
        state[:3] = facts["cube_pos"]
        state[3:] = facts["cube_quat"]
        return state
