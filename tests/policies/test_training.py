"""Training on a tiny recorded dataset: the loss falls, checkpoints resume, bad datasets fail."""

from __future__ import annotations

import csv

import gymnasium as gym
import numpy as np
import pytest
from policy_helpers import TINY_ACT, TINY_DIFFUSION, record

from lerobot_gym.errors import ConfigError, PolicyMismatchError
from lerobot_gym.policies import load_policy
from lerobot_gym.policies.training import TrainConfig, train


def _losses(out):
    with (out / "train_log.csv").open() as handle:
        return [(int(float(r["step"])), float(r["loss"])) for r in csv.DictReader(handle)]


# Diffusion's loss is noisier (random timesteps and noise per sample): a smaller margin.
@pytest.mark.parametrize(
    ("kind", "options", "factor"), [("act", TINY_ACT, 0.8), ("diffusion", TINY_DIFFUSION, 0.9)]
)
def test_loss_decreases_and_checkpoint_acts_in_the_env(
    state_dataset, tmp_path, kind, options, factor
):
    out = tmp_path / kind
    steps = 24
    path = train(
        TrainConfig(kind, state_dataset, out, steps=steps, batch_size=8, save_freq=12,
                    log_freq=1, seed=0, policy_options=options)
    )  # fmt: skip
    losses = [loss for _, loss in _losses(out)]
    assert len(losses) == steps
    assert np.mean(losses[-6:]) < factor * np.mean(losses[:6]), losses
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["000012", "000024", "last"]
    assert path == out / "checkpoints" / "000024" / "pretrained_model"
    policy = load_policy(path)
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    try:
        policy.check_env(env)
        obs, info = env.reset(seed=5)
        policy.reset(obs, info)
        for _ in range(3):
            action = policy.select_action(obs)
            assert action.shape == (6,) and np.all(np.isfinite(action))
            obs, *_ = env.step(action)
    finally:
        env.close()


def test_resume_continues_from_the_last_checkpoint(state_dataset, tmp_path):
    cfg = TrainConfig("act", state_dataset, tmp_path, steps=6, batch_size=4, save_freq=3,
                      log_freq=1, seed=0, policy_options=TINY_ACT)  # fmt: skip
    train(cfg)
    with pytest.raises(ConfigError, match="--resume=true"):
        train(cfg)
    cfg.steps, cfg.resume = 9, True
    train(cfg)
    assert [step for step, _ in _losses(tmp_path)] == list(range(1, 10))
    assert (tmp_path / "checkpoints" / "last").resolve().name == "000009"
    with pytest.raises(ConfigError, match="no checkpoint to resume"):
        train(TrainConfig("act", state_dataset, tmp_path / "new", resume=True))


def test_dataset_without_the_features_the_policy_needs(tmp_path):
    # agent_pos only (obs_type="pixels" would carry images): drop environment_state by
    # recording a state dataset and asking for a policy that also needs... a camera-free ACT
    # needs the env state, so train on the state features minus that key.
    root = record(tmp_path / "ds", "state", episodes=1)
    from lerobot_gym.dataset.v21 import load_meta
    from lerobot_gym.policies.training import make_config_for_dataset

    meta = load_meta(root)
    del meta.info["features"]["observation.environment_state"]
    with pytest.raises(PolicyMismatchError, match=r"needs at least one camera.*environment_state"):
        make_config_for_dataset("act", meta)
    with pytest.raises(ConfigError, match=r"--policy.chunk_sise is not an option of act"):
        make_config_for_dataset("act", load_meta(root), {"chunk_sise": 3})
    with pytest.raises(ConfigError, match="unknown policy type 'sac'"):
        make_config_for_dataset("sac", load_meta(root))


def test_act_with_a_camera_trains_from_video_and_acts_on_pixels(tmp_path):
    root = record(
        tmp_path / "ds", "pixels_agent_pos", episodes=1, cameras=("front",), image_size=(32, 40)
    )
    out = tmp_path / "run"
    options = {**TINY_ACT, "vision_backbone": "resnet18"}
    path = train(
        TrainConfig("act", root, out, steps=3, batch_size=2, save_freq=3, log_freq=1, seed=0,
                    policy_options=options)
    )  # fmt: skip
    policy = load_policy(path)
    assert policy.input_features["observation.images.front"].shape == (3, 32, 40)
    assert "model.backbone.layer4.1.bn2.running_var" in policy.network.state_dict()
    env = gym.make(
        "lerobot_gym/SO101-PickCube-v0", obs_type="pixels_agent_pos", cameras=("front",),
        image_size=(32, 40),
    )  # fmt: skip
    try:
        policy.check_env(env)
        obs, info = env.reset(seed=0)
        policy.reset(obs, info)
        assert np.all(np.isfinite(policy.select_action(obs)))
    finally:
        env.close()
