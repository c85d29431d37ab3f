"""SuccessBonus: the env's reward plus a bonus on success, for real and relabelled steps."""

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers.goal_observation import GoalObservation
from lerobot_gym.wrappers.success_bonus import SuccessBonus

REACH = "lerobot_gym/SO101-Reach-v0"


def _drive_to_target(env, steps):
    """Joint-delta steps towards the IK solution of the target: failures, then successes."""
    raw = env.unwrapped
    target = raw.kinematics.ik(raw.last_facts["target_pos"], raw.last_state.joint_positions_rad)
    for _ in range(steps):
        delta = np.degrees(target.q_rad - raw.last_state.joint_positions_rad)
        yield env.step(np.clip(delta, -5, 5).astype(np.float32))


def test_bonus_is_added_on_successful_steps_and_to_relabelled_rewards():
    plain = gym.make(REACH, obs_type="state", control_mode="joint_delta")
    env = SuccessBonus(GoalObservation(plain), bonus=2.0)
    env.reset(seed=4)
    achieved, desired, successes = [], [], []
    for obs, reward, _, _, info in _drive_to_target(env, 40):
        dense = 1.0 - np.tanh(10.0 * info["facts"]["distance_m"])
        assert reward == pytest.approx(dense + (2.0 if info["is_success"] else 0.0))
        achieved.append(obs["achieved_goal"])
        desired.append(obs["desired_goal"])
        successes.append(info["is_success"])
    assert 0 < sum(successes) < 40
    relabelled = env.compute_reward(np.stack(achieved), np.stack(desired), None)
    base = env.env.compute_reward(np.stack(achieved), np.stack(desired), None)
    np.testing.assert_allclose(relabelled - base, 2.0 * np.array(successes), atol=1e-6)
    env.close()


def test_bad_bonus_and_compute_reward_without_goals_are_typed_errors():
    env = gym.make(REACH, obs_type="state")
    with pytest.raises(ConfigError, match="finite"):
        SuccessBonus(env, bonus=float("nan"))
    with pytest.raises(ConfigError, match="GoalObservation"):
        SuccessBonus(env, bonus=1.0).compute_reward(np.zeros(3), np.zeros(3), None)
