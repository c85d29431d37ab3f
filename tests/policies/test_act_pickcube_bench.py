"""benchmarks/act_pickcube.py --quick runs end to end and prints its figures last."""

from __future__ import annotations

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

    def lr(step):
        config = json.loads((checkpoints / step / "pretrained_model" / "config.json").read_text())
        return config["optimizer_lr"]

    assert lr("000006") == pytest.approx(lr("000002") / 10)  # 000004 is rescaled in place
