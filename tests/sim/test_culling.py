"""Frustum culling (sim/culling.py): the same images as unculled rendering, bit for bit.

Colour, depth and segmentation of every camera of the ALOHA and SO-101 twins at several states
and aspects, the tiled renderer with and without culling, and a synthetic scene whose small
geoms of every cullable type (a mesh, capsules, transparent ones in distance ties, a reflective
box, labels) sit on and around the frustum's edges as a free camera moves at random.
"""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import lerobot_gym  # noqa: F401
from lerobot_gym.sim.culling import SceneCuller, cull_scene
from lerobot_gym.sim.tiled import TiledRenderer, View

RND = mujoco.mjtRndFlag


def _renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    renderer = mujoco.Renderer(model, height, width)
    renderer.scene.flags[RND.mjRND_SHADOW] = False  # as the envs render
    renderer.scene.flags[RND.mjRND_REFLECTION] = False
    return renderer


def _images(renderer: mujoco.Renderer, data, camera, *, cull: bool, option=None):
    """(colour, depth, segment ids) of one view; the number of geoms culled from it.

    Segmentation is compared as the raw id colours ``mjr_render`` draws: ``mujoco.Renderer``'s
    own decoding sizes its id table by ``scene.ngeom``, which culling lowers (a geom's
    ``segid`` stays its index in the unculled scene).

    Each compared frame follows an unculled frame of the same view: with llvmpipe a frame can
    depend on the previous frame's camera (measured: one floor pixel of SO-101's wrist view
    moved by 1 level after a frame of the front camera, culled or not), so both sides get the
    same history."""
    images, dropped = [], []
    for mode in ("rgb", "depth", "segmentation"):
        renderer.disable_depth_rendering()
        if mode == "depth":
            renderer.enable_depth_rendering()
        for settle in (True, False):
            if option is None:
                renderer.update_scene(data, camera=camera)
            else:
                renderer.update_scene(data, camera=camera, scene_option=option)
            flags = renderer.scene.flags
            flags[RND.mjRND_SEGMENT] = flags[RND.mjRND_IDCOLOR] = mode == "segmentation"
            if cull and not settle:
                dropped.append(cull_scene(renderer.scene, renderer.width, renderer.height))
            image = renderer.render().copy()
            flags[RND.mjRND_SEGMENT] = flags[RND.mjRND_IDCOLOR] = False
        images.append(image)
        if not cull:
            dropped.append(0)
    assert len(set(dropped)) == 1
    return images, dropped[0]


def _states(env_id: str, count: int):
    env = gym.make(env_id, obs_type="state", disable_env_checker=True)
    datas = []
    for seed in range(count):
        env.reset(seed=seed)
        env.action_space.seed(seed)
        for _ in range(4 * seed):
            env.step(env.action_space.sample())
        backend = env.unwrapped.backend
        d = mujoco.MjData(backend.model)
        mujoco.mj_copyData(d, backend.model, backend.data)
        datas.append(d)
    robot = env.unwrapped.robot
    cams = {name: robot.camera(name).mjcf_camera for name in robot.camera_names}
    model = env.unwrapped.backend.model
    env.close()
    return model, datas, cams


@pytest.mark.parametrize(
    ("env_id", "culled_camera"),
    [
        ("lerobot_gym/Aloha-TransferCube-v0", "left_wrist"),
        ("lerobot_gym/SO101-PickCube-v0", "wrist"),
    ],
)
def test_twin_cameras_bit_identical(env_id, culled_camera):
    model, datas, cams = _states(env_id, 2)
    dropped_by_camera = {name: 0 for name in cams}
    for height, width in ((128, 128), (96, 160)):
        renderer = _renderer(model, height, width)
        try:
            for k, d in enumerate(datas):
                for name, cam in cams.items():
                    want, _ = _images(renderer, d, cam, cull=False)
                    got, dropped = _images(renderer, d, cam, cull=True)
                    dropped_by_camera[name] += dropped
                    for kind, g, w in zip(("rgb", "depth", "seg"), got, want, strict=True):
                        np.testing.assert_array_equal(
                            g, w, err_msg=f"{name} {height}x{width} state {k} {kind}"
                        )
        finally:
            renderer.close()
    # The comparison means something only if geoms were dropped; the wrist sees little.
    assert dropped_by_camera[culled_camera] > 0, dropped_by_camera


