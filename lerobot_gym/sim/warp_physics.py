"""MuJoCo Warp as the batched vector env's physics: ``make_vec(id, num_envs=N, physics="warp")``.

The vector env (:mod:`lerobot_gym.sim.vector_env`) steps its twins through a small surface of
``mujoco.batch.Batch``: ``model``, ``state`` (the ``(N, nstate)`` rows of
``mjSTATE_INTEGRATION``), ``bind(name)`` (live ``(N, ...)`` arrays: state fields are views of
the rows, derived fields are refreshed by every call), ``step(ids, nstep)``, ``forward(ids)``
and ``get_data(i, data)``. This module owns the choice of physics (:func:`physics_choice`,
:func:`make_physics`) and :class:`WarpPhysics`, the same surface over ``mujoco_warp`` (the
``warp`` extra, imported only when chosen, so ``import lerobot_gym`` stays free of Warp).

Decisions:

- The host rows are the truth. ``state`` and the bound arrays are float64 numpy arrays on the
  host, exactly as the batch's; each call uploads every row (one ``set_state`` kernel), runs
  the Warp worlds, and copies back the state rows and bound derived fields of the called
  simulations only (one ``get_state`` kernel and one copy per bound field). Tasks, resets,
  ``BatchWorld.place`` and the safety filter therefore run on the host unchanged.
- Warp steps every world at once: ``step(ids)`` with a subset steps all of them on the device
  but commits only ``ids``; the others keep their host rows (their device data is stale and
  :meth:`WarpPhysics.get_data` recomputes it, below). A subset is the rare autoreset step.
- ``get_data(i)`` is ``mujoco_warp.get_data_into`` (contacts included) for a simulation whose
  device data is its last call's, as the persistent batch's; for one that was not in the
  latest call it first re-uploads the rows and runs Warp's forward pass, so its derived fields
  then describe its state itself rather than the state one substep before it.
- Precision: Warp computes in float32 (``mujoco_warp``'s build). State and derived fields come
  back rounded to float32 (relative 6e-8) and the dynamics integrate in float32, so a twin
  drifts from the float64 ``mujoco.batch`` trajectory: measured on SO101-Reach off contacts,
  ~1e-6 rad after 10 control steps and 5e-5 after 30-40 (``tests/sim/test_warp_physics.py``).
  Through contacts it differs by more: Warp's collision makes other contact points (2 where
  MuJoCo makes 4 for the jaw on the table; the same geoms touch), and the twins then differ
  by ~2e-3 rad. ``time`` accumulates in float32 (4e-6 s off after 0.8 s). The safety filter
  clamps targets on the host in float64; Warp's float32 ``ctrl`` is the nearest float32 to
  the clamped target, at most half an ulp (<= 1.2e-7 rad below 4 rad) past it, so a target
  clamped to a joint limit can exceed it by that much (as can the model's float32 limits).
  ``agent_pos`` observations were float32 already; they now round float32 joint positions
  (the drift above) instead of float64 ones. Task facts (distances to a goal) carry the
  trajectory's difference (1.5e-7 m of site position after 10 steps off contacts), so a
  success threshold decides differently only for a twin within that distance of it.
- Devices: ``"cpu"`` (Warp's LLVM CPU backend, one thread: slow, for tests and machines
  without a GPU), ``"cuda"``, or ``"auto"`` (CUDA when Warp sees a GPU). On CUDA the ``nstep``
  substeps are captured once per ``nstep`` in a CUDA graph and replayed (its test runs only
  where Warp sees a GPU: not yet run, none here).
  Warp JIT-compiles its kernels on first use and caches them (``~/.cache/warp``, or
  ``WARP_CACHE_PATH``): the first step on an empty cache costs ~30 s of CPU, and on
  ``"cpu"`` a step costs ~56x mujoco.batch's CPU (``benchmarks/warp_physics.py``).
- Model features Warp lacks (``put_model``'s ``NotImplementedError``) raise
  :class:`~lerobot_gym.errors.UnsupportedModelError` naming them; contact or constraint buffer
  overflows (Warp's ``overflow`` bits) raise ``mujoco.batch.SimulationError`` with the twins.
"""

