"""Learning-rate schedules: LeRobot's formulas at chosen steps, resume, flags, errors, logging."""

from __future__ import annotations

import csv
import math
import sys
import types

import pytest
import torch
from policy_helpers import TINY_ACT, TINY_DIFFUSION

from lerobot_gym.cli.main import main
from lerobot_gym.errors import ConfigError
from lerobot_gym.policies.lr_schedulers import scheduler_config, scheduler_preset
from lerobot_gym.policies.training import TrainConfig, train


def _factor(flags, total, base_lr=1e-3):
    return scheduler_config(flags).factor(total, base_lr)


def _cos(progress):  # half a cosine from 1 to 0
    return 0.5 * (1 + math.cos(math.pi * progress))


# (flags, run steps, {step: expected factor}), each written from the formula by hand.
CASES = [
    ({"type": "diffuser", "name": "cosine", "num_warmup_steps": 500}, 5000,
     {0: 0.0, 250: 0.5, 500: 1.0, 2750: 0.5, 1625: _cos(0.25), 5000: 0.0,
      6000: _cos(5500 / 4500)}),  # past the end diffusers' cosine rises again
    ({"type": "diffuser", "name": "linear", "num_warmup_steps": 10}, 110,
     {5: 0.5, 10: 1.0, 60: 0.5, 110: 0.0, 200: 0.0}),
    ({"type": "diffuser", "name": "constant"}, 100, {0: 1.0, 99: 1.0}),
    ({"type": "diffuser", "name": "constant_with_warmup", "num_warmup_steps": 4}, 100,
     {0: 0.0, 2: 0.5, 4: 1.0, 90: 1.0}),
    ({"type": "diffuser", "name": "cosine_with_restarts", "num_warmup_steps": 10}, 110,
     {5: 0.5, 35: _cos(0.25), 60: 0.5, 110: 0.0}),
    ({"type": "diffuser", "name": "polynomial", "num_warmup_steps": 0}, 100,
     {0: 1.0, 50: ((1e-3 - 1e-7) * 0.5 + 1e-7) / 1e-3, 100: 1e-4, 150: 1e-4}),
    ({"type": "cosine_decay_with_warmup", "num_warmup_steps": 10, "num_decay_steps": 100,
      "peak_lr": 1e-3, "decay_lr": 1e-4}, 1000,
     {0: 1 / 11, 5: (1 / 11 - 1) * 0.5 + 1, 10: 0.9 * _cos(0.1) + 0.1,
      50: 0.9 * 0.5 + 0.1, 100: 0.1, 500: 0.1}),
    # A run shorter than num_decay_steps: warm-up 10 -> 5, decay 100 -> 50 (LeRobot's scaling).
    ({"type": "cosine_decay_with_warmup", "num_warmup_steps": 10, "num_decay_steps": 100,
      "decay_lr": 1e-4}, 50,
     {0: 1 / 6, 5: 0.9 * _cos(0.1) + 0.1, 25: 0.55, 50: 0.1}),
    ({"type": "vqbet", "num_warmup_steps": 10, "num_vqvae_training_steps": 20}, 120,
     {0: 1.0, 19: 1.0, 20: 0.0, 25: 0.5, 30: 1.0, 85: 0.5, 140: 0.0}),
    ({"type": "multistep", "milestones": [10, 20], "gamma": 0.1}, 30,
     {0: 1.0, 9: 1.0, 10: 0.1, 19: 0.1, 20: 0.01, 29: 0.01}),
    ({"type": "multistep", "milestones": [6], "gamma": 0.5, "num_warmup_steps": 4}, 30,
     {0: 0.0, 2: 0.5, 4: 1.0, 6: 0.5}),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "total", "expected"), CASES)
def test_factor_matches_the_formula_at_chosen_steps(flags, total, expected):
    fn = _factor(flags, total)
    for step, value in expected.items():
        assert fn(step) == pytest.approx(value, rel=1e-9, abs=1e-12), (flags, step)


def test_optimizer_step_k_runs_at_the_rate_of_step_k_minus_1():
    # The benchmark's recipe: 4 steps at 3e-4, then 3e-5 (milestone 4).
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=3e-4)
    flags = {"type": "multistep", "milestones": [4], "gamma": 0.1}
    scheduler = scheduler_config(flags).build(optimizer, 6)
    used = []
    for _ in range(6):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert used == pytest.approx([3e-4] * 4 + [3e-5] * 2)
    assert scheduler.state_dict()["lr_lambdas"] == [None]  # the schedule is not state