def test_tiled_renderer_culls_and_keeps_its_images(monkeypatch):
    model, datas, cams = _states("lerobot_gym/Aloha-TransferCube-v0", 2)
    views = [View(cam, 96, 128) for cam in cams.values()]
    calls: list[int] = []
    real = SceneCuller.cull

    def counting(self, width, height):
        calls.append(real(self, width, height))
        return calls[-1]

    monkeypatch.setattr(SceneCuller, "cull", counting)
    with TiledRenderer(model, views, cull=False) as plain, TiledRenderer(model, views) as culled:
        for d in datas:
            for got, want in zip(culled.render(d), plain.render(d), strict=True):
                np.testing.assert_array_equal(got, want)
    assert len(calls) == 2 * len(views) and sum(calls) > 0


_MESH_VERTS = " ".join(
    f"{x} {y} {z}"
    for x, y, z in [(0.03, 0, 0), (-0.02, 0.02, 0.01), (0, -0.03, 0.02), (0.01, 0.01, -0.04)]
)


def _synthetic_model() -> mujoco.MjModel:
    """Small geoms of every cullable type on a grid, some transparent (in distance ties), a
    reflective box, a floor and a skybox."""
    rng = np.random.default_rng(7)
    types = ["sphere", "capsule", "ellipsoid", "cylinder", "box", "mesh"]
    geoms = []
    for i in range(8):
        for j in range(8):
            kind = types[(i + j) % len(types)]
            x, y, z = 0.12 * (i - 3.5), 0.12 * (j - 3.5), 0.05 + 0.1 * rng.random()
            alpha = 0.5 if (i * 8 + j) % 5 == 0 else 1.0
            rgba = f"{rng.random():.3f} {rng.random():.3f} {rng.random():.3f} {alpha}"
            quat = " ".join(f"{q:.4f}" for q in rng.normal(size=4))
            if kind == "mesh":
                shape = 'type="mesh" mesh="tet"'
            elif kind == "box":
                shape = 'type="box" size="0.03 0.02 0.015"'
            elif kind == "ellipsoid":
                shape = 'type="ellipsoid" size="0.03 0.015 0.02"'
            else:
                shape = f'type="{kind}" size="0.02 0.025"'
            geoms.append(
                f'<geom name="g{i}_{j}" {shape} pos="{x:.3f} {y:.3f} {z:.3f}" quat="{quat}" '
                f'rgba="{rgba}"/>'
            )
    xml = f"""
    <mujoco>
      <visual><quality numslices="8" numstacks="4" numquads="1"/></visual>
      <asset>
        <texture type="skybox" builtin="gradient" rgb1="0.3 0.5 0.7" rgb2="0 0 0"
                 width="32" height="32"/>
        <material name="mirror" reflectance="0.4" rgba="0.5 0.5 0.6 1"/>
        <mesh name="tet" vertex="{_MESH_VERTS}"/>
      </asset>
      <worldbody>
        <camera name="fixed" pos="0 -1 0.5" xyaxes="1 0 0 0 0.4 1"/>
        <light pos="0 0 3" dir="0 0 -1"/>
        <geom name="floor" type="plane" size="1 1 0.25" rgba="0.8 0.8 0.8 1"/>
        <geom name="mirror" type="box" size="0.05 0.05 0.01" pos="0.5 0.5 0.2"
              material="mirror"/>
        <geom name="twin_a" type="sphere" size="0.02" pos="-0.6 0 0.1" rgba="1 0 0 0.4"/>
        <geom name="twin_b" type="sphere" size="0.02" pos="-0.6 0 0.1" rgba="0 1 0 0.4"/>
        {"".join(geoms)}
      </worldbody>
    </mujoco>"""
    return mujoco.MjModel.from_xml_string(xml)


def test_mesh_bounding_radius_covers_its_vertices():
    """The sphere culling trusts: a mesh geom's rbound about the point mjvGeom.pos is at."""
    model = _synthetic_model()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    mesh_geoms = np.flatnonzero(model.geom_type == mujoco.mjtGeom.mjGEOM_MESH)
    assert len(mesh_geoms) > 0
    for g in mesh_geoms:
        mesh = model.geom_dataid[g]
        start, count = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        local = model.mesh_vert[start : start + count]
        world = data.geom_xpos[g] + local @ data.geom_xmat[g].reshape(3, 3).T
        reach = np.linalg.norm(world - data.geom_xpos[g], axis=1).max()
        assert reach <= model.geom_rbound[g] * (1 + 1e-6)


