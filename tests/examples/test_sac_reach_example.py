"""examples/sac_reach.py runs end to end with tiny settings and saves an evaluable policy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sac_reach.py"


def test_sac_reach_example_trains_saves_and_evaluates(tmp_path):
    out = tmp_path / "policy"
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--steps=120", "--episodes=1", f"--output_dir={out}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "success rate" in proc.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["algorithm"] == "sac" and len(config["obs_norm"]["mean"]) == 9
    assert (out / "model.zip").is_file()
