"""Crash safety: SIGKILL a recording process at random moments, >= 20 times.

After every kill, each episode whose ``save_episode`` had returned (the child acknowledges it
in a file) must load through the reader with its exact values and decodable video, *before*
any repair, and so must any episode committed just before the kill; then the next child
resumes and continues with contiguous indices. Of every four kills, one lands a random time
into start-up or resume, one in the first episode after it, and two after the child saved 1 or
2 more episodes (counted in its acknowledgements, not in wall time, so a loaded machine that
records slowly is killed at the same points of the recording); each then waits a random
moment more, to land mid-episode or mid-save.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from dataset_synth import frame, image

from lerobot_gym.dataset import DatasetMeta, LeRobotDataset, LeRobotDatasetWriter, validate

CHILD = Path(__file__).resolve().parent / "dataset_crash_child.py"
TRIALS = 20
WAIT_S = 120.0  # bound on waiting for the child to get somewhere (a hang, not a latency check)


def _wait_until(condition, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the recording child made no progress"
        time.sleep(0.005)


def _acked(ack: Path) -> list[tuple[int, int]]:
    if not ack.exists():
        return []
    lines = [ln.split() for ln in ack.read_text().splitlines() if ln.strip()]
    return [(int(a), int(b)) for a, b in lines]


def _check_committed(root: Path, acked: list[tuple[int, int]]) -> None:
    """Every acknowledged episode is there; every committed episode is intact."""
    if not acked and not (root / "meta/episodes").exists():
        return
    ds = LeRobotDataset(root, format="numpy")
    assert ds.num_episodes >= (acked[-1][0] + 1 if acked else 0)
    lengths = dict(acked)
    for ep in ds.episodes:
        n = 6 + ep % 5  # the child's episode lengths
        assert lengths.get(ep, n) == n
        lo, hi = ds.episode_range(ep)
        assert hi - lo == n, f"episode {ep}"
        for i in (0, n - 1):
            item = ds[lo + i]
            want = frame(ep, i, n, ("front", "wrist"), 64, 64)
            np.testing.assert_array_equal(item["observation.state"], want["observation.state"])
            assert int(item["episode_index"]) == ep
            for c, cam in enumerate(("front", "wrist")):
                got = item[f"observation.images.{cam}"]
                ref = image(ep, i, c, 64, 64).transpose(2, 0, 1) / 255.0
                assert abs(got.mean() - ref.mean()) < 2.5 / 255, (ep, i, cam)
    ds.close()


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    root, ack = tmp_path / "ds", tmp_path / "ack.txt"
    rng = np.random.default_rng(1234)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")])),
    )
    env["SVT_LOG"] = "1"  # keep SVT-AV1's banner out of the test output
    kills_after_ack = 0
    for trial in range(TRIALS):
        before = len(_acked(ack))
        ready = tmp_path / f"ready-{trial}"
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(root), str(ack), str(ready)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if trial % 4 == 3:  # during imports, create() or resume()'s repair
            deadline = time.monotonic() + rng.uniform(0.2, 1.5)
        else:  # after 0 (one trial in four) or 1-2 more saved episodes, then into the next
            more = 0 if trial % 4 == 0 else int(rng.integers(1, 3))
            _wait_until(ready.exists, child)
            _wait_until(lambda: len(_acked(ack)) >= before + more, child)  # noqa: B023
            deadline = time.monotonic() + rng.uniform(0.0, 0.3)
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stderr.close()
        acked = _acked(ack)
        kills_after_ack += len(acked) > before
        # An episode may be committed but unacknowledged (killed between the two), so
        # acknowledged indices only increase; the dataset itself must be contiguous.
        eps = [ep for ep, _ in acked]
        assert eps == sorted(set(eps)), f"trial {trial}: {eps}"
        _check_committed(root, acked)
    assert kills_after_ack >= TRIALS // 2, "half the kills land after some saved episodes"

    # A final resume repairs whatever the last kill left and continues contiguously.
    acked = _acked(ack)
    from dataset_synth import FPS, features

    with LeRobotDatasetWriter.resume(
        root, fps=FPS, features=features(("front", "wrist"), 64, 64)
    ) as w:
        committed = w.num_episodes
        assert committed >= len(acked)
    assert validate(root) == []
    meta = DatasetMeta.load(root)
    assert [e["episode_index"] for e in meta.episodes] == list(range(committed))
    assert not (root / ".staging").exists()
    assert not [p for p in root.rglob("*.tmp")]
