"""A learned policy's step runs on its own torch thread count and gives torch's back after."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from policy_helpers import TINY_ACT, TINY_DIFFUSION, features, random_stats

from lerobot_gym.errors import ConfigError
from lerobot_gym.policies import load_policy
from lerobot_gym.policies.act import ACTPolicy
from lerobot_gym.policies.config import ACTConfig, DiffusionConfig
from lerobot_gym.policies.diffusion import DiffusionPolicy

OBS = {"agent_pos": np.zeros(6, np.float32), "environment_state": np.zeros(7, np.float32)}


def _act(**kwargs):
    inputs, outputs = features()
    config = ACTConfig(input_features=inputs, output_features=outputs, **TINY_ACT)
    return ACTPolicy(config, random_stats(inputs, outputs), **kwargs)


def _diffusion(**kwargs):
    inputs, outputs = features()
    config = DiffusionConfig(input_features=inputs, output_features=outputs, **TINY_DIFFUSION)
    return DiffusionPolicy(config, random_stats(inputs, outputs), seed=0, **kwargs)


def _threads_seen(policy, process_threads: int) -> list[int]:
    """Torch's thread count inside the network's forward during one step, torch set to N."""
    # ACT's step calls network.model; diffusion's calls the U-Net (network.forward is its loss).
    net = policy.network
    module = net.model if isinstance(policy, ACTPolicy) else net.diffusion.unet
    seen: list[int] = []
    hook = module.register_forward_pre_hook(lambda m, a: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    torch.set_num_threads(process_threads)
    try:
        policy.select_action(OBS)
        assert torch.get_num_threads() == process_threads  # given back after the step
    finally:
        torch.set_num_threads(before)
        hook.remove()
    return seen


@pytest.mark.parametrize("make", [_act, _diffusion])
def test_a_step_runs_on_one_thread_by_default_and_restores_torchs_count(make):
    policy = make()
    assert policy.inference_threads == 1
    seen = _threads_seen(policy, 2)
    assert seen and set(seen) == {1}


def test_none_keeps_torchs_setting_and_a_count_is_honoured():
    assert _threads_seen(_act(inference_threads=None), 2) == [2]
    assert _threads_seen(_act(inference_threads=2), 1) == [2]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_bad_thread_count_is_a_config_error_naming_the_flag(bad):
    with pytest.raises(ConfigError, match=r"--policy\.inference_threads"):
        _act(inference_threads=bad)


def test_load_policy_passes_the_thread_count_and_keeps_it_out_of_the_checkpoint(tmp_path):
    _act().save(tmp_path / "ckpt")
    assert load_policy(tmp_path / "ckpt").inference_threads == 1
    assert load_policy(tmp_path / "ckpt", inference_threads=None).inference_threads is None
    assert "inference_threads" not in (tmp_path / "ckpt" / "config.json").read_text()


def test_sb3_policy_predicts_on_one_thread_by_default():
    sb3 = pytest.importorskip("stable_baselines3")
    from lerobot_gym.policies.sb3 import SB3Policy, make_sb3_env

    env = make_sb3_env("lerobot_gym/SO101-Reach-v0", obs_type="state")
    model = sb3.SAC("MlpPolicy", env, policy_kwargs={"net_arch": [8]}, seed=0, device="cpu")
    policy = SB3Policy.from_env(model, env)
    obs, _ = env.unwrapped.reset(seed=0)
    env.close()
    seen: list[int] = []
    model.policy.actor.register_forward_pre_hook(lambda m, a: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        policy.select_action(obs)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [1]


def test_the_cli_flag_reaches_the_policy_through_make_policy(tmp_path):
    import gymnasium as gym

    from lerobot_gym.cli.eval import PARSER
    from lerobot_gym.policies import make_policy

    _act().save(tmp_path / "ckpt")
    flags = PARSER.parse([f"--policy.path={tmp_path / 'ckpt'}", "--policy.inference_threads=2"])
    args = {k: v for k, v in flags["policy"].items() if k != "type"}
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    try:
        assert make_policy("act", env, **args).inference_threads == 2
        with pytest.raises(ConfigError, match=r"--policy\.inference_threads=0"):
            make_policy("act", env, **{**args, "inference_threads": 0})
    finally:
        env.close()