def test_presets_follow_lerobot():
    from lerobot_gym.policies.config import ACTConfig, DiffusionConfig

    preset = scheduler_preset(DiffusionConfig())
    assert preset.to_dict() == {"type": "diffuser", "name": "cosine", "num_warmup_steps": 500}
    assert scheduler_preset(ACTConfig()) is None
    # --policy.scheduler_name / --policy.scheduler_warmup_steps feed the preset, as in LeRobot.
    linear = scheduler_preset(DiffusionConfig(scheduler_name="linear", scheduler_warmup_steps=3))
    assert linear.to_dict() == {"type": "diffuser", "name": "linear", "num_warmup_steps": 3}
    with pytest.raises(ConfigError, match=r"--policy.scheduler_warmup_steps must be >= 0"):
        scheduler_preset(DiffusionConfig(scheduler_warmup_steps=-1))
    with pytest.raises(ConfigError, match=r"--policy.scheduler_name=cosin is not"):
        scheduler_preset(DiffusionConfig(scheduler_name="cosin"))


def test_one_milestone_may_be_given_without_brackets():
    assert scheduler_config({"type": "multistep", "milestones": 10000}).milestones == (10000,)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"type": "cosine"}, r"--scheduler.type=cosine is not a learning-rate schedule"),
        ({"gamma": 0.1}, r"--scheduler.gamma needs --scheduler.type"),
        ({"type": "multistep", "milestones": [10, 10]}, r"--scheduler.milestones must be strictly"),
        ({"type": "multistep", "milestones": [20, 10]}, r"--scheduler.milestones must be strictly"),
        ({"type": "multistep"}, r"--scheduler.type=multistep needs --scheduler.milestones"),
        ({"type": "multistep", "milestones": [0]}, r"--scheduler.milestones must be >= 1"),
        ({"type": "multistep", "milestones": [5], "gamma": 0}, r"--scheduler.gamma must be > 0"),
        ({"type": "multistep", "milestones": [5.5]}, r"--scheduler.milestones must be a whole"),
        ({"type": "multistep", "milestones": [5], "num_warmup_steps": -1},
         r"--scheduler.num_warmup_steps must be >= 0, not -1"),
        ({"type": "diffuser", "num_warmup_steps": -5},
         r"--scheduler.num_warmup_steps must be >= 0"),
        ({"type": "diffuser", "name": "cosine"}, r"needs --scheduler.num_warmup_steps"),
        ({"type": "diffuser", "name": "cosnie", "num_warmup_steps": 1}, r"--scheduler.name=cosnie"),
        ({"type": "diffuser", "name": "piecewise_constant"}, r"--scheduler.type=multistep"),
        ({"type": "diffuser", "milestones": [3]}, r"--scheduler.milestones is not a field of"),
        ({"type": "cosine_decay_with_warmup", "num_warmup_steps": 1, "num_decay_steps": 0,
          "decay_lr": 0.0}, r"--scheduler.num_decay_steps must be >= 1"),
        ({"type": "cosine_decay_with_warmup", "num_warmup_steps": 1, "num_decay_steps": 9},
         r"needs --scheduler.decay_lr"),
        ({"type": "vqbet", "num_warmup_steps": 1, "num_vqvae_training_steps": "x"},
         r"--scheduler.num_vqvae_training_steps must be a whole number"),
    ],
)  # fmt: skip
def test_bad_flags_are_config_errors_naming_the_flag(flags, message):
    with pytest.raises(ConfigError, match=message):
        scheduler_config(flags)


def test_a_peak_lr_that_is_not_the_optimizer_rate_is_refused():
    flags = {"type": "cosine_decay_with_warmup", "num_warmup_steps": 1, "num_decay_steps": 9,
             "decay_lr": 1e-5, "peak_lr": 1e-3}  # fmt: skip
    assert _factor(flags, 10, base_lr=1e-3)(9) == pytest.approx(0.01)
    with pytest.raises(ConfigError, match=r"--scheduler.peak_lr=0.001 differs .*optimizer_lr"):
        _factor(flags, 10, base_lr=3e-4)


def _lrs(out):
    """``step -> lr`` from train_log.csv; a step logged twice (a crash, then resume) keeps the
    later row."""
    with (out / "train_log.csv").open() as handle:
        return {int(float(r["step"])): float(r["lr"]) for r in csv.DictReader(handle)}


class _Crash(Exception):
    pass


def _crash_at(step):
    def progress(report):
        if report.step == step:
            raise _Crash

    return progress


