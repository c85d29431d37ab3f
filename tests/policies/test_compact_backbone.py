"""Compact vision backbones (``vision_backbone="resnet10_w16"`` ...): sizes, config.json, training.

The camera variant of benchmarks/act_pickcube.py trains one of these from scratch on the CPU;
torchvision's resnet18 stays the default and keeps its exact parameter layout (LeRobot's).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from policy_helpers import TINY_ACT, TINY_DIFFUSION, features, random_stats, record

from lerobot_gym.errors import ConfigError
from lerobot_gym.policies import load_policy
from lerobot_gym.policies.act import ACTPolicy
from lerobot_gym.policies.config import ACTConfig, DiffusionConfig, parse_vision_backbone
from lerobot_gym.policies.diffusion import DiffusionPolicy
from lerobot_gym.policies.resnet import resnet
from lerobot_gym.policies.training import TrainConfig, train


@pytest.mark.parametrize(
    ("name", "layers", "width"),
    [
        ("resnet18", (2, 2, 2, 2), 64),
        ("resnet34", (3, 4, 6, 3), 64),
        ("resnet10", (1, 1, 1, 1), 64),
        ("resnet10_w16", (1, 1, 1, 1), 16),
        ("resnet18_w32", (2, 2, 2, 2), 32),
    ],
)
def test_backbone_names_parse_to_blocks_and_width(name, layers, width):
    assert parse_vision_backbone(name) == (layers, width)
    model = resnet(name)
    assert model.layer4[0].conv1.out_channels == 8 * width
    assert len(model.layer1) == layers[0] and len(model.layer3) == layers[2]


@pytest.mark.parametrize("name", ["resnet50", "resnet10_w", "resnet10_w8", "resnet10_w24", "vgg"])
def test_unknown_backbone_is_a_config_error_naming_the_flag(name):
    with pytest.raises(ConfigError, match=r"--policy.vision_backbone=resnet10_w16"):
        parse_vision_backbone(name)
    inputs, outputs = features(env_state=0, cameras=("front",))
    with pytest.raises(ConfigError, match="vision_backbone"):
        ACTConfig(input_features=inputs, output_features=outputs, vision_backbone=name).validate()


def test_resnet18_keeps_torchvision_parameter_count_and_names():
    # torchvision.models.resnet18() has 11,689,512 parameters; LeRobot's checkpoints rely on it.
    model = resnet("resnet18")
    assert sum(p.numel() for p in model.parameters()) == 11_689_512
    compact = resnet("resnet10_w16")
    assert set(compact.state_dict()) < set(model.state_dict())  # same names, fewer blocks
    assert sum(p.numel() for p in compact.parameters()) < 0.05 * 11_689_512


def test_act_with_a_compact_backbone_learns_and_round_trips_config_json(tmp_path):
    root = record(
        tmp_path / "ds", "pixels_agent_pos", episodes=1, cameras=("front",), image_size=(32, 40)
    )
    out = tmp_path / "run"
    options = {**TINY_ACT, "vision_backbone": "resnet10_w16", "optimizer_lr_backbone": 1e-3}
    steps = 24
    path = train(
        TrainConfig("act", root, out, steps=steps, batch_size=8, save_freq=steps, log_freq=1,
                    seed=0, policy_options=options)
    )  # fmt: skip
    with (out / "train_log.csv").open() as handle:
        losses = [float(r["loss"]) for r in csv.DictReader(handle)]
    assert len(losses) == steps
    assert np.mean(losses[-6:]) < 0.8 * np.mean(losses[:6]), losses
    saved = json.loads((path / "config.json").read_text())
    assert saved["vision_backbone"] == "resnet10_w16"
    default = ACTConfig(input_features={}, output_features={}).to_json()
    assert set(saved) == set(default)  # no key LeRobot's strict parser would refuse
    policy = load_policy(path)
    assert policy.config.vision_backbone == "resnet10_w16"
    weights = policy.network.state_dict()
    assert weights["model.backbone.layer4.0.conv1.weight"].shape == (128, 64, 3, 3)
    assert "model.backbone.layer1.1.conv1.weight" not in weights  # one block per stage
    assert policy.network.model.encoder_img_feat_input_proj.in_channels == 128


def test_diffusion_builds_and_computes_a_loss_with_a_compact_backbone():
    inputs, outputs = features(env_state=0, cameras=("front",), image=(3, 32, 32))
    options = {**TINY_DIFFUSION, "down_dims": (32, 64), "crop_shape": (28, 28)}
    config = DiffusionConfig(
        input_features=inputs, output_features=outputs, vision_backbone="resnet10_w16", **options
    )
    config.validate()
    policy = DiffusionPolicy(config, stats=random_stats(inputs, outputs))
    n_obs, horizon = config.n_obs_steps, config.horizon
    batch = {
        "observation.state": torch.randn(2, n_obs, 6),
        "observation.images.front": torch.rand(2, n_obs, 3, 32, 32),
        "action": torch.randn(2, horizon, 6),
        "action_is_pad": torch.zeros(2, horizon, dtype=torch.bool),
    }
    loss, _ = policy.compute_loss(batch)
    assert torch.isfinite(loss)
    assert not any("layer1.1" in k for k in policy.network.state_dict())


def test_default_act_still_builds_resnet18():
    inputs, outputs = features(env_state=0, cameras=("front",))
    policy = ACTPolicy(ACTConfig(input_features=inputs, output_features=outputs, **TINY_ACT))
    weights = policy.network.state_dict()
    assert weights["model.backbone.layer4.1.conv2.weight"].shape == (512, 512, 3, 3)
