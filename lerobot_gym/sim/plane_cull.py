"""Draw only the part of an infinite plane's grid a view sees: same pixels, a fraction of the cost.

MuJoCo draws an infinite plane (``size="0 0 ..."``, the SO-101's floor) as a display list of
``mjMAXPLANEGRID`` x ``mjMAXPLANEGRID`` (200 x 200) quads reaching past the far clip, built when
the ``MjrContext`` is made, and calls the whole list in every ``mjr_render``. With software GL
(llvmpipe) every one of its 160 000 vertices is transformed and clipped for every view, though
a camera sees a few hundred quads of it: measured on SO101-PickCube at 96x96, 2.3 ms of a
view's 2.3 ms ``mjr_render`` went to the floor list, 0.9 ms with the grid culled.

:class:`PlaneGridCuller` rebuilds that grid in blocks of ``BLOCK`` x ``BLOCK`` quads, each its
own display list with the very vertices, normal and texture coordinates MuJoCo's list has
(``render_context.c``: ``makePlane``), and before each view replaces the plane's list with a
call of the blocks that intersect the view's frustum (``glCallLists``). A block outside the
frustum draws no pixel, and the blocks drawn are the same triangles as before, so the images
are unchanged, bit for bit (tests/sim/test_plane_cull.py compares them over many poses of both
SO-101 cameras).

Decisions:

- The test is conservative: a block is skipped only when its four corners lie outside one side
  plane of a frustum widened by ``MARGIN``; nearer than the camera counts as outside. The far
  plane is not used (GL clips there anyway).
- Off (the whole list drawn, as MuJoCo does) for what this test does not model: orthographic
  cameras, shadows and reflections (their passes draw the plane from other viewpoints), and
  planes finite in either direction (MuJoCo lays their grids out differently). Off too if
  PyOpenGL, which the calls need, is missing or GL refuses a call.
- A view whose camera and plane poses equal the previous view's reuses its list (a fixed
  camera in a tiled batch recompiles nothing). A pose seen a second time (a fixed camera, or a
  wrist camera while the arm rests) gets a list of its own holding exactly the quads that pass
  the test, one ``glDrawArrays`` (compiled once, ~0.3 ms; 521 quads instead of the blocks'
  1000 for the SO-101's front camera), kept for the last ``EXACT_CACHE`` such poses. A moving
  camera's poses do not repeat, so it only ever calls blocks (recompiling a plane list of one
  ``glCallLists`` per view costs tens of microseconds). The pose includes the plane's: MuJoCo
  draws an infinite plane shifted under the camera of the scene's previous update, so views of
  different cameras taking turns in one renderer move it at every view and keep to the blocks.
- Blocks are compiled into their lists the first time a view needs them (a front camera needs
  ~13 of 400), so a renderer starts as fast as before and holds few extra vertices in GL.
- GL names: the block lists belong to the renderer's GL context and are freed with it.
- Runs of one fixed camera: :func:`plane_repeats` and :func:`plane_pose` let a renderer leave
  out the cull of a view that would only repeat the view before's (the third and later view
  of one world-fixed camera in a row, placed alike; ``lerobot_gym/sim/tiled.py``). The test
  lives here because its exactness rests on this culler's state: the lists the view before
  left hold that pose's blocks or exact quads, and either draws the same pixels.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import mujoco
import numpy as np

#: Quads per block side (200 / 10 = 20 x 20 blocks per plane): smaller blocks cull closer but
#: cost more to test per view; at 10 the visible blocks of an SO-101 view cost about what the
#: floor's visible pixels do.
BLOCK = 10
#: The frustum's half-angles are widened by this factor for the test (conservative).
MARGIN = 1.05
#: Poses with an exact quad list of their own, per plane (least recently used dropped).
EXACT_CACHE = 8
#: Poses remembered as seen once (to give the second sighting an exact list).
SEEN_CACHE = 64

_GRID = mujoco.mjMAXPLANEGRID


def plane_culler(
    model: mujoco.MjModel, con: mujoco.MjrContext, *, shadows: bool, reflections: bool
) -> PlaneGridCuller | None:
    """A culler for the model's infinite planes, or None where it does not apply (docstring).

    Call with the context's GL context current.
    """
    if shadows or reflections:
        return None
    planes = [
        (int(g), ordinal)
        for ordinal, g in enumerate(np.flatnonzero(model.geom_type == mujoco.mjtGeom.mjGEOM_PLANE))
        if model.geom_size[g, 0] <= 0 and model.geom_size[g, 1] <= 0
    ]
    if not planes or _GRID % BLOCK:
        return None
    try:
        return PlaneGridCuller(model, con, planes)
    except Exception:  # no PyOpenGL, or GL refused: draw the whole plane, as MuJoCo does
        return None


class PlaneGridCuller:
    """Per view, the plane lists of ``planes`` reduced to the blocks a camera can see.

    Args:
        model: the model.
        con: its ``MjrContext`` (its GL context current).
        planes: ``(geom id, ordinal among the model's planes)`` of infinite planes.
    """

    def __init__(
        self, model: mujoco.MjModel, con: mujoco.MjrContext, planes: list[tuple[int, int]]
    ) -> None:
        # PyOpenGL (MuJoCo's EGL and OSMesa backends use it too), in the context now current.
        from OpenGL import GL  # type: ignore[import-untyped]

        self._gl = GL
        self._planes: list[_Plane] = []
        for geom, ordinal in planes:
            gx, gy = _grid(model, geom, 0), _grid(model, geom, 1)
            plane = _Plane(geom, con.basePlane + ordinal + 1, _compile(GL, gx, gy))
            plane.gx, plane.gy = gx, gy  # the grid's lines, for the quads of a block or a pose
            self._planes.append(plane)

    def cull(self, scene: mujoco.MjvScene, aspect: float) -> None:
        """Set each plane's list to the blocks the scene's camera sees (after mjv_updateScene).

        Args:
            scene: the view's scene.
            aspect: the viewport's width / height.
        """
        # mjr_render draws a mono view from the average of the two eyes (camera[0] is the left).
        cam = mujoco.mjv_averageCamera(scene.camera[0], scene.camera[1])
        if cam.orthographic:
            normals = None  # every block
            pos = np.zeros(3)
        else:
            pos = np.array(cam.pos, dtype=np.float64)
            fwd = np.array(cam.forward, dtype=np.float64)
            up = np.array(cam.up, dtype=np.float64)
            right = np.cross(fwd, up)
            near = max(float(cam.frustum_near), 1e-9)
            tan_v = max(abs(cam.frustum_top), abs(cam.frustum_bottom)) / near * MARGIN
            tan_h = (abs(cam.frustum_center) / near + tan_v * aspect) * MARGIN
            # Inward normals of the side planes through the camera, and the plane it faces.
            normals = np.stack(
                [right + tan_h * fwd, tan_h * fwd - right, up + tan_v * fwd, tan_v * fwd - up, fwd]
            )
        for plane in self._planes:
            geom = _scene_geom(scene, plane)
            if geom is None:
                continue  # not drawn in this view (hidden group): nothing to do
            key = (
                pos.tobytes(),
                None if normals is None else normals.tobytes(),
                np.asarray(geom.pos).tobytes(),
                np.asarray(geom.mat).tobytes(),
            )
            repeat = key == plane.key
            if repeat and (plane.exact_now or normals is None):
                continue  # the list already draws this pose's exact quads (or every block)
            plane.key, plane.exact_now = key, False
            exact = plane.exact.get(key)
            if exact is not None:
                plane.exact.move_to_end(key)
                self._call(plane, exact)
                plane.exact_now = True
                continue
            if normals is None:
                self._set_list(plane, plane.all_ids)
                continue
            rot = np.asarray(geom.mat, dtype=np.float64).reshape(3, 3)
            offset = np.asarray(geom.pos, np.float64) - pos  # the plane's origin from the camera
            if repeat:
                ids = plane.last_ids
            else:
                corners = plane.corners @ rot.T + offset
                ids = plane.all_ids[~(corners @ normals.T < 0).all(axis=1).any(axis=1)]
            if repeat or key in plane.seen:  # a pose seen before: its own exact list
                plane.seen.pop(key, None)
                plane.last_ids = ids
                self._call(plane, self._exact_list(plane, key, ids, rot, offset, normals))
                plane.exact_now = True
            else:
                plane.seen[key] = None
                if len(plane.seen) > SEEN_CACHE:
                    plane.seen.popitem(last=False)
                self._set_list(plane, ids)

    def _exact_list(
        self,
        plane: _Plane,
        key: tuple[Any, ...],
        ids: np.ndarray,
        rot: np.ndarray,
        offset: np.ndarray,
        normals: np.ndarray,
    ) -> int:
        """A list drawing exactly the quads of blocks ``ids`` that pass the test, for ``key``."""
        GL = self._gl
        quads = np.sort(plane.block_quads[ids].reshape(-1))  # MuJoCo's order (x outer)
        qx, qy = np.divmod(quads, _GRID)
        verts, tex = _quads(plane.gx, plane.gy, qx, qy)
        corners = verts.reshape(-1, 4, 3) @ rot.T + offset
        keep = ~(corners @ normals.T < 0).all(axis=1).any(axis=1)
        verts = np.ascontiguousarray(verts.reshape(-1, 4, 3)[keep].reshape(-1, 3))
        tex = np.ascontiguousarray(tex.reshape(-1, 4, 2)[keep].reshape(-1, 2))
        if len(plane.exact) >= EXACT_CACHE:
            _, list_id = plane.exact.popitem(last=False)  # reused for this pose
        else:
            list_id = GL.glGenLists(1)
        with _compiling(GL, list_id):
            _draw_quads(GL, verts, tex)
        plane.exact[key] = list_id
        return int(list_id)

    def _call(self, plane: _Plane, list_id: int) -> None:
        GL = self._gl
        with _compiling(GL, plane.list):
            GL.glCallList(list_id)

    def _set_list(self, plane: _Plane, ids: np.ndarray) -> None:
        plane.last_ids = ids
        GL = self._gl
        # Blocks are compiled the first time a view needs them (most never are), and before
        # the plane's list is opened: GL lists cannot be compiled inside one another.
        for block in ids[~plane.compiled[ids]]:
            _compile_block(GL, plane, int(block))
        with _compiling(GL, plane.list):
            GL.glListBase(plane.base)
            if len(ids):
                GL.glCallLists(len(ids), GL.GL_UNSIGNED_INT, ids)
            GL.glListBase(0)


class _Plane:
    """One infinite plane: its MuJoCo list, its block lists and their corners."""

    def __init__(self, geom: int, list_id: int, blocks: tuple[int, np.ndarray]) -> None:
        self.geom, self.list = geom, list_id
        self.base, corners = blocks
        self.corners = corners  # (blocks, 4 corners, 3), in the plane's frame
        self.index = 0  # where the plane was in the last scene's geoms
        self.all_ids = np.arange(len(corners), dtype=np.uint32)
        self.key: tuple[Any, ...] | None = None  # the pose the plane's list is set for
        self.exact_now = False  # whether the list calls that pose's exact list
        self.last_ids = self.all_ids  # the blocks the list calls now (or last called)
        nb = _GRID // BLOCK
        bx, by = np.divmod(self.all_ids.astype(np.int64), nb)
        inner = np.arange(BLOCK)
        # Quad indices (x * 200 + y, MuJoCo's order) of each block, (blocks, BLOCK * BLOCK).
        self.block_quads = (
            (bx[:, None, None] * BLOCK + inner[None, :, None]) * _GRID
            + by[:, None, None] * BLOCK
            + inner[None, None, :]
        ).reshape(len(self.all_ids), -1)
        self.gx = self.gy = np.zeros(0)
        self.compiled = np.zeros(len(self.all_ids), dtype=bool)
        self.exact: OrderedDict[tuple[Any, ...], int] = OrderedDict()
        self.seen: OrderedDict[tuple[Any, ...], None] = OrderedDict()


def _grid(model: mujoco.MjModel, geom: int, k: int) -> np.ndarray:
    """Grid line coordinates of an infinite plane along axis k, as MuJoCo's makePlane has them."""
    # zfar = m->vis.map.zfar * m->stat.extent: a float times a double, in double.
    zfar = float(np.float32(model.vis.map.zfar)) * float(model.stat.extent)
    matid = model.geom_matid[geom]
    if matid >= 0 and model.mat_texrepeat[matid, k] > 0:
        # sX = 2/m->mat_texrepeat[...]: int / float is float arithmetic in C.
        size = float(np.float32(2.0) / np.float32(model.mat_texrepeat[matid, k]))
    else:
        size = 2.1 * zfar / (_GRID - 2)
    d = (2.1 * zfar + 2 * size) / _GRID
    return np.array([d * x - d * (_GRID // 2) for x in range(_GRID + 1)])


def _compile(GL: Any, gx: np.ndarray, gy: np.ndarray) -> tuple[int, np.ndarray]:
    """Names for one display list per block (filled on first use); (first id, block corners)."""
    nb = _GRID // BLOCK
    base = GL.glGenLists(nb * nb)
    if not base:
        raise RuntimeError("glGenLists failed")
    edges_x, edges_y = gx[::BLOCK], gy[::BLOCK]
    bx, by = np.divmod(np.arange(nb * nb), nb)
    x0, x1, y0, y1 = edges_x[bx], edges_x[bx + 1], edges_y[by], edges_y[by + 1]
    zero = np.zeros(nb * nb)
    corners = np.stack(
        [
            np.stack([x0, y0, zero], axis=1),
            np.stack([x1, y0, zero], axis=1),
            np.stack([x1, y1, zero], axis=1),
            np.stack([x0, y1, zero], axis=1),
        ],
        axis=1,
    )
    return int(base), corners


def _compile_block(GL: Any, plane: _Plane, block: int) -> None:
    """Fill block ``block``'s display list with its quads (MuJoCo's order: x outer, y inner)."""
    bx, by = divmod(block, _GRID // BLOCK)
    x = np.arange(bx * BLOCK, bx * BLOCK + BLOCK)
    y = np.arange(by * BLOCK, by * BLOCK + BLOCK)
    mx, my = np.meshgrid(x, y, indexing="ij")
    verts, tex = _quads(plane.gx, plane.gy, mx.reshape(-1), my.reshape(-1))
    with _compiling(GL, plane.base + block):
        _draw_quads(GL, verts, tex)
    plane.compiled[block] = True


@contextmanager
def _compiling(GL: Any, list_id: int) -> Iterator[None]:
    """Compile a display list; ended even if a call fails (GL would stay in compile mode)."""
    GL.glNewList(list_id, GL.GL_COMPILE)
    try:
        yield
    finally:
        GL.glEndList()


def _quads(
    gx: np.ndarray, gy: np.ndarray, xx: np.ndarray, yy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``(4 n, 3)`` and texture coordinates ``(4 n, 2)`` of grid quads (xx, yy).

    Each quad's corners (x0,y0) (x1,y0) (x1,y1) (x0,y1) and texture coordinates u = 0.5 x,
    v = -0.5 y, as makePlane lays out an infinite plane.
    """
    qx = np.stack([gx[xx], gx[xx + 1], gx[xx + 1], gx[xx]], axis=1).reshape(-1)
    qy = np.stack([gy[yy], gy[yy], gy[yy + 1], gy[yy + 1]], axis=1).reshape(-1)
    verts = np.ascontiguousarray(np.stack([qx, qy, np.zeros_like(qx)], axis=1))
    tex = np.ascontiguousarray(np.stack([0.5 * qx, -0.5 * qy], axis=1))
    return verts, tex


def _draw_quads(GL: Any, verts: np.ndarray, tex: np.ndarray) -> None:
    """Quads with MuJoCo's plane normal, from client arrays (inside a list being compiled)."""
    GL.glNormal3d(0.0, 0.0, 1.0)
    GL.glEnableClientState(GL.GL_VERTEX_ARRAY)
    GL.glEnableClientState(GL.GL_TEXTURE_COORD_ARRAY)
    try:
        GL.glVertexPointer(3, GL.GL_DOUBLE, 0, verts)
        GL.glTexCoordPointer(2, GL.GL_DOUBLE, 0, tex)
        if len(verts):
            GL.glDrawArrays(GL.GL_QUADS, 0, len(verts))
    finally:
        GL.glDisableClientState(GL.GL_VERTEX_ARRAY)
        GL.glDisableClientState(GL.GL_TEXTURE_COORD_ARRAY)


def _scene_geom(scene: mujoco.MjvScene, plane: _Plane) -> Any:
    """The scene's mjvGeom of the plane (None if not in this view's scene)."""
    geoms, n = scene.geoms, scene.ngeom
    # A static world geom keeps its place in the scene from view to view: look there first.
    for i in (plane.index, *range(n)):
        if i < n:
            g = geoms[i]
            if g.objid == plane.geom and g.objtype == mujoco.mjtObj.mjOBJ_GEOM:
                plane.index = i
                return g
    return None


def world_planes(model: mujoco.MjModel) -> np.ndarray | None:
    """The infinite planes (what :class:`PlaneGridCuller` culls), if every one is on the world."""
    planes = np.flatnonzero(
        (model.geom_type == mujoco.mjtGeom.mjGEOM_PLANE)
        & (model.geom_size[:, 0] <= 0)
        & (model.geom_size[:, 1] <= 0)
    )
    return planes if not model.geom_bodyid[planes].any() else None


def plane_repeats(
    model: mujoco.MjModel,
    cameras: Sequence[mujoco.MjvCamera],
    rects: Sequence[mujoco.MjrRect],
    layout: Sequence[int],
) -> list[bool]:
    """Per drawn view: whether it is the third or later in a run of one world-fixed camera.

    A run: views drawn one after the other by one renderer that are consecutive in its layout
    too (``layout[p]``: drawn view ``p``'s index among all the views), of one world-fixed
    camera at one size. Such a view's plane cull may be left out when :func:`plane_pose` of it
    and of the two views before is the same: the plane then lies under the same camera as in
    the view before, whose lists are still set. A view whose predecessor in the layout was
    drawn elsewhere (its scene handed that predecessor's camera) starts a new run.
    """
    fixed = mujoco.mjtCamera.mjCAMERA_FIXED

    def key(p: int) -> tuple[int, int, int] | None:
        cam = cameras[p]
        c = int(cam.fixedcamid)
        if cam.type != fixed or model.cam_bodyid[c] != 0 or model.cam_mode[c] != 0:
            return None  # moves, or tracks a body: its frustum can change between views
        return c, rects[p].width, rects[p].height

    keys = [key(p) for p in range(len(cameras))]
    return [
        p >= 2
        and keys[p] is not None
        and keys[p] == keys[p - 1] == keys[p - 2]
        and layout[p] - 1 == layout[p - 1] == layout[p - 2] + 1
        for p in range(len(keys))
    ]


def plane_pose(data: mujoco.MjData, camera: int, planes: np.ndarray) -> bytes:
    """What places a world-fixed camera and the world's planes in a view of ``data``."""
    return b"".join(
        (
            data.cam_xpos[camera].tobytes(),
            data.cam_xmat[camera].tobytes(),
            data.geom_xpos[planes].tobytes(),
            data.geom_xmat[planes].tobytes(),
        )
    )
