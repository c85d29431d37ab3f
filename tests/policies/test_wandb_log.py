"""Weights & Biases logging in `lerobot-gym train`: only when asked, up to the wandb client.

wandb is an optional extra that this machine does not install, and tests never touch the
network: a stand-in module records what the training loop asks of the client (``init``,
``log``, ``finish``), which is the whole of the contract with it.
"""

from __future__ import annotations

import sys
import types

import pytest
from policy_helpers import TINY_ACT

from lerobot_gym.cli.main import main
from lerobot_gym.errors import ConfigError, MissingExtraError
from lerobot_gym.policies.train_log import TrainLog, WandbSettings
from lerobot_gym.policies.training import TrainConfig, train


class FakeRun:
    def __init__(self, calls, run_id):
        self.calls, self.id = calls, run_id

    def log(self, metrics, step):
        self.calls.append(("log", step, dict(metrics)))

    def finish(self):
        self.calls.append(("finish",))


@pytest.fixture
def fake_wandb(monkeypatch):
    calls = []
    module = types.ModuleType("wandb")

    def init(**kwargs):
        calls.append(("init", kwargs))
        return FakeRun(calls, kwargs.get("id") or "run123")

    module.init = init
    monkeypatch.setitem(sys.modules, "wandb", module)
    return calls


def test_training_logs_to_wandb_when_asked_and_resumes_the_same_run(
    state_dataset, tmp_path, fake_wandb
):
    settings = WandbSettings(project="p", mode="offline", config={"policy": {"type": "act"}})
    cfg = TrainConfig("act", state_dataset, tmp_path, steps=3, batch_size=4, save_freq=3,
                      log_freq=1, seed=0, policy_options=TINY_ACT, wandb=settings)  # fmt: skip
    train(cfg)
    init = fake_wandb[0]
    assert init[0] == "init"
    assert init[1]["project"] == "p" and init[1]["mode"] == "offline"
    assert init[1]["dir"] == str(tmp_path) and init[1]["id"] is None
    assert init[1]["config"] == {"policy": {"type": "act"}}
    logs = [c for c in fake_wandb if c[0] == "log"]
    assert [c[1] for c in logs] == [1, 2, 3]
    assert all("train/loss" in c[2] and "train/l1_loss" in c[2] for c in logs)
    assert fake_wandb[-1] == ("finish",)
    assert (tmp_path / "wandb_run_id").read_text().strip() == "run123"

    fake_wandb.clear()
    resumed = TrainConfig("act", state_dataset, tmp_path, steps=4, batch_size=4, save_freq=4,
                          log_freq=1, seed=0, policy_options=TINY_ACT, wandb=settings,
                          resume=True)  # fmt: skip
    train(resumed)
    assert fake_wandb[0][1]["id"] == "run123" and fake_wandb[0][1]["resume"] == "allow"
    assert [c[1] for c in fake_wandb if c[0] == "log"] == [4]


def test_no_wandb_unless_asked(state_dataset, tmp_path, fake_wandb):
    cfg = TrainConfig("act", state_dataset, tmp_path, steps=2, batch_size=4, save_freq=2,
                      log_freq=1, seed=0, policy_options=TINY_ACT)  # fmt: skip
    train(cfg)
    assert fake_wandb == [] and not (tmp_path / "wandb_run_id").exists()


def test_cli_flags_and_errors(state_dataset, tmp_path, fake_wandb, monkeypatch, capsys):
    argv = ["train", "--policy.type=act", f"--dataset.root={state_dataset}", "--steps=1",
            "--batch_size=4", "--policy.device=cpu", "--wandb.enable=true",
            "--wandb.project=proj", "--wandb.mode=offline",
            *[f"--policy.{k}={v}" for k, v in TINY_ACT.items()]]  # fmt: skip
    assert main([*argv, f"--output_dir={tmp_path / 'a'}"]) == 0
    init = fake_wandb[0][1]
    assert (init["project"], init["mode"]) == ("proj", "offline")
    assert init["config"]["policy"]["type"] == "act" and init["config"]["steps"] == 1

    bad = [a.replace("--wandb.mode=offline", "--wandb.mode=cloud") for a in argv]
    assert main([*bad, f"--output_dir={tmp_path / 'b'}"]) == 2
    assert "--wandb.mode=cloud is not a W&B mode" in capsys.readouterr().err

    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed
    assert main([*argv, f"--output_dir={tmp_path / 'c'}"]) == 1
    err = capsys.readouterr().err
    assert "--wandb.enable=true" in err and "lerobot-gym[wandb]" in err
    with pytest.raises(MissingExtraError):
        TrainLog(tmp_path / "d", wandb=WandbSettings())
    with pytest.raises(ConfigError):
        WandbSettings(mode="cloud")