from __future__ import annotations

import contextlib
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.errors import ConfigError, MissingPhysicsError, UnsupportedModelError

PHYSICS = ("mujoco", "warp")
DEVICES = ("auto", "cpu", "cuda")

_INTEGRATION = mujoco.mjtState.mjSTATE_INTEGRATION
# State components in the order mj_getState concatenates them (ascending bits).
_COMPONENTS = {
    "time": mujoco.mjtState.mjSTATE_TIME,
    "qpos": mujoco.mjtState.mjSTATE_QPOS,
    "qvel": mujoco.mjtState.mjSTATE_QVEL,
    "act": mujoco.mjtState.mjSTATE_ACT,
    "history": mujoco.mjtState.mjSTATE_HISTORY,
    "qacc_warmstart": mujoco.mjtState.mjSTATE_WARMSTART,
    "ctrl": mujoco.mjtState.mjSTATE_CTRL,
    "qfrc_applied": mujoco.mjtState.mjSTATE_QFRC_APPLIED,
    "xfrc_applied": mujoco.mjtState.mjSTATE_XFRC_APPLIED,
    "eq_active": mujoco.mjtState.mjSTATE_EQ_ACTIVE,
    "mocap_pos": mujoco.mjtState.mjSTATE_MOCAP_POS,
    "mocap_quat": mujoco.mjtState.mjSTATE_MOCAP_QUAT,
    "userdata": mujoco.mjtState.mjSTATE_USERDATA,
    "plugin_state": mujoco.mjtState.mjSTATE_PLUGIN,
}


def physics_choice(physics: str, device: str | None) -> tuple[str, str | None]:
    """Check ``make_vec``'s ``physics=`` and ``device=``; return them normalised.

    ``physics="warp"`` imports ``mujoco_warp`` here (so a missing extra fails at ``make_vec``,
    not at the first reset) and resolves ``device="auto"`` (the default) to ``"cuda"`` when
    Warp sees a GPU, else ``"cpu"``.

    Raises:
        ConfigError: an unknown physics or device, or a device for ``physics="mujoco"``.
        MissingPhysicsError: ``physics="warp"`` without the ``warp`` extra installed.
    """
    if physics not in PHYSICS:
        raise ConfigError(f"physics must be one of {PHYSICS}, got {physics!r}")
    if physics == "mujoco":
        if device is not None:
            raise ConfigError(
                f"device={device!r} applies to physics='warp' only; mujoco.batch runs on the "
                "CPU threads of nthread="
            )
        return physics, None
    if device is None:
        device = "auto"
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {DEVICES} for physics='warp', got {device!r}")
    wp, _ = _import_warp()
    if device == "auto":
        device = "cuda" if wp.is_cuda_available() else "cpu"
    elif device == "cuda" and not wp.is_cuda_available():
        raise ConfigError("device='cuda' but Warp sees no CUDA GPU; use device='cpu' or 'auto'")
    return physics, device


def make_physics(
    physics: tuple[str, str | None], model: mujoco.MjModel, nsim: int, nthread: int
) -> Any:
    """The vector env's physics for a :func:`physics_choice`: a persistent batch or Warp."""
    kind, device = physics
    if kind == "mujoco":
        from mujoco.batch import Batch

        return Batch(model, nsim, nthread=nthread, persistent=True)
    assert device is not None  # physics_choice resolved it
    return WarpPhysics(model, nsim, device=device)


def _import_warp() -> tuple[Any, Any]:
    """``(warp, mujoco_warp)``, with Warp's per-kernel build log silenced."""
    try:
        import mujoco_warp
        import warp
    except ImportError as exc:
        raise MissingPhysicsError("mujoco_warp", "warp", "physics='warp'") from exc
    if warp.config.log_level == warp.LOG_INFO:  # the default: a line per compiled kernel
        warp.config.log_level = warp.LOG_WARNING
    return warp, mujoco_warp


