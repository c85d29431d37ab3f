"""Crash safety of `dataset convert`: SIGKILL at random moments of a v2.1 -> v3.0 conversion.

After every kill the input is byte-for-byte what it was, and the output is either absent or
complete: byte-for-byte the output of an uninterrupted conversion (the conversion is
deterministic), which itself reads back equal to the input. The staging folder a killed
conversion leaves beside the output is removed by the next conversion, and only then.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from v21_synth import write_v21

from lerobot_gym.dataset import LeRobotDataset, validate

CHILD = Path(__file__).resolve().parent / "dataset_v21_convert_child.py"
TRIALS = 16


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _start(src: Path, out: Path, ready: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")])),
    )
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(src), str(out), str(ready)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_ready(child: subprocess.Popen, ready: Path) -> float:
    start = time.monotonic()
    while not ready.exists() and child.poll() is None and time.monotonic() - start < 120:
        time.sleep(0.002)
    assert ready.exists(), child.stderr.read().decode()[-2000:]
    return time.monotonic()


@pytest.mark.slow
def test_sigkill_during_convert(tmp_path: Path) -> None:
    src = write_v21(tmp_path / "v21", tuple(20 + 3 * i for i in range(8)), ("front", "wrist"))
    source = _digest(src)
    out = tmp_path / "v30"

    # An uninterrupted conversion: the reference output, and how long one takes here, now.
    child = _start(src, tmp_path / "reference", tmp_path / "ready-ref")
    began = _wait_ready(child, tmp_path / "ready-ref")
    assert child.wait() == 0, child.stderr.read().decode()[-2000:]
    duration = time.monotonic() - began
    child.stderr.close()
    reference = _digest(tmp_path / "reference")
    assert validate(tmp_path / "reference") == []
    a, b = (
        LeRobotDataset(src, format="numpy"),
        LeRobotDataset(tmp_path / "reference", format="numpy"),
    )
    for i in range(0, len(a), 7):
        for key, value in a[i].items():
            np.testing.assert_array_equal(np.asarray(b[i][key]), np.asarray(value), err_msg=key)

    rng = np.random.default_rng(21)
    outcomes = {"absent": 0, "complete": 0}
    for trial in range(TRIALS):
        ready = tmp_path / f"ready-{trial}"
        child = _start(src, out, ready)
        began = _wait_ready(child, ready)
        deadline = began + rng.uniform(0.0, 1.1 * duration)
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.001)
        child.kill()
        child.wait()
        stderr = child.stderr.read().decode()
        child.stderr.close()
        assert child.returncode in (0, -9), stderr[-2000:]
        assert _digest(src) == source, f"trial {trial}: the input changed"
        if out.exists():
            assert _digest(out) == reference, f"trial {trial}: a partial output"
            outcomes["complete"] += 1
            shutil.rmtree(out)  # the test's cleanup, so the next trial converts again
        else:
            outcomes["absent"] += 1
    assert outcomes["absent"] >= TRIALS // 4, outcomes  # most kills land mid-conversion

    # A last conversion removes the staging folders of the killed ones and completes.
    child = _start(src, out, tmp_path / "ready-last")
    assert child.wait() == 0, child.stderr.read().decode()[-2000:]
    child.stderr.close()
    assert _digest(out) == reference
    assert not list(tmp_path.glob(".v30.staging-*"))
