"""benchmarks/act_pickcube.py --quick runs end to end and prints its figures last."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "act_pickcube.py"


def test_quick_state_run_prints_success_curve_and_times_last_and_lowers_act_lr(tmp_path):
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--policies=act", "--act_steps=4", "--saves=2",
         "--act_finetune_steps=2", f"--output_dir={tmp_path}"],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-4].startswith("recorded 4 scripted demos (state observations)")
    assert "load average" in lines[-4]
    assert lines[-3] == "anchor: scripted success 2/2 = 1.00"
    assert lines[-2].startswith("act (state): success ") and "95% CI" in lines[-2]
    assert "s CPU" in lines[-2] and "samples/s" in lines[-2]
    # one curve point per checkpoint, each evaluated inside the training loop, the low-rate
    # phase's included
    assert lines[-1].count("step ") == 3 and "step 6 (" in lines[-1]
    checkpoints = tmp_path / "act" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["000002", "000004", "000006", "last"]

    # One run: steps 1-4 at ACT's rate, 5-6 (the low-rate phase) at a tenth of it. The rate
    # logged after step s is the one step s + 1 runs at.
    with (tmp_path / "act" / "train_log.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["lr"]]  # not the evaluation rows
    lrs = {int(float(r["step"])): float(r["lr"]) for r in rows}
    assert lrs == pytest.approx({1: 3e-4, 2: 3e-4, 3: 3e-4, 4: 3e-5, 5: 3e-5, 6: 3e-5})
    config = checkpoints / "last" / "pretrained_model" / "train_config.json"
    saved = json.loads(config.read_text())
    assert saved["scheduler"]["type"] == "multistep" and saved["scheduler"]["milestones"] == [4]
