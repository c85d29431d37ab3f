"""The assets' visual-only settings chosen for speed keep the images they had.

ALOHA's primitive geoms are tessellated at ``visual/quality`` numslices=16, numstacks=8 (MuJoCo's
defaults, used before, are 28 and 16; numquads stays 4). With software GL a view's cost is its
geometry (``lerobot_gym/sim/tiled.py``); this cuts a 128x128 view by ~10-18 %
(``benchmarks/scene_geometry.py``). The images stay within the tiled renderer's bound of the
images drawn with MuJoCo's defaults, for every camera of every ALOHA id: at most 2 % of pixels
differ and the mean absolute difference stays under 0.5 levels (tests/sim/test_tiled.py).
Measured (5 states, 64x64 to 480x640): at most 0.3 % of pixels differ, mean at most 0.12.
"""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import lerobot_gym  # noqa: F401
from lerobot_gym.sim.tiled import TiledRenderer, View

MAX_DIFFERING_FRACTION = 0.02
MAX_MEAN_ABS_DIFF = 0.5
ALOHA_IDS = (
    "lerobot_gym/Aloha-v0",
    "lerobot_gym/Aloha-TransferCube-v0",
    "lerobot_gym/Aloha-Insertion-v0",
)


def _image(model: mujoco.MjModel, data: mujoco.MjData, camera: str, quality: tuple[int, ...]):
    """One view at the buffer's origin, the primitives tessellated at ``quality``."""
    q = model.vis.quality
    saved = (q.numslices, q.numstacks, q.numquads)
    q.numslices, q.numstacks, q.numquads = quality  # read when the GL context is made
    try:
        with TiledRenderer(model, [View(camera, 96, 128)]) as renderer:
            return renderer.render(data)[0]
    finally:
        q.numslices, q.numstacks, q.numquads = saved


@pytest.mark.parametrize("env_id", ALOHA_IDS)
def test_aloha_lighter_tessellation_keeps_the_images(env_id):
    env = gym.make(env_id, obs_type="state", disable_env_checker=True)
    try:
        env.reset(seed=0)
        robot_env = env.unwrapped
        model, data = robot_env.backend.model, robot_env.backend.data
        q = model.vis.quality
        assert (q.numslices, q.numstacks, q.numquads) == (16, 8, 4)
        env.action_space.seed(0)
        for state in range(2):
            for name in robot_env.robot.camera_names:
                camera = robot_env.robot.camera(name).mjcf_camera
                got = _image(model, data, camera, (16, 8, 4))
                want = _image(model, data, camera, (28, 16, 4))  # MuJoCo's defaults
                diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
                differing = float((diff.max(-1) > 0).mean())
                what = f"{env_id} {name} state {state}"
                assert differing <= MAX_DIFFERING_FRACTION, f"{what}: {differing:.2%} differ"
                assert diff.mean() <= MAX_MEAN_ABS_DIFF, f"{what}: mean {diff.mean():.3f}"
            for _ in range(4):
                env.step(env.action_space.sample())
    finally:
        env.close()
