"""Where a camera env step's CPU goes, and the best camera ratio it allows (for vector_env.py).

Used by ``benchmarks/vector_env.py`` (not run by itself). Three measurements, all CPU time of the
whole process (``time.process_time``: every thread, llvmpipe's rasteriser threads included, so
they hold under load better than wall time):

- :class:`RenderPhases` replaces one ``TiledRenderer``'s ``render`` with a timed replica of it
  (the same calls in the same order, plus one ``mjr_finish`` before the read-back so that the
  rasteriser's deferred work is timed apart from the read): per view ``mjv_updateScene``, the
  frustum cull, the floor's plane cull, ``mjr_render`` (on llvmpipe: the calling thread's vertex
  work, clipping and binning; the fragments are deferred), the rasterisation (``mjr_finish``:
  llvmpipe's threads shade the binned triangles), and per call the read-back and the copies out.
  :func:`check_replica` shows its images are the real ``render``'s.
- :func:`batched_breakdown` and :func:`single_breakdown` split an env step: the physics call,
  the tasks' evaluation (batched), copying each twin's ``MjData`` out of the batch for its view
  (batched), the render phases, and the rest (actions, safety, observations, info: Python).
- :func:`content_costs`: ``mjr_render`` + rasterisation of each view with only part of its
  scene kept (the same cameras and twins): an empty view (clear, lights, projection), the
  skybox alone, the static geoms (bodies welded to the world: floor, table, the arm's
  base) with the skybox, and the moving geoms alone (arm, target) without the skybox. The last
  is the least a view could cost if everything that does not move were drawn once and shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.sim.plane_cull import plane_pose

PHASES = (
    "mjv_updateScene",
    "frustum cull",
    "plane cull",
    "mjr_render",
    "rasterise",
    "read-back",
    "copy out",
)
_STATIC = int(mujoco.mjtCatBit.mjCAT_STATIC)
_R = mujoco.mjtRndFlag


class CpuTimer:
    """Wraps a callable and adds up the process CPU time spent in it."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.total = fn, 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.total += time.process_time() - t0


class RenderPhases:
    """A TiledRenderer whose ``render`` is a timed replica (see the module docstring)."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer
        self.cpu = dict.fromkeys(PHASES, 0.0)
        self.views = 0
        renderer.render = self.render

    def detach(self) -> None:
        del self.renderer.render

    def render(self, data: Any, *, out: Any = None) -> list[np.ndarray]:
        """``TiledRenderer.render`` (lerobot_gym/sim/tiled.py), timed phase by phase."""
        r, cpu, clock = self.renderer, self.cpu, time.process_time
        datas = [data] * len(r.views) if isinstance(data, mujoco.MjData) else data
        model, scene, option, catmask, con = r.model, r._scene, r._option, r._catmask, r._con
        if r._gl is not None:
            r._gl.make_current()
        culler = r._culler if r.cull else None
        plane_culler, wait = r._plane_culler, r._cull_wait
        repeat, planes = r._plane_repeat, r._planes
        poses = [b""] * len(datas)
        for i, (d, camera, rect, aspect, before) in enumerate(
            zip(datas, r._cameras, r.rects, r._aspects, r._before, strict=True)
        ):
            t0 = clock()
            with r._lock:
                if before is not None:  # draw=: none in the one-thread renderer timed here
                    mujoco.mjv_updateCamera(model, d, before[1], scene)
                mujoco.mjv_updateScene(model, d, option, None, camera, catmask, scene)
                if planes is not None and any(repeat[i : i + 3]):
                    poses[i] = plane_pose(d, camera.fixedcamid, planes)
            t1 = clock()
            if culler is not None:
                if wait[i]:
                    wait[i] -= 1
                elif not culler.cull(rect.width, rect.height):
                    wait[i] = 7  # tiled._CULL_RECHECK - 1
            t2 = clock()
            if plane_culler is not None and not (
                repeat[i] and poses[i] == poses[i - 1] == poses[i - 2]
            ):
                plane_culler.cull(scene, aspect)
            t3 = clock()
            mujoco.mjr_render(rect, scene, con)
            t4 = clock()
            cpu["mjv_updateScene"] += t1 - t0
            cpu["frustum cull"] += t2 - t1
            cpu["plane cull"] += t3 - t2
            cpu["mjr_render"] += t4 - t3
        t0 = clock()
        mujoco.mjr_finish()
        t1 = clock()
        mujoco.mjr_readPixels(r._pixels, None, r._whole, con)
        t2 = clock()
        if out is None:
            out = [tile.copy() for tile in r._tiles]
        else:
            for tile, dst in zip(r._tiles, out, strict=True):
                np.copyto(dst, tile)
        t3 = clock()
        cpu["rasterise"] += t1 - t0
        cpu["read-back"] += t2 - t1
        cpu["copy out"] += t3 - t2
        self.views += len(r.views)
        return list(out)


def check_replica(renderer: Any, datas: list[mujoco.MjData]) -> bool:
    """Whether the timed replica draws exactly what the renderer's own ``render`` does."""
    want = renderer.render(datas)
    phases = RenderPhases(renderer)
    try:
        got = renderer.render(datas)
    finally:
        phases.detach()
    return all(np.array_equal(a, b) for a, b in zip(want, got, strict=True))