class WarpPhysics:
    """``nsim`` simulations of ``model`` on MuJoCo Warp, with ``mujoco.batch.Batch``'s surface.

    Args:
        model: the compiled model (its float64 host copy stays the batch's ``model``).
        nsim: number of simulations (Warp worlds).
        device: ``"cpu"`` or ``"cuda"`` (:func:`physics_choice` resolves ``"auto"``).
        nconmax: contacts per world to allocate (None: mujoco_warp's guess for the model).
        njmax: constraints per world to allocate (None: mujoco_warp's guess).

    Raises:
        UnsupportedModelError: the model uses a feature MuJoCo Warp does not implement.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        nsim: int,
        device: str = "cpu",
        *,
        nconmax: int | None = None,
        njmax: int | None = None,
    ) -> None:
        self._wp, self._mjw = wp, mjw = _import_warp()
        self.model, self.nsim, self.device = model, int(nsim), device
        self.nthread = 1  # Warp's own parallelism: GPU threads, or one CPU thread
        # Not forwarded: put_data would take its contacts as a floor for nconmax, and every call
        # uploads the rows and computes anyway.
        data = mujoco.MjData(model)
        self._template = data
        self.nstate = mujoco.mj_stateSize(model, _INTEGRATION)
        row = np.empty(self.nstate)
        mujoco.mj_getState(model, data, row, _INTEGRATION)
        self.state = np.tile(row, (self.nsim, 1))
        with self._device():
            try:
                self._m = mjw.put_model(model)
            except NotImplementedError as exc:
                raise UnsupportedModelError(
                    f"MuJoCo Warp cannot simulate this model: {exc} Remove that feature from "
                    "the model or use physics='mujoco'."
                ) from exc
            self._d = mjw.put_data(model, data, nworld=self.nsim, nconmax=nconmax, njmax=njmax)
            self._wstate = wp.zeros((self.nsim, self.nstate), dtype=wp.float32)
        self._outputs: dict[str, np.ndarray] = {}  # writable host copies of derived fields
        self._bound: dict[str, np.ndarray] = {}  # their read-only views, handed out
        self._current = np.ones(self.nsim, dtype=bool)  # device data is the last call's
        self._graphs: dict[int, Any] = {}  # nstep -> captured CUDA graph
        capacity = mjw.OverflowType
        self._overflow_bits = int(capacity.ALL & ~(capacity.ITERATIONS | capacity.LS_ITERATIONS))

    def _device(self) -> contextlib.AbstractContextManager[Any]:
        return self._wp.ScopedDevice(self.device)

    # -- the Batch surface -----------------------------------------------------------------------
    def bind(self, name: str) -> np.ndarray:
        """A live ``(nsim, ...)`` float64 array over an ``MjData`` field, as ``Batch.bind``.

        State fields are writable views of :attr:`state`; derived fields are read-only host
        copies refreshed for the simulations of every call.
        """
        if name in _COMPONENTS:
            offset = 0
            for component, bit in _COMPONENTS.items():
                size = mujoco.mj_stateSize(self.model, bit)
                if component == name:
                    view = self.state[:, offset : offset + size]
                    if name == "time":
                        return view[:, 0]
                    shape = np.shape(getattr(self._template, name))
                    return view.reshape(self.nsim, *shape)
                offset += size
        if name in self._bound:
            return self._bound[name]
        template = getattr(self._template, name, None)
        source = getattr(self._d, name, None)
        if not isinstance(template, np.ndarray) or source is None:
            raise ConfigError(
                f"{name!r} is not an MjData field that MuJoCo Warp's data holds per world"
            )
        out = self._outputs[name] = np.zeros((self.nsim, *template.shape))
        out[:] = self._fetch(name)
        view = out.view()
        view.flags.writeable = False  # an output: a write would be lost at the next call
        self._bound[name] = view
        return view

    def step(self, ids: Any = None, nstep: int = 1) -> None:
        """Advance the simulations ``ids`` (None: all) by ``nstep`` substeps of ``mj_step``.

        Derived fields describe the state before the last substep, as after ``mj_step``.
        """
        rows = self._rows(ids)
        with self._device():
            self._upload()
            if self.device == "cpu":
                for _ in range(nstep):
                    self._mjw.step(self._m, self._d)
            else:
                self._launch_graph(nstep)
            self._check_overflow(rows)
            self._commit(rows, state=True)

    def forward(self, ids: Any = None) -> None:
        """Compute the forward pass (``mj_forward``) of the simulations ``ids`` (None: all)."""
        rows = self._rows(ids)
        with self._device():
            self._upload()
            self._mjw.forward(self._m, self._d)
            self._check_overflow(rows)
            self._commit(rows, state=False)

    def get_data(self, sim: int, data: mujoco.MjData | None = None) -> mujoco.MjData:
        """Simulation ``sim``'s whole ``MjData`` (contacts included), float32 values widened."""
        if data is None:
            data = mujoco.MjData(self.model)
        with self._device():
            if not self._current[sim]:
                self._upload()
                self._mjw.forward(self._m, self._d)
                self._current[:] = True
            self._mjw.get_data_into(data, self.model, self._d, world_id=int(sim))
        return data

    # -- helpers --------------------------------------------------------------------------------
    def _rows(self, ids: Any) -> np.ndarray:
        if ids is None:
            return np.arange(self.nsim)
        rows = np.asarray(ids)
        if rows.dtype == np.bool_:
            return np.flatnonzero(rows)
        return rows.astype(np.intp)

    def _upload(self) -> None:
        """Every host state row into the device's worlds (float64 -> float32)."""
        self._wstate.assign(self.state.astype(np.float32))
        self._mjw.set_state(self._m, self._d, self._wstate, int(_INTEGRATION))
        self._d.overflow.zero_()  # Warp ORs its overflow bits into it: report this call's

    def _commit(self, rows: np.ndarray, *, state: bool) -> None:
        """The called simulations' results back into the host rows and bound fields."""
        if state:
            self._mjw.get_state(self._m, self._d, self._wstate, int(_INTEGRATION))
            self.state[rows] = self._wstate.numpy()[rows]
        for name, out in self._outputs.items():
            out[rows] = self._fetch(name)[rows]
        if len(rows) == self.nsim:
            self._current[:] = True
        else:
            self._current[:] = False
            self._current[rows] = True

    def _fetch(self, name: str) -> np.ndarray:
        template = getattr(self._template, name)
        return getattr(self._d, name).numpy().reshape(self.nsim, *template.shape)

    def _launch_graph(self, nstep: int) -> None:
        """``nstep`` substeps as one CUDA graph, captured on first use (kernels compiled first)."""
        wp = self._wp
        graph = self._graphs.get(nstep)
        if graph is None:
            self._mjw.step(self._m, self._d)  # compiles every kernel outside the capture
            self._upload()  # undo that substep
            with wp.ScopedCapture() as capture:
                for _ in range(nstep):
                    self._mjw.step(self._m, self._d)
            graph = self._graphs[nstep] = capture.graph
        wp.capture_launch(graph)

    def _check_overflow(self, rows: np.ndarray) -> None:
        flags = self._d.overflow.numpy()[rows] & self._overflow_bits
        if flags.any():
            from mujoco.batch import SimulationError

            bad = rows[flags != 0]
            kinds = self._mjw.OverflowType(int(np.bitwise_or.reduce(flags)))
            raise SimulationError(
                bad,
                f"MuJoCo Warp's buffers overflowed ({kinds!r}): construct WarpPhysics with a "
                f"larger nconmax/njmax (now {self._d.naconmax // self.nsim}/{self._d.njmax})",
            )
