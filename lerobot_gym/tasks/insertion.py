"""Insertion (ALOHA): the left arm picks up the socket, the right arm the peg; insert the peg.

As gym-aloha's ``AlohaInsertion-v0`` (shared/reference/sim-anchors.md, section 1): a red peg
(12 x 2 x 2 cm) at x in [0.1, 0.2], y in [0.4, 0.6], and a blue socket (a 12 cm square tube of
four walls, 3.6 cm inside, with a ``pin`` in its middle) at x in [-0.2, -0.1], y in [0.4, 0.6];
both 50 g, identity orientation, tubes along x.

Reward (dense, gym-aloha's staged contact reward, 0..4):
1 both grippers touch their objects (left the socket, right the peg); 2 they do and neither object
touches the table; 3 the peg touches the socket and neither touches the table; 4 the peg touches
the pin (inserted). Sparse: 1 at stage 4. Success: stage 4. Failure: an object fell off the table.

Facts: ``peg_pos``, ``peg_quat``, ``socket_pos``, ``socket_quat``, the contacts
(``left_touching_socket``, ``right_touching_peg``, ``peg_on_table``, ``socket_on_table``,
``peg_touching_socket``, ``pin_touched``), ``fell`` and ``stage``. ``environment_state``: peg pose
then socket pose (14), as gym-aloha's ``env_state``.
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

PEG_HALF_SIZES_M = (0.06, 0.01, 0.01)
PROP_MASS_KG = 0.05
PEG_X_RANGE, PEG_Y_RANGE = (0.1, 0.2), (0.4, 0.6)
SOCKET_X_RANGE, SOCKET_Y_RANGE = (-0.2, -0.1), (0.4, 0.6)
SOCKET_WALLS = ("socket-1", "socket-2", "socket-3", "socket-4")
# gym-aloha's socket: (name, centre, half sizes); bottom, top, two sides, then the pin.
_SOCKET_GEOMS = (
    ("socket-1", (0.0, 0.0, -0.02), (0.06, 0.018, 0.002)),
    ("socket-2", (0.0, 0.0, 0.02), (0.06, 0.018, 0.002)),
    ("socket-3", (0.0, 0.02, 0.0), (0.06, 0.002, 0.018)),
    ("socket-4", (0.0, -0.02, 0.0), (0.06, 0.002, 0.018)),
)
PIN_HALF_SIZES_M = (0.04, 0.01, 0.01)
SOCKET_REST_Z_M = 0.022  # body height when its bottom wall rests on the table
# gym-aloha gives the walls more torsional/rolling friction than its other props.
_WALL_FRICTION = (1.0, 0.05, 0.001)


class Insertion(BimanualTask):
    """Pick up peg and socket, one per arm, and insert the peg into the socket in mid-air."""

    name = "insertion"
    description = "insert the red peg into the blue socket"
    environment_state_dim = 14

    def build_scene(self, scene: mujoco.MjSpec, robot: RobotSpec) -> None:
        self.check_two_arms(robot, self.name)
        peg = add_prop_body(scene, "peg")
        add_box_geom(peg, "red_peg", PEG_HALF_SIZES_M, mass_kg=PROP_MASS_KG, rgba=(1, 0, 0, 1))
        socket = add_prop_body(scene, "socket")
        # The walls and pin share the socket's mass (gym-aloha sets one inertial of 50 g).
        parts = len(_SOCKET_GEOMS) + 1
        for name, pos, size in _SOCKET_GEOMS:
            add_box_geom(
                socket,
                name,
                size,
                pos=pos,
                mass_kg=PROP_MASS_KG / parts,
                rgba=(0, 0, 1, 1),
                friction=_WALL_FRICTION,
            )
        add_box_geom(
            socket, "pin", PIN_HALF_SIZES_M, mass_kg=PROP_MASS_KG / parts, rgba=(1, 0, 0, 1)
        )

    def sample_reset(self, robot: RobotSpec, np_random: np.random.Generator) -> ResetSample:
        sample = super().sample_reset(robot, np_random)
        table = robot.table_height_m
        peg = uniform_xy(
            np_random, (PEG_X_RANGE[0], PEG_Y_RANGE[0]), (PEG_X_RANGE[1], PEG_Y_RANGE[1])
        )
        socket = uniform_xy(
            np_random,
            (SOCKET_X_RANGE[0], SOCKET_Y_RANGE[0]),
            (SOCKET_X_RANGE[1], SOCKET_Y_RANGE[1]),
        )
        sample.world_init = {
            "peg": (np.array([peg[0], peg[1], table + PEG_HALF_SIZES_M[2]]), IDENTITY_QUAT.copy()),
            "socket": (
                np.array([socket[0], socket[1], table + SOCKET_REST_Z_M]),
                IDENTITY_QUAT.copy(),
            ),
        }
        return sample

    def evaluate(self, ctx: TaskContext, state: RobotState) -> dict[str, Any]:
        world = ctx.world
        if world is None:  # hardware: no privileged props, no staged reward
            return {}
        left, right = ctx.robot.arms[0], ctx.robot.arms[1]
        table = world.geom_id_list((TABLE_GEOM,))[0]
        on_peg = world.touching(world.geom_ids(("red_peg",)))
        on_socket = world.touching(world.geom_ids(SOCKET_WALLS))
        walls = world.geom_ids(SOCKET_WALLS)
        left_touching = fingers_touching(world, left, on_socket)
        right_touching = fingers_touching(world, right, on_peg)
        peg_on_table = table in on_peg
        socket_on_table = table in on_socket
        peg_touching_socket = not walls.isdisjoint(on_peg)
        pin_touched = world.geom_id_list(("pin",))[0] in on_peg
        airborne = not peg_on_table and not socket_on_table
        stage = 0
        if left_touching and right_touching:
            stage = 2 if airborne else 1
        if peg_touching_socket and airborne:
            stage = 3
        if pin_touched:
            stage = 4
        peg_pos, socket_pos = world.body_pos("peg"), world.body_pos("socket")
        return {
            "peg_pos": peg_pos,
            "peg_quat": world.body_quat("peg"),
            "socket_pos": socket_pos,
            "socket_quat": world.body_quat("socket"),
            "left_touching_socket": left_touching,
            "right_touching_peg": right_touching,
            "peg_on_table": peg_on_table,
            "socket_on_table": socket_on_table,
            "peg_touching_socket": peg_touching_socket,
            "pin_touched": pin_touched,
            "fell": fell_off(peg_pos, ctx.robot) or fell_off(socket_pos, ctx.robot),
            "stage": stage,
        }

    def is_failure(self, facts: dict[str, Any]) -> bool:
        return bool(facts.get("fell", False))

    def environment_state(self, facts: dict[str, Any]) -> np.ndarray:
        state = np.empty(14, dtype=np.float32)
        state[:3], state[3:7] = facts["peg_pos"], facts["peg_quat"]
        state[7:10], state[10:] = facts["socket_pos"], facts["socket_quat"]
        return state