@pytest.mark.parametrize(
    ("kind", "options", "scheduler"),
    [
        ("act", TINY_ACT, {"type": "multistep", "milestones": [4], "gamma": 0.1}),
        ("diffusion", TINY_DIFFUSION, None),  # the preset: cosine after 2 warm-up steps
        ("act", TINY_ACT, {"type": "diffuser", "name": "linear", "num_warmup_steps": 3}),
    ],
)
def test_a_resumed_run_has_the_lr_sequence_of_an_uninterrupted_one(
    state_dataset, tmp_path, kind, options, scheduler
):
    def cfg(out):
        return TrainConfig(kind, state_dataset, out, steps=8, batch_size=4, save_freq=3,
                           log_freq=1, seed=0, policy_options=options,
                           scheduler=scheduler)  # fmt: skip

    train(cfg(tmp_path / "whole"))
    whole = _lrs(tmp_path / "whole")
    with pytest.raises(_Crash):  # dies at step 5: the last checkpoint is step 3
        train(cfg(tmp_path / "cut"), progress=_crash_at(5))
    # Resumed without the scheduler flags: the run's own schedule comes from its checkpoint.
    train(TrainConfig(kind, state_dataset, tmp_path / "cut", steps=8, batch_size=4, save_freq=3,
                      log_freq=1, seed=0, resume=True))  # fmt: skip
    assert _lrs(tmp_path / "cut") == pytest.approx(whole, rel=1e-12)
    assert len(set(whole.values())) > 1  # the rate did change along the run
    expected = scheduler_config(scheduler) or scheduler_preset(_config(tmp_path / "whole"))
    fn = expected.factor(8, options["optimizer_lr"])
    # The rate logged after step s is the one step s + 1 runs at.
    assert whole == pytest.approx({s: options["optimizer_lr"] * fn(s) for s in range(1, 9)})


def _config(out):
    from lerobot_gym.policies.config import read_config

    return read_config(out / "checkpoints" / "last" / "pretrained_model")


def test_the_two_phase_recipe_as_a_resume_with_a_new_schedule(state_dataset, tmp_path):
    # A constant-rate ACT run, resumed with a milestone at the step it stopped: the old
    # benchmark's second phase, without editing the checkpoint.
    base = dict(batch_size=4, save_freq=3, log_freq=1, seed=0)
    train(TrainConfig("act", state_dataset, tmp_path, steps=3, policy_options=TINY_ACT, **base))
    flags = {"type": "multistep", "milestones": [3], "gamma": 0.1}
    train(TrainConfig("act", state_dataset, tmp_path, steps=6, resume=True, scheduler=flags,
                      **base))  # fmt: skip
    assert _lrs(tmp_path) == pytest.approx({1: 1e-3, 2: 1e-3, 3: 1e-3, 4: 1e-4, 5: 1e-4, 6: 1e-4})


def test_lr_reaches_tensorboard_beside_the_loss(state_dataset, tmp_path, monkeypatch):
    # tensorboard is optional and not installed here: a recording SummaryWriter stands in for
    # torch.utils.tensorboard's, to check what the training loop hands it.
    scalars = []

    class Writer:
        def __init__(self, log_dir):
            self.log_dir = log_dir

        def add_scalar(self, key, value, step):
            scalars.append((key, step, value))

        def close(self):
            pass

    monkeypatch.setitem(
        sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=Writer)
    )
    flags = {"type": "multistep", "milestones": [2], "gamma": 0.5}
    train(TrainConfig("act", state_dataset, tmp_path, steps=3, batch_size=4, save_freq=3,
                      log_freq=1, seed=0, policy_options=TINY_ACT, scheduler=flags))  # fmt: skip
    lr = {step: value for key, step, value in scalars if key == "train/lr"}
    loss = {step for key, step, _ in scalars if key == "train/loss"}
    assert lr == pytest.approx({1: 1e-3, 2: 5e-4, 3: 5e-4}) and loss == {1, 2, 3}


def test_cli_scheduler_flags(state_dataset, tmp_path, capsys):
    import json

    out = tmp_path / "run"
    args = ["train", "--policy.type=act", f"--dataset.root={state_dataset}", f"--output_dir={out}",
            "--steps=3", "--batch_size=4", "--save_freq=3", "--log_freq=1", "--policy.device=cpu",
            *[f"--policy.{k}={v}" for k, v in TINY_ACT.items()]]  # fmt: skip
    assert main([*args, "--scheduler.type=multistep", "--scheduler.milestones=[1,2]",
                 "--scheduler.gamma=0.5"]) == 0  # fmt: skip
    assert _lrs(out) == pytest.approx({1: 5e-4, 2: 2.5e-4, 3: 2.5e-4})
    saved = out / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    assert json.loads(saved.read_text())["scheduler"] == {
        "type": "multistep", "milestones": [1, 2], "gamma": 0.5, "num_warmup_steps": 0,
    }  # fmt: skip
    capsys.readouterr()
    assert main([*args, "--scheduler.type=step"]) == 1
    assert "--scheduler.type=step is not a learning-rate schedule" in capsys.readouterr().err
    assert main([*args, "--scheduler.type=multistep", "--scheduler.milestones=[3,2]"]) == 1
    assert "--scheduler.milestones must be strictly increasing" in capsys.readouterr().err
