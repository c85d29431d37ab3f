import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError
from lerobot_gym.registry import registered_env_ids
from lerobot_gym.wrappers.sb3_observation import SB3Observation, to_sb3_observation

pytest.importorskip("stable_baselines3")
from stable_baselines3.common.env_checker import check_env

from lerobot_gym.policies.sb3 import make_sb3_env

TINY = {"image_size": (40, 48)}  # SB3's CNNs need at least 36x36
OBS_TYPES = ("state", "pixels", "pixels_agent_pos")


def _warnings_of(fn) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught]


def test_check_env_warns_about_the_nested_pixels_dict_without_the_wrapper():
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="pixels_agent_pos", **TINY)
    env = gym.wrappers.RescaleAction(env, np.full(6, -1, np.float32), np.full(6, 1, np.float32))
    messages = _warnings_of(lambda: check_env(env))
    assert any("Nested observation spaces are not supported" in m for m in messages)
    env.close()


@pytest.mark.parametrize("obs_type", OBS_TYPES)
@pytest.mark.parametrize("env_id", registered_env_ids())
def test_check_env_passes_without_warnings_on_every_id(env_id, obs_type):
    messages = []

    def build_and_check():
        env = make_sb3_env(env_id, obs_type=obs_type, **TINY)
        messages.append(env)
        check_env(env)

    caught = _warnings_of(build_and_check)
    messages[0].close()
    assert caught == []


def test_cameras_are_top_level_channel_first_copies_of_the_env_images():
    raw = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="pixels_agent_pos", **TINY)
    env = SB3Observation(
        gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="pixels_agent_pos", **TINY)
    )
    assert set(env.observation_space.spaces) == {"agent_pos", "pixels_front", "pixels_wrist"}
    assert env.observation_space["pixels_front"] == spaces.Box(0, 255, (3, 40, 48), np.uint8)
    obs, _ = env.reset(seed=3)
    raw_obs, _ = raw.reset(seed=3)
    for cam in ("front", "wrist"):
        image = obs[f"pixels_{cam}"]
        assert image.flags.c_contiguous and image.dtype == np.uint8
        np.testing.assert_array_equal(image, raw_obs["pixels"][cam].transpose(2, 0, 1))
        assert np.ptp(image) > 0  # a rendered scene, not a blank frame
    np.testing.assert_array_equal(obs["agent_pos"], raw_obs["agent_pos"])
    action = env.action_space.sample()
    obs, *_ = env.step(action)
    raw_obs, *_ = raw.step(action)
    np.testing.assert_array_equal(
        obs["pixels_front"], raw_obs["pixels"]["front"].transpose(2, 0, 1)
    )
    assert env.observation_space.contains(obs)
    env.close()
    raw.close()


def test_flatten_state_concatenates_agent_pos_then_environment_state():
    env = SB3Observation(
        gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state"), flatten_state=True
    )
    raw = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    assert env.observation_space.shape == (6 + 7,)
    obs, _ = env.reset(seed=5)
    raw_obs, _ = raw.reset(seed=5)
    expected = np.concatenate([raw_obs["agent_pos"], raw_obs["environment_state"]])
    np.testing.assert_array_equal(obs, expected)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)


def test_the_state_dict_is_kept_when_not_flattened():
    env = SB3Observation(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))
    assert set(env.observation_space.spaces) == {"agent_pos", "environment_state"}


def test_bad_layouts_are_typed_errors():
    with pytest.raises(ConfigError, match="without cameras"):
        SB3Observation(gym.make("lerobot_gym/SO101-Reach-v0", **TINY), flatten_state=True)
    with pytest.raises(ConfigError, match="needs a Dict observation space"):
        SB3Observation(gym.make("Pendulum-v1"))
    clash = {"agent_pos": np.zeros(1), "pixels": {"x": np.zeros((2, 2, 3), np.uint8)}}
    assert set(to_sb3_observation(clash)) == {"agent_pos", "pixels_x"}


def test_spec_rebuilds_the_stack():
    env = SB3Observation(
        gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"), flatten_state=True
    )
    rebuilt = gym.make(env.spec)
    assert isinstance(rebuilt, SB3Observation) and rebuilt.flatten_state
    assert rebuilt.observation_space == env.observation_space
