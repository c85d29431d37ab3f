import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers import LeRobotKeys, lerobot_features

JOINT_NAMES = [
    "shoulder_pan.pos",
    "shoulder_lift.pos",
    "elbow_flex.pos",
    "wrist_flex.pos",
    "wrist_roll.pos",
    "gripper.pos",
]
TINY = {"image_size": (48, 64)}


def test_pixels_agent_pos_keys_values_and_space():
    raw_env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="pixels_agent_pos", **TINY)
    wrapped = LeRobotKeys(
        gym.make("lerobot_gym/SO101-Reach-v0", obs_type="pixels_agent_pos", **TINY)
    )
    assert set(wrapped.observation_space.spaces) == {
        "observation.state",
        "observation.images.front",
        "observation.images.wrist",
    }
    obs, _ = wrapped.reset(seed=0)
    raw, _ = raw_env.reset(seed=0)
    np.testing.assert_array_equal(obs["observation.state"], raw["agent_pos"])
    for cam in ("front", "wrist"):
        np.testing.assert_array_equal(obs[f"observation.images.{cam}"], raw["pixels"][cam])
        assert obs[f"observation.images.{cam}"].shape == (48, 64, 3)
    assert wrapped.observation_space.contains(obs)
    obs, *_ = wrapped.step(wrapped.action_space.sample())
    assert wrapped.observation_space.contains(obs)
    wrapped.close()


def test_state_mode_maps_environment_state():
    env = LeRobotKeys(gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state"))
    obs, _ = env.reset(seed=1)
    assert sorted(obs) == ["observation.environment_state", "observation.state"]
    assert obs["observation.environment_state"].shape == (7,)
    assert env.observation_space.contains(obs)


def test_rejects_double_wrapping_and_non_dict_spaces():
    env = LeRobotKeys(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))
    with pytest.raises(ConfigError, match="already use LeRobot keys"):
        LeRobotKeys(env)
    with pytest.raises(ConfigError, match="Dict observation space"):
        LeRobotKeys(gym.make("Pendulum-v1"))


def test_spec_rebuilds_the_stack():
    env = LeRobotKeys(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))
    rebuilt = gym.make(env.spec)
    assert isinstance(rebuilt, LeRobotKeys)
    assert rebuilt.observation_space == env.observation_space


def test_features_of_the_so101_twin():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="pixels_agent_pos", **TINY)
    feats = lerobot_features(env)
    assert feats["observation.state"] == {"dtype": "float32", "shape": [6], "names": JOINT_NAMES}
    assert feats["action"] == {"dtype": "float32", "shape": [6], "names": JOINT_NAMES}
    for cam in ("front", "wrist"):
        assert feats[f"observation.images.{cam}"] == {
            "dtype": "video",
            "shape": [48, 64, 3],
            "names": ["height", "width", "channels"],
        }
    # Reference lerobot-dataset-v3.md section 10 (LeRobot's learner checkpoints + lerobot-eval).
    assert feats["next.reward"] == {"dtype": "float32", "shape": [1], "names": None}
    assert feats["next.done"] == {"dtype": "bool", "shape": [1], "names": None}
    assert feats["next.success"] == {"dtype": "bool", "shape": [1], "names": None}
    assert feats["complementary_info.is_intervention"]["dtype"] == "float32"
    assert feats["complementary_info.is_intervention"]["shape"] == [1]
    assert feats["complementary_info.discrete_penalty"] == {
        "dtype": "float32",
        "shape": [1],
        "names": ["discrete_penalty"],
    }
    assert "observation.environment_state" not in feats
    images = lerobot_features(env, use_videos=False)
    assert images["observation.images.front"]["dtype"] == "image"


def test_features_are_the_same_through_lerobot_keys():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    feats = lerobot_features(env)
    assert feats == lerobot_features(LeRobotKeys(env))
    assert feats["observation.environment_state"] == {
        "dtype": "float32",
        "shape": [7],
        "names": None,
    }


def test_delta_actions_are_not_named_positions():
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state", control_mode="joint_delta")
    names = lerobot_features(env)["action"]["names"]
    assert names[0] == "shoulder_pan.delta" and len(names) == 6


def test_any_box_env_gets_an_unnamed_state():
    feats = lerobot_features(gym.make("Pendulum-v1"))
    assert feats["observation.state"] == {"dtype": "float32", "shape": [3], "names": None}
    assert feats["action"] == {"dtype": "float32", "shape": [1], "names": None}
    with pytest.raises(ConfigError, match="1-D Box action"):
        lerobot_features(gym.make("CartPole-v1"))
