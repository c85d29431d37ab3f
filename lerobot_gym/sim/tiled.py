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

    views = [View(cam, h, w) for cam in cams for _ in range(n_envs)]     # camera-major order
    renderer = TiledRenderer(model, views)
    batch = {cam: np.empty((n_envs, h, w, 3), np.uint8) for cam in cams}
    out = [batch[cam][i] for cam in cams for i in range(n_envs)]          # views of the batch
    renderer.render(datas * len(cams), out=out)                          # fills `batch`

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
  (tests/sim/test_tiled.py measures and bounds it). Splitting a layout's views between
  renderers (``draw=``, below) changes no pixel.
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
  cores can share the views: :mod:`lerobot_gym.sim.tiled_threads` (the default for three or
  more views where two cores are free).
- Culling: before each view is drawn, the geoms wholly outside its frustum are dropped from the
  scene (:mod:`lerobot_gym.sim.culling`; bit-identical images, on by default, ``cull=False`` to
  turn off; off by itself when shadows or reflections are on). A geom outside the view costs
  llvmpipe only its vertex transform, so this pays on views that see a small part of the scene
  (ALOHA's wrist cameras: ~0.25 ms, a third of the view) and about breaks even elsewhere; a
  view whose cull dropped nothing (SO-101's front camera) is re-checked every 8th render.
- The scene is updated per view, not built once per ``MjData`` and copied for its other views
  (measured 2026-12-07 on the ALOHA scene, 72 geoms: ``mjv_updateScene`` 2.4 us CPU,
  ``mjv_updateCamera`` 0.35 us, against ~1.1 ms for a 128x128 view and ~3.4 ms for four):
  sharing could save the geoms' rebuild, at most ~7 us of a four-camera step (0.2 %), and a
  shared build would still need, per view, the camera, the lights (the headlight follows the
  camera) and a restore of the geoms the previous view's cull compacted away. What does scale
  with the views besides drawing is the cull (~30-60 us per view in Python and numpy, ~6 % of
  the four-camera render); the read-back and the one copy per view are a few us. The fixed
  costs per view left in ``mjr_render`` (lights, GL state, clearing the tile) are ~0.05-0.1 ms.
- Plane cull shared along a run of views: a view drawn right after the two views before it
  in the layout, all three of one world-fixed camera at one size (a vector env's twins, camera
  by camera), whose ``MjData`` place that camera and the world's infinite planes as those two
  did, skips the plane cull: the plane lies where it lay in the view before (under the same
  camera), so the lists that view left are the ones the cull would set, or an exact list of
  the same visible quads (:func:`~lerobot_gym.sim.plane_cull.plane_repeats`; the same
  pixels, tests/sim/test_tiled_shares.py). The cull's ~0.1 ms of Python per view was ~7 % of
  a 96x96 SO-101 view's CPU in the batched env. A run is judged over the views a renderer
  draws itself, consecutive in the layout: a view after a camera hand-over (``draw=``) is culled.
- ``draw=``: a renderer may draw some of its views only, each at the tile offset the whole
  layout gives it (its buffer reaches only its tiles, a viewport being drawn alike in any
  buffer that holds it; the read-back is their bounding box), so the threads of
  :mod:`lerobot_gym.sim.tiled_threads` share one layout's views, interleaved or in runs, with
  one pass's images bit for bit. Before a drawn view whose predecessor in the layout it did not
  draw, its scene is given that predecessor's camera (``mjv_updateCamera``): MuJoCo places an
  infinite plane under the camera the scene held before ``mjv_updateScene`` (measured: SO-101's
  front view after another front view instead of the wrist view differed in a pixel by one
  level). :meth:`TiledRenderer.render_share` takes that predecessor's ``MjData`` and, for view
  0, the cameras the layout's last view left (:meth:`TiledRenderer.gl_cameras`).
- The GL context is made current at every :meth:`render` (another renderer may have been current
  on this thread) and stays current afterwards, as with ``mujoco.Renderer``: EGL refuses to make
  a context current on a second thread while the first holds it, so a renderer belongs to one
  thread: build it on the thread that renders (construction makes it current there), one per
  thread. Closed from another thread, it leaves its GL names to the context's destruction
  rather than free them in whichever context that thread has current.
"""

from __future__ import annotations

import ctypes
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
from lerobot_gym.sim.plane_cull import plane_culler, plane_pose, plane_repeats, world_planes
from lerobot_gym.sim.rendering import close_at_exit

# GL renderbuffers are at least this large on every implementation MuJoCo supports
# (llvmpipe: 16384); a layout past it is refused before GL fails obscurely.
_MAX_BUFFER_SIDE = 8192

# mjvGLCamera: pos, forward, up (3 floats each), 6 frustum floats, orthographic (an int).
_GL_CAMERA_BYTES = 64

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
        draw: indices of the views this renderer draws (default: all). The tiles are laid out
            for all ``views``, so a view is drawn at the same offset, and with the camera its
            predecessor leaves in the scene (view 0's is :meth:`render_share`'s
            ``first_camera``), with the same pixels as one renderer of all the views (the
            threads of :class:`~lerobot_gym.sim.tiled_threads.ThreadedTiledRenderer`);
            :meth:`render` takes data and returns images for the drawn views only.
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
        draw: Sequence[int] | None = None,
    ) -> None:
        self._gl = None
        self._con: mujoco.MjrContext | None = None
        if not views:
            raise ConfigError("TiledRenderer needs at least one View")
        self.model = model
        rects = _layout(views)
        drawn = range(len(views)) if draw is None else [int(i) for i in draw]
        if not drawn or any(not 0 <= i < len(views) for i in drawn) or len(set(drawn)) < len(drawn):
            raise ConfigError(f"draw= must name distinct views among {len(views)}; got {draw}")
        #: The views :meth:`render` draws, in the order it takes data and returns images.
        self.views = tuple(views[i] for i in drawn)
        #: Each drawn view's viewport in the buffer (GL coordinates: origin at the bottom left);
        #: the same as with every view drawn, whatever ``draw`` picks.
        self.rects = [rects[i] for i in drawn]
        self._cameras = [_camera(model, v.camera) for v in self.views]
        # Drawing some views: MuJoCo places an infinite plane under the camera the scene held
        # before its update (the previous view's), so before a drawn view whose predecessor in
        # the whole layout is not the view this renderer drew just before, the scene is given
        # that predecessor's camera (its index and MjvCamera here): the same plane, the same
        # pixels as one pass over every view. View 0's predecessor is the last view of the
        # previous render, which ThreadedTiledRenderer hands over (first_camera).
        self._before: list[tuple[int, mujoco.MjvCamera] | None] = [
            (k - 1, _camera(model, views[k - 1].camera))
            if draw is not None and k > 0 and (p == 0 or drawn[p - 1] != k - 1)
            else None
            for p, k in enumerate(drawn)
        ]
        self._first = 0 in drawn and draw is not None  # draws view 0 of a shared layout
        # The buffer reaches the drawn tiles (measured: a share's 1280x512 buffer drew the
        # pixels of the whole's 1280x1280); the read-back is their bounding box.
        self.buffer_size = (
            max(r.bottom + r.height for r in self.rects),
            max(r.left + r.width for r in self.rects),
        )  # (height, width)
        left = min(r.left for r in self.rects)
        bottom = min(r.bottom for r in self.rects)
        self._whole = mujoco.MjrRect(
            left,
            bottom,
            max(r.left + r.width for r in self.rects) - left,
            max(r.bottom + r.height for r in self.rects) - bottom,
        )
        self._pixels = np.empty((self._whole.height, self._whole.width, 3), np.uint8)
        self._lock = lock if lock is not None else nullcontext()
        #: Whether :meth:`render` culls each view (may be changed between calls).
        self.cull = bool(cull)

        self._scene = mujoco.MjvScene(model, maxgeom=max_geom)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = bool(shadows)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = bool(reflections)
        self._gl_cams = _gl_cameras(self._scene)
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
        self._planes = world_planes(model) if self._plane_culler is not None else None
        self._plane_repeat = (
            plane_repeats(model, self._cameras, self.rects, list(drawn))
            if self._planes is not None
            else [False] * len(self.views)
        )
        # Upright tiles as views of the read-back buffer: a copy out of one is the only copy.
        # GL reads rows bottom-up; without a GL context of ours (a renderer that draws
        # top-down) there is nothing to flip, as in mujoco.Renderer.
        flip = slice(None, None, -1 if self._gl is not None else 1)
        self._tiles = [
            self._pixels[
                r.bottom - bottom : r.bottom - bottom + r.height,
                r.left - left : r.left - left + r.width,
            ][flip]
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
        datas = [data] * len(self.views) if isinstance(data, mujoco.MjData) else data
        if len(datas) != len(self.views):
            raise ConfigError(f"render() got {len(datas)} MjData for {len(self.views)} views")
        if out is not None and len(out) != len(self.views):
            raise ConfigError(f"render() got {len(out)} out arrays for {len(self.views)} views")
        return self.render_share(datas, out)

    def render_share(
        self,
        datas: Sequence[mujoco.MjData],
        out: Sequence[np.ndarray] | None,
        every: Sequence[mujoco.MjData] | None = None,
        first_camera: np.ndarray | None = None,
    ) -> list[np.ndarray]:
        """:meth:`render` for one thread's share of a shared layout (``draw=``).

        Args:
            datas: one ``MjData`` per drawn view.
            out: one array per drawn view, or None.
            every: one ``MjData`` per view of the whole layout, for the cameras of the views
                drawn elsewhere before this renderer's (None: each drawn view's own).
            first_camera: the scene cameras (:meth:`gl_cameras`) of the renderer that drew the
                layout's last view in the previous render, given to view 0's scene before its
                update (None: leave them).
        """
        con = self._con
        if con is None:
            raise RuntimeError("TiledRenderer.render() after close()")
        model, scene, option, catmask = self.model, self._scene, self._option, self._catmask
        if _COLLECTED:
            _free_collected()
        if self._gl is not None:
            self._gl.make_current()
        culler = self._culler if self.cull else None
        plane_culler = self._plane_culler
        wait, repeat, planes = self._cull_wait, self._plane_repeat, self._planes
        poses: list[bytes] = [b""] * len(datas)  # the pose key of each view that may repeat
        for i, (d, camera, rect, aspect, before) in enumerate(
            zip(datas, self._cameras, self.rects, self._aspects, self._before, strict=True)
        ):
            with self._lock:
                if before is not None:
                    k, before_camera = before
                    before_data = every[k] if every is not None else d
                    mujoco.mjv_updateCamera(model, before_data, before_camera, scene)
                elif i == 0 and self._first and first_camera is not None:
                    self.gl_cameras()[:] = first_camera
                mujoco.mjv_updateScene(model, d, option, None, camera, catmask, scene)
                if planes is not None and any(repeat[i : i + 3]):  # needed by views i to i + 2
                    poses[i] = plane_pose(d, camera.fixedcamid, planes)
            if culler is not None:
                # A view with nothing outside it (a camera that sees the whole scene) is
                # re-checked every _CULL_RECHECK renders only: its cull would cost CPU for no
                # geom. Skipping a cull never changes an image.
                if wait[i]:
                    wait[i] -= 1
                elif not culler.cull(rect.width, rect.height):
                    wait[i] = _CULL_RECHECK - 1
            # The third and later view of a run of one world-fixed camera (plane_repeats) placed
            # as the two before: the planes lie under the same camera as in the view before, so
            # the lists it left are the ones this cull would set (module docstring).
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

    def gl_cameras(self) -> np.ndarray:
        """The scene's two GL cameras (``scene.camera``) as 128 bytes of MuJoCo's own memory."""
        return self._gl_cams

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


def _layout(views: Sequence[View]) -> list[mujoco.MjrRect]:
    """Each view's viewport: a near-square grid of equal cells, each view at its cell's corner."""
    cell_h = max(v.height for v in views)
    cell_w = max(v.width for v in views)
    if min(min(v.height, v.width) for v in views) < 1:
        raise ConfigError(f"every view needs a positive height and width; got {views}")
    cols = math.ceil(math.sqrt(len(views)))
    rows = math.ceil(len(views) / cols)
    if max(rows * cell_h, cols * cell_w) > _MAX_BUFFER_SIDE:
        raise ConfigError(
            f"{len(views)} views of {cell_h}x{cell_w} need a {(rows * cell_h, cols * cell_w)} "
            f"buffer, over {_MAX_BUFFER_SIDE} pixels a side; render fewer views per renderer"
        )
    return [
        mujoco.MjrRect((i % cols) * cell_w, (i // cols) * cell_h, v.width, v.height)
        for i, v in enumerate(views)
    ]


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


def _gl_cameras(scene: mujoco.MjvScene) -> np.ndarray:
    """``scene.camera`` (two ``mjvGLCamera``) as a writable view of MuJoCo's memory."""
    cameras = scene.camera
    base = _address(cameras[0].pos)
    if _address(cameras[1].pos) - base != _GL_CAMERA_BYTES:
        raise RuntimeError("mjvGLCamera is not the 64-byte struct tiled.py was written for")
    raw = (ctypes.c_char * (2 * _GL_CAMERA_BYTES)).from_address(base)
    return np.frombuffer(memoryview(raw), np.uint8)


def _address(array: np.ndarray) -> int:
    return int(array.__array_interface__["data"][0])
