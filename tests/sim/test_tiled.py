"""TiledRenderer: all of a step's views in one offscreen buffer, the same images as before.

The reference is what the env rendered before tiling: one ``mujoco.Renderer`` per image, shadows
and reflections off. A view drawn at the buffer's origin is bit-identical to it. A view drawn at
another offset goes through the same rasteriser with a translated viewport; float32 rounding of
the translated vertices can move a triangle edge across a pixel centre or shift an interpolated
colour by one level. Measured on SO101-PickCube and Aloha-TransferCube (llvmpipe, 6 states,
128x128 and 480x640): at most 1.2 % of a view's pixels differed, almost all by 1 level; most
views were identical. The bound tested: at most 2 % of pixels differ and the mean absolute
difference stays under 0.5 levels.
"""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import lerobot_gym  # noqa: F401
from lerobot_gym.errors import ConfigError
from lerobot_gym.sim.tiled import TiledRenderer, View
from lerobot_gym.sim.tiled_threads import ThreadedTiledRenderer

MAX_DIFFERING_FRACTION = 0.02
MAX_MEAN_ABS_DIFF = 0.5


def _reference(model: mujoco.MjModel, data: mujoco.MjData, camera: str, h: int, w: int):
    renderer = mujoco.Renderer(model, h, w)
    try:
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        renderer.update_scene(data, camera=camera)
        return renderer.render()
    finally:
        renderer.close()


def _assert_same_image(got: np.ndarray, want: np.ndarray, *, exact: bool, what: str) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype == np.uint8
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    if exact:
        assert not diff.any(), f"{what}: {np.count_nonzero(diff.max(-1))} pixels differ"
        return
    differing = float((diff.max(axis=-1) > 0).mean())
    assert differing <= MAX_DIFFERING_FRACTION, f"{what}: {differing:.2%} of pixels differ"
    assert diff.mean() <= MAX_MEAN_ABS_DIFF, f"{what}: mean abs diff {diff.mean():.3f}"


@pytest.mark.parametrize(
    ("env_id", "image_size", "render_workers"),
    [
        ("lerobot_gym/SO101-PickCube-v0", (96, 128), 1),
        ("lerobot_gym/Aloha-TransferCube-v0", (96, 128), 1),
        ("lerobot_gym/Aloha-TransferCube-v0", (64, 64), 2),
    ],
)
def test_env_cameras_match_one_renderer_per_camera(env_id, image_size, render_workers, monkeypatch):
    """Every camera of the step, rendered in one pass (one per worker thread with
    ``render_workers``), against today's per-camera renderer."""
    reads = []
    real_read = mujoco.mjr_readPixels
    monkeypatch.setattr(mujoco, "mjr_readPixels", lambda *a: (reads.append(1), real_read(*a))[1])
    probe = gym.make(env_id, disable_env_checker=True)
    cameras = probe.unwrapped.robot.camera_names
    probe.close()
    env = gym.make(
        env_id,
        obs_type="pixels",
        cameras=cameras,
        image_size=image_size,
        render_workers=render_workers,
        disable_env_checker=True,
    )
    try:
        env.reset(seed=0)
        env.action_space.seed(0)
        for _ in range(3):
            obs, *_ = env.step(env.action_space.sample())
        robot_env = env.unwrapped
        assert len(cameras) >= 2
        reads.clear()
        obs, *_ = env.step(env.action_space.sample())
        assert len(reads) == render_workers, "one read-back per pass, every camera in it"
        model, data = robot_env.backend.model, robot_env.backend.data
        for i, name in enumerate(cameras):
            mjcf = robot_env.robot.camera(name).mjcf_camera
            want = _reference(model, data, mjcf, *image_size)
            # The first view sits at the buffer's origin: the very same pixels.
            _assert_same_image(obs["pixels"][name], want, exact=i == 0, what=f"{env_id} {name}")
    finally:
        env.close()


