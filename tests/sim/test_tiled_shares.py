"""TiledRenderer for a vector env's views: shares of a split, and the plane cull shared.

A renderer given ``draw=range(start, stop)`` draws a contiguous share of the views at their
tiles in a renderer of all the views (what ThreadedTiledRenderer's threads do), after the
camera that renderer leaves in the scene, so the pixels are that renderer's.

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


def test_a_contiguous_share_drawn_in_the_whole_layout_draws_the_same_pixels(so101):
    from lerobot_gym.errors import ConfigError

    model = so101
    views = [View("front", 24, 32)] * 3 + [View("wrist", 24, 32)] * 4  # a 3-wide grid
    datas = _datas(model, len(views))
    with (
        TiledRenderer(model, views) as whole,
        TiledRenderer(model, views, draw=range(4, 7)) as share,
    ):
        assert share.buffer_size == (3 * 24, 3 * 32)  # rows up to its last view (cell 6)
        assert [(r.left, r.bottom) for r in share.rects] == [(32, 24), (64, 24), (0, 48)]
        assert share._pixels.shape == (2 * 24, 3 * 32, 3)  # its views' rows, read back
        for _ in range(2):
            want = whole.render(datas)[4:]
            for a, b in zip(share.render(datas[4:]), want, strict=True):
                np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="draw="):
        TiledRenderer(model, views, draw=range(4, 8))


FRONT, WRIST = View("front", 48, 48), View("wrist", 48, 48)


@pytest.mark.parametrize(
    ("views", "draw", "repeats"),
    [
        ([FRONT] * 8, range(0, 4), [2, 3]),  # the first share of a run: views 2 and 3 skip
        ([FRONT] * 8, range(4, 8), [6, 7]),  # the second: 4 (after a hand-over) and 5 culled
        ([FRONT, WRIST] * 4, range(0, 8, 2), []),  # interleaved: every front after a wrist
    ],
)
def test_a_share_skips_the_plane_cull_only_in_its_own_runs(so101, views, draw, repeats):
    """Repeats are judged over the views a renderer draws one after the other that are
    consecutive in the layout too; the share's images are the whole layout's, bit for bit,
    over random arm poses. Interleaved, each front view's scene is handed the wrist camera of
    another twin, under which MuJoCo places the floor: judged over the drawn views alone
    (views 4 and 6 skipping), a front view differed in 100-200 pixels at some poses."""
    model = so101
    rng = np.random.default_rng(0)
    with TiledRenderer(model, views) as whole, TiledRenderer(model, views, draw=draw) as share:
        assert [draw[p] for p, r in enumerate(share._plane_repeat) if r] == repeats
        for step in range(24):
            datas = []
            for _ in views:  # each twin its own arm pose, anywhere in reach
                d = mujoco.MjData(model)
                d.qpos[:6] = rng.uniform(-1.5, 1.5, 6)
                mujoco.mj_forward(model, d)
                datas.append(d)
            if step % 2:  # the twins alike now and then: the front run's repeats apply
                datas = [datas[0]] * len(views)
            first = whole.gl_cameras().copy()  # what the last view left, for view 0
            want = whole.render(datas)
            got = share.render_share([datas[i] for i in draw], None, datas, first)
            for i, a in zip(draw, got, strict=True):
                np.testing.assert_array_equal(a, want[i], f"render {step}, view {i}")


@pytest.mark.parametrize("workers", [2, 3])
def test_contiguous_threads_draw_one_pass_images(so101, workers):
    """ThreadedTiledRenderer's contiguous runs (the vector env's split) are one pass's images,
    bit for bit, over random arm poses: each run's first view is handed the camera of the view
    before it, drawn by another thread (without that hand-over, with 2 threads, one view in
    these 16 renders differed: the floor placed under the wrong camera)."""
    from lerobot_gym.sim.tiled_threads import ThreadedTiledRenderer

    model = so101
    rng = np.random.default_rng(0)
    views = [View("front", 64, 64), View("wrist", 64, 64)] * 3  # twin-major: runs mix cameras
    with (
        TiledRenderer(model, views) as whole,
        ThreadedTiledRenderer(model, views, workers=workers, split="contiguous") as threads,
    ):
        assert threads._shares[1][0] == 6 // workers
        for step in range(16):
            datas = []
            for _ in range(3):
                d = mujoco.MjData(model)
                d.qpos[:6] = rng.uniform(-1.5, 1.5, 6)
                mujoco.mj_forward(model, d)
                datas += [d, d]
            want = whole.render(datas)
            for i, (a, b) in enumerate(zip(threads.render(datas), want, strict=True)):
                np.testing.assert_array_equal(a, b, f"render {step}, view {i}")
