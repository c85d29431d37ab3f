"""Several camera views of one model rendered into one offscreen buffer, as tiles.

:class:`TiledRenderer` owns one GL context, one ``MjrContext`` (one offscreen framebuffer) and one
``MjvScene``. A call to :meth:`TiledRenderer.render` does, for each view, one
``mjv_updateScene`` (that view's ``MjData`` seen from that view's camera) and one ``mjr_render``
into the view's viewport of the shared buffer; then one ``mjr_readPixels`` of the whole buffer,
and one copy per view out of it (flipped upright as it is copied). Views may come from one
``MjData`` (the cameras of one env) or from many (one per env of a vector env), as long as they
share the ``MjModel``.

Use in one env (the MuJoCo backend does this)::

    renderer = TiledRenderer(model, [View("front", 128, 128), View("wrist", 128, 128)])
    front, wrist = renderer.render(data)          # one MjData for every view

Use for N envs with cameras C (one model, N ``MjData``), writing straight into batch arrays::

    views = [View(cam, h, w) for _ in range(n_envs) for cam in cams]     # env-major order
    renderer = TiledRenderer(model, views)
    batch = {cam: np.empty((n_envs, h, w, 3), np.uint8) for cam in cams}
    out = [batch[cam][i] for i in range(n_envs) for cam in cams]          # views of the batch
    renderer.render([d for d in datas for _ in cams], out=out)           # fills `batch`

Decisions:

- Views are fixed at construction, so the tile layout, the viewports and the read-back buffer
  are computed once; :meth:`render` allocates only the returned arrays (none with ``out=``).
- Layout: a near-square grid of equal cells (each the largest view's size), so the buffer stays
  well inside GL's renderbuffer limit for dozens of views; a view is drawn in the lower-left of
  its cell.
- The offscreen buffer is sized by raising ``model.vis.global_.offwidth/offheight`` just while
  the ``MjrContext`` is made (MuJoCo sizes the buffer from them at that moment) and restoring
  them after: the model the caller shares is left as it was.
- Shadows and reflections are scene flags, set once (off by default, as the backend renders):
  ``mjv_updateScene`` does not touch them.
- Pixels: one view at the buffer's origin is bit-identical to ``mujoco.Renderer`` of the same
  size. A view at another offset goes through the same rasteriser with its viewport translated,
  which in float32 can move an edge by a sub-pixel rounding step: a few edge pixels may differ
  (tests/sim/test_tiled.py measures and bounds it). ``place_as`` lays a share of a larger set
  of views out at the tiles it has in that set's renderer, so a view's pixels do not depend
  on how the views are split between renderers (threads).
- Plane cull shared along a run of views: the third and later of consecutive views of one
  world-fixed camera (a vector env's twins, camera by camera), whose ``MjData`` place that
  camera and the world's infinite planes as the two before did, skip the plane cull: the
  lists the view before left are the ones it would set (tests/sim/test_tiled_shares.py).
  Its ~0.1 ms of Python per view was ~7 % of a 96x96 SO-101 view's CPU in the batched env.
- Cost: each view pays its own ``mjv_updateScene`` and ``mjr_render``, and with software GL a
  view's cost is its geometry, not its pixels (a 32x32 view costs ~70 % of a 128x128 one):
  llvmpipe transforms and clips every vertex of every geom for every view. On the SO-101 scene
  the infinite floor plane, which MuJoCo draws as a fine grid out to the far clip whatever its
  grid spacing, is ~60-75 % of a view; on the ALOHA scene the boxes and cylinders tessellated at
  ``visual/quality`` are, the boxes' ``numquads`` most. Infinite planes are now drawn only
  where each view looks (:mod:`lerobot_gym.sim.plane_cull`, the same pixels): the SO-101
  front view's floor went from 200 x 200 quads to ~500. ``benchmarks/scene_geometry.py``
  measures lighter variants: the ALOHA scene now uses 16 slices x 8 stacks (~10-16 % cheaper,
  images within the bound below); a finite, coarse SO-101 floor or ``numquads`` < 4 would cut a
  view by 30-65 % but move more pixels than the bound allows, so the assets keep them. Tiling
  saves what is paid per call (GL context switch, read-back and flip, a GL
  context and texture upload per image size), not the per-view geometry, and
  lighter geometry changes the images, so it is the scene's choice, not the renderer's. Several
  cores can share the views: :mod:`lerobot_gym.sim.tiled_threads` (opt-in).
- Culling: before each view is drawn, the geoms wholly outside its frustum are dropped from the
  scene (:mod:`lerobot_gym.sim.culling`; bit-identical images, on by default, ``cull=False`` to
  turn off; off by itself when shadows or reflections are on). A geom outside the view costs
  llvmpipe only its vertex transform, so this pays on views that see a small part of the scene
  (ALOHA's wrist cameras: ~0.25 ms, a third of the view) and about breaks even elsewhere; a
  view whose cull dropped nothing (SO-101's front camera) is re-checked every 8th render. The
  scene is updated per view (``mjv_updateScene`` is ~1-2 us of a ~1 ms view; one update shared
  by the views of one ``MjData`` would save nothing measurable), and the fixed costs per view
  left in ``mjr_render`` (lights, GL state, clearing the tile) are ~0.05-0.1 ms of it.
- The GL context is made current at every :meth:`render` (another renderer may have been current
  on this thread) and stays current afterwards, as with ``mujoco.Renderer``: EGL refuses to make
  a context current on a second thread while the first holds it, so a renderer belongs to one
  thread: build it on the thread that renders (construction makes it current there), one per
  thread. Closed from another thread, it leaves its GL names to the context's destruction
  rather than free them in whichever context that thread has current.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.errors import ConfigError
from lerobot_gym.sim.culling import SceneCuller, cullable
from lerobot_gym.sim.plane_cull import plane_culler
from lerobot_gym.sim.rendering import close_at_exit

# GL renderbuffers are at least this large on every implementation MuJoCo supports
# (llvmpipe: 16384); a layout past it is refused before GL fails obscurely.
_MAX_BUFFER_SIDE = 8192

# A view whose cull dropped nothing is culled again after this many renders.
_CULL_RECHECK = 8

# MjrContexts whose GL context could not be made current when closed (see TiledRenderer.close).
_UNFREED: list[mujoco.MjrContext] = []
# GL of renderers the garbage collector finalised unclosed, freed at the next render or close on
# this module's renderers (see TiledRenderer.__del__).
_COLLECTED: list[tuple[Any, Any]] = []


@dataclass(frozen=True, slots=True)
class View:
    """One image to render: an MJCF camera (name or id; -1 is the free camera) at a size."""

    camera: str | int
    height: int
    width: int


class TiledRenderer:
    """Render several views of one model into one offscreen buffer (see the module docstring).

    Args:
        model: the compiled model every rendered ``MjData`` belongs to.
        views: the views, in the order :meth:`render` takes data and returns images.
        shadows: render shadows.
        reflections: render reflections.
        lock: held while each view's scene is read from its ``MjData`` (not while drawing), for
            data another thread steps.
        max_geom: capacity of the scene (geoms per view).
        cull: drop, per view, the geoms wholly outside its frustum before drawing
            (:func:`~lerobot_gym.sim.culling.cull_scene`; the same images).
        place_as: ``(all_views, start)``: lay ``views`` out as ``all_views[start:]`` would be in
            a renderer of ``all_views``, at the same tiles, so each view's pixels are that
            renderer's exactly (:mod:`~lerobot_gym.sim.tiled_threads` splits views this way);
            the buffer holds only the rows they need. None: ``views`` on their own.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        views: Sequence[View],
        *,
        shadows: bool = False,
        reflections: bool = False,
        lock: AbstractContextManager | None = None,
        max_geom: int = 10000,
        cull: bool = True,
        place_as: tuple[Sequence[View], int] | None = None,
    ) -> None:
        self._gl = None
        self._con: mujoco.MjrContext | None = None
        if not views:
            raise ConfigError("TiledRenderer needs at least one View")
        self.model = model
        self.views = tuple(views)
        self._cameras = [_camera(model, v.camera) for v in self.views]
        layout, start = (self.views, 0) if place_as is None else (tuple(place_as[0]), place_as[1])
        if layout[start : start + len(self.views)] != self.views:
            raise ConfigError("place_as=(all_views, start) must hold these views from start on")
        cell_h = max(v.height for v in layout)
        cell_w = max(v.width for v in layout)
        if min(min(v.height, v.width) for v in self.views) < 1:
            raise ConfigError(f"every view needs a positive height and width; got {views}")
        cols = math.ceil(math.sqrt(len(layout)))
        rows = (start + len(self.views) - 1) // cols + 1  # the grid's rows up to our last view
        self.buffer_size = (rows * cell_h, cols * cell_w)  # (height, width)
        if max(self.buffer_size) > _MAX_BUFFER_SIDE:
            raise ConfigError(
                f"{len(self.views)} views of {cell_h}x{cell_w} need a {self.buffer_size} buffer, "
                f"over {_MAX_BUFFER_SIDE} pixels a side; render fewer views per renderer"
            )
        #: Each view's viewport in the buffer (GL coordinates: origin at the bottom left).
        self.rects = [
            mujoco.MjrRect((i % cols) * cell_w, (i // cols) * cell_h, v.width, v.height)
            for i, v in enumerate(self.views, start)
        ]
        low = (start // cols) * cell_h  # rows below our first view's are not read back
        self._whole = mujoco.MjrRect(0, low, self.buffer_size[1], self.buffer_size[0] - low)
        self._pixels = np.empty((self.buffer_size[0] - low, self.buffer_size[1], 3), np.uint8)
        self._lock = lock if lock is not None else nullcontext()
        #: Whether :meth:`render` culls each view (may be changed between calls).
        self.cull = bool(cull)

        self._scene = mujoco.MjvScene(model, maxgeom=max_geom)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = bool(shadows)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = bool(reflections)
        # The scene's flags are fixed here, so they are checked once, not at every view.
        can_cull = cullable(self._scene) and self._scene.maxgeom > 0
        self._culler = SceneCuller(self._scene) if can_cull else None
        # Per view: renders left before a view whose last cull dropped nothing is culled again.
        self._cull_wait = [0] * len(self.views)
        self._option = mujoco.MjvOption()
        self._catmask = mujoco.mjtCatBit.mjCAT_ALL.value

        height, width = self.buffer_size
        from mujoco import gl_context  # imported here: it reads MUJOCO_GL, set by lerobot_gym

        glcontext_cls = getattr(gl_context, "GLContext", None)
        self._gl = _collected_later(glcontext_cls)(width, height) if glcontext_cls else None
        if self._gl is not None:
            self._gl.make_current()
        visual = model.vis.global_
        saved = (visual.offwidth, visual.offheight)
        visual.offwidth, visual.offheight = max(saved[0], width), max(saved[1], height)
        try:
            self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150.value)
        finally:
            visual.offwidth, visual.offheight = saved
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, self._con)
        # Infinite planes drawn only where each view looks (same pixels; sim/plane_cull.py).
        self._plane_culler = (
            plane_culler(model, self._con, shadows=bool(shadows), reflections=bool(reflections))
            if self._gl is not None
            else None
        )
        self._aspects = [r.width / r.height for r in self.rects]
        # Views whose plane cull can be left out (see render): none without a plane culler.
        self._planes = _world_planes(model)
        self._plane_repeat = (
            _plane_repeats(model, self._cameras, self.rects, self._planes)
            if self._plane_culler is not None and self._planes is not None
            else [False] * len(self.views)
        )
        # Upright tiles as views of the read-back buffer: a copy out of one is the only copy.
        # GL reads rows bottom-up; without a GL context of ours (a renderer that draws
        # top-down) there is nothing to flip, as in mujoco.Renderer.
        flip = slice(None, None, -1 if self._gl is not None else 1)
        self._tiles = [
            self._pixels[r.bottom - low : r.bottom - low + r.height, r.left : r.left + r.width][
                flip
            ]
            for r in self.rects
        ]
        if self._con.offWidth < width or self._con.offHeight < height:
            got = (self._con.offHeight, self._con.offWidth)
            self.close()
            raise ConfigError(f"GL made a {got} offscreen buffer, {self.buffer_size} was needed")
        close_at_exit(self)
        close_at_exit(_COLLECTED_AT_EXIT)

    def render(
        self,
        data: mujoco.MjData | Sequence[mujoco.MjData],
        *,
        out: Sequence[np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """Render every view; one image (HxWx3 uint8) per view, in the views' order.

        Args:
            data: one ``MjData`` for all views, or one per view.
            out: arrays to write the images into (one per view, each HxWx3 uint8, e.g. slices
                of a batch); they are returned. None: new arrays.
        """
        con = self._con
        if con is None:
            raise RuntimeError("TiledRenderer.render() after close()")
        datas = [data] * len(self.views) if isinstance(data, mujoco.MjData) else data
        if len(datas) != len(self.views):
            raise ConfigError(f"render() got {len(datas)} MjData for {len(self.views)} views")
        if out is not None and len(out) != len(self.views):
            raise ConfigError(f"render() got {len(out)} out arrays for {len(self.views)} views")
        model, scene, option, catmask = self.model, self._scene, self._option, self._catmask
        if _COLLECTED:
            _free_collected()
        if self._gl is not None:
            self._gl.make_current()
        culler = self._culler if self.cull else None
        plane_culler = self._plane_culler
        wait, repeat, planes = self._cull_wait, self._plane_repeat, self._planes
        poses: list[bytes] = [b""] * len(datas)  # the pose key of each view that may repeat
        for i, (d, camera, rect, aspect) in enumerate(
            zip(datas, self._cameras, self.rects, self._aspects, strict=True)
        ):
            with self._lock:
                mujoco.mjv_updateScene(model, d, option, None, camera, catmask, scene)
                if planes is not None and any(repeat[i : i + 3]):  # needed by views i to i + 2
                    poses[i] = _pose(d, camera.fixedcamid, planes)
            if culler is not None:
                # A view with nothing outside it (a camera that sees the whole scene) is
                # re-checked every _CULL_RECHECK renders only: its cull would cost CPU for no
                # geom. Skipping a cull never changes an image.
                if wait[i]:
                    wait[i] -= 1
                elif not culler.cull(rect.width, rect.height):
                    wait[i] = _CULL_RECHECK - 1
            # The third and later view in a row of one world-fixed camera, over planes on the
            # world, whose MjData place that camera and the planes as the two views before did
            # (a vector env's twins): the planes lie under the same camera as in the view before
            # (MuJoCo places an infinite plane under the previous update's camera), so the
            # plane lists it left are the ones this cull would set (or an exact list of the same
            # quads): the same pixels, without the cull's ~0.1 ms of Python per view.
            if plane_culler is not None and not (
                repeat[i] and poses[i] == poses[i - 1] == poses[i - 2]
            ):
                plane_culler.cull(scene, aspect)
            mujoco.mjr_render(rect, scene, con)
        mujoco.mjr_readPixels(self._pixels, None, self._whole, con)
        if out is None:
            return [tile.copy() for tile in self._tiles]
        for tile, dst in zip(self._tiles, out, strict=True):
            np.copyto(dst, tile)
        return list(out)

    def close(self) -> None:
        """Free the GL resources (idempotent)."""
        con, gl = self._con, self._gl
        self._con = self._gl = None
        _free_gl(con, gl)
        _free_collected()

    def __enter__(self) -> TiledRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # The garbage collector may finalise this renderer in the middle of another renderer's
        # render(), between its make_current and its GL calls: freeing here would make this
        # context current and then none, under that render. The next render or close frees it.
        con, gl = self._con, self._gl
        self._con = self._gl = None
        if con is not None or gl is not None:
            _COLLECTED.append((con, gl))


def _free_gl(con: mujoco.MjrContext | None, gl: Any) -> None:
    """Free one renderer's MjrContext and GL context, its own context current while it does."""
    if con is not None:
        try:
            if gl is not None:
                gl.make_current()  # GL names are per context: free ours, not another's
        except Exception:
            # Current on another thread (EGL_BAD_ACCESS). Destroying the context below frees
            # its objects; the MjrContext must not free its names in whatever context is
            # current here (its destructor would), so it is kept, unfreed, until exit.
            _UNFREED.append(con)
        else:
            con.free()
    if gl is not None:
        gl.free()


@functools.cache
def _collected_later(glcontext_cls: type) -> type:
    """``glcontext_cls`` whose finaliser leaves the freeing to :func:`_free_collected`.

    MuJoCo's ``GLContext.free`` ends with ``eglReleaseThread``, which drops the thread's current
    context whatever it is. Run by the garbage collector (which finalises a dead renderer's GL
    context along with it, in any order) in the middle of another renderer's render, it left
    that render's GL calls with no context: PyOpenGL raised, ``mjr_render`` drew nothing.
    """

    class GLContext(glcontext_cls):
        def __del__(self) -> None:
            if getattr(self, "_context", None):  # not freed yet (every backend's attribute)
                _COLLECTED.append((None, self))  # kept alive until freed

    return GLContext


class _CollectedGL:
    """What frees, at exit, the GL of renderers collected since the last render or close."""

    def close(self) -> None:
        _free_collected()


_COLLECTED_AT_EXIT = _CollectedGL()


def _free_collected() -> None:
    """Free the GL of renderers finalised unclosed (called where no other GL work is under way)."""
    while _COLLECTED:
        try:
            con, gl = _COLLECTED.pop()
        except IndexError:  # another thread took the last one
            return
        if con is None and any(other is gl for _, other in list(_COLLECTED)):
            continue  # finalised with its renderer, whose entry frees it after its MjrContext
        _free_gl(con, gl)


def _world_planes(model: mujoco.MjModel) -> np.ndarray | None:
    """The infinite planes (what plane_cull culls), if every one is on the world body."""
    planes = np.flatnonzero(
        (model.geom_type == mujoco.mjtGeom.mjGEOM_PLANE)
        & (model.geom_size[:, 0] <= 0)
        & (model.geom_size[:, 1] <= 0)
    )
    return planes if not model.geom_bodyid[planes].any() else None


def _plane_repeats(
    model: mujoco.MjModel,
    cameras: list[mujoco.MjvCamera],
    rects: list[mujoco.MjrRect],
    planes: np.ndarray,
) -> list[bool]:
    """Per view: whether it is the third or later in a row of one world-fixed camera's views.

    Of one size too: the views whose plane cull ``render`` may leave out, poses permitting.
    """
    fixed = mujoco.mjtCamera.mjCAMERA_FIXED

    def key(k: int) -> tuple[int, int, int] | None:
        cam = cameras[k]
        c = int(cam.fixedcamid)
        if cam.type != fixed or model.cam_bodyid[c] != 0 or model.cam_mode[c] != 0:
            return None  # moves, or tracks a body: its frustum can change between views
        return c, rects[k].width, rects[k].height

    keys = [key(k) for k in range(len(cameras))]
    return [
        k >= 2 and keys[k] is not None and keys[k] == keys[k - 1] == keys[k - 2]
        for k in range(len(keys))
    ]


def _pose(data: mujoco.MjData, camera: int, planes: np.ndarray) -> bytes:
    """What places a world-fixed camera and the world's planes in a view of ``data``."""
    return b"".join(
        (
            data.cam_xpos[camera].tobytes(),
            data.cam_xmat[camera].tobytes(),
            data.geom_xpos[planes].tobytes(),
            data.geom_xmat[planes].tobytes(),
        )
    )


def _camera(model: mujoco.MjModel, camera: str | int) -> mujoco.MjvCamera:
    cam_id = camera
    if isinstance(camera, str):
        cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if cam_id < 0:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise ConfigError(f"camera {camera!r} is not in the model; its cameras: {names}")
    if not -1 <= int(cam_id) < model.ncam:
        raise ConfigError(f"camera id {cam_id} is out of range [-1, {model.ncam})")
    mjv_camera = mujoco.MjvCamera()
    if cam_id == -1:
        mjv_camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        mujoco.mjv_defaultFreeCamera(model, mjv_camera)
    else:
        mjv_camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        mjv_camera.fixedcamid = int(cam_id)
    return mjv_camera
