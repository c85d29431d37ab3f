"""``lerobot-gym demo-score``: bad input is a typed error naming the flag; a tiny run end to end.

A tiny run (a few training steps) cannot make a base policy that both succeeds and fails, so
the end-to-end run here goes through recording, training and rollouts of two checkpoints and
stops, as it must, at the classifier with the error that names the fix. The classifier,
scoring and filtering on their own are in ``tests/policies/test_demo_score.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from lerobot_gym.cli.main import main

TINY_ACT = [
    "--policy.dim_model=16",
    "--policy.n_heads=2",
    "--policy.dim_feedforward=32",
    "--policy.n_encoder_layers=1",
    "--policy.n_decoder_layers=1",
    "--policy.n_vae_encoder_layers=1",
    "--policy.latent_dim=4",
    "--policy.chunk_size=5",
    "--policy.n_action_steps=5",
]


def test_missing_dataset_names_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        [
            "demo-score",
            f"--dataset.root={tmp_path / 'absent'}",
            "--env.id=SO101-Reach-v0",
            f"--output_dir={tmp_path / 'out'}",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert f"--dataset.root={tmp_path / 'absent'}" in err and "--demos.generate" in err


def test_no_dataset_at_all_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["demo-score", "--env.id=SO101-Reach-v0", f"--output_dir={tmp_path}"])
    assert code == 2
    assert "--dataset.root is required" in capsys.readouterr().err


def test_unknown_env_names_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["demo-score", "--env.id=SO101-Nope-v0", "--demos.generate=2"]) == 2
    assert "--env.id" in capsys.readouterr().err


def test_tiny_run_stops_at_the_classifier_naming_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "demo-score",
            "--env.id=SO101-Reach-v0",
            "--demos.generate=4",
            "--demos.bad_fraction=0.5",
            f"--output_dir={out}",
            "--steps=4",
            "--batch_size=4",
            "--n_checkpoints=2",
            "--rollouts_per_checkpoint=2",
            "--num_threads=1",
            *TINY_ACT,
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    # Four steps of training reach no target: every rollout fails, and the error says what
    # to change rather than training a classifier on one class.
    assert "all 4 rollouts of the base policy failed" in captured.err
    assert "--steps" in captured.err
    assert "checkpoint 2: 0/2 successful" in captured.out
    assert "checkpoint 4: 0/2 successful" in captured.out
    assert "corrupted: [" in captured.out
    assert (out / "demos" / "meta" / "info.json").is_file()
    assert (out / "base" / "checkpoints" / "000004" / "pretrained_model").is_dir()
    assert not (out / "demo_score_report.json").exists()
    rollouts = np.load(out / "rollouts.npz")
    assert rollouts["success"].tolist() == [False] * 4
    assert rollouts["checkpoint"].tolist() == [2, 2, 4, 4]
    assert rollouts["features"].shape == (rollouts["lengths"].sum(), 9)
    # The generated demos are there to be scored again with the flags the error names.
    info = json.loads((out / "demos" / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 4
