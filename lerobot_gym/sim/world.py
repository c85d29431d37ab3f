"""Privileged access to a simulated scene, for tasks: poses, placements and contacts.

:class:`MujocoWorld` implements the :class:`lerobot_gym.core.world.World` protocol. Tasks see the
scene only through this small surface (named bodies, sites and geoms), so they stay independent
of how the backend assembled the model.

When an emulator steps the same ``MjData`` from its own thread, the world is given the scene's
lock and every query holds it, so a task never reads a half-written step. Without a lock (the
MuJoCo backend's scene, which only the env's thread touches) the per-step queries skip the
``with`` altogether: entering even a null context costs about as much as the copy it guards.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.errors import ConfigError


class MujocoWorld:
    """Named access to a compiled model and its data.

    Args:
        model: the compiled model.
        data: its data.
        lock: held by every query (the scene's, when another thread steps ``data``); None:
            only the caller's thread touches ``data``.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        lock: threading.RLock | None = None,
    ) -> None:
        self.model, self.data = model, data
        self._lock = lock  # the per-step queries test it; the rest use _guard
        self._guard: Any = lock if lock is not None else contextlib.nullcontext()
        self._geom_ids: dict[tuple[str, ...], frozenset[int]] = {}
        self._geom_id_lists: dict[tuple[str, ...], tuple[int, ...]] = {}
        # Named access (data.body(name)) costs microseconds per call; tasks read a few poses on
        # every step, so ids are resolved once.
        self._body_ids: dict[str, int] = {}
        self._site_ids: dict[str, int] = {}
        # So are the arrays: each `data.<field>` access builds a new numpy view in the bindings,
        # while these views stay valid for as long as `data` lives.
        self._xpos, self._xquat = data.xpos, data.xquat
        self._site_xpos, self._site_xmat = data.site_xpos, data.site_xmat
        # And the rows tasks read every step, one view per name: a query is a dict lookup and
        # a copy, no id lookup or row indexing.
        self._site_rows: dict[str, np.ndarray] = {}
        self._pos_rows: dict[str, np.ndarray] = {}
        self._quat_rows: dict[str, np.ndarray] = {}
        self._geom_xpos = data.geom_xpos
        # (geoms, candidates) -> the geom rows and squared reach of each pair (touching_among).
        self._reach: dict[tuple[frozenset[int], frozenset[int]], Any] = {}

    def _body(self, name: str) -> int:
        bid = self._body_ids.get(name)
        if bid is None:
            bid = self._body_ids[name] = self.model.body(name).id
        return bid

    def _site(self, name: str) -> int:
        sid = self._site_ids.get(name)
        if sid is None:
            sid = self._site_ids[name] = self.model.site(name).id
        return sid

    def body_pos(self, name: str) -> np.ndarray:
        """World position of a body (copy)."""
        row = self._pos_rows.get(name)
        if row is None:
            row = self._pos_rows[name] = self._xpos[self._body(name)]
        if self._lock is None:
            return row.copy()
        with self._lock:
            return row.copy()

    def body_quat(self, name: str) -> np.ndarray:
        """World orientation of a body as a (w, x, y, z) quaternion (copy)."""
        row = self._quat_rows.get(name)
        if row is None:
            row = self._quat_rows[name] = self._xquat[self._body(name)]
        if self._lock is None:
            return row.copy()
        with self._lock:
            return row.copy()

    def site_pos(self, name: str) -> np.ndarray:
        """World position of a site (copy)."""
        row = self._site_rows.get(name)
        if row is None:
            row = self._site_rows[name] = self._site_xpos[self._site(name)]
        if self._lock is None:
            return row.copy()
        with self._lock:
            return row.copy()

    def site_xmat(self, name: str) -> np.ndarray:
        """World rotation matrix (3x3) of a site (copy)."""
        with self._guard:
            return self._site_xmat[self._site(name)].reshape(3, 3).copy()

    def place(self, name: str, placement: Any) -> None:
        """Place a prop: a free body ``(pos, quat)`` or a mocap body ``(pos, quat)``.

        Bodies with a free joint get their joint's qpos set (and velocity zeroed); mocap bodies
        get ``mocap_pos``/``mocap_quat``.
        """
        with self._guard:
            self._place(name, placement)

    def _place(self, name: str, placement: Any) -> None:
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

    def geom_ids(self, names: Iterable[str]) -> frozenset[int]:
        """Ids of named geoms (looked up once per name set)."""
        key = tuple(names)
        ids = self._geom_ids.get(key)
        if ids is None:
            ids = self._geom_ids[key] = frozenset(self.model.geom(n).id for n in key)
        return ids

    def body_geom_ids(self, body: str) -> frozenset[int]:
        """Ids of every geom attached to a body."""
        bid = self.model.body(body).id
        return frozenset(np.flatnonzero(self.model.geom_bodyid == bid).tolist())

    def geom_id_list(self, names: tuple[str, ...]) -> tuple[int, ...]:
        """Ids of named geoms, in order (looked up once per name tuple)."""
        ids = self._geom_id_lists.get(names)
        if ids is None:
            ids = self._geom_id_lists[names] = tuple(self.model.geom(n).id for n in names)
        return ids

    def touching(self, geoms: frozenset[int]) -> set[int]:
        """Ids of every geom in contact with any geom of ``geoms`` (one pass over contacts)."""
        found: set[int] = set()
        # MjData.contact holds exactly the ncon active contacts: no ncon read or slice (each a
        # bindings call; this runs every step of the cube tasks).
        if self._lock is None:
            pairs = self.data.contact.geom.tolist()
        else:
            with self._lock:
                pairs = self.data.contact.geom.tolist()
        for g1, g2 in pairs:
            if g1 in geoms:
                found.add(g2)
            elif g2 in geoms:
                found.add(g1)
        return found

    def touching_among(self, geoms: frozenset[int], candidates: frozenset[int]) -> set[int]:
        """The geoms of ``candidates`` in contact with any geom of ``geoms``.

        ``touching(geoms) & candidates``, without reading the contacts when no candidate is
        within reach of any geom of ``geoms``: MuJoCo lists a contact between two geoms only if
        their centres (``geom_xpos``, from the same forward pass as the contacts) are at most
        the sum of their bounding radii plus the larger margin apart, its own bounding-sphere
        test. The test here is that one, widened by a part in 10^4 for rounding; models where
        it does not apply (explicit contact pairs, margin override, a geom without bounding
        radius) always read the contacts.
        """
        reach = self._reach.get((geoms, candidates))
        if reach is None:
            reach = self._reach[(geoms, candidates)] = self._reach_pairs(geoms, candidates)
        if reach:
            if self._lock is None:
                near = _any_within(reach)
            else:
                with self._lock:
                    near = _any_within(reach)
            if not near:
                return set()
        return self.touching(geoms) & candidates

    def _reach_pairs(self, geoms: frozenset[int], candidates: frozenset[int]) -> Any:
        """Per pair, the two ``geom_xpos`` rows and the squared reach; () if no bound."""
        model = self.model
        override = model.opt.enableflags & mujoco.mjtEnableBit.mjENBL_OVERRIDE.value
        if model.npair or override:
            return ()
        rbound, margin = model.geom_rbound, model.geom_margin
        pairs = []
        for a in sorted(geoms):
            for b in sorted(candidates):
                if rbound[a] <= 0 or rbound[b] <= 0:
                    return ()
                limit = float(rbound[a] + rbound[b] + max(margin[a], margin[b]))
                limit = limit * 1.0001 + 1e-9
                pairs.append((self._geom_xpos[a], self._geom_xpos[b], limit * limit))
        return tuple(pairs)

    def in_contact(self, geoms_a: frozenset[int], geoms_b: frozenset[int]) -> bool:
        """Whether any active contact touches one geom of each set."""
        with self._guard:
            pairs = self.data.contact.geom.tolist()  # exactly the ncon active contacts
        # A handful of contacts: plain set lookups beat vectorised numpy here by ~10x.
        for g1, g2 in pairs:
            if (g1 in geoms_a and g2 in geoms_b) or (g2 in geoms_a and g1 in geoms_b):
                return True
        return False


def _any_within(reach: Any) -> bool:
    """Whether the centres of any pair of ``reach`` are within its squared reach."""
    for row_a, row_b, limit in reach:
        ax, ay, az = row_a.tolist()
        bx, by, bz = row_b.tolist()
        dx, dy, dz = ax - bx, ay - by, az - bz
        if dx * dx + dy * dy + dz * dz <= limit:
            return True
    return False
