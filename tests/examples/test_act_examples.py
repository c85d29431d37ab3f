"""examples/train_act_pickcube.py and examples/eval_on_twin_and_emulated_arm.py, quick settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policies"))


def _run(script, *args, timeout=900):
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_train_act_pickcube_records_trains_and_evaluates(tmp_path):
    stdout = _run(
        "train_act_pickcube.py", "--demos=2", "--steps=4", "--episodes=2",
        f"--output_dir={tmp_path}",
    )  # fmt: skip
    assert "ACT success " in stdout and "/2 = " in stdout and "95% interval" in stdout
    checkpoint = tmp_path / "act" / "checkpoints" / "000004" / "pretrained_model"
    assert f"checkpoint: {checkpoint}" in stdout
    assert (checkpoint / "model.safetensors").is_file()
    assert (tmp_path / "demos" / "meta" / "info.json").is_file()


def test_eval_on_twin_and_emulated_arm_side_by_side(tmp_path):
    from policy_helpers import features, random_stats

    from lerobot_gym.policies.act import ACTPolicy
    from lerobot_gym.policies.config import ACTConfig

    # A tiny Reach policy (joints + target in, joint targets out) with untrained weights: the
    # example's job here is to run it through both backends, not to succeed.
    inputs, outputs = features(state=6, env_state=3)
    config = ACTConfig(input_features=inputs, output_features=outputs, chunk_size=4,
                       n_action_steps=4, dim_model=16, n_heads=2, dim_feedforward=32,
                       n_encoder_layers=1, n_vae_encoder_layers=1)  # fmt: skip
    ACTPolicy(config, stats=random_stats(inputs, outputs)).save(tmp_path / "policy")
    stdout = _run(
        "eval_on_twin_and_emulated_arm.py", f"--policy_path={tmp_path / 'policy'}",
        "--episodes=1", f"--output_dir={tmp_path / 'out'}",
    )  # fmt: skip
    lines = stdout.splitlines()
    assert lines[0].split() == ["success", "95%", "interval", "avg", "return", "s/episode"]
    assert lines[1].startswith("twin ") and lines[2].startswith("emulated arm ")
    twin_return, emulated_return = float(lines[1].split()[-2]), float(lines[2].split()[-2])
    assert twin_return > 0 and emulated_return > 0  # both ran their 100 steps of dense reward
    assert (tmp_path / "out" / "twin_vs_emulated.png").read_bytes()[:4] == b"\x89PNG"
