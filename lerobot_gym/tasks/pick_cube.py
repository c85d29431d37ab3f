"""PickCube: grasp a 2.5 cm cube and hold it at least 5 cm above the table.

Facts (simulation): cube pose, its height above the table, the gripper-to-cube distance and
whether both jaw pads touch the cube. Success means lifted *and* held: the cube is at least
``LIFT_HEIGHT_M`` up while both pads touch it, so a cube tossed into the air does not count.

Reward: dense, in [0, 1], the mean of reaching ``1 - tanh(10 d)``, grasping, and lift progress
``clip(h / LIFT_HEIGHT_M, 0, 1)`` while grasped; sparse 1 on success.
``environment_state``: cube position (3) and quaternion (4, w-first).
"""

from __future__ import annotations

import math
from typing import Any

from lerobot_gym.tasks._cube import CubeTask

LIFT_HEIGHT_M = 0.05


class PickCube(CubeTask):
    """Pick the cube up and hold it."""

    name = "pick_cube"
    description = "pick up the red cube"
    environment_state_dim = 7

    def dense_reward(self, facts: dict[str, Any]) -> float:
        if "cube_height_m" not in facts:
            return 0.0
        reach = 1.0 - math.tanh(10.0 * facts["tcp_to_cube_m"])
        grasp = float(facts["grasped"])
        lift = grasp * min(max(facts["cube_height_m"] / LIFT_HEIGHT_M, 0.0), 1.0)
        return (reach + grasp + lift) / 3.0

    def is_success(self, facts: dict[str, Any]) -> bool:
        return (
            "cube_height_m" in facts
            and facts["cube_height_m"] >= LIFT_HEIGHT_M
            and facts["grasped"]
        )
