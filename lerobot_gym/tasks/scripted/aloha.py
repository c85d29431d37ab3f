"""Scripted ALOHA TransferCube and Insertion, on ACT's timelines (400 steps at 50 Hz).

Both plan from the props' poses at reset (``environment_state``, else the task's facts) and move
each arm's grasp point (the midpoint of its jaw pads) through timed waypoints; see
:mod:`lerobot_gym.tasks.scripted.aloha_bimanual` for the machinery. Arms are ``arms[0]`` (left)
and ``arms[1]`` (right); world frame as in the twin's README (table top z = 0, the right arm
on +x).

TransferCube (ACT: right approaches at 90, descends at 130, closes at 170, meets at 220; left
closes at 310): the right gripper grasps the cube top-down (jaws along world y), lifts it to the
meeting point; the left gripper comes in level from -x with its jaws vertical, closes on the
cube's top and bottom faces beside the right fingers, then the right opens and rises clear.

Insertion (ACT: approach at 120, grasp at 220, meet at 285, insert at 340): both grippers grasp
top-down (jaws along world y), the left one the socket at its middle, the right one the peg at its
middle; both lift; the peg, held on the socket's axis, slides in from +x until it touches the pin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lerobot_gym.tasks.insertion import PEG_HALF_SIZES_M
from lerobot_gym.tasks.scripted.aloha_bimanual import (
    ArmWaypoint,
    BimanualScriptedPolicy,
    frame_quat,
)
from lerobot_gym.tasks.scripted.base import environment_state

DOWN, UP = np.array([0.0, 0.0, -1.0]), np.array([0.0, 0.0, 1.0])
PLUS_X, PLUS_Y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
# Top-down grasps with the jaws along world y: each arm's natural wrist (no roll).
LEFT_TOP_DOWN = frame_quat(DOWN, PLUS_Y)
RIGHT_TOP_DOWN = frame_quat(DOWN, -PLUS_Y)
# The left gripper level, pointing +x, jaws closing vertically (ACT's 90 degrees about x).
LEFT_LEVEL_VERTICAL_JAWS = frame_quat(PLUS_X, UP)

PAD_HALF_LENGTH_M = 0.0225  # half the pads' length along the fingers (the twin's pads)
TABLE_CLEARANCE_M = 0.003  # pad tips stay this far above the table top
ABOVE_M = 0.10  # pre-grasp height above a prop


def _up(dz: float) -> np.ndarray:
    return np.array([0.0, 0.0, dz])


def _along_x(dx: float) -> np.ndarray:
    return np.array([dx, 0.0, 0.0])


def _grasp_height(table_z: float, centre_z: float) -> float:
    """Grasp-point height: the prop's centre, raised so the pad tips clear the table."""
    return max(centre_z, table_z + PAD_HALF_LENGTH_M + TABLE_CLEARANCE_M)


def _prop_positions(obs: dict[str, Any], facts: dict[str, Any], keys: tuple[str, ...]) -> list:
    """Prop centres from ``environment_state`` (7 numbers per prop) or from the facts."""
    state = environment_state(obs)
    if state is not None:
        return [state[7 * i : 7 * i + 3] for i in range(len(keys))]
    return [np.asarray(facts[k], np.float64) for k in keys]