@pytest.fixture
def so101_model():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state", disable_env_checker=True)
    env.reset(seed=0)
    yield env.unwrapped.backend.model, env
    env.close()


def test_many_datas_into_batch_arrays(so101_model):
    """The vector-env use: one view per (env, camera), written into (N, H, W, 3) batches."""
    model, _ = so101_model
    datas = [mujoco.MjData(model) for _ in range(3)]
    for k, d in enumerate(datas):  # three different arm poses
        d.qpos[:6] = 0.3 * (k - 1)
        mujoco.mj_forward(model, d)
    cams, (h, w) = ("front", "wrist"), (48, 64)
    views = [View(cam, h, w) for _ in datas for cam in cams]
    batch = {cam: np.zeros((len(datas), h, w, 3), np.uint8) for cam in cams}
    out = [batch[cam][i] for i in range(len(datas)) for cam in cams]
    offwidth, offheight = model.vis.global_.offwidth, model.vis.global_.offheight
    with TiledRenderer(model, views) as renderer:
        assert renderer.buffer_size == (2 * h, 3 * w)  # 6 views: a 3-wide grid of 2 rows
        returned = renderer.render([d for d in datas for _ in cams], out=out)
        assert all(a is b for a, b in zip(returned, out, strict=True))
    # The shared model's own buffer size is left as it was.
    assert (model.vis.global_.offwidth, model.vis.global_.offheight) == (offwidth, offheight)
    for i, d in enumerate(datas):
        for cam in cams:
            _assert_same_image(
                batch[cam][i],
                _reference(model, d, cam, h, w),
                exact=(i, cam) == (0, "front"),
                what=f"env {i} {cam}",
            )
    assert not np.array_equal(batch["front"][0], batch["front"][2])  # each env its own pose


def test_bad_views_and_arguments_are_typed_errors(so101_model):
    model, _ = so101_model
    with pytest.raises(ConfigError, match="'nope' is not in the model"):
        TiledRenderer(model, [View("nope", 8, 8)])
    with pytest.raises(ConfigError, match="at least one View"):
        TiledRenderer(model, [])
    renderer = TiledRenderer(model, [View("front", 8, 8), View("wrist", 8, 8)])
    data = mujoco.MjData(model)
    with pytest.raises(ConfigError, match="got 1 MjData for 2 views"):
        renderer.render([data])
    renderer.close()
    renderer.close()  # idempotent
    with pytest.raises(RuntimeError, match="after close"):
        renderer.render(data)


def test_close_from_another_thread_leaves_other_renderers_intact(so101_model):
    """A renderer current on a live thread, closed from this one, must not free GL names in
    this thread's context (GL names are per context: it would delete another renderer's)."""
    import threading

    model, _ = so101_model
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    mine = TiledRenderer(model, [View("front", 32, 32)])
    before = mine.render(data)[0]
    built, release = threading.Event(), threading.Event()
    holder: dict[str, TiledRenderer] = {}

    def render_on_a_thread() -> None:
        holder["other"] = TiledRenderer(model, [View("wrist", 32, 32)])
        holder["other"].render(data)
        built.set()
        release.wait(timeout=60)

    thread = threading.Thread(target=render_on_a_thread)
    thread.start()
    try:
        assert built.wait(timeout=60)
        mine.render(data)  # this thread's current context is mine
        holder["other"].close()  # its context is current on the other thread
    finally:
        release.set()
        thread.join()
    np.testing.assert_array_equal(mine.render(data)[0], before)
    mine.close()