def batched_breakdown(envs: Any, actions: np.ndarray) -> dict[str, float]:
    """CPU seconds per env step of the batched camera env, by part (one render thread)."""
    inner = envs.unwrapped
    envs.reset(seed=0)
    (renderer,) = inner._renderers.values()
    phases = RenderPhases(renderer)
    physics = CpuTimer(inner.batch.step)
    tasks = CpuTimer(inner._evaluate_rows)
    render = CpuTimer(inner._render)
    inner.batch.step, inner._evaluate_rows, inner._render = physics, tasks, render
    try:
        t0 = time.process_time()
        for action in actions:
            envs.step(action)
        total = time.process_time() - t0
    finally:
        del inner.batch.step, inner._evaluate_rows, inner._render
        phases.detach()
    steps = len(actions) * inner.num_envs
    drawn = sum(phases.cpu.values())
    parts = {
        "physics": physics.total,
        "tasks' evaluation": tasks.total,
        "MjData copies for the views": render.total - drawn,
        **phases.cpu,
        "rest (Python: actions, safety, obs, info)": total
        - physics.total
        - tasks.total
        - render.total,
    }
    parts = {name: value / steps for name, value in parts.items()}
    parts["total"] = total / steps
    parts["views per env step"] = phases.views / steps
    return parts


def single_breakdown(env: Any, actions: np.ndarray) -> dict[str, float]:
    """CPU seconds per env step of one ``gym.make`` camera env, by part."""
    env.reset(seed=0)
    backend = env.unwrapped.backend
    (renderer,) = backend.scene._renderers.values()
    phases = RenderPhases(renderer)
    physics = CpuTimer(backend.command)
    backend.command = physics
    try:
        t0 = time.process_time()
        for action in actions:
            env.step(action)
        total = time.process_time() - t0
    finally:
        del backend.command
        phases.detach()
    drawn = sum(phases.cpu.values())
    parts = {
        "physics": physics.total,
        **phases.cpu,
        "rest (Python: actions, safety, obs, info)": total - physics.total - drawn,
    }
    parts = {name: value / len(actions) for name, value in parts.items()}
    parts["total"] = total / len(actions)
    parts["views per env step"] = phases.views / len(actions)
    return parts


CONTENTS = (
    "empty view (clear, lights)",
    "skybox only",
    "static geoms + skybox",
    "moving geoms only",
    "whole view",
)


def content_costs(renderer: Any, datas: list[mujoco.MjData], repeats: int) -> dict[str, float]:
    """CPU seconds per view of ``mjr_render`` + rasterisation with part of each scene kept.

    Each view's scene is built and culled as the renderer does (untimed), then reduced to the
    part measured; only ``mjr_render`` and the rasterisation (``mjr_finish``) are timed.
    """
    r = renderer
    model, scene, option, catmask, con = r.model, r._scene, r._option, r._catmask, r._con
    raw = r._culler._raw  # the scene's mjvGeom array as bytes (culling.SceneCuller)
    flags = scene.flags
    saved = (flags[_R.mjRND_SKYBOX], flags[_R.mjRND_HAZE])
    keep: dict[str, tuple[Callable[[Any], bool], bool]] = {
        CONTENTS[0]: (lambda g: False, False),
        CONTENTS[1]: (lambda g: False, True),
        CONTENTS[2]: (lambda g: g.category == _STATIC, True),
        CONTENTS[3]: (lambda g: g.category != _STATIC, False),
        CONTENTS[4]: (lambda g: True, True),
    }
    costs = dict.fromkeys(CONTENTS, float("inf"))
    r._gl.make_current()
    try:
        for _ in range(repeats):
            for name, (kept, sky) in keep.items():
                flags[_R.mjRND_SKYBOX] = flags[_R.mjRND_HAZE] = sky
                cpu = 0.0
                for d, camera, rect, aspect in zip(datas, r._cameras, r.rects, r._aspects):
                    mujoco.mjv_updateScene(model, d, option, None, camera, catmask, scene)
                    r._culler.cull(rect.width, rect.height)
                    r._plane_culler.cull(scene, aspect)
                    rows = [i for i in range(scene.ngeom) if kept(scene.geoms[i])]
                    raw[: len(rows)] = raw[rows]
                    scene.ngeom = len(rows)
                    t0 = time.process_time()
                    mujoco.mjr_render(rect, scene, con)
                    cpu += time.process_time() - t0
                t0 = time.process_time()
                mujoco.mjr_finish()
                cpu += time.process_time() - t0
                costs[name] = min(costs[name], cpu / len(datas))
    finally:
        flags[_R.mjRND_SKYBOX], flags[_R.mjRND_HAZE] = saved
    return costs
