"""Learned policies: env observations in and actions out, save/load, and typed errors."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from policy_helpers import TINY_ACT, TINY_DIFFUSION, features, random_stats

import lerobot_gym
from lerobot_gym.errors import CheckpointError, ConfigError, PolicyMismatchError
from lerobot_gym.policies import LearnedPolicy, load_policy, make_policy
from lerobot_gym.policies.act import ACTPolicy
from lerobot_gym.policies.config import ACTConfig, DiffusionConfig
from lerobot_gym.policies.diffusion import DiffusionPolicy
from lerobot_gym.policies.normalize import Normalizer

ACT_TINY = {k: v for k, v in TINY_ACT.items()}
DIFF_TINY = {k: (tuple(v) if isinstance(v, list) else v) for k, v in TINY_DIFFUSION.items()}


def _obs(rng, cameras=(), size=(32, 32)):
    obs = {"agent_pos": rng.normal(size=6).astype(np.float32),
           "environment_state": rng.normal(size=7).astype(np.float32)}  # fmt: skip
    if cameras:
        obs["pixels"] = {c: rng.integers(0, 256, (*size, 3), dtype=np.uint8) for c in cameras}
    return obs


def _act(cameras=(), **kw):
    inputs, outputs = features(cameras=cameras)
    cfg = ACTConfig(input_features=inputs, output_features=outputs, **{**ACT_TINY, **kw})
    return ACTPolicy(cfg, stats=random_stats(inputs, outputs))


def _diffusion(cameras=(), **kw):
    inputs, outputs = features(cameras=cameras)
    cfg = DiffusionConfig(input_features=inputs, output_features=outputs, **{**DIFF_TINY, **kw})
    return DiffusionPolicy(cfg, stats=random_stats(inputs, outputs), seed=0)


def test_import_lerobot_gym_loads_no_torch():
    import subprocess
    import sys

    code = "import sys, lerobot_gym, lerobot_gym.policies; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("cameras", [(), ("front",)])
def test_act_round_trip_gives_the_same_actions_and_lerobot_files(tmp_path, cameras):
    policy = _act(cameras)
    assert isinstance(policy, LearnedPolicy)
    rng = np.random.default_rng(1)
    observations = [_obs(rng, cameras) for _ in range(7)]
    before = [policy.select_action(o) for o in observations]
    policy.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {
        "config.json", "model.safetensors", "policy_preprocessor.json",
        "policy_postprocessor.json",
        "policy_preprocessor_step_3_normalizer_processor.safetensors",
        "policy_postprocessor_step_0_unnormalizer_processor.safetensors",
    }  # fmt: skip
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["type"] == "act" and config["chunk_size"] == 5
    assert config["input_features"]["observation.state"] == {"type": "STATE", "shape": [6]}
    assert config["normalization_mapping"] == {
        "VISUAL": "MEAN_STD", "STATE": "MEAN_STD", "ACTION": "MEAN_STD"
    }  # fmt: skip
    keys = set(policy.network.state_dict())
    assert (
        "model.decoder_pos_embed.weight" in keys
        and "model.encoder.layers.0.self_attn.in_proj_weight" in keys
    )
    if cameras:  # torchvision's names under IntermediateLayerGetter
        assert {
            "model.backbone.layer2.0.downsample.0.weight",
            "model.backbone.bn1.running_var",
        } <= keys
        assert not any(k.startswith("model.backbone.fc") for k in keys)
    loaded = load_policy(tmp_path)
    after = [loaded.select_action(o) for o in observations]
    # The chunk is reused for n_action_steps steps, then recomputed: both sides in step.
    np.testing.assert_array_equal(np.stack(before), np.stack(after))
    assert before[0].dtype == np.float32 and before[0].shape == (6,)


def test_diffusion_round_trip_with_the_same_seed(tmp_path):
    policy = _diffusion(("front",))
    rng = np.random.default_rng(2)
    observations = [_obs(rng, ("front",)) for _ in range(6)]
    torch.manual_seed(0)
    before = [policy.select_action(o) for o in observations]
    policy.save(tmp_path)
    assert "diffusion.rgb_encoder.backbone.4.0.conv1.weight" in policy.network.state_dict()
    loaded = load_policy(tmp_path)
    loaded.generator = torch.Generator().manual_seed(0)
    after = [loaded.select_action(o) for o in observations]
    np.testing.assert_allclose(np.stack(before), np.stack(after), atol=1e-6)


def test_temporal_ensembling_averages_overlapping_chunks():
    policy = _act(temporal_ensemble_coeff=0.0, n_action_steps=1)
    rng = np.random.default_rng(3)
    obs = [_obs(rng) for _ in range(2)]
    batches = []
    for o in obs:
        from lerobot_gym.policies.pretrained import observation_to_batch

        b = observation_to_batch(o, policy.config.input_features, torch.device("cpu"))
        batches.append(policy.normalizer.normalize_batch(b, targets=False))
    chunks = [policy.predict_action_chunk(b) for b in batches]
    policy.reset()
    policy.select_action(obs[0])
    second = policy.select_action(obs[1])
    # coeff 0: equal weights; step 1 averages chunk 0's second action and chunk 1's first.
    expected = policy.normalizer.unnormalize_action((chunks[0][:, 1] + chunks[1][:, 0]) / 2)
    np.testing.assert_allclose(second, expected[0].numpy(), rtol=1e-5, atol=1e-5)


def test_chunked_act_runs_the_network_once_per_chunk_and_pops_unnormalised_actions():
    policy = _act(n_action_steps=4, chunk_size=5)
    calls = []
    predict = policy.network.predict_action_chunk
    policy.network.predict_action_chunk = lambda batch: calls.append(1) or predict(batch)
    rng = np.random.default_rng(5)
    obs = [_obs(rng) for _ in range(8)]
    from lerobot_gym.policies.pretrained import observation_to_batch

    batches = [
        policy.normalizer.normalize_batch(
            observation_to_batch(o, policy.config.input_features, torch.device("cpu")),
            targets=False,
        )
        for o in (obs[0], obs[4])
    ]
    expected = [policy.normalizer.unnormalize_action(policy.predict_action_chunk(b))[0, :4]
                for b in batches]  # fmt: skip
    calls.clear()
    policy.network.train()  # as training leaves it: select_action must switch to eval itself
    actions = [policy.select_action(o) for o in obs]
    assert len(calls) == 2  # one chunk per 4 steps
    assert not policy.network.training
    np.testing.assert_allclose(np.stack(actions), torch.cat(expected).numpy(), atol=1e-6)
    # The steps between chunks do not read the observation: a bad one passes until a chunk.
    policy.reset()
    policy.select_action(obs[0])
    assert policy.select_action({}).shape == (6,)
    assert all(a.dtype == np.float32 for a in actions)
    actions[0][:] = 1e9  # a returned action is the caller's own copy
    policy.reset()
    assert np.abs(policy.select_action(obs[0])).max() < 1e8


def test_normalizer_formulas_per_feature_type():
    inputs, outputs = features()
    stats = random_stats(inputs, outputs)
    norm = Normalizer({**inputs, **outputs}, {"STATE": "MEAN_STD", "ENV": "MIN_MAX",
                                              "ACTION": "MIN_MAX"}, stats)  # fmt: skip
    x = torch.tensor(np.linspace(-1, 2, 6), dtype=torch.float32)
    s = stats["observation.state"]
    np.testing.assert_allclose(norm.transform("observation.state", x).numpy(),
                               (x.numpy() - s["mean"]) / (s["std"] + 1e-8), rtol=1e-5)  # fmt: skip
    a = stats["action"]
    y = norm.transform("action", x)
    np.testing.assert_allclose(y.numpy(), 2 * (x.numpy() - a["min"]) / (a["max"] - a["min"]) - 1,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(norm.unnormalize_action(y).numpy(), x.numpy(), atol=1e-5)
    assert set(norm.state_dict()) >= {"observation.state.mean", "action.min", "action.max"}
    with pytest.raises(
        ConfigError, match=r"'action'.*needs statistics \['min', 'max'\].*dataset stats"
    ):
        Normalizer(outputs, {"ACTION": "MIN_MAX"}, {"action": {"mean": np.zeros(6)}})


def test_policy_against_env_missing_camera_and_wrong_state_size(tmp_path):
    _act(("front",)).save(tmp_path / "cam")
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    try:
        with pytest.raises(PolicyMismatchError, match=r"camera 'front'.*--env.cameras=\[front\]"):
            make_policy("act", env, path=tmp_path / "cam")
        obs, _ = env.reset(seed=0)
        with pytest.raises(PolicyMismatchError, match="camera 'front'"):
            load_policy(tmp_path / "cam").select_action(obs)
    finally:
        env.close()
    inputs, outputs = features(state=14)
    cfg = ACTConfig(input_features=inputs, output_features=outputs, **ACT_TINY)
    ACTPolicy(cfg, stats=random_stats(inputs, outputs)).save(tmp_path / "aloha")
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    try:
        with pytest.raises(
            PolicyMismatchError, match=r"'observation.state' of shape \(14,\).*\(6,\)"
        ):
            make_policy("act", env, path=tmp_path / "aloha")
    finally:
        env.close()
    policy = _act(("front",))
    with pytest.raises(PolicyMismatchError, match=r"32x32x3.*--env.image_size=\[32,32\]"):
        policy.select_action(_obs(np.random.default_rng(0), ("front",), size=(48, 64)))


def test_checkpoint_errors_unknown_type_corrupt_weights_missing_files(tmp_path):
    _act().save(tmp_path)
    good = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match=r"model.safetensors is not a valid safetensors file"):
        load_policy(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(good)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "type": "vqbet"}))
    with pytest.raises(ConfigError, match=r"unknown policy type 'vqbet'.*--policy.type=act"):
        load_policy(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "dim_model": 64}))
    with pytest.raises(CheckpointError, match="does not fit a act policy"):
        load_policy(tmp_path)
    with pytest.raises(CheckpointError, match=r"holds no config\.json"):
        load_policy(tmp_path / "..")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_policy(tmp_path / "nope")
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    try:
        with pytest.raises(ConfigError, match=r"--policy\.path"):
            make_policy("act", env)
    finally:
        env.close()
    assert lerobot_gym  # registered ids used above
