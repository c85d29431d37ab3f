"""``gym.make(env.spec)`` rebuilds every registered id, through JSON, with the same spaces."""

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec

import lerobot_gym  # registers the ids
import lerobot_gym.core as core

IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("lerobot_gym/"))
OPTIONS = {
    "obs_type": "pixels_agent_pos",
    "image_size": (48, 64),
    "reward_type": "sparse",
    "control_mode": "joint_delta",
    "max_delta": 3.0,
    "max_relative_target": 10.0,
    "fps": 15,
}


@pytest.mark.parametrize("env_id", IDS)
def test_every_id_round_trips_through_its_json_spec(env_id):
    # One camera of the id's robot (the SO-101's "front", the ALOHA's "top").
    robot = lerobot_gym.registry.get_robot(gym.spec(env_id).kwargs["robot"])
    env = gym.make(env_id, **OPTIONS, cameras=robot.camera_names[:1])
    text = env.spec.to_json()  # raises if any keyword value is not JSON-safe
    assert json.loads(text)["kwargs"]["image_size"] == [48, 64]
    rebuilt = gym.make(EnvSpec.from_json(text))
    again = gym.make(env.spec)
    try:
        for other in (rebuilt, again):
            assert other.observation_space == env.observation_space
            assert other.action_space == env.action_space
            assert other.spec.max_episode_steps == env.spec.max_episode_steps
            assert other.unwrapped.fps == 15
        obs, _ = env.reset(seed=3)
        obs_rebuilt, _ = rebuilt.reset(seed=3)
        np.testing.assert_array_equal(obs["agent_pos"], obs_rebuilt["agent_pos"])
    finally:
        for e in (env, rebuilt, again):
            e.close()


def test_the_core_types_are_exported():
    assert core.RobotEnv is type(gym.make("lerobot_gym/SO101-v0").unwrapped)
    for name in ("RobotSpec", "ArmSpec", "Task", "Backend", "Controller", "Kinematics", "World"):
        assert name in core.__all__ and getattr(core, name).__module__.startswith(
            "lerobot_gym.core."
        )
    backend = gym.make("lerobot_gym/SO101-v0").unwrapped.backend
    assert isinstance(backend, core.Backend)