class TransferCubePolicy(BimanualScriptedPolicy):
    """Right arm picks the cube, left arm takes it over (see the module docstring)."""

    #: Where the cube's centre is handed over.
    meet = np.array([0.0, 0.5, 0.2])
    #: The left pads close this far on the -x side of the cube's centre, clear of the right
    #: fingers (which hold the cube's +-y faces within 2 cm of its centre along x).
    left_offset_x_m = 0.008

    def plan(
        self, obs: dict[str, Any], facts: dict[str, Any], start: list[ArmWaypoint]
    ) -> list[list[ArmWaypoint]]:
        (cube,) = _prop_positions(obs, facts, ("cube_pos",))
        table = self.robot.table_height_m
        grasp = np.array([cube[0], cube[1], _grasp_height(table, cube[2])])
        # The cube hangs below the grasp point by what the grasp height added.
        hold = self.meet + np.array([0.0, 0.0, grasp[2] - cube[2]])
        left_at = self.meet - np.array([self.left_offset_x_m, 0.0, 0.0])
        right = [
            start[1],
            ArmWaypoint(90, grasp + _up(ABOVE_M), RIGHT_TOP_DOWN, 1.0),
            ArmWaypoint(130, grasp, RIGHT_TOP_DOWN, 1.0),
            ArmWaypoint(170, grasp, RIGHT_TOP_DOWN, 0.0),
            ArmWaypoint(200, grasp + _up(0.12), RIGHT_TOP_DOWN, 0.0),
            ArmWaypoint(220, hold, RIGHT_TOP_DOWN, 0.0),
            ArmWaypoint(300, hold, RIGHT_TOP_DOWN, 0.0),
            ArmWaypoint(320, hold, RIGHT_TOP_DOWN, 1.0),
            ArmWaypoint(350, hold + _up(0.10), RIGHT_TOP_DOWN, 1.0),
            ArmWaypoint(400, hold + _up(0.10), RIGHT_TOP_DOWN, 1.0),
        ]
        left = [
            start[0],
            ArmWaypoint(100, left_at - _along_x(0.10), LEFT_LEVEL_VERTICAL_JAWS, 1.0),
            ArmWaypoint(230, left_at - _along_x(0.10), LEFT_LEVEL_VERTICAL_JAWS, 1.0),
            ArmWaypoint(260, left_at, LEFT_LEVEL_VERTICAL_JAWS, 1.0),
            ArmWaypoint(290, left_at, LEFT_LEVEL_VERTICAL_JAWS, 0.0),
            ArmWaypoint(400, left_at, LEFT_LEVEL_VERTICAL_JAWS, 0.0),
        ]
        return [left, right]


class InsertionPolicy(BimanualScriptedPolicy):
    """Left arm holds the socket, right arm inserts the peg (see the module docstring)."""

    #: Where the socket's centre is held during the insertion.
    socket_at = np.array([-0.05, 0.5, 0.15])
    #: Peg centre to socket centre along x: touching the pin (peg half length + pin half
    #: length), pressed 5 mm further so the contact holds.
    inserted_dx_m = PEG_HALF_SIZES_M[0] + 0.04 - 0.005
    #: Before sliding in, the peg's end waits this far outside the socket's mouth.
    approach_gap_m = 0.05

    def plan(
        self, obs: dict[str, Any], facts: dict[str, Any], start: list[ArmWaypoint]
    ) -> list[list[ArmWaypoint]]:
        peg, socket = _prop_positions(obs, facts, ("peg_pos", "socket_pos"))
        table = self.robot.table_height_m
        peg_grasp = np.array([peg[0], peg[1], _grasp_height(table, peg[2])])
        socket_grasp = np.array([socket[0], socket[1], _grasp_height(table, socket[2])])
        # Each prop's centre below its grasp point, kept through the lift (no slip assumed).
        peg_drop = peg_grasp[2] - peg[2]
        socket_drop = socket_grasp[2] - socket[2]
        left_hold = self.socket_at + _up(socket_drop)
        peg_line = self.socket_at + _up(peg_drop)
        peg_ready = peg_line + _along_x(self.inserted_dx_m + self.approach_gap_m)
        peg_in = peg_line + _along_x(self.inserted_dx_m)
        left = [
            start[0],
            ArmWaypoint(120, socket_grasp + _up(ABOVE_M), LEFT_TOP_DOWN, 1.0),
            ArmWaypoint(170, socket_grasp, LEFT_TOP_DOWN, 1.0),
            ArmWaypoint(220, socket_grasp, LEFT_TOP_DOWN, 0.0),
            ArmWaypoint(240, socket_grasp + _up(0.06), LEFT_TOP_DOWN, 0.0),
            ArmWaypoint(285, left_hold, LEFT_TOP_DOWN, 0.0),
            ArmWaypoint(400, left_hold, LEFT_TOP_DOWN, 0.0),
        ]
        right = [
            start[1],
            ArmWaypoint(120, peg_grasp + _up(ABOVE_M), RIGHT_TOP_DOWN, 1.0),
            ArmWaypoint(170, peg_grasp, RIGHT_TOP_DOWN, 1.0),
            ArmWaypoint(220, peg_grasp, RIGHT_TOP_DOWN, 0.0),
            ArmWaypoint(240, peg_grasp + _up(0.06), RIGHT_TOP_DOWN, 0.0),
            ArmWaypoint(285, peg_ready, RIGHT_TOP_DOWN, 0.0),
            ArmWaypoint(340, peg_in, RIGHT_TOP_DOWN, 0.0),
            ArmWaypoint(400, peg_in, RIGHT_TOP_DOWN, 0.0),
        ]
        return [left, right]
