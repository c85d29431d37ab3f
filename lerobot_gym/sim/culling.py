"""Per-view frustum culling of an ``MjvScene``: drop the geoms no pixel of the view can show.

:func:`cull_scene` is called between ``mjv_updateScene`` (which leaves the view's GL camera in
``scene.camera``) and ``mjr_render``: it removes from ``scene.geoms`` every geom whose bounding
sphere lies wholly outside that camera's view frustum (near and far planes, vertical field of
view, and the horizontal extent ``mjr_render`` derives from the viewport's aspect), compacting
the array in place and lowering ``scene.ngeom``. The images are bit-identical to unculled
rendering (tests/sim/test_culling.py: every ALOHA and SO-101 camera, random states, colour,
depth and segmentation, and a synthetic scene with a mesh, capsules, transparent, labelled and
reflective geoms placed on and around the frustum's edges).

Use, in any loop that draws views (:class:`~lerobot_gym.sim.tiled.TiledRenderer` does this)::

    mujoco.mjv_updateScene(model, data, option, None, camera, catmask, scene)
    cull_scene(scene, rect.width, rect.height)      # the viewport mjr_render is given next
    mujoco.mjr_render(rect, scene, context)

A renderer that owns its scene and keeps its flags fixed checks :func:`cullable` once and calls
``SceneCuller(scene).cull(width, height)`` per view (no flag reads per view). A geom's
``segid`` stays its index in the unculled scene, so a segmentation decoder must size its id
table by the unculled geom count (``mujoco.Renderer``'s sizes it by ``scene.ngeom``).

Why the images cannot change (``mjr_render``, MuJoCo's ``render_gl3.c``):

- A geom wholly outside the frustum produces no fragment, and every geom sets its own GL state
  (colour, material, texture, transform) and restores what it changes, so the remaining geoms
  draw exactly as before.
- Order: the kept geoms keep their relative order. Opaque geoms are drawn in array order;
  transparent ones are sorted by distance with MuJoCo's merge sort, which is stable, so ties
  keep their order too.
- Never culled: planes (the floor is infinite; the first infinite plane also anchors the haze)
  and height fields; decor and other geoms without a model bounding radius (``modelrbound`` 0:
  contact points, frames, sites' drawings); lines, arrows, flexes, skins; labelled geoms; and any
  plane or box with ``reflectance`` > 0, because ``mjr_render`` lets only the first reflective
  geom in the array reflect (and draws it in its own blended pass): culling an earlier one would
  promote a later one.
- Not culled at all: scenes with shadows or reflections on (a geom outside the view can cast a
  shadow or be mirrored into it), stereo scenes, and scenes with ``enabletransform``. The envs
  render with shadows and reflections off.
- The bounding sphere is ``modelrbound`` (the model's ``geom_rbound``, about the geom's frame
  origin, which is where ``mjvGeom.pos`` puts it) plus a margin (0.1 % and 0.1 mm) for the
  float32 arithmetic of GL's transform.
- The bounding sphere trusts ``geom_rbound``: code that edits ``geom_size`` at run time must
  scale ``geom_rbound`` with it (MuJoCo does not recompute it; ``sim/randomize.py`` does).

What it saves (llvmpipe, 2-core machine under load 10-16, CPU ms of one 128x128 view, median of
blocks of renders; ``benchmarks/sim_step.py`` item 5): a geom wholly outside the view still
costs llvmpipe a little (its vertices are transformed before its triangles are rejected), so
dropping it saves ~5 us. ALOHA's wrist cameras draw 12 of 72 geoms: 0.81-0.89 -> 0.53-0.66 ms
(x0.66-0.91); its top and angle cameras drop 12-14 and come out even or a little worse
(x0.95-1.12 under load: the saving is about what the cull costs there); SO-101's front camera
drops none and its wrist 21 small ones, and both views are mostly the infinite floor:
x1.01-1.08. The Aloha-TransferCube env
with four cameras: x1.04-1.19 steps per CPU second.

What a cull costs: ~30 us of CPU in a warm loop, but 65-180 us when run between renders on the
loaded machine, where every numpy call and binding read right after a render runs cold (four
numpy operations measured 4 us warm, 81 us right after a render). So it is built to make few of
them: ``scene.geoms`` and the two GL cameras are read as numpy views of MuJoCo's own arrays
(their address taken from a field's array, the layout checked against the bindings once per
scene), one product tests every geom against the six planes, which geoms may be culled at all
is cached while the scene holds the same geoms, a camera's planes are kept while its frustum is
unchanged (fixed cameras), and a view with nothing outside returns after the product.
"""

