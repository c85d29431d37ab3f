"""Privileged access to a simulated scene, for tasks: poses, placements and contacts.

Tasks see the scene only through this small surface (named bodies, sites and geoms), so they
stay independent of how the backend assembled the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.errors import ConfigError


class MujocoWorld:
    """Named access to a compiled model and its data."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        self.model, self.data = model, data

    def body_pos(self, name: str) -> np.ndarray:
        """World position of a body (copy)."""
        return self.data.body(name).xpos.copy()

    def body_quat(self, name: str) -> np.ndarray:
        """World orientation of a body as a (w, x, y, z) quaternion (copy)."""
        return self.data.body(name).xquat.copy()

    def site_pos(self, name: str) -> np.ndarray:
        """World position of a site (copy)."""
        return self.data.site(name).xpos.copy()

    def site_xmat(self, name: str) -> np.ndarray:
        """World rotation matrix (3x3) of a site (copy)."""
        return self.data.site(name).xmat.reshape(3, 3).copy()

    def place(self, name: str, placement: Any) -> None:
        """Place a prop: a free body ``(pos, quat)`` or a mocap body ``(pos, quat)``.

        Bodies with a free joint get their joint's qpos set (and velocity zeroed); mocap bodies
        get ``mocap_pos``/``mocap_quat``.
        """
        pos, quat = placement
        body = self.model.body(name)
        if body.mocapid[0] >= 0:
            self.data.mocap_pos[body.mocapid[0]] = pos
            self.data.mocap_quat[body.mocapid[0]] = quat
            return
        if body.jntnum[0] != 1 or self.model.jnt_type[body.jntadr[0]] != mujoco.mjtJoint.mjJNT_FREE:
            raise ConfigError(f"body {name!r} is neither a mocap body nor has one free joint")
        jnt = body.jntadr[0]
        qadr, dadr = self.model.jnt_qposadr[jnt], self.model.jnt_dofadr[jnt]
        self.data.qpos[qadr : qadr + 3] = pos
        self.data.qpos[qadr + 3 : qadr + 7] = quat
        self.data.qvel[dadr : dadr + 6] = 0.0

    def geom_ids(self, names: Iterable[str]) -> set[int]:
        """Ids of named geoms."""
        return {self.model.geom(n).id for n in names}

    def body_geom_ids(self, body: str) -> set[int]:
        """Ids of every geom attached to a body."""
        bid = self.model.body(body).id
        return set(np.flatnonzero(self.model.geom_bodyid == bid).tolist())

    def in_contact(self, geoms_a: set[int], geoms_b: set[int]) -> bool:
        """Whether any active contact touches one geom of each set."""
        for i in range(self.data.ncon):
            c = self.data.contact[i]
            if (c.geom1 in geoms_a and c.geom2 in geoms_b) or (
                c.geom2 in geoms_a and c.geom1 in geoms_b
            ):
                return True
        return False
