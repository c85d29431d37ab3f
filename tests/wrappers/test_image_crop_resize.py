"""ImageCropResize: the region of interest, at the size asked, into the dataset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.dataset import LeRobotDataset
from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers import RecordEpisodes
from lerobot_gym.wrappers.image_crop_resize import ImageCropResize, resize_image


def _env(**kwargs) -> gym.Env:
    return gym.make(
        "lerobot_gym/SO101-PickCube-v0",
        image_size=(96, 128),
        disable_env_checker=True,
        **kwargs,
    )


def test_the_crop_is_the_region_asked_for():
    env = ImageCropResize(_env(), crops={"front": (10, 20, 40, 60)})
    image = np.arange(96 * 128 * 3, dtype=np.uint32).reshape(96, 128, 3).astype(np.uint8)
    out = env.observation({"pixels": {"front": image}, "agent_pos": np.zeros(6)})
    np.testing.assert_array_equal(out["pixels"]["front"], image[10:50, 20:80])
    assert env.observation_space["pixels"]["front"].shape == (40, 60, 3)


def test_shrinking_averages_and_keeps_the_scene():
    base, wrapped = (
        _env(),
        ImageCropResize(_env(), crops={"front": (16, 0, 64, 128)}, size=(16, 32)),
    )
    raw, _ = base.reset(seed=2)
    obs, _ = wrapped.reset(seed=2)
    small = obs["pixels"]["front"]
    assert small.shape == (16, 32, 3) and small.dtype == np.uint8
    assert wrapped.observation_space.contains(obs)
    # Each output pixel is the mean of its 4x4 block of the crop (area averaging).
    crop = raw["pixels"]["front"][16:80].astype(np.float64)
    blocks = crop.reshape(16, 4, 32, 4, 3).mean(axis=(1, 3))
    assert np.abs(small - blocks).max() <= 2.0
    base.close()
    wrapped.close()


def test_resize_enlarges_too():
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, 0] = 255
    big = resize_image(image, (8, 8))
    assert big.shape == (8, 8, 3) and big[0, 0, 0] > big[7, 7, 0]


def test_recorded_images_have_the_new_size(tmp_path):
    env = ImageCropResize(_env(), size=(24, 32))
    env = RecordEpisodes(env, root=tmp_path / "ds", repo_id="t/crop", vcodec="h264")
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        obs, *_ = env.step(obs["agent_pos"])
    env.close()
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    assert ds.meta.info["features"]["observation.images.front"]["shape"] == [24, 32, 3]
    assert ds[0]["observation.images.front"].shape == (3, 24, 32)


def test_bad_crops_are_typed_errors_naming_the_camera():
    with pytest.raises(ConfigError, match=r"'overhead'.*cameras"):
        ImageCropResize(_env(), crops={"overhead": (0, 0, 10, 10)})
    with pytest.raises(ConfigError, match="'front' does not fit its 96x128"):
        ImageCropResize(_env(), crops={"front": (50, 0, 60, 10)})
    with pytest.raises(ConfigError, match="obs\\['pixels'\\]"):
        ImageCropResize(_env(obs_type="state"), size=(10, 10))
