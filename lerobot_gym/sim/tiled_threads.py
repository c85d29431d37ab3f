"""Views split across threads, each drawing its share with its own TiledRenderer (opt-in).

With software GL a view's cost is its geometry (``lerobot_gym/sim/tiled.py``), so one buffer
for all views saves only what is paid per call; the views themselves are drawn one after the
other on one core. MuJoCo's bindings release the GIL inside ``mjr_render`` and
``mjr_readPixels`` (measured: a Python thread kept running while another rendered), so views
drawn on several threads, each with its own GL context, use several cores.

:class:`ThreadedTiledRenderer` has :class:`~lerobot_gym.sim.tiled.TiledRenderer`'s interface;
:func:`tiled_renderer` picks one or the other for a ``render_workers`` setting (the scene's
cameras and the batched vector env's both go through it).
Decisions:

- ``workers`` threads, each owning one ``TiledRenderer`` over a contiguous share of the views,
  built on that thread (EGL makes a context current on one thread only) and closed there.
- One call hands each worker its share (its ``MjData`` and output arrays) and waits for all;
  each worker writes its images straight into the caller's arrays, so there is still one copy
  per view. A worker's error is raised in the caller.
- Opt-in: it costs a thread hand-off per call (tens of microseconds) and, per worker, a GL
  context with the model's textures, and it helps only where cores are free; the env's default
  stays one ``TiledRenderer``. A vector env with many views is the use it is made for.
- Pixels: each worker lays its share out at the tiles those views have in one
  ``TiledRenderer`` of all the views (``place_as``), so every view is drawn at the same
  viewport by the same rasteriser: the images are the one-thread renderer's bit for bit, for
  any number of workers (tests/sim/test_vector_env.py). A worker's buffer holds only the rows
  of the grid up to its last view, and it reads back only the rows of its own views.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.errors import ConfigError
from lerobot_gym.sim.rendering import close_at_exit
from lerobot_gym.sim.tiled import TiledRenderer, View

_STOP = object()


class _Worker:
    """A thread that owns one TiledRenderer and renders the jobs it is given."""

    def __init__(self, model: mujoco.MjModel, views: Sequence[View], kwargs: dict[str, Any]):
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
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
        self.done.put(None)
        try:
            while (job := self.jobs.get()) is not _STOP:
                datas, out = job
                try:
                    renderer.render(datas, out=out)
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
        workers: threads (at most one per view); each draws a contiguous share of the views.
        shadows: render shadows.
        reflections: render reflections.
        lock: held while each view's scene is read from its ``MjData`` (not while drawing).
        max_geom: capacity of each worker's scene (geoms per view).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        views: Sequence[View],
        *,
        workers: int = 2,
        shadows: bool = False,
        reflections: bool = False,
        lock: AbstractContextManager | None = None,
        max_geom: int = 10000,
    ) -> None:
        self._workers: list[_Worker] = []
        if not views:
            raise ConfigError("ThreadedTiledRenderer needs at least one View")
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        self.views = tuple(views)
        n = min(int(workers), len(self.views))
        share = math.ceil(len(self.views) / n)
        self._slices = [
            slice(i, min(i + share, len(self.views))) for i in range(0, len(self.views), share)
        ]
        kwargs = {
            "shadows": shadows,
            "reflections": reflections,
            "lock": lock,
            "max_geom": max_geom,
        }
        try:
            for part in self._slices:
                # Each view at its tile in the one-thread layout: the same pixels, bit for bit.
                placed = {**kwargs, "place_as": (self.views, part.start)}
                self._workers.append(_Worker(model, self.views[part], placed))
        except BaseException:
            self.close()
            raise
        close_at_exit(self)

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
        if not self._workers:
            raise RuntimeError("ThreadedTiledRenderer.render() after close()")
        n = len(self.views)
        datas = [data] * n if isinstance(data, mujoco.MjData) else list(data)
        if len(datas) != n:
            raise ConfigError(f"render() got {len(datas)} MjData for {n} views")
        if out is None:
            out = [np.empty((v.height, v.width, 3), np.uint8) for v in self.views]
        elif len(out) != n:
            raise ConfigError(f"render() got {len(out)} out arrays for {n} views")
        for worker, part in zip(self._workers, self._slices, strict=True):
            worker.jobs.put((datas[part], out[part]))
        errors = [worker.done.get() for worker in self._workers]  # wait for every worker
        for error in errors:
            if error is not None:
                raise error
        return list(out)

    def close(self) -> None:
        """Stop the workers; each frees its GL resources on its own thread (idempotent)."""
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
        self.close()


def tiled_renderer(
    model: mujoco.MjModel,
    views: Sequence[View],
    *,
    workers: int = 1,
    shadows: bool = False,
    reflections: bool = False,
    lock: AbstractContextManager | None = None,
) -> TiledRenderer | ThreadedTiledRenderer:
    """The renderer for ``render_workers=workers``: views on that many threads, or one pass.

    One :class:`TiledRenderer` unless ``workers`` > 1 and there are several views to share.
    """
    kwargs: dict[str, Any] = {"shadows": shadows, "reflections": reflections, "lock": lock}
    if workers > 1 and len(views) > 1:
        return ThreadedTiledRenderer(model, views, workers=workers, **kwargs)
    return TiledRenderer(model, views, **kwargs)