def test_threaded_renderer_errors(so101_model):
    model, _ = so101_model
    data = mujoco.MjData(model)
    with pytest.raises(ConfigError, match=r"render_workers must be a whole number >= 1 or 'auto'"):
        gym.make("lerobot_gym/SO101-Reach-v0", render_workers=0)
    with ThreadedTiledRenderer(model, [View("front", 8, 8), View("wrist", 8, 8)]) as renderer:
        with pytest.raises(ConfigError, match="got 1 MjData for 2 views"):
            renderer.render([data])
        # A worker's failure (here: an out array of the wrong shape) is raised in the caller,
        # and the renderer keeps working.
        with pytest.raises(ValueError):
            renderer.render(
                data, out=[np.empty((8, 8, 3), np.uint8), np.empty((2, 2, 3), np.uint8)]
            )
        assert [img.shape for img in renderer.render(data)] == [(8, 8, 3), (8, 8, 3)]
        # The calling thread's own share failing: the worker is still waited for (it writes
        # into the caller's arrays), so the next call pairs with its own results.
        with pytest.raises(ValueError):
            renderer.render(
                data, out=[np.empty((2, 2, 3), np.uint8), np.empty((8, 8, 3), np.uint8)]
            )
        good = [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)]
        returned = renderer.render(data, out=good)
        assert all(a is b for a, b in zip(returned, good, strict=True)) and good[1].any()
    with pytest.raises(RuntimeError, match="after close"):
        renderer.render(data)


def test_a_collected_renderer_leaves_the_current_context_alone(so101_model):
    """The garbage collector can finalise an unclosed renderer in the middle of another's render
    (between its make_current and its GL calls). Freeing GL there made the dying renderer's
    context current, then none at all, so the other renderer's next GL calls had no context
    (seen as PyOpenGL's "no valid context" in the floor culling). The free waits for the next
    render or close instead."""
    from OpenGL import EGL

    from lerobot_gym.sim import tiled

    model, _ = so101_model
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    mine = TiledRenderer(model, [View("front", 32, 32)])
    before = mine.render(data)[0]
    dying = TiledRenderer(model, [View("wrist", 32, 32)])
    dying.render(data)
    mine.render(data)  # this thread's current context is mine
    current = EGL.eglGetCurrentContext()
    dying.__del__()  # what the garbage collector does to an unclosed renderer
    assert EGL.eglGetCurrentContext().address == current.address
    assert tiled._COLLECTED, "the collected renderer's GL is freed later, not in __del__"
    np.testing.assert_array_equal(mine.render(data)[0], before)
    assert not tiled._COLLECTED, "the next render frees it"
    mine.close()


ALOHA_CAMERAS = ("top", "angle", "left_wrist", "right_wrist")


def _aloha(**kwargs):
    env = gym.make(
        "lerobot_gym/Aloha-TransferCube-v0",
        obs_type="pixels",
        cameras=ALOHA_CAMERAS,
        image_size=(48, 64),
        disable_env_checker=True,
        **kwargs,
    )
    env.reset(seed=0)
    return env


def test_a_renderer_drawing_some_views_puts_them_where_all_views_go():
    """``draw=``: the layout is that of every view, so each drawn view keeps its tile offset
    and its pixels (the same GL calls at the same offset); the read-back is the drawn tiles'
    bounding box."""
    env = _aloha(render_workers=1)
    try:
        env.action_space.seed(0)
        model, data = env.unwrapped.backend.model, env.unwrapped.backend.data
        mjcf = [env.unwrapped.robot.camera(c).mjcf_camera for c in ALOHA_CAMERAS]
        views = [View(c, 48, 64) for c in mjcf]
        with (
            TiledRenderer(model, views) as whole,
            TiledRenderer(model, views, draw=[1, 3]) as right,
            TiledRenderer(model, views, draw=[2]) as one,
        ):
            assert [(r.left, r.bottom) for r in whole.rects] == [(0, 0), (64, 0), (0, 48), (64, 48)]
            assert [(r.left, r.bottom) for r in right.rects] == [(64, 0), (64, 48)]
            assert right.views == (views[1], views[3])
            assert right._pixels.shape == (96, 64, 3)  # the right-hand column only
            assert one._pixels.shape == (48, 64, 3)
            for _ in range(4):
                env.step(env.action_space.sample())
                want = whole.render(data)
                got = right.render([data, data])
                np.testing.assert_array_equal(got[0], want[1])
                np.testing.assert_array_equal(got[1], want[3])
                np.testing.assert_array_equal(one.render(data)[0], want[2])
        for bad in ([], [4], [1, 1], [-1]):
            with pytest.raises(ConfigError, match="draw= must name distinct views"):
                TiledRenderer(model, views, draw=bad)
    finally:
        env.close()


