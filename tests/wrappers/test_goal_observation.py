"""GoalObservation: the goal-conditioned observation and vectorised reward of a goal task."""

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers.goal_observation import (
    GoalLayout,
    GoalObservation,
    to_goal_observation,
)

REACH = "lerobot_gym/SO101-Reach-v0"


@pytest.mark.parametrize("reward_type", ["dense", "sparse"])
def test_goals_come_from_the_gripper_and_target_and_compute_reward_is_the_env_reward(
    reward_type,
):
    env = GoalObservation(
        gym.make(REACH, obs_type="state", control_mode="joint_delta", reward_type=reward_type)
    )
    obs, info = env.reset(seed=4)
    assert env.observation_space.contains(obs)
    np.testing.assert_allclose(obs["achieved_goal"], info["facts"]["tcp_pos"], atol=1e-6)
    np.testing.assert_allclose(obs["desired_goal"], info["facts"]["target_pos"], atol=1e-6)
    achieved, desired, rewards = [], [], []
    # Drive towards the target, so the sparse reward is seen turning on as well as off.
    target = env.unwrapped.kinematics.ik(info["facts"]["target_pos"], env.unwrapped.last_state
                                         .joint_positions_rad).q_rad  # fmt: skip
    for _ in range(40):
        now = env.unwrapped.last_state.joint_positions_rad
        step = np.clip(np.degrees(target - now), -5, 5).astype(np.float32)
        obs, reward, _, _, info = env.step(step)
        achieved.append(obs["achieved_goal"])
        desired.append(obs["desired_goal"])
        rewards.append(reward)
        np.testing.assert_allclose(obs["observation"], env.unwrapped._observation(
            env.unwrapped.last_state, info["facts"])["agent_pos"])  # fmt: skip
    batch = env.compute_reward(np.stack(achieved), np.stack(desired), [{}] * len(rewards))
    assert batch.shape == (40,)
    np.testing.assert_allclose(batch, rewards, atol=1e-5)
    if reward_type == "sparse":
        assert 0 < batch.sum() < 40  # failures first, then successes: both branches checked
    # Relabelled: the achieved goal as the desired one is a success, whatever the real target.
    assert np.all(env.compute_reward(np.stack(achieved), np.stack(achieved), None) == 1.0)
    env.close()


def test_tasks_without_a_goal_and_pixel_observations_are_typed_errors():
    with pytest.raises(ConfigError, match="declares no goal"):
        GoalObservation(gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state"))
    with pytest.raises(ConfigError, match="obs_type='state'"):
        GoalObservation(gym.make(REACH, obs_type="pixels_agent_pos", image_size=(32, 32)))


def test_to_goal_observation_leaves_the_desired_goal_out_of_the_observation():
    obs = {"agent_pos": np.array([1, 2], np.float32),
           "environment_state": np.array([3, 4, 5, 6], np.float32)}  # fmt: skip
    goal = to_goal_observation(obs, GoalLayout(1, 3))
    assert goal["observation"].tolist() == [1, 2, 3, 6]
    assert goal["desired_goal"].tolist() == [4, 5]
    assert goal["achieved_goal"].tolist() == [0, 0]
    with pytest.raises(ConfigError, match="does not fit"):
        to_goal_observation(obs, GoalLayout(3, 6))
