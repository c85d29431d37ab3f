"""Infinite planes drawn only where a view looks: the same pixels as MuJoCo's whole plane.

The reference is ``mujoco.Renderer`` (MuJoCo draws the whole 200 x 200 grid), shadows and
reflections off as the envs render; one view at the buffer's origin, so any difference is the
culling's. Poses are random over the joint ranges, so the wrist camera looks at the floor from
many angles, out to the horizon.
"""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import lerobot_gym  # noqa: F401
from lerobot_gym.sim.plane_cull import PlaneGridCuller
from lerobot_gym.sim.tiled import TiledRenderer, View


def _reference_renderer(model, h, w):
    renderer = mujoco.Renderer(model, h, w)
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    return renderer


@pytest.fixture(scope="module")
def pick_cube():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state", disable_env_checker=True)
    env.reset(seed=0)
    yield env.unwrapped
    env.close()


@pytest.mark.parametrize(
    ("camera", "size"), [("front", (96, 96)), ("wrist", (96, 96)), ("wrist", (60, 160))]
)
def test_culled_floor_gives_the_whole_floors_pixels(pick_cube, camera, size):
    model, data = pick_cube.backend.model, pick_cube.backend.data
    robot = pick_cube.robot
    rng = np.random.default_rng(1)
    h, w = size
    reference = _reference_renderer(model, h, w)
    with reference, TiledRenderer(model, [View(camera, h, w)]) as renderer:
        assert isinstance(renderer._plane_culler, PlaneGridCuller), "the SO-101 floor is not culled"
        drawn, exact = [], []
        for _ in range(10):
            data.qpos[:6] = rng.uniform(robot.lower_rad, robot.upper_rad)
            mujoco.mj_forward(model, data)
            reference.update_scene(data, camera=camera)
            want = reference.render()
            # A new pose draws the visible blocks; the same pose again, its own exact list.
            for path in ("blocks", "exact quads"):
                got = renderer.render(data)[0]
                differing = np.count_nonzero((got != want).any(-1))
                assert differing == 0, f"{camera}, {path}: {differing} pixels differ"
            plane = renderer._plane_culler._planes[0]
            exact.append(plane.exact_now)
            drawn.append(len(plane.last_ids))
    # Every pose but the renderer's first (MuJoCo places the drawn plane from the previous
    # view's camera) got to its exact list.
    assert sum(exact) >= len(exact) - 1, exact
    # It culls: a view draws a small part of the 400 blocks.
    assert max(drawn) < 200, drawn


def test_no_culling_with_shadows_or_reflections(pick_cube):
    model = pick_cube.backend.model
    with TiledRenderer(model, [View("front", 16, 16)], shadows=True) as renderer:
        assert renderer._plane_culler is None
    with TiledRenderer(model, [View("front", 16, 16)], reflections=True) as renderer:
        assert renderer._plane_culler is None


def test_models_without_an_infinite_plane_are_drawn_as_before():
    env = gym.make("lerobot_gym/Aloha-TransferCube-v0", obs_type="state", disable_env_checker=True)
    try:
        env.reset(seed=0)
        with TiledRenderer(env.unwrapped.backend.model, [View("top", 16, 16)]) as renderer:
            assert renderer._plane_culler is None
    finally:
        env.close()