@pytest.mark.parametrize(
    ("env_id", "cameras", "size", "render_workers"),
    [
        ("lerobot_gym/Aloha-TransferCube-v0", ALOHA_CAMERAS, (48, 64), 2),
        ("lerobot_gym/Aloha-TransferCube-v0", ALOHA_CAMERAS, (48, 64), "auto"),
        # An infinite floor: MuJoCo places it under the scene's previous camera, which each
        # thread's scene is given as one pass would have it (without: 1-3 pixels differed).
        ("lerobot_gym/SO101-PickCube-v0", ("front", "wrist"), (128, 128), 2),
    ],
)
def test_threaded_cameras_are_the_one_pass_images(
    env_id, cameras, size, render_workers, monkeypatch
):
    """The env's cameras on two threads, interleaved (ALOHA: top and left wrist on the calling
    thread, angle and right wrist on the worker), each at the tile offset one pass gives it:
    the images of ``render_workers=1``, bit for bit, step after step."""
    from lerobot_gym.sim import tiled_threads

    monkeypatch.setattr(tiled_threads, "cores", lambda: 2)  # "auto" as on a 2-core machine
    kwargs = {"obs_type": "pixels", "cameras": cameras, "image_size": size}
    threaded = gym.make(env_id, render_workers=render_workers, disable_env_checker=True, **kwargs)
    single = gym.make(env_id, render_workers=1, disable_env_checker=True, **kwargs)
    try:
        threaded.reset(seed=1)
        single.reset(seed=1)
        threaded.action_space.seed(1)
        for step in range(12):
            action = threaded.action_space.sample()
            got, want = threaded.step(action)[0], single.step(action)[0]
            for cam in cameras:
                np.testing.assert_array_equal(
                    got["pixels"][cam], want["pixels"][cam], f"step {step} {cam}"
                )
            if step == 0:
                renderer = next(iter(threaded.unwrapped.backend.scene._renderers.values()))
                assert isinstance(renderer, ThreadedTiledRenderer)
                n = len(cameras)
                assert renderer._shares == [list(range(0, n, 2)), list(range(1, n, 2))]
                assert renderer.workers == 2 and len(renderer._workers) == 1  # caller + one
    finally:
        threaded.close()
        single.close()


def test_render_workers_auto_and_bad_settings(monkeypatch):
    from lerobot_gym.sim import tiled_threads
    from lerobot_gym.sim.tiled_threads import resolve_workers

    monkeypatch.setattr(tiled_threads, "cores", lambda: 2)
    assert [resolve_workers("auto", n) for n in (1, 2, 3, 4, 32)] == [1, 1, 2, 2, 2]
    assert resolve_workers(3, 2) == 2  # at most one thread per view
    monkeypatch.setattr(tiled_threads, "cores", lambda: 1)
    assert resolve_workers("auto", 4) == 1  # one core: one pass, nothing changes
    for bad in (0, "two", 1.5):
        with pytest.raises(ConfigError, match="or 'auto'"):
            resolve_workers(bad, 4)
        with pytest.raises(ConfigError, match="render_workers must be a whole number >= 1 or"):
            gym.make("lerobot_gym/SO101-Reach-v0", render_workers=bad)
    with pytest.raises(ConfigError, match="split must be one of"):
        ThreadedTiledRenderer(None, [View("front", 8, 8)], split="round")
