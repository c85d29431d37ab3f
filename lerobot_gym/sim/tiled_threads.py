"""Views split across threads, each drawing its share with its own TiledRenderer.

With software GL a view's cost is its geometry (``lerobot_gym/sim/tiled.py``), so one buffer
for all views saves only what is paid per call; the views themselves are drawn one after the
other on one core. MuJoCo's bindings release the GIL inside ``mjr_render`` and
``mjr_readPixels`` (measured: a Python thread kept running while another rendered), so views
drawn on several threads, each with its own GL context, use several cores: for the vertex and
binning work, which runs on the calling thread (~60 % of a view's CPU on the ALOHA scene). The
rasterisation does not multiply: llvmpipe queues every context's scenes to one rasterizer per
process (Mesa's ``lp_setup_rasterize_scene``), whose threads already use every core.

:class:`ThreadedTiledRenderer` has :class:`~lerobot_gym.sim.tiled.TiledRenderer`'s interface;
:func:`tiled_renderer` picks one or the other for a ``render_workers`` setting (the scene's
cameras and the batched vector env's both go through it).

Decisions:

- ``workers`` threads, the calling thread one of them: it draws the first share itself while
  ``workers - 1`` worker threads draw theirs (one thread hand-off fewer per call than handing
  every share out and waiting). Each thread owns one ``TiledRenderer``, built on that thread
  (EGL makes a context current on one thread only) and closed there; the calling thread's is
  built by the constructor, so, as a ``TiledRenderer``, build it on the thread that renders.
- One call hands each worker its share (its ``MjData`` and output arrays) and waits for all,
  even when the calling thread's share failed (they write into the caller's arrays); each
  thread writes its images straight into the caller's arrays, so there is still one copy per
  view. A worker's error is raised in the caller.
- Every thread lays out all the views and draws its share at their one-pass tile offsets
  (``TiledRenderer(draw=...)``), so whatever the split, the images are one pass's, bit for bit
  (tests/sim/test_tiled.py: ALOHA's four cameras and SO-101's two, step after step, checked
  too at 96x128, 128x128 and 480x640 on Aloha-TransferCube and Aloha-Insertion over 8-25
  steps, and on SO-101 with its views repeated three times over 2, 3 and 5 threads;
  tests/sim/test_tiled_shares.py and tests/sim/test_vector_env.py: contiguous shares). That
  takes two things: each view at its one-pass tile offset, and the scene's camera before each
  view's update as one pass leaves it, because MuJoCo places an infinite plane (SO-101's
  floor) under the camera the scene held before the update, i.e. the previous view's: a
  thread's renderer gives its scene the previous view's camera (``mjv_updateCamera``,
  0.35 us) when another thread drew that view, and view 0 gets the cameras the last view left
  last time (copied from that thread's scene between renders, when every thread is idle).
  Without the cameras, SO-101's views differed from one pass in 1-3 pixels at 128x128 in about
  half the steps (up to 97 at 480x640). Each thread's buffer reaches only its own tiles, and
  it reads back only their bounding box.
- Two splits, the same images. ``"contiguous"`` (the default, the batched vector env's: N
  twins' views in camera-major order share out evenly in runs): each thread a run of
  consecutive views, so a world-fixed camera's views stay in runs that share their plane cull
  (``TiledRenderer``). ``"interleaved"`` (the single env's cameras): view ``i`` on thread
  ``i % workers``. A step's cameras differ in cost (ALOHA, CPU ms per 128x128 view: top 1.18,
  angle 1.31, left wrist 0.53, right wrist 0.42), and in runs the top and angle views landed
  on one thread (2.49 ms against 0.95: the step waited for the slow half); interleaved, the
  halves are 1.71 and 1.73 ms.
- Defaults: the single env's is ``"auto"`` (:func:`resolve_workers`): two threads for three or
  more views when the process may run on two or more cores (``os.sched_getaffinity``), else
  one, so on one core, and for one or two cameras (the SO-101's), it changes nothing. Quiet,
  ALOHA's four 128x128 cameras cost 1.64x one camera in wall time with it, 2.33x in one pass
  (``benchmarks/sim_step.py`` item 4). What it costs: a thread hand-off per call (tens of
  microseconds), per worker a GL context with the model's textures, and 0-8 % more CPU; on a
  machine whose cores are busy with other work the second thread gains nothing and can lose
  wall time: ``render_workers=1`` keeps one pass.
  The batched vector env, with many views per call, draws on two threads by default where two
  CPUs are free (``make_vec``; :mod:`lerobot_gym.sim.vector_env` gives its figures). The
  images do not depend on the setting.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal

import mujoco
import numpy as np

from lerobot_gym.errors import ConfigError
from lerobot_gym.sim.rendering import close_at_exit
from lerobot_gym.sim.tiled import TiledRenderer, View

_STOP = object()

#: ``render_workers="auto"``: this many threads when there are enough views and cores.
AUTO_WORKERS = 2
#: ``render_workers="auto"``: fewer views than this are drawn on one thread.
AUTO_MIN_VIEWS = 3

RenderWorkers = int | Literal["auto"]
Split = Literal["contiguous", "interleaved"]
SPLITS = ("contiguous", "interleaved")


class _Worker:
    """A thread that owns one TiledRenderer and renders the jobs it is given."""

    def __init__(self, model: mujoco.MjModel, views: Sequence[View], kwargs: dict[str, Any]):
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self.renderer: TiledRenderer | None = None  # touched by others only between jobs
        self.thread = threading.Thread(
            target=self._run, args=(model, views, kwargs), name="TiledRenderer", daemon=True
        )
        self.thread.start()
        error = self.done.get()  # the renderer is built (or failed) on the worker's thread
        if error is not None:
            self.thread.join()
            raise error

    def _run(self, model: mujoco.MjModel, views: Sequence[View], kwargs: dict[str, Any]) -> None:
        try:
            renderer = TiledRenderer(model, views, **kwargs)
        except BaseException as exc:  # handed to the constructor's thread
            self.done.put(exc)
            return
        self.renderer = renderer
        self.done.put(None)
        try:
            while (job := self.jobs.get()) is not _STOP:
                try:
                    renderer.render_share(*job)
                except BaseException as exc:
                    self.done.put(exc)
                else:
                    self.done.put(None)
        finally:
            renderer.close()


class ThreadedTiledRenderer:
    """Render views on ``workers`` threads (see the module docstring); TiledRenderer's interface.

    Args:
        model: the compiled model every rendered ``MjData`` belongs to.
        views: the views, in the order :meth:`render` takes data and returns images.
        workers: threads (at most one per view), the calling thread one of them.
        split: how the views are shared out (see the module docstring), each at the tile one
            ``TiledRenderer`` of all the views gives it. ``"contiguous"``: each thread a run of
            consecutive views. ``"interleaved"``: view ``i`` on thread ``i % workers``.
        shadows: render shadows.
        reflections: render reflections.
        lock: held while each view's scene is read from its ``MjData`` (not while drawing).
        max_geom: capacity of each thread's scene (geoms per view).
        cull: frustum culling per view, as in :class:`~lerobot_gym.sim.tiled.TiledRenderer`.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        views: Sequence[View],
        *,
        workers: int = 2,
        split: Split = "contiguous",
        shadows: bool = False,
        reflections: bool = False,
        lock: AbstractContextManager | None = None,
        max_geom: int = 10000,
        cull: bool = True,
    ) -> None:
        self._workers: list[_Worker] = []
        self._own: TiledRenderer | None = None
        if not views:
            raise ConfigError("ThreadedTiledRenderer needs at least one View")
        if type(workers) is not int or workers < 1:
            raise ConfigError(f"workers must be a whole number >= 1, got {workers!r}")
        if split not in SPLITS:
            raise ConfigError(f"split must be one of {SPLITS}, got {split!r}")
        self.views = tuple(views)
        n = min(workers, len(self.views))
        if split == "interleaved":
            # Consecutive views (a step's cameras) on different threads, so each thread gets a
            # like mix of cheap and costly views.
            self._shares = [list(range(w, len(self.views), n)) for w in range(n)]
        else:
            run = -(-len(self.views) // n)
            self._shares = [
                list(range(i, min(i + run, len(self.views))))
                for i in range(0, len(self.views), run)
            ]
        # The share holding the last view, whose scene's cameras view 0's scene is given.
        self._last = next(k for k, share in enumerate(self._shares) if len(self.views) - 1 in share)
        kwargs: dict[str, Any] = {
            "shadows": shadows,
            "reflections": reflections,
            "lock": lock,
            "max_geom": max_geom,
            "cull": cull,
        }
        try:
            # Every view's tile where one renderer puts it: one pass's pixels, bit for bit.
            for share in self._shares[1:]:
                self._workers.append(_Worker(model, self.views, {**kwargs, "draw": share}))
            # The first share is drawn on the calling thread (built here, as TiledRenderer is).
            self._own = TiledRenderer(model, self.views, **kwargs, draw=self._shares[0])
        except BaseException:
            self.close()
            raise
        close_at_exit(self)

    def _renderers(self) -> list[TiledRenderer]:
        """Each thread's renderer, the calling thread's first (the shares' order)."""
        own = [self._own] if self._own is not None else []
        return own + [w.renderer for w in self._workers if w.renderer is not None]

    @property
    def workers(self) -> int:
        """Threads drawing the views, the calling thread included (0 once closed)."""
        return len(self._workers) + (self._own is not None)

    def render(
        self,
        data: mujoco.MjData | Sequence[mujoco.MjData],
        *,
        out: Sequence[np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """Render every view; one image (HxWx3 uint8) per view, in the views' order.

        Args:
            data: one ``MjData`` for all views, or one per view.
            out: arrays to write the images into (one per view, each HxWx3 uint8); they are
                returned. None: new arrays.
        """
        own = self._own
        if own is None:
            raise RuntimeError("ThreadedTiledRenderer.render() after close()")
        n = len(self.views)
        datas = [data] * n if isinstance(data, mujoco.MjData) else list(data)
        if len(datas) != n:
            raise ConfigError(f"render() got {len(datas)} MjData for {n} views")
        if out is None:
            out = [np.empty((v.height, v.width, 3), np.uint8) for v in self.views]
        elif len(out) != n:
            raise ConfigError(f"render() got {len(out)} out arrays for {n} views")
        # View 0's scene gets the cameras the last view left in its scene last time, as in one
        # pass (TiledRenderer: where MuJoCo puts an infinite plane). Every thread is idle.
        every, first = datas, self._renderers()[self._last].gl_cameras().copy()
        for worker, share in zip(self._workers, self._shares[1:], strict=True):
            worker.jobs.put(([datas[i] for i in share], [out[i] for i in share], every, first))
        try:
            mine = self._shares[0]
            own.render_share([datas[i] for i in mine], [out[i] for i in mine], every, first)
        finally:
            # Every worker is waited for, even after an error here: they write into `out`.
            errors = [worker.done.get() for worker in self._workers]
        for error in errors:
            if error is not None:
                raise error
        return list(out)

    def close(self) -> None:
        """Stop the workers (each frees its GL on its own thread) and free ours (idempotent)."""
        self._stop_workers()
        own, self._own = self._own, None
        if own is not None:
            own.close()

    def _stop_workers(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.jobs.put(_STOP)
        for worker in workers:
            worker.thread.join()

    def __enter__(self) -> ThreadedTiledRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Workers free their GL on their own threads; our own renderer, dropped here, defers
        # its free to the next render or close (TiledRenderer.__del__: the garbage collector
        # may run this in the middle of another renderer's render on this thread).
        self._stop_workers()
        self._own = None


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def resolve_workers(workers: RenderWorkers, n_views: int) -> int:
    """Threads for a ``render_workers`` setting and ``n_views`` views.

    ``"auto"``: :data:`AUTO_WORKERS` when there are at least :data:`AUTO_MIN_VIEWS` views and
    this process may run on at least two cores, else 1. A number: that many (at most one per
    view).
    """
    if workers == "auto":
        return AUTO_WORKERS if n_views >= AUTO_MIN_VIEWS and cores() >= 2 else 1
    if type(workers) is not int or workers < 1:
        raise ConfigError(f"render_workers must be a whole number >= 1 or 'auto', got {workers!r}")
    return min(workers, max(n_views, 1))


def tiled_renderer(
    model: mujoco.MjModel,
    views: Sequence[View],
    *,
    workers: RenderWorkers = 1,
    split: Split = "contiguous",
    shadows: bool = False,
    reflections: bool = False,
    lock: AbstractContextManager | None = None,
) -> TiledRenderer | ThreadedTiledRenderer:
    """The renderer for ``render_workers=workers``: views on several threads, or one pass.

    One :class:`TiledRenderer` unless ``workers`` (resolved by :func:`resolve_workers`) is
    more than one, split as ``split`` says (:class:`ThreadedTiledRenderer`).
    """
    kwargs: dict[str, Any] = {"shadows": shadows, "reflections": reflections, "lock": lock}
    n = resolve_workers(workers, len(views))
    if n > 1:
        return ThreadedTiledRenderer(model, views, workers=n, split=split, **kwargs)
    return TiledRenderer(model, views, **kwargs)
