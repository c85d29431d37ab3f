"""Per-view frustum culling of an ``MjvScene``: drop the geoms no pixel of the view can show.

:func:`cull_scene` is called between ``mjv_updateScene`` (which leaves the view's GL camera in
``scene.camera``) and ``mjr_render``: it removes from ``scene.geoms`` every geom whose bounding
sphere lies wholly outside that camera's view frustum (near and far planes, vertical field of
view, and the horizontal extent ``mjr_render`` derives from the viewport's aspect), compacting
the array in place and lowering ``scene.ngeom``. The images are bit-identical to unculled
rendering (tests/sim/test_culling.py: every ALOHA and SO-101 camera, random states, colour,
depth and segmentation, and a synthetic scene with a mesh, capsules, transparent, labelled and
reflective geoms placed on and around the frustum's edges).

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

What it saves (measured with llvmpipe, ``benchmarks/sim_step.py``): a geom outside the view
costs llvmpipe little, its vertices transformed and its triangles rejected (~5 us of a 128x128
view's ~1 ms on ALOHA); the cost of a view is its visible triangles' setup and rasterisation. On
ALOHA the wrist cameras drop ~49 of 72 geoms (~20 % of their view), the top and angle cameras
16-20 (~5-10 %); SO-101's wrist drops ~18 of 27 but its view is mostly its infinite floor.

How: ``scene.geoms`` is read and compacted as one numpy structured view of MuJoCo's ``mjvGeom``
array (its address taken from a field's array, its layout checked against the bindings' own
field views once per scene), so a call costs ~30 us, not a Python loop over geom wrappers.
"""

from __future__ import annotations

import ctypes
import math
import weakref

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


