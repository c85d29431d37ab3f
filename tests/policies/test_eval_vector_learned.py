"""A learned policy in a vectorised evaluation: spawned copies share one network."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.policies import evaluate_policy
from lerobot_gym.policies.act import ACTPolicy
from lerobot_gym.policies.config import ACTConfig, PolicyFeature


def _tiny_act():
    torch.manual_seed(0)
    config = ACTConfig(
        input_features={
            "observation.state": PolicyFeature("STATE", (6,)),
            "observation.environment_state": PolicyFeature("ENV", (7,)),
        },
        output_features={"action": PolicyFeature("ACTION", (6,))},
        chunk_size=4, n_action_steps=4, dim_model=16, n_heads=2, dim_feedforward=32,
        n_encoder_layers=1, n_vae_encoder_layers=1,
    )  # fmt: skip
    return ACTPolicy(config)


def test_spawn_shares_the_network_not_the_action_queue():
    policy = _tiny_act()
    twin = policy.spawn()
    assert twin.network is policy.network and twin.normalizer is policy.normalizer
    obs = {"agent_pos": np.zeros(6, np.float32), "environment_state": np.zeros(7, np.float32)}
    policy.select_action(obs)  # fills policy's queue with a chunk and pops one
    assert len(policy._queue) == 3 and len(twin._queue) == 0


def test_vectorised_eval_of_a_learned_policy_equals_sequential():
    policy = _tiny_act()

    def make():
        return gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")

    made = []

    def factory(env):
        made.append(policy.spawn())
        return made[-1]

    kwargs = dict(n_episodes=3, seed=7, max_steps=6)
    sequential = evaluate_policy(make, factory, **kwargs)
    vector = evaluate_policy(make, factory, batch_size=2, **kwargs)
    assert len(made) == 1 + 1  # the vectorised run's one policy acts for both envs (batched)
    # Batched inference rounds its matrix products differently: equal to 1e-5, not bitwise.
    assert [(e.seed, e.steps) for e in vector.episodes] == [
        (e.seed, e.steps) for e in sequential.episodes
    ]
    assert [e.sum_reward for e in vector.episodes] == pytest.approx(
        [e.sum_reward for e in sequential.episodes], abs=1e-5
    )
