"""The example env configs (examples/hil/, one per backend) load, build and run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.hil import load_hil_config, make_hil_env
from lerobot_gym.teleop.scripted import ScriptedHuman, intervene_between

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hil"


def _human() -> ScriptedHuman:
    up = np.array([0.0, 0.0, 1.0, 0.0], np.float32)
    human = ScriptedHuman(lambda s: up, intervene_between(1, 3), action_kind="ee_delta")
    human.connect()
    return human


@pytest.mark.parametrize("name", ["so101_pick_sim", "so101_pick_emulated", "so101_pick_real"])
def test_every_example_is_a_valid_config(name: str) -> None:
    cfg = load_hil_config(EXAMPLES / f"{name}.json")
    assert cfg.env["backend"] == name.rsplit("_", 1)[1]
    assert cfg.ee_control is not None and cfg.image is not None


@pytest.mark.parametrize("name", ["so101_pick_sim", "so101_pick_emulated"])
def test_the_sim_and_emulated_examples_run_with_an_operator(name: str) -> None:
    env = make_hil_env(EXAMPLES / f"{name}.json", teleop=_human())
    try:
        obs, _ = env.reset(seed=0)
        assert obs["pixels"]["front"].shape == (64, 64, 3)
        infos = [env.step(np.zeros(4, np.float32))[4] for _ in range(3)]
        assert [i["is_intervention"] for i in infos] == [False, True, True]
    finally:
        env.close()


def test_the_real_example_builds_without_touching_hardware(tmp_path: Path) -> None:
    """gym.make opens no port: the real stack is built (and checked) before any I/O."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from lerobot_gym.policies.reward_classifier import RewardClassifierConfig, RewardClassifierNet

    net = RewardClassifierNet(RewardClassifierConfig(("front", "wrist"), (64, 64), channels=(4,)))
    net.save_pretrained(tmp_path / "clf")
    data = json.loads((EXAMPLES / "so101_pick_real.json").read_text())
    data["reward"]["classifier_path"] = str(tmp_path / "clf")
    env = make_hil_env(data, teleop=_human())
    assert env.action_space.shape == (4,)
    assert env.observation_space["pixels"]["wrist"].shape == (64, 64, 3)
    assert env.observation_space["agent_pos"].shape == (18,)  # joints, velocities, currents