from __future__ import annotations

import ctypes
import math
import weakref
from typing import Any

import mujoco
import numpy as np

# mjvGeom's layout (MuJoCo's mjvisualize.h, 3.x): byte offsets of the fields read here.
_GEOM_SIZE = 252
_OFF_TYPE = 0
_OFF_SIZE = 40
_OFF_POS = 52
_OFF_MAT = 64
_OFF_RGBA = 100
_OFF_REFLECTANCE = 128
_OFF_LABEL = 140
_OFF_MODELRBOUND = 244
# float32 columns (x, y, z, modelrbound) of a geom, and the bytes that decide whether it may be
# culled at all (type, data and object ids, category, reflectance, label's first byte, rbound).
_XYZR = np.array([_OFF_POS // 4, _OFF_POS // 4 + 1, _OFF_POS // 4 + 2, _OFF_MODELRBOUND // 4])
_KEY_BYTES = np.r_[0:20, _OFF_REFLECTANCE : _OFF_REFLECTANCE + 4, _OFF_LABEL, 244:248]

_G = mujoco.mjtGeom


def _type_table(*types: mujoco.mjtGeom) -> np.ndarray:
    """A lookup table over geom types (indexed with ``take(..., mode="clip")``)."""
    table = np.zeros(int(_G.mjGEOM_NONE) + 1, bool)
    table[[int(t) for t in types]] = True
    return table


# Closed solids whose drawing lies within modelrbound of their frame origin.
_CULLABLE = _type_table(
    _G.mjGEOM_SPHERE,
    _G.mjGEOM_CAPSULE,
    _G.mjGEOM_ELLIPSOID,
    _G.mjGEOM_CYLINDER,
    _G.mjGEOM_BOX,
    _G.mjGEOM_MESH,
)
# The types mjr_render may treat as reflective (isReflective in render_gl3.c).
_REFLECTIVE = _type_table(_G.mjGEOM_PLANE, _G.mjGEOM_BOX)
_NO_CULL_FLAGS = (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION)

# Margin on every bounding radius: relative, and absolute in model units (metres).
_MARGIN_REL = 1e-3
_MARGIN_ABS = 1e-4


# mjvGLCamera: 16 four-byte fields; scene.camera holds two (mono rendering averages them).
_CAM_FLOATS = 16
_CAM_NEAR, _CAM_TOP, _CAM_ORTHO = 13, 12, 15  # float index of frustum_near, _top; int of ortho


_Planes = tuple[np.ndarray, np.ndarray]
_MISSING: Any = object()
_PLANES_KEPT = 64


class SceneCuller:
    """Culls one ``MjvScene``, view after view.

    :meth:`cull` is :func:`cull_scene` without its checks of the scene's flags, for an owner
    that keeps them fixed (the tiled renderer checks :func:`cullable` once). Holds numpy views
    of the scene's ``mjvGeom`` array and its two GL cameras (their address taken from the
    bindings' field arrays, the layout checked against the bindings here: a MuJoCo whose
    structs changed fails at construction, not by dropping the wrong geoms).
    """

    def __init__(self, scene: mujoco.MjvScene) -> None:
        geoms = scene.geoms
        base = _address(geoms[0].pos) - _OFF_POS
        if scene.maxgeom > 1 and _address(geoms[1].pos) - _address(geoms[0].pos) != _GEOM_SIZE:
            raise RuntimeError("mjvGeom is not the 252-byte struct culling.py was written for")
        buffer = (ctypes.c_char * (_GEOM_SIZE * scene.maxgeom)).from_address(base)
        self._raw = np.frombuffer(buffer, np.uint8).reshape(scene.maxgeom, _GEOM_SIZE)
        self._f32 = self._raw.view(np.float32)  # (maxgeom, 63)
        self._i32 = self._raw.view(np.int32)
        for name, offset in (("size", _OFF_SIZE), ("mat", _OFF_MAT), ("rgba", _OFF_RGBA)):
            if _address(getattr(geoms[0], name)) - base != offset:
                raise RuntimeError(f"mjvGeom.{name} is not at byte {offset}; culling.py is stale")
        # Scalar fields have no array view: write a probe through the bindings, read it here.
        geom, saved = geoms[0], self._raw[0].copy()
        geom.type, geom.reflectance, geom.modelrbound, geom.label = 7, 0.25, 0.5, "x"
        probe = (
            self._i32[0, _OFF_TYPE // 4],
            self._f32[0, _OFF_REFLECTANCE // 4],
            self._f32[0, _OFF_MODELRBOUND // 4],
            self._raw[0, _OFF_LABEL],
        )
        self._raw[0] = saved
        if probe != (7, 0.25, 0.5, ord("x")):
            raise RuntimeError("mjvGeom's scalar fields moved; culling.py is stale")

        cam0, cam1 = scene.camera[0], scene.camera[1]
        cam_base = _address(cam0.pos)
        offsets = (_address(cam0.forward), _address(cam0.up), _address(cam1.pos))
        if tuple(o - cam_base for o in offsets) != (12, 24, 4 * _CAM_FLOATS):
            raise RuntimeError("mjvGLCamera is not the layout culling.py was written for")
        cam_buffer = (ctypes.c_char * (8 * _CAM_FLOATS)).from_address(cam_base)
        self._cams = np.frombuffer(memoryview(cam_buffer), np.uint8).view(np.float32)  # 2 cameras
        self._cams_i32 = self._cams.view(np.int32)
        saved_cam = self._cams.copy()
        cam0.frustum_near, cam0.frustum_top, cam0.orthographic = 0.125, 0.375, 1
        probe_cam = (
            self._cams[_CAM_NEAR],
            self._cams[_CAM_TOP],
            self._cams_i32[_CAM_ORTHO],
        )
        self._cams[:] = saved_cam
        if probe_cam != (0.125, 0.375, 1):
            raise RuntimeError("mjvGLCamera's fields moved; culling.py is stale")

        self._scene = weakref.ref(scene)
        self._planes: dict[tuple[float, ...], _Planes | None] = {}
        self._key = b""
        self._cullable = np.zeros(0, bool)

    def cull(self, width: int, height: int) -> int:
        """Drop the geoms a ``width`` x ``height`` viewport cannot show; how many were dropped.

        The caller guarantees what :func:`cull_scene` checks: no shadows, reflections, stereo
        or model transform in the scene.
        """
        scene = self._scene()
        if scene is None:
            raise RuntimeError("SceneCuller used after its scene was freed")
        n = scene.ngeom
        if n == 0 or width <= 0 or height <= 0:
            return 0
        # A fixed camera on a static body has the same frustum every frame: its planes are
        # kept (a few per scene: one per such view of a tiled renderer; moving ones churn).
        key = (*self._cams.tolist(), int(self._cams_i32[_CAM_ORTHO]), width / height)
        planes = self._planes.get(key, _MISSING)
        if planes is _MISSING:
            if len(self._planes) >= _PLANES_KEPT:
                self._planes.clear()
            planes = self._planes[key] = _frustum_planes(list(key[:32]), int(key[32]), key[33])
        if planes is None:
            return 0
        # Few numpy calls: right after a render each runs cold (measured under load: ~10-20 us
        # apiece against ~1 us warm), so the test is one product and the rest is cached.
        # (x, y, z, r) @ matrix > bound: each geom's centre beyond each plane, less its padded
        # radius; beyond any one plane means the whole sphere is outside.
        matrix, bound = planes
        out = (self._f32[:n, _XYZR] @ matrix > bound).any(axis=1)
        if not out.any():
            return 0
        out &= self._may_cull(n)
        dropped = int(np.count_nonzero(out))
        if dropped:
            raw = self._raw[:n]
            raw[: n - dropped] = raw[~out]  # the kept geoms, in their order
            scene.ngeom = n - dropped
        return dropped

    def _may_cull(self, n: int) -> np.ndarray:
        """Which of the first ``n`` geoms may be culled at all (see the module docstring).

        Cached: frame after frame a renderer's scene holds the same geoms in the same order.
        """
        key = self._raw[:n, _KEY_BYTES].tobytes()
        if key != self._key:
            types, f32 = self._i32[:n, _OFF_TYPE // 4], self._f32[:n]
            mask = _CULLABLE.take(types, mode="clip")
            mask &= f32[:, _OFF_MODELRBOUND // 4] > 0
            mask &= self._raw[:n, _OFF_LABEL] == 0
            mask &= ~((f32[:, _OFF_REFLECTANCE // 4] > 0) & _REFLECTIVE.take(types, mode="clip"))
            self._key, self._cullable = key, mask
        return self._cullable


_CULLERS: weakref.WeakKeyDictionary[mujoco.MjvScene, SceneCuller] = weakref.WeakKeyDictionary()


def cull_scene(scene: mujoco.MjvScene, width: int, height: int) -> int:
    """Drop the geoms a ``width`` x ``height`` viewport of ``scene``'s camera cannot show.

    Call it after ``mjv_updateScene`` and before ``mjr_render`` with that viewport: the images
    are the same as without it (see the module docstring). Returns how many geoms were dropped
    (0 when the scene's flags rule culling out).
    """
    if not cullable(scene):
        return 0
    culler = _CULLERS.get(scene)
    if culler is None:
        culler = _CULLERS[scene] = SceneCuller(scene)
    return culler.cull(width, height)


def cullable(scene: mujoco.MjvScene) -> bool:
    """Whether ``scene``'s settings allow culling.

    No shadows, reflections, stereo or model transform: with them a geom outside the view could
    still darken, mirror into or be moved into it.
    """
    flags = scene.flags
    return not (any(flags[f] for f in _NO_CULL_FLAGS) or scene.stereo or scene.enabletransform)


def _frustum_planes(
    cams: list[float], orthographic: int, aspect: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The view frustum ``mjr_render`` draws with, as 6 outward planes in world coordinates.

    ``cams``: the scene's two GL cameras' 16 fields each (pos, forward, up, frustum_center,
    _width, _bottom, _top, _near, _far, orthographic). Returns (matrix 4x6, bound 6): a sphere
    (centre p, radius r) lies wholly outside plane k when ``(p, r) @ matrix[:, k] > bound[k]``:
    its centre is beyond the plane by more than its padded radius. None if the
    camera is degenerate (``mjr_render`` would not draw it either).
    """
    # mjr_render draws a mono scene from the average of its two cameras (mjv_averageCamera:
    # means of the frames and frusta; the frame is re-orthonormalised below as mjr_lookAt does).
    avg = [0.5 * (a + b) for a, b in zip(cams[:15], cams[16:31], strict=True)]
    center, frustum_width, bottom, top, near, far = avg[9:15]
    if not (0 < near < far) or not top > bottom:
        return None
    # As setView in render_gl3.c: the half width follows the viewport's aspect unless the
    # camera fixes it; take the wider of the two so that either reading is covered.
    halfwidth = 0.5 * aspect * (top - bottom)
    if frustum_width:
        halfwidth = max(halfwidth, frustum_width)
    left, right = center - halfwidth, center + halfwidth
    # Camera axes as mjr_lookAt builds them: side = forward x up, then up = side x forward.
    # Plain floats: numpy's cross and stack on 3-vectors cost more than the whole cull.
    if _norm(avg[3:6]) < 1e-6 or _norm(_cross(avg[3:6], avg[6:9])) < 1e-6:
        return None  # no camera frame (e.g. an MjData never forwarded): nothing is culled
    fwd = _unit(avg[3:6])
    side = _unit(_cross(fwd, avg[6:9]))
    up = _cross(side, fwd)
    if orthographic:
        # Box: x in [left, right], y in [bottom, top], depth in [near, far].
        columns = [side, _scale(side, -1), up, _scale(up, -1), _scale(fwd, -1), fwd]
        offsets = [-right, left, -top, bottom, near, -far]
    else:
        # Pyramid through the eye: x * near <= right * depth, etc.; unit normals.
        columns = [
            _unit(_combine(near, side, -right, fwd)),
            _unit(_combine(-near, side, left, fwd)),
            _unit(_combine(near, up, -top, fwd)),
            _unit(_combine(-near, up, bottom, fwd)),
            _scale(fwd, -1),
            fwd,
        ]
        offsets = [0.0, 0.0, 0.0, 0.0, near, -far]
    eye = avg[0:3]
    matrix = np.empty((4, 6), np.float32)
    matrix[:3] = np.array(columns).T
    matrix[3] = -(1 + _MARGIN_REL)
    bound = [
        (n[0] * eye[0] + n[1] * eye[1] + n[2] * eye[2]) - off + _MARGIN_ABS
        for n, off in zip(columns, offsets, strict=True)
    ]
    return matrix, np.array(bound, np.float32)


def _norm(v: list[float]) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _unit(v: list[float]) -> list[float]:
    norm = _norm(v)
    return [v[0] / norm, v[1] / norm, v[2] / norm]


def _cross(a: list[float], b: list[float]) -> list[float]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def _scale(v: list[float], k: float) -> list[float]:
    return [k * v[0], k * v[1], k * v[2]]


def _combine(a: float, u: list[float], b: float, v: list[float]) -> list[float]:
    return [a * u[0] + b * v[0], a * u[1] + b * v[1], a * u[2] + b * v[2]]


def _address(array: np.ndarray) -> int:
    return int(array.__array_interface__["data"][0])