def test_synthetic_scene_edges_bit_identical():
    """A free camera at random poses and aspects over geoms of every kind: the frustum's edges
    cut through the grid, so a wrong plane (aspect, sign, near) would drop a visible geom."""
    model = _synthetic_model()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(0)
    option = mujoco.MjvOption()
    total_dropped = 0
    for height, width in ((64, 64), (48, 96), (96, 40)):
        renderer = _renderer(model, height, width)
        try:
            for k in range(10):
                cam = mujoco.MjvCamera()
                cam.type = mujoco.mjtCamera.mjCAMERA_FREE
                cam.lookat[:] = rng.uniform(-0.4, 0.4, 3) * (1, 1, 0.2)
                cam.distance = rng.uniform(0.15, 1.2)
                cam.azimuth = rng.uniform(0, 360)
                cam.elevation = rng.uniform(-60, -10)
                # Labels on some views: a labelled geom is never dropped.
                option.label = mujoco.mjtLabel.mjLABEL_GEOM if k % 4 == 3 else 0
                want, _ = _images(renderer, data, cam, cull=False, option=option)
                got, dropped = _images(renderer, data, cam, cull=True, option=option)
                total_dropped += dropped
                for kind, g, w in zip(("rgb", "depth", "seg"), got, want, strict=True):
                    np.testing.assert_array_equal(
                        g, w, err_msg=f"{height}x{width} pose {k} {kind}, {dropped} dropped"
                    )
        finally:
            renderer.close()
    assert total_dropped > 100


def test_no_culling_with_shadows_or_reflections():
    """Geoms outside the view can cast shadows or be mirrored into it: nothing is dropped."""
    model = _synthetic_model()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = (0.3, 0.3, 0.05)
    cam.distance, cam.azimuth, cam.elevation = 0.2, 45.0, -30.0
    with mujoco.Renderer(model, 32, 32) as renderer:
        renderer.scene.flags[RND.mjRND_SHADOW] = False
        renderer.scene.flags[RND.mjRND_REFLECTION] = False
        renderer.update_scene(data, camera=cam)
        assert cull_scene(renderer.scene, 32, 32) > 0
        for flag in (RND.mjRND_SHADOW, RND.mjRND_REFLECTION):
            renderer.scene.flags[RND.mjRND_SHADOW] = flag == RND.mjRND_SHADOW
            renderer.scene.flags[RND.mjRND_REFLECTION] = flag == RND.mjRND_REFLECTION
            renderer.update_scene(data, camera=cam)
            ngeom = renderer.scene.ngeom
            assert cull_scene(renderer.scene, 32, 32) == 0
            assert renderer.scene.ngeom == ngeom


def test_degenerate_camera_culls_nothing():
    """An MjData never forwarded has no camera frame: nothing is dropped, nothing raises."""
    model = _synthetic_model()
    data = mujoco.MjData(model)  # no mj_forward: cam_xmat is all zeros
    scene = mujoco.MjvScene(model, maxgeom=1000)
    scene.flags[RND.mjRND_SHADOW] = scene.flags[RND.mjRND_REFLECTION] = False
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
    cam.fixedcamid = model.camera("fixed").id
    mujoco.mjv_updateScene(
        model, data, mujoco.MjvOption(), None, cam, mujoco.mjtCatBit.mjCAT_ALL, scene
    )
    ngeom = scene.ngeom
    assert cull_scene(scene, 32, 32) == 0 and scene.ngeom == ngeom > 0


def test_view_with_nothing_to_cull_is_rechecked_every_8th_render(monkeypatch):
    """A view whose cull dropped nothing skips its culls for 7 renders (they would cost CPU for
    no geom); a view that drops geoms is culled at every render."""
    model, datas, cams = _states("lerobot_gym/SO101-PickCube-v0", 1)
    calls: list[tuple[int, int]] = []
    real = SceneCuller.cull

    def counting(self, width, height):
        calls.append((width, real(self, width, height)))
        return calls[-1][1]

    monkeypatch.setattr(SceneCuller, "cull", counting)
    # front sees the whole scene (drops nothing); wrist drops the arm behind it. Widths tell
    # the views apart.
    views = [View(cams["front"], 32, 40), View(cams["wrist"], 32, 48)]
    with TiledRenderer(model, views) as renderer:
        for _ in range(10):
            renderer.render(datas[0])
    front = [dropped for width, dropped in calls if width == 40]
    wrist = [dropped for width, dropped in calls if width == 48]
    assert front == [0, 0]  # renders 1 and 9
    assert len(wrist) == 10 and min(wrist) > 0
