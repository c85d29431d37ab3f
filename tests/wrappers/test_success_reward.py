"""SuccessReward: reward from info["is_success"], whoever decided it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.teleop.scripted import ScriptedHuman
from lerobot_gym.wrappers.human_labels import HumanLabels
from lerobot_gym.wrappers.success_reward import SuccessReward


def _reach(**kwargs) -> gym.Env:
    return gym.make(
        "lerobot_gym/SO101-Reach-v0", obs_type="state", disable_env_checker=True, **kwargs
    )


def test_the_dense_task_reward_is_replaced_by_zero_until_success():
    plain, wrapped = _reach(), SuccessReward(_reach())
    obs, _ = plain.reset(seed=0)
    wrapped.reset(seed=0)
    for _ in range(5):
        dense = plain.step(obs["agent_pos"])[1]
        out = wrapped.step(obs["agent_pos"])
        assert dense > 0.0 and out[1] == 0.0 and not out[2]


def test_success_from_the_twins_facts_pays_and_ends():
    env = SuccessReward(_reach(), success_reward=2.0)
    _, info = env.reset(seed=4)
    base = env.unwrapped
    ik = base.kinematics.ik(info["facts"]["target_pos"], base.joint_targets_rad, tol_m=1e-5)
    action = base.robot.to_user(ik.q_rad).astype(np.float32)
    for _ in range(60):
        _, reward, terminated, truncated, info = env.step(action)
        if terminated:
            break
    assert terminated and not truncated and info["is_success"] and reward == 2.0


def test_success_from_a_human_label_pays_the_same():
    human = ScriptedHuman(lambda s: np.zeros(6), lambda s: False, presses={2: "success"})
    human.connect()
    env = SuccessReward(
        HumanLabels(_reach(), human, terminate_on_success=False), terminate_on_success=False
    )
    obs, _ = env.reset(seed=0)
    rewards = [env.step(obs["agent_pos"])[1] for _ in range(4)]
    assert rewards == [0.0, 0.0, 1.0, 1.0]  # the label holds until the episode ends
