"""RewardClassifier: success, reward and termination from a learned classifier's verdict."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

torch = pytest.importorskip("torch")

import lerobot_gym  # noqa: E402, F401  (registers the ids)
from lerobot_gym.errors import ConfigError  # noqa: E402
from lerobot_gym.policies.reward_classifier import (  # noqa: E402
    RewardClassifierConfig,
    RewardClassifierNet,
)
from lerobot_gym.wrappers.image_crop_resize import ImageCropResize  # noqa: E402
from lerobot_gym.wrappers.reward_classifier import RewardClassifier  # noqa: E402

torch.set_num_threads(1)


def _pick(image_size=(32, 32)) -> gym.Env:
    return gym.make(
        "lerobot_gym/SO101-PickCube-v0", image_size=image_size, disable_env_checker=True
    )


def _net(bias: float, cameras=("front",), size=(32, 32)) -> RewardClassifierNet:
    """A classifier whose verdict is its output bias: +10 always success, -10 never."""
    net = RewardClassifierNet(
        RewardClassifierConfig(cameras, size, channels=(4,), hidden_dim=4, dropout=0.0)
    )
    with torch.no_grad():
        net.head[1].weight.zero_()
        net.head[1].bias.fill_(bias)
    return net


def test_a_success_verdict_rewards_and_ends_and_keeps_the_twins_own_flag():
    env = RewardClassifier(_pick(), _net(10.0), success_reward=2.0)
    obs, _ = env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(obs["agent_pos"])
    assert (reward, terminated, truncated) == (2.0, True, False)
    assert info["is_success"] is True and info["success_probability"] > 0.99
    assert info["task_is_success"] is False  # the cube is on the table: the twin disagrees


def test_a_failure_verdict_gives_zero_and_the_episode_goes_on():
    env = RewardClassifier(_pick(), _net(-10.0))
    obs, _ = env.reset(seed=0)
    _, reward, terminated, _, info = env.step(obs["agent_pos"])
    assert (reward, terminated, info["is_success"]) == (0.0, False, False)


def test_terminate_on_success_false_lets_the_episode_run():
    env = RewardClassifier(_pick(), _net(10.0), terminate_on_success=False)
    obs, _ = env.reset(seed=0)
    assert env.step(obs["agent_pos"])[2] is False


def test_a_classifier_whose_image_size_does_not_match_the_envs_is_refused():
    msg = "takes 32x32 images of camera 'front' but the env gives 48x64"
    with pytest.raises(ConfigError, match=msg):
        RewardClassifier(_pick((48, 64)), _net(0.0))
    # Cropped and resized to the classifier's size, the same env is accepted.
    env = ImageCropResize(_pick((48, 64)), crops={"front": (0, 8, 48, 48)}, size=(32, 32))
    RewardClassifier(env, _net(0.0))


def test_unknown_camera_and_state_only_envs_are_refused():
    with pytest.raises(ConfigError, match="needs camera 'top'"):
        RewardClassifier(_pick(), _net(0.0, cameras=("top",)))
    state_env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    with pytest.raises(ConfigError, match="obs_type='pixels'"):
        RewardClassifier(state_env, _net(0.0))


def test_a_checkpoint_folder_is_loaded(tmp_path: Path):
    _net(10.0).save_pretrained(tmp_path / "clf")
    env = RewardClassifier(_pick(), tmp_path / "clf")
    obs, _ = env.reset(seed=0)
    assert env.step(obs["agent_pos"])[4]["is_success"] is True
    # env.spec records the folder, so the stack can be rebuilt from it.
    assert env.spec.additional_wrappers[-1].kwargs["classifier"] == str(tmp_path / "clf")
