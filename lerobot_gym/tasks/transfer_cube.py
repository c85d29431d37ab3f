"""TransferCube (ALOHA): the right arm picks the red cube up and hands it to the left arm.

As gym-aloha's ``AlohaTransferCube-v0`` (shared/reference/sim-anchors.md, section 1): a 4 cm,
50 g cube placed at x in [0, 0.2], y in [0.4, 0.6] on the table, identity orientation.

Reward (dense, gym-aloha's staged contact reward, 0..4):
1 the right gripper touches the cube; 2 it does and the cube is off the table; 3 the left gripper
touches the cube; 4 it does and the cube is off the table (the handover). Sparse: 1 at stage 4.
Success: stage 4. Failure: the cube fell off the table.

Facts: ``cube_pos``, ``cube_quat`` (w-first), ``right_touching``, ``left_touching``,
``cube_on_table``, ``cube_fell`` and ``stage``. ``environment_state``: the cube's position and
quaternion (7), as gym-aloha's ``env_state``.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import ResetSample, TaskContext
from lerobot_gym.tasks._bimanual import (
    IDENTITY_QUAT,
    TABLE_GEOM,
    BimanualTask,
    add_box_geom,
    add_prop_body,
    fell_off,
    fingers_touching,
    uniform_xy,
)

CUBE_HALF_SIZE_M = 0.02
CUBE_MASS_KG = 0.05
CUBE_X_RANGE = (0.0, 0.2)
CUBE_Y_RANGE = (0.4, 0.6)


class TransferCube(BimanualTask):
    """Hand the cube over from the right gripper to the left one."""

    name = "transfer_cube"
    description = "pick up the red cube with the right arm and hand it to the left arm"
    environment_state_dim = 7

    def build_scene(self, scene: mujoco.MjSpec, robot: RobotSpec) -> None:
        self.check_two_arms(robot, self.name)
        box = add_prop_body(scene, "box")
        add_box_geom(
            box, "red_box", (CUBE_HALF_SIZE_M,) * 3, mass_kg=CUBE_MASS_KG, rgba=(1, 0, 0, 1)
        )

    def sample_reset(self, robot: RobotSpec, np_random: np.random.Generator) -> ResetSample:
        sample = super().sample_reset(robot, np_random)
        xy = uniform_xy(
            np_random, (CUBE_X_RANGE[0], CUBE_Y_RANGE[0]), (CUBE_X_RANGE[1], CUBE_Y_RANGE[1])
        )
        pos = np.array([xy[0], xy[1], robot.table_height_m + CUBE_HALF_SIZE_M])
        sample.world_init = {"box": (pos, IDENTITY_QUAT.copy())}
        return sample

    def evaluate(self, ctx: TaskContext, state: RobotState) -> dict[str, Any]:
        world = ctx.world
        if world is None:  # hardware: no privileged cube, no staged reward
            return {}
        left, right = ctx.robot.arms[0], ctx.robot.arms[1]
        touched = world.touching(world.geom_ids(("red_box",)))
        right_touching = fingers_touching(world, right, touched)
        left_touching = fingers_touching(world, left, touched)
        on_table = world.geom_id_list((TABLE_GEOM,))[0] in touched
        stage = 0
        if right_touching:
            stage = 2 if not on_table else 1
        if left_touching:
            stage = 4 if not on_table else 3
        cube = world.body_pos("box")
        return {
            "cube_pos": cube,
            "cube_quat": world.body_quat("box"),
            "right_touching": right_touching,
            "left_touching": left_touching,
            "cube_on_table": on_table,
            "cube_fell": fell_off(cube, ctx.robot),
            "stage": stage,
        }

    def is_failure(self, facts: dict[str, Any]) -> bool:
        return bool(facts.get("cube_fell", False))

    def environment_state(self, facts: dict[str, Any]) -> np.ndarray:
        state = np.empty(7, dtype=np.float32)
        state[:3] = facts["cube_pos"]
        state[3:] = facts["cube_quat"]
        return state
