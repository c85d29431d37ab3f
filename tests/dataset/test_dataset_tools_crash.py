"""Crash safety of the dataset tools: SIGKILL ``merge`` and ``delete-episodes`` at random moments.

After every kill the inputs are untouched (byte for byte) and the output is either absent or
a complete dataset that validates and reads back the right frames; for an in-place delete the
dataset is at every instant the old or the new one. A rerun after a kill is never blocked by
what the killed run left. Each mode is first timed once to completion, then killed at
uniformly random moments over that duration (a little past it, so some runs finish).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from dataset_synth import FPS, features, frame

from lerobot_gym.dataset import DatasetMeta, LeRobotDataset, LeRobotDatasetWriter, validate

CHILD = Path(__file__).resolve().parent / "dataset_tools_crash_child.py"
CAMS = ("front", "wrist")
LENGTHS = [5, 7, 6, 4, 8, 5, 6, 7]
KILLS_PER_MODE = 8


def _make(root: Path, first_ep: int) -> None:
    with LeRobotDatasetWriter.create(
        root,
        repo_id="t/tools",
        fps=FPS,
        features=features(CAMS, 32, 32),
        vcodec="h264",
        data_files_size_in_mb=0.002,  # many data files: many steps to be killed between
        fsync=False,
    ) as w:
        for k, n in enumerate(LENGTHS):
            for i in range(n):
                w.add_frame(frame(first_ep + k, i, n, CAMS, 32, 32), task=f"task {k % 3}")
            w.save_episode()


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _assert_complete(root: Path, source_eps: list[int]) -> None:
    """A sound dataset holding the source episodes ``source_eps`` (first frames checked)."""
    assert validate(root) == [], root
    meta = DatasetMeta.load(root)
    assert meta.num_episodes == len(source_eps)
    ds = LeRobotDataset(root, format="numpy")
    try:
        for new, src in enumerate(source_eps):
            lo, hi = ds.episode_range(new)
            n = LENGTHS[src % 100]
            assert hi - lo == n
            want = frame(src, n - 1, n, CAMS, 32, 32)["observation.state"]
            np.testing.assert_array_equal(ds[hi - 1]["observation.state"], want)
    finally:
        ds.close()


def _run(argv: list[str], ready: Path, kill_after_s: float | None) -> bool:
    """Run the child; kill it ``kill_after_s`` after it is ready. True if it finished."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")])),
    )
    child = subprocess.Popen(
        [sys.executable, str(CHILD), argv[0], str(ready), *argv[1:]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    start = time.monotonic()
    while not ready.exists() and child.poll() is None and time.monotonic() - start < 120:
        time.sleep(0.002)
    if kill_after_s is not None:
        deadline = time.monotonic() + kill_after_s
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.002)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
    _, err = child.communicate()
    ready.unlink(missing_ok=True)
    if child.returncode == 0:
        return True
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]
    return False


def _duration(argv: list[str], ready: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(Path.cwd()))
    done = subprocess.run(
        [sys.executable, str(CHILD), argv[0], str(ready), *argv[1:]],
        env=env,
        capture_output=True,
        check=True,
    )
    ready.unlink(missing_ok=True)
    return float(done.stdout.decode().strip())


def _staging_of(out: Path) -> list[Path]:
    return list(out.parent.glob(f".{out.name}.*"))


@pytest.mark.slow
def test_sigkill_during_merge(tmp_path: Path) -> None:
    a, b, out, ready = tmp_path / "a", tmp_path / "b", tmp_path / "out", tmp_path / "ready"
    _make(a, 0)
    _make(b, 100)
    inputs = {p: _snapshot(p) for p in (a, b)}
    argv = ["merge", str(out), str(a), str(b)]
    rng = np.random.default_rng(7)
    duration = _duration(argv, ready)
    _assert_complete(out, [*range(8), *range(100, 108)])
    shutil.rmtree(out)
    finished = 0
    for _ in range(KILLS_PER_MODE):
        finished += _run(argv, ready, rng.uniform(0.0, 1.2 * duration))
        assert {p: _snapshot(p) for p in (a, b)} == inputs
        if out.exists():
            _assert_complete(out, [*range(8), *range(100, 108)])
            shutil.rmtree(out)
    assert finished < KILLS_PER_MODE, "no kill landed inside the merge"
    assert _run(argv, ready, None)  # the rerun is not blocked, and clears what was left
    assert not _staging_of(out)
    _assert_complete(out, [*range(8), *range(100, 108)])


@pytest.mark.slow
@pytest.mark.parametrize("in_place", [True, False], ids=["in_place", "to_output"])
def test_sigkill_during_delete_episodes(tmp_path: Path, in_place: bool) -> None:
    pristine, root = tmp_path / "pristine", tmp_path / "ds"
    out, ready = tmp_path / "out", tmp_path / "ready"
    _make(pristine, 0)
    old = _snapshot(pristine)
    kept = [0, *range(2, 8)]
    argv = ["delete", str(root)] if in_place else ["delete-to", str(root), str(out)]
    target = root if in_place else out
    rng = np.random.default_rng(11)
    shutil.copytree(pristine, root)
    duration = _duration(argv, ready)
    _assert_complete(target, kept)
    finished = 0
    for _ in range(KILLS_PER_MODE):
        shutil.rmtree(root)
        shutil.copytree(pristine, root)
        if out.exists():
            shutil.rmtree(out)
        finished += _run(argv, ready, rng.uniform(0.0, 1.2 * duration))
        if in_place:
            assert root.exists(), "the dataset vanished"
            if _snapshot(root) != old:  # not the old dataset: then the complete new one
                _assert_complete(root, kept)
        else:
            assert _snapshot(root) == old
            if out.exists():
                _assert_complete(out, kept)
    assert finished < KILLS_PER_MODE, "no kill landed inside delete-episodes"
    shutil.rmtree(root)
    shutil.copytree(pristine, root)
    if out.exists():
        shutil.rmtree(out)
    assert _run(argv, ready, None)
    assert not _staging_of(target)
    _assert_complete(target, kept)
