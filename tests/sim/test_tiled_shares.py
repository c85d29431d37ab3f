"""TiledRenderer for a vector env's views: shares of a split, and the plane cull shared.

A renderer given ``place_as=(all_views, start)`` draws its views at their tiles in a renderer
of all the views (what ThreadedTiledRenderer's workers do), so the pixels are that renderer's.

TiledRenderer leaves out the plane cull of views that would repeat the view before's.

A vector env's twins seen by one world-fixed camera place the camera and the floor alike, so
from the third such view in a row on, the floor's plane lists the view before left are the
ones its cull would set (lerobot_gym/sim/tiled.py, render). The images must be those of culling
every view, bit for bit; a moving camera, another size, or an MjData that places the camera
elsewhere is culled as before.
"""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import lerobot_gym  # noqa: F401
from lerobot_gym.sim.tiled import TiledRenderer, View


@pytest.fixture
def so101():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state", disable_env_checker=True)
    env.reset(seed=0)
    yield env.unwrapped.backend.model
    env.close()


def _datas(model: mujoco.MjModel, n: int) -> list[mujoco.MjData]:
    datas = []
    for k in range(n):
        d = mujoco.MjData(model)
        d.qpos[:6] = 0.15 * (k - n / 2)  # each its own arm pose
        mujoco.mj_forward(model, d)
        datas.append(d)
    return datas


def test_repeated_views_skip_the_plane_cull_with_the_same_images(so101):
    model = so101
    views = (
        [View("front", 32, 40)] * 5  # a run: views 2-4 may skip
        + [View("wrist", 32, 40)] * 3  # moves with the arm: never skipped
        + [View("front", 32, 40)] * 2  # a run of two: culled
        + [View("front", 24, 40)] * 3  # another size: a run of its own, view 12 skips
        + [View("front", 32, 40)] * 4  # the fifth MjData here places the camera elsewhere
    )
    datas = _datas(model, len(views))
    stray = mujoco.MjData(model)
    mujoco.mj_copyData(stray, model, datas[15])
    stray.cam_xpos[:] += 0.01  # the front camera moved: views 15 and 16 must cull
    datas[15] = stray
    shared = TiledRenderer(model, views)
    reference = TiledRenderer(model, views)
    reference._plane_repeat = [False] * len(views)  # cull every view, as before
    calls: list[int] = []
    real_cull = shared._plane_culler.cull
    shared._plane_culler.cull = lambda *a: (calls.append(1), real_cull(*a))[1]
    try:
        assert [i for i, r in enumerate(shared._plane_repeat) if r] == [2, 3, 4, 12, 15, 16]
        for step in range(3):
            if step == 2:  # the twins move: new poses, same camera
                datas[:15] = _datas(model, 15)[::-1]
            calls.clear()
            got, want = shared.render(datas), reference.render(datas)
            assert len(calls) == len(views) - 4, "views 2, 3, 4 and 12 skip; 15, 16 do not"
            for i, (a, b) in enumerate(zip(got, want, strict=True)):
                np.testing.assert_array_equal(a, b, f"render {step}, view {i}")
        assert not np.array_equal(got[0], got[1])  # each view its own twin
    finally:
        shared.close()
        reference.close()


def test_a_share_placed_as_in_the_whole_draws_the_same_pixels(so101):
    from lerobot_gym.errors import ConfigError

    model = so101
    views = [View("front", 24, 32)] * 3 + [View("wrist", 24, 32)] * 4  # a 3-wide grid
    datas = _datas(model, len(views))
    with (
        TiledRenderer(model, views) as whole,
        TiledRenderer(model, views[4:], place_as=(views, 4)) as share,
    ):
        assert share.buffer_size == (3 * 24, 3 * 32)  # rows up to its last view (cell 6)
        assert [(r.left, r.bottom) for r in share.rects] == [(32, 24), (64, 24), (0, 48)]
        want = whole.render(datas)[4:]
        for a, b in zip(share.render(datas[4:]), want, strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="place_as"):
        TiledRenderer(model, views[4:], place_as=(views, 1))
