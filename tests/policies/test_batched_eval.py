"""Batched inference in vectorised evaluation equals one policy per env, env for env.

"Equals" is to float rounding: the same seeds, episode lengths and actions within 1e-5.

Episodes here end at different steps (a wrapper truncates seed-dependent lengths), so envs
restart out of phase: each env's queue, ensemble or history must be reset on its own.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from policy_helpers import TINY_ACT, TINY_DIFFUSION, features, random_stats

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.policies import evaluate_policy
from lerobot_gym.policies.act import ACTPolicy
from lerobot_gym.policies.base import BatchPolicy
from lerobot_gym.policies.batched import MemberBatch
from lerobot_gym.policies.config import ACTConfig, DiffusionConfig
from lerobot_gym.policies.diffusion import DiffusionPolicy


class SeedLength(gym.Wrapper):
    """Truncates episode ``seed`` after ``3 + seed % 4`` steps and logs every action taken."""

    log: dict[int, list[np.ndarray]] = {}

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.seed_, self.t = seed, 0
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        self.t += 1
        SeedLength.log.setdefault(self.seed_, []).append(np.array(action))
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated or self.t >= 3 + self.seed_ % 4, info


def _make(obs_type="state", **kwargs):
    def make():
        return SeedLength(gym.make("lerobot_gym/SO101-PickCube-v0", obs_type=obs_type, **kwargs))

    return make


def _act(**overrides):
    torch.manual_seed(0)
    inputs, outputs = features()
    config = ACTConfig(input_features=inputs, output_features=outputs, **{**TINY_ACT, **overrides})
    return ACTPolicy(config, random_stats(inputs, outputs))


def _diffusion():
    torch.manual_seed(0)
    inputs, outputs = features()
    config = DiffusionConfig(input_features=inputs, output_features=outputs, **TINY_DIFFUSION)
    return DiffusionPolicy(config, random_stats(inputs, outputs), seed=3)


def _run(build, batch_inference, make=None, n_episodes=7, batch_size=3):
    """Results and logged actions of one evaluation; the policy is built fresh (same seeds)."""
    SeedLength.log = {}
    policy = build()
    calls = []

    def factory(env):
        calls.append(env)
        return policy.spawn()

    result = evaluate_policy(
        make or _make(), factory, n_episodes=n_episodes, seed=10, batch_size=batch_size,
        batch_inference=batch_inference,
    )  # fmt: skip
    return result, dict(SeedLength.log), len(calls)


def _assert_same(batched, per_env):
    (res_b, log_b, calls_b), (res_p, log_p, calls_p) = batched, per_env
    assert calls_b == 1 and calls_p == 3  # one policy for all envs, against one per env
    assert [(e.seed, e.steps) for e in res_b.episodes] == [
        (e.seed, e.steps) for e in res_p.episodes
    ]
    np.testing.assert_allclose(
        [e.sum_reward for e in res_b.episodes], [e.sum_reward for e in res_p.episodes], atol=1e-5
    )
    assert log_b.keys() == log_p.keys()
    for seed in log_b:
        # Actions are float32 in the env's units (degrees, up to ~150): a batched matrix
        # product rounds differently, so 1e-5 absolute or relative, whichever is larger.
        np.testing.assert_allclose(
            np.stack(log_b[seed]), np.stack(log_p[seed]), rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: _act(chunk_size=4, n_action_steps=4), id="act-chunking"),
        pytest.param(
            lambda: _act(chunk_size=4, n_action_steps=1, temporal_ensemble_coeff=0.01),
            id="act-temporal-ensembling",
        ),
        pytest.param(_diffusion, id="diffusion-ddim"),
    ],
)
def test_batched_equals_per_env_actions_and_returns(build):
    _assert_same(_run(build, True), _run(build, False))


def test_camera_act_batched_equals_per_env():
    def build():
        torch.manual_seed(0)
        inputs, outputs = features(env_state=0, cameras=("front",), image=(3, 24, 32))
        config = ACTConfig(
            input_features=inputs, output_features=outputs,
            **{**TINY_ACT, "chunk_size": 3, "n_action_steps": 3, "vision_backbone": "resnet18"},
        )  # fmt: skip
        return ACTPolicy(config, random_stats(inputs, outputs))

    make = _make("pixels_agent_pos", cameras=("front",), image_size=(24, 32))
    _assert_same(_run(build, True, make, 4), _run(build, False, make, 4))


def _rows_seen(policy):
    """Batch sizes the ACT network is called with."""
    seen: list[int] = []
    policy.network.model.register_forward_pre_hook(
        lambda m, args: seen.append(args[0]["observation.state"].shape[0])
    )
    return seen


def test_one_forward_pass_per_step_for_the_envs_that_need_it():
    policy = _act(chunk_size=4, n_action_steps=4)
    seen = _rows_seen(policy)
    batch = policy.batched(3)
    assert isinstance(batch, BatchPolicy) and isinstance(batch, MemberBatch)
    obs = {
        "agent_pos": np.zeros((3, 6), np.float32),
        "environment_state": np.zeros((3, 7), np.float32),
    }
    assert batch.select_action_batch(obs).shape == (3, 6)
    assert seen == [3]  # every queue was empty: one pass for all three
    batch.reset_env(1)  # env 1's episode restarts: only its queue is cleared
    batch.select_action_batch(obs)
    assert seen == [3, 1]
    assert [len(m._queue) for m in batch.members] == [2, 3, 2]
    batch.select_action_batch(obs, rows=[0, 2])  # env 1 is not stepped
    assert [len(m._queue) for m in batch.members] == [1, 3, 1] and seen == [3, 1]


def test_temporal_ensembling_batches_every_env_every_step():
    policy = _act(chunk_size=4, n_action_steps=1, temporal_ensemble_coeff=0.01)
    seen = _rows_seen(policy)
    batch = policy.batched(2)
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs = {
            "agent_pos": rng.normal(size=(2, 6)).astype(np.float32),
            "environment_state": rng.normal(size=(2, 7)).astype(np.float32),
        }
        batch.select_action_batch(obs)
    assert seen == [2, 2, 2]


def test_batched_sb3_equals_per_env():
    sb3 = pytest.importorskip("stable_baselines3")
    from lerobot_gym.policies.sb3 import SB3Policy, make_sb3_env

    train_env = make_sb3_env("lerobot_gym/SO101-Reach-v0", obs_type="state")
    model = sb3.SAC("MlpPolicy", train_env, policy_kwargs={"net_arch": [32, 32]}, seed=0)
    policy = SB3Policy.from_env(model, train_env)
    train_env.close()
    seen: list[int] = []
    model.policy.actor.register_forward_pre_hook(lambda m, a: seen.append(a[0].shape[0]))
    make = _make_reach()
    batched = _run(lambda: policy, True, make)
    assert max(seen) == 3  # the three envs in one prediction
    _assert_same(batched, _run(lambda: policy, False, make))


def _make_reach():
    def make():
        return SeedLength(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))

    return make
