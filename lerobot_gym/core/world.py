"""World queries as a protocol: the privileged scene access a task may use in simulation.

A task sees a simulated scene only through these calls on named bodies, sites and geoms (object
poses, site positions, contacts, placing props), so it stays independent of how a backend
assembled its model. ``sim/`` implements the protocol (:class:`lerobot_gym.sim.world.MujocoWorld`);
a backend hands one out as ``backend.world`` (``None`` on real hardware, where reward comes from a
wrapper), and ``core/`` never imports ``sim/``.

Geom ids are opaque integers handed out by the world itself (``geom_ids``), looked up once per
name set so per-step contact checks stay set lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class World(Protocol):
    """Named, privileged access to a simulated scene (see the module docstring)."""

    def body_pos(self, name: str) -> np.ndarray:
        """World position (3,) of a body (a copy)."""
        ...

    def body_quat(self, name: str) -> np.ndarray:
        """World orientation of a body as a (w, x, y, z) quaternion (a copy)."""
        ...

    def site_pos(self, name: str) -> np.ndarray:
        """World position (3,) of a site (a copy)."""
        ...

    def site_xmat(self, name: str) -> np.ndarray:
        """World rotation matrix (3, 3) of a site (a copy)."""
        ...

    def place(self, name: str, placement: Any) -> None:
        """Place a prop (a free or mocap body) at ``(pos, quat)``."""
        ...

    def geom_ids(self, names: Iterable[str]) -> frozenset[int]:
        """Ids of named geoms, as a set."""
        ...

    def geom_id_list(self, names: tuple[str, ...]) -> tuple[int, ...]:
        """Ids of named geoms, in order."""
        ...

    def body_geom_ids(self, body: str) -> frozenset[int]:
        """Ids of every geom attached to a body."""
        ...

    def touching(self, geoms: frozenset[int]) -> set[int]:
        """Ids of every geom in contact with any geom of ``geoms``."""
        ...

    def touching_among(self, geoms: frozenset[int], candidates: frozenset[int]) -> set[int]:
        """The geoms of ``candidates`` in contact with any geom of ``geoms``."""
        ...

    def in_contact(self, geoms_a: frozenset[int], geoms_b: frozenset[int]) -> bool:
        """Whether any active contact touches one geom of each set."""
        ...
