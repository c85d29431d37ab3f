"""Scripted policies on the twin: the success rates the foundation issue asks for."""

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401
from lerobot_gym.errors import ConfigError
from lerobot_gym.tasks.scripted import make_scripted_policy


def _success_count(env_id: str, episodes: int, **kwargs) -> tuple[int, list[int]]:
    env = gym.make(env_id, obs_type="state", disable_env_checker=True, **kwargs)
    policy = make_scripted_policy(env)
    failures = []
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        policy.reset(obs, info)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            done = terminated or truncated
        if not info["is_success"]:
            failures.append(seed)
    env.close()
    return episodes - len(failures), failures


@pytest.mark.slow
def test_scripted_pick_cube_succeeds_95_of_100():
    successes, failures = _success_count("lerobot_gym/SO101-PickCube-v0", 100)
    assert successes >= 95, f"failed seeds: {failures}"


@pytest.mark.slow
def test_scripted_reach_succeeds_99_of_100():
    successes, failures = _success_count("lerobot_gym/SO101-Reach-v0", 100)
    assert successes >= 99, f"failed seeds: {failures}"


def test_scripted_push_cube_mostly_succeeds():
    successes, failures = _success_count("lerobot_gym/SO101-PushCube-v0", 20)
    assert successes >= 17, f"failed seeds: {failures}"


def test_pick_cube_holds_the_cube_lifted_until_the_end():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    policy = make_scripted_policy(env)
    obs, info = env.reset(seed=11)
    policy.reset(obs, info)
    heights = []
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy(obs))
        heights.append(info["facts"]["cube_height_m"])
        done = terminated or truncated
    assert truncated and not terminated
    assert min(heights[-60:]) >= 0.05  # the last two seconds


def test_scripted_policy_works_with_pixel_observations_and_delta_control():
    env = gym.make(
        "lerobot_gym/SO101-Reach-v0",
        obs_type="pixels_agent_pos",
        image_size=(32, 32),
        control_mode="joint_delta",
        max_delta=10.0,
    )
    policy = make_scripted_policy(env)
    obs, info = env.reset(seed=2)
    policy.reset(obs, info)
    for _ in range(60):
        obs, _, _, _, info = env.step(policy(obs))
    assert info["is_success"]
    assert np.all(np.abs(info["action_applied"]) <= 10.0 + 1e-4)


def test_free_motion_has_no_scripted_policy():
    env = gym.make("lerobot_gym/SO101-v0", obs_type="state")
    with pytest.raises(ConfigError, match="no scripted policy"):
        make_scripted_policy(env)


@pytest.mark.parametrize("obs_type", ["pixels", "pixels_agent_pos"])
def test_scripted_pick_works_without_state_observations_and_under_lerobot_keys(obs_type):
    from lerobot_gym.wrappers import LeRobotKeys

    env = LeRobotKeys(
        gym.make(
            "lerobot_gym/SO101-PickCube-v0",
            obs_type=obs_type,
            image_size=(24, 32),
            cameras=("front",),
        )
    )
    policy = make_scripted_policy(env)
    obs, info = env.reset(seed=4)
    policy.reset(obs, info)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy(obs))
        done = terminated or truncated
    assert info["is_success"]


def test_scripted_policy_needs_a_reset_and_a_lerobot_gym_env():
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    policy = make_scripted_policy(env)
    with pytest.raises(gym.error.ResetNeeded):
        policy({"agent_pos": np.zeros(6, np.float32)})
    with pytest.raises(ConfigError, match="lerobot_gym envs"):
        make_scripted_policy(gym.make("CartPole-v1"))
