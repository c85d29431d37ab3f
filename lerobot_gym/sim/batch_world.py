"""A task's view of one simulation in a batch: the World protocol over a row of the batch.

The batched vector env (:mod:`lerobot_gym.sim.vector_env`) steps N twins in one
``mujoco.batch.Batch``; a task evaluates each of them through a :class:`BatchWorld`, so the
tasks written for the single env run unchanged.

Decisions:

- Poses (``body_pos``, ``body_quat``, ``site_pos``, ``site_xmat``) are read from the batch's
  bound derived fields (``xpos``, ``xquat``, ``site_xpos``, ``site_xmat``): a row index, no copy
  of the simulation. They hold what a single env's ``MjData`` holds after ``mj_step`` (one
  substep behind the state, as mujoco.batch documents), so facts are bit-identical.
- Contacts live in MuJoCo's arena, which a batch cannot bind. The first contact query after a
  step copies the simulation's whole ``MjData`` out of the (persistent) batch into this view's
  own ``MjData`` (``Batch.get_data``, ~6-15 us) and answers from it with
  :class:`~lerobot_gym.sim.world.MujocoWorld`'s code; :meth:`invalidate` (called by the vector
  env after every step and reset) marks that copy stale. Tasks that never ask about contacts
  (Reach) never pay for it. Staleness is one counter the vector env shares with every view
  (``epoch``): a step bumps it once, instead of marking N views stale one by one.
- :class:`BatchPoses` is the same poses for many twins at once (rows of the bound fields), for
  tasks that evaluate the whole batch in one go (``Task.evaluate_batch``).
- ``place`` writes through that copy and back into the batch's state row, then runs the
  simulation's forward pass, so a placement is the simulation's state at its next step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.sim.world import MujocoWorld

_INTEGRATION = mujoco.mjtState.mjSTATE_INTEGRATION


class BatchWorld:
    """The :class:`~lerobot_gym.core.world.World` of simulation ``index`` of a persistent batch.

    Args:
        batch: a ``mujoco.batch.Batch`` built with ``persistent=True``.
        index: the simulation.
        fields: the batch's bound derived fields ``xpos``, ``xquat``, ``site_xpos``,
            ``site_xmat`` (bound once by the vector env and shared by every view).
        epoch: a one-element list shared with the caller, who increments it whenever any
            simulation of the batch moved (None: only :meth:`invalidate` marks the copy stale).
    """

    def __init__(
        self,
        batch: Any,
        index: int,
        fields: dict[str, np.ndarray],
        epoch: list[int] | None = None,
    ) -> None:
        self._batch, self.index = batch, int(index)
        self._xpos, self._xquat = fields["xpos"][index], fields["xquat"][index]
        self._site_xpos, self._site_xmat = fields["site_xpos"][index], fields["site_xmat"][index]
        self.model = batch.model
        self.data = mujoco.MjData(self.model)  # filled from the batch on first contact query
        self._world = MujocoWorld(self.model, self.data)
        self._epoch = epoch if epoch is not None else [0]
        self._copied_at: int | None = None  # the epoch of the copy in self.data (None: stale)

    def invalidate(self) -> None:
        """The simulation moved: the next contact query copies it out again."""
        self._copied_at = None

    def materialize(self) -> mujoco.MjData:
        """This simulation's whole ``MjData`` as of its last call (copied out once per step)."""
        epoch = self._epoch[0]
        if self._copied_at != epoch:
            self._batch.get_data(self.index, self.data)
            self._copied_at = epoch
        return self.data

    def _materialized(self) -> MujocoWorld:
        self.materialize()
        return self._world

    # -- poses: rows of the bound fields -------------------------------------------------------
    def body_pos(self, name: str) -> np.ndarray:
        """World position of a body (copy)."""
        return self._xpos[self._world._body(name)].copy()

    def body_quat(self, name: str) -> np.ndarray:
        """World orientation of a body as a (w, x, y, z) quaternion (copy)."""
        return self._xquat[self._world._body(name)].copy()

    def site_pos(self, name: str) -> np.ndarray:
        """World position of a site (copy)."""
        return self._site_xpos[self._world._site(name)].copy()

    def site_xmat(self, name: str) -> np.ndarray:
        """World rotation matrix (3x3) of a site (copy)."""
        return self._site_xmat[self._world._site(name)].reshape(3, 3).copy()

    # -- ids: from the model ------------------------------------------------------------------
    def geom_ids(self, names: Iterable[str]) -> frozenset[int]:
        """Ids of named geoms (looked up once per name set)."""
        return self._world.geom_ids(names)

    def geom_id_list(self, names: tuple[str, ...]) -> tuple[int, ...]:
        """Ids of named geoms, in order."""
        return self._world.geom_id_list(names)

    def body_geom_ids(self, body: str) -> frozenset[int]:
        """Ids of every geom attached to a body."""
        return self._world.body_geom_ids(body)

    # -- contacts: from the materialized MjData -------------------------------------------------
    def touching(self, geoms: frozenset[int]) -> set[int]:
        """Ids of every geom in contact with any geom of ``geoms``."""
        return self._materialized().touching(geoms)

    def touching_among(self, geoms: frozenset[int], candidates: frozenset[int]) -> set[int]:
        """The geoms of ``candidates`` in contact with any geom of ``geoms``."""
        return self._materialized().touching_among(geoms, candidates)

    def in_contact(self, geoms_a: frozenset[int], geoms_b: frozenset[int]) -> bool:
        """Whether any active contact touches one geom of each set."""
        return self._materialized().in_contact(geoms_a, geoms_b)

    def place(self, name: str, placement: Any) -> None:
        """Place a prop (free or mocap body) in this simulation, at rest."""
        world = self._materialized()
        world.place(name, placement)
        mujoco.mj_getState(self.model, self.data, self._batch.state[self.index], _INTEGRATION)
        self._batch.forward(np.array([self.index], dtype=np.int32))
        self._copied_at = None


class BatchPoses:
    """Poses of many simulations of a batch at once: rows of its bound fields.

    Args:
        model: the batch's model (names are looked up in it, once each).
        fields: the batch's bound ``xpos`` and ``site_xpos``.

    ``rows`` selects the simulations (None: all, in order); every query returns a copy.
    """

    def __init__(self, model: mujoco.MjModel, fields: dict[str, np.ndarray]) -> None:
        self._world = MujocoWorld(model, mujoco.MjData(model))  # for its name -> id caches
        self._xpos, self._site_xpos = fields["xpos"], fields["site_xpos"]
        self.rows: np.ndarray | None = None

    def site_pos(self, name: str) -> np.ndarray:
        """World positions ``(n, 3)`` of a site."""
        sid = self._world._site(name)
        if self.rows is None:
            return self._site_xpos[:, sid].copy()
        return self._site_xpos[self.rows, sid]

    def body_pos(self, name: str) -> np.ndarray:
        """World positions ``(n, 3)`` of a body."""
        bid = self._world._body(name)
        if self.rows is None:
            return self._xpos[:, bid].copy()
        return self._xpos[self.rows, bid]
