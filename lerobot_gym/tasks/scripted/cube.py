"""Scripted PickCube and PushCube: top-down grasp and lift; push from behind along the goal line.

Both read the cube pose from ``environment_state`` (state observations) or from the task's facts
(simulation, any observation type). Grasps approach from 6 cm above, descend to the cube's centre,
close to fully shut (the jaws stop on the cube and the actuator keeps squeezing), then lift to
12 cm and hold. The jaw axis is aligned with the cube face nearest the arm's radial direction, so
the wrist turns as little as possible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lerobot_gym.tasks._cube import CUBE_HALF_SIZE_M
from lerobot_gym.tasks._props import quat_yaw
from lerobot_gym.tasks.scripted.base import ScriptedPolicy, Waypoint, environment_state

PREGRASP_HEIGHT_M = 0.06
LIFT_HEIGHT_M = 0.12
GRIPPER_OPEN = 0.45  # fraction of the full jaw opening: wide enough for the cube, fast to close
JAW_CLEARANCE_M = 0.004  # gap between the fixed jaw and the cube on the way down
TIP_ABOVE_TABLE_M = 0.005  # jaw tips stop this far above the table


def _cube_pose(obs: dict[str, Any], facts: dict[str, Any]) -> tuple[np.ndarray, float]:
    state = environment_state(obs)
    if state is not None:
        return state[:3], quat_yaw(state[3:7])
    return np.asarray(facts["cube_pos"], np.float64), quat_yaw(np.asarray(facts["cube_quat"]))


def _jaw_yaw(cube_pos: np.ndarray, cube_yaw: float) -> float:
    """The cube face direction (cube yaw + k 90 deg) closest to the radial direction."""
    radial = np.arctan2(cube_pos[1], cube_pos[0])
    candidates = cube_yaw + np.arange(-4, 5) * (np.pi / 2)
    diff = np.angle(np.exp(1j * (candidates - radial)))
    return float(candidates[np.argmin(np.abs(diff))])


class PickCubePolicy(ScriptedPolicy):
    """Top-down grasp, lift 12 cm, hold.

    The gripper frame sits at the fixed jaw's tip, on its inner face; the cube must end up beside
    it along the jaw axis (towards the moving jaw), so every grasp waypoint is offset by half a
    cube plus a small clearance along the jaw axis the IK actually reaches.
    """

    def plan(self, obs: dict[str, Any], facts: dict[str, Any], start: np.ndarray) -> list[Waypoint]:
        cube, yaw = _cube_pose(obs, facts)
        jaw = _jaw_yaw(cube, yaw)
        table = self.robot.table_height_m
        above = cube + np.array([0.0, 0.0, PREGRASP_HEIGHT_M])
        jaw_axis = self.tool_rotation(above, jaw) @ self._jaw_axis
        jaw_axis[2] = 0.0
        jaw_axis /= max(float(np.linalg.norm(jaw_axis)), 1e-6)
        offset = -(CUBE_HALF_SIZE_M + JAW_CLEARANCE_M) * jaw_axis
        grasp = np.array([cube[0], cube[1], table + TIP_ABOVE_TABLE_M]) + offset
        lift = np.array([cube[0], cube[1], table + LIFT_HEIGHT_M]) + offset
        return [
            Waypoint(above + offset, GRIPPER_OPEN, steps=30, jaw_yaw=jaw),
            Waypoint(grasp, GRIPPER_OPEN, steps=20, jaw_yaw=jaw),
            Waypoint(grasp, 0.0, steps=15, jaw_yaw=jaw),
            Waypoint(lift, 0.0, steps=30, jaw_yaw=jaw),
        ]


class PushCubePolicy(ScriptedPolicy):
    """Lower the closed gripper behind the cube, then push it along the line to the goal."""

    def plan(self, obs: dict[str, Any], facts: dict[str, Any], start: np.ndarray) -> list[Waypoint]:
        cube, _ = _cube_pose(obs, facts)
        state = environment_state(obs)
        goal = np.asarray(state[7:9] if state is not None else facts["goal_xy"], np.float64)
        line = goal - cube[:2]
        direction = np.append(line / max(np.linalg.norm(line), 1e-6), 0.0)
        jaw = float(np.arctan2(direction[1], direction[0]) + np.pi / 2)
        standoff = CUBE_HALF_SIZE_M + 0.025
        height = np.array([0.0, 0.0, CUBE_HALF_SIZE_M * 0.6])
        behind = cube - direction * standoff
        behind[2] = self.robot.table_height_m
        finish = np.append(goal, 0.0) - direction * (standoff - 0.018)
        finish[2] = self.robot.table_height_m
        return [
            Waypoint(behind + np.array([0.0, 0.0, 0.06]), 0.0, steps=30, jaw_yaw=jaw),
            Waypoint(behind + height, 0.0, steps=20, jaw_yaw=jaw),
            Waypoint(finish + height, 0.0, steps=60, jaw_yaw=jaw),
        ]