class _GeomArray:
    """numpy views of one scene's ``mjvGeom`` buffer (all ``maxgeom`` of them)."""

    def __init__(self, scene: mujoco.MjvScene) -> None:
        geoms = scene.geoms
        base = _address(geoms[0].pos) - _OFF_POS
        if scene.maxgeom > 1 and _address(geoms[1].pos) - _address(geoms[0].pos) != _GEOM_SIZE:
            raise RuntimeError("mjvGeom is not the 252-byte struct culling.py was written for")
        buffer = (ctypes.c_char * (_GEOM_SIZE * scene.maxgeom)).from_address(base)
        self.raw = np.frombuffer(buffer, np.uint8).reshape(scene.maxgeom, _GEOM_SIZE)
        self.f32 = self.raw.view(np.float32)  # (maxgeom, 63)
        self.i32 = self.raw.view(np.int32)
        self.scene = weakref.ref(scene)
        # The bindings' own field views must sit where this layout says (a MuJoCo whose
        # mjvGeom changed fails here, not by drawing the wrong geoms).
        for name, offset in (("size", _OFF_SIZE), ("mat", _OFF_MAT), ("rgba", _OFF_RGBA)):
            if _address(getattr(geoms[0], name)) - base != offset:
                raise RuntimeError(f"mjvGeom.{name} is not at byte {offset}; culling.py is stale")
        # Scalar fields have no array view: write a probe through the bindings, read it here.
        geom, saved = geoms[0], self.raw[0].copy()
        geom.type, geom.reflectance, geom.modelrbound, geom.label = 7, 0.25, 0.5, "x"
        probe = (
            self.i32[0, _OFF_TYPE // 4],
            self.f32[0, _OFF_REFLECTANCE // 4],
            self.f32[0, _OFF_MODELRBOUND // 4],
            self.raw[0, _OFF_LABEL],
        )
        self.raw[0] = saved
        if probe != (7, 0.25, 0.5, ord("x")):
            raise RuntimeError("mjvGeom's scalar fields moved; culling.py is stale")
        self._key = b""
        self._cullable = np.zeros(0, bool)

    def cullable(self, n: int) -> np.ndarray:
        """Which of the first ``n`` geoms may be culled at all (see the module docstring).

        Cached: frame after frame a renderer's scene holds the same geoms in the same order.
        """
        key = self.raw[:n, _KEY_BYTES].tobytes()
        if key != self._key:
            types, f32 = self.i32[:n, _OFF_TYPE // 4], self.f32[:n]
            mask = _CULLABLE.take(types, mode="clip")
            mask &= f32[:, _OFF_MODELRBOUND // 4] > 0
            mask &= self.raw[:n, _OFF_LABEL] == 0
            mask &= ~((f32[:, _OFF_REFLECTANCE // 4] > 0) & _REFLECTIVE.take(types, mode="clip"))
            self._key, self._cullable = key, mask
        return self._cullable


_ARRAYS: weakref.WeakKeyDictionary[mujoco.MjvScene, _GeomArray] = weakref.WeakKeyDictionary()


def cull_scene(scene: mujoco.MjvScene, width: int, height: int) -> int:
    """Drop the geoms a ``width`` x ``height`` viewport of ``scene``'s camera cannot show.

    Call it after ``mjv_updateScene`` and before ``mjr_render`` with that viewport: the images
    are the same as without it (see the module docstring). Returns how many geoms were dropped
    (0 when the scene's flags rule culling out).
    """
    n = scene.ngeom
    if n == 0 or width <= 0 or height <= 0:
        return 0
    flags = scene.flags
    if any(flags[f] for f in _NO_CULL_FLAGS) or scene.stereo or scene.enabletransform:
        return 0
    planes = _frustum_planes(scene, width / height)
    if planes is None:
        return 0
    arrays = _ARRAYS.get(scene)
    if arrays is None:
        arrays = _ARRAYS[scene] = _GeomArray(scene)
    # Few numpy calls: right after a render each one runs cold (measured ~20 us apiece at
    # 72 geoms, against ~1 us warm), so the test is one product and the rest is cached.
    # (x, y, z, r) @ matrix + constant: each geom's centre beyond each plane, less its padded
    # radius; positive anywhere means the whole sphere is outside.
    matrix, constant = planes
    beyond = arrays.f32[:n, _XYZR] @ matrix
    beyond += constant
    out = beyond.max(axis=1) > 0
    out &= arrays.cullable(n)
    dropped = int(np.count_nonzero(out))
    if dropped:
        raw = arrays.raw[:n]
        raw[: n - dropped] = raw[~out]  # the kept geoms, in their order
        scene.ngeom = n - dropped
    return dropped


def _frustum_planes(scene: mujoco.MjvScene, aspect: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The view frustum ``mjr_render`` draws with, as 6 outward planes in world coordinates.

    Returns (matrix 4x6, constant 6): a sphere (centre p, radius r) lies wholly outside plane k
    when ``(p, r) @ matrix[:, k] + constant[k] > 0``, the radius padded by the margins. None if
    the camera is degenerate (``mjr_render`` would not draw it either).
    """
    # mjr_render draws a mono scene from the average of its two cameras (mjv_averageCamera).
    cam = mujoco.mjv_averageCamera(scene.camera[0], scene.camera[1])
    near, far = float(cam.frustum_near), float(cam.frustum_far)
    bottom, top = float(cam.frustum_bottom), float(cam.frustum_top)
    if not (0 < near < far) or not top > bottom:
        return None
    # As setView in render_gl3.c: the half width follows the viewport's aspect unless the
    # camera fixes it; take the wider of the two so that either reading is covered.
    halfwidth = 0.5 * aspect * (top - bottom)
    if cam.frustum_width:
        halfwidth = max(halfwidth, float(cam.frustum_width))
    left, right = cam.frustum_center - halfwidth, cam.frustum_center + halfwidth
    # Camera axes as mjr_lookAt builds them: side = forward x up, then up = side x forward.
    # Plain floats: numpy's cross and stack on 3-vectors cost more than the whole cull.
    fwd = _unit(cam.forward.tolist())
    side = _unit(_cross(fwd, cam.up.tolist()))
    up = _cross(side, fwd)
    if cam.orthographic:
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
    eye = cam.pos.tolist()
    matrix = np.empty((4, 6), np.float32)
    matrix[:3] = np.array(columns).T
    matrix[3] = -(1 + _MARGIN_REL)
    constant = [
        off - (n[0] * eye[0] + n[1] * eye[1] + n[2] * eye[2]) - _MARGIN_ABS
        for n, off in zip(columns, offsets, strict=True)
    ]
    return matrix, np.array(constant, np.float32)


def _unit(v: list[float]) -> list[float]:
    norm = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    return [v[0] / norm, v[1] / norm, v[2] / norm]


def _cross(a: list[float], b: list[float]) -> list[float]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def _scale(v: list[float], k: float) -> list[float]:
    return [k * v[0], k * v[1], k * v[2]]


def _combine(a: float, u: list[float], b: float, v: list[float]) -> list[float]:
    return [a * u[0] + b * v[0], a * u[1] + b * v[1], a * u[2] + b * v[2]]


def _address(array: np.ndarray) -> int:
    return int(array.__array_interface__["data"][0])
