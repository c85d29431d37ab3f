"""Shared plumbing of the LeRobot interoperability tests (main venv side).

Owns: running ``lerobot_side.py`` in the compat venv and loading its dumps, reading a dataset
with our reader into the same shape of dump, writing a ``compat_synthetic.Spec`` with our
writer (new or resumed), and the assertions every direction shares (values, bookkeeping
columns, features, decoded frames against what was written).

Design decisions:
- LeRobot runs in a subprocess of its own venv; the two sides exchange only files (datasets,
  ``.npz`` arrays and ``.json`` metadata), so neither venv needs the other's packages.
- Assertions compare against ``compat_synthetic``, which both sides regenerate
  deterministically, never against the other reader's output alone: two readers agreeing on a
  wrong value would otherwise pass.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import compat_synthetic as synth
import numpy as np
import pytest

COMPAT_DIR = Path(__file__).resolve().parent
REPO_ROOT = COMPAT_DIR.parents[1]
LEROBOT_SIDE = COMPAT_DIR / "lerobot_side.py"
COMPAT_PYTHON = os.environ.get("LEROBOT_COMPAT_PYTHON", "")

# Every compat test module sets ``pytestmark = COMPAT_MARKS``: skipped in a plain pytest run,
# failing (never skipping) when the variable is set but the venv is broken.
COMPAT_MARKS = [
    pytest.mark.compat,
    pytest.mark.skipif(
        not COMPAT_PYTHON,
        reason="LEROBOT_COMPAT_PYTHON is not set; run `make test-compat` to build LeRobot's venv",
    ),
]

# Codec error budget, in uint8 levels. Measured with libsvtav1 crf 30 on these frames: mean
# absolute error per frame 2.3 on average, 2.8 at worst; a neighbouring frame is about 18 away.
MAX_FRAME_MAE = 6.0
# Two readers decoding the same file with the same library must agree to a rounding step.
MAX_DECODER_DIFF = 1

Dump = tuple[dict[str, Any], dict[str, np.ndarray]]


def _compat_python() -> Path:
    path = Path(COMPAT_PYTHON)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        pytest.fail(
            f"LEROBOT_COMPAT_PYTHON={COMPAT_PYTHON!r} does not exist; run `make test-compat`"
        )
    return path


def run_lerobot(*args: str | Path | int, home: Path) -> None:
    """Run ``lerobot_side.py`` in the compat venv; fail the test with its stderr on error."""
    env = dict(os.environ, HF_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONHASHSEED="0")
    proc = subprocess.run(
        [str(_compat_python()), str(LEROBOT_SIDE), *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"lerobot_side.py {' '.join(map(str, args))} exited with {proc.returncode}:\n"
            f"{proc.stderr[-4000:]}"
        )


def load_dump(out: Path) -> Dump:
    """Load what ``lerobot_side.py read`` wrote: (metadata, column arrays)."""
    meta = json.loads(out.with_suffix(".json").read_text())
    with np.load(out) as npz:
        columns = {key: npz[key] for key in npz.files}
    return meta, columns


def lerobot_read(root: Path, tmp: Path, spec: synth.Spec = synth.BASIC) -> Dump:
    """LeRobot's view of the dataset at ``root``: (metadata, column arrays)."""
    out = tmp / "lerobot_read.npz"
    run_lerobot("read", root, out, "--spec", spec.name, home=tmp / "hf_home")
    return load_dump(out)


def our_read(root: Path, **kwargs: Any) -> tuple[Any, dict[str, np.ndarray], list[str]]:
    """Our reader's view of ``root``: (meta, column arrays with cameras as uint8 CHW, tasks).

    ``kwargs`` go to our ``LeRobotDataset`` (``episodes``, ``delta_timestamps``).
    """
    from lerobot_gym.dataset import LeRobotDataset

    dataset = LeRobotDataset(root, **kwargs)
    columns: dict[str, list[np.ndarray]] = {}
    tasks = []
    try:
        for i in range(len(dataset)):
            item = dataset[i]
            tasks.append(item.pop("task"))
            for key, value in item.items():
                array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
                if key in dataset.meta.camera_keys:
                    assert array.dtype == np.float32 and array.min() >= 0 and array.max() <= 1
                    array = np.rint(array * 255).astype(np.uint8)
                columns.setdefault(key, []).append(array)
    finally:
        dataset.close()
    return dataset.meta, {k: np.stack(v) for k, v in columns.items()}, tasks


def write_ours(
    root: Path,
    spec: synth.Spec,
    episodes: Sequence[int],
    *,
    resume: bool = False,
    vcodec: str = "libsvtav1",
    rewrite_limit_mb: float | None = None,
) -> None:
    """Write ``episodes`` of ``spec`` with our writer: a new dataset, or appended (``resume``).

    ``rewrite_limit_mb``: the writer's limit on a file it rewrites (None: its default).
    """
    from lerobot_gym.dataset import LeRobotDatasetWriter

    if resume:
        writer = LeRobotDatasetWriter.resume(
            root, fps=synth.FPS, features=spec.features, repo_id=synth.REPO_ID, fsync=False
        )
    else:
        writer = LeRobotDatasetWriter.create(
            root,
            repo_id=synth.REPO_ID,
            fps=synth.FPS,
            features=spec.features,
            robot_type=synth.ROBOT_TYPE,
            use_videos=spec.camera_dtype == "video",
            vcodec=vcodec,
            fsync=False,
            **({} if rewrite_limit_mb is None else {"rewrite_limit_mb": rewrite_limit_mb}),
        )
    try:
        for episode_index in episodes:
            frames = spec.episode(episode_index)
            for i in range(spec.episode_lengths[episode_index]):
                writer.add_frame(
                    {key: frames[key][i] for key in spec.features}, task=spec.tasks[episode_index]
                )
            assert writer.save_episode() == episode_index
    finally:
        writer.close()


def expected_bookkeeping(spec: synth.Spec = synth.BASIC) -> dict[str, np.ndarray]:
    """The columns both writers must add, for all episodes of ``spec``."""
    lengths = spec.episode_lengths
    frame_index = np.concatenate([np.arange(n) for n in lengths])
    task_ids = [spec.unique_tasks().index(t) for t in spec.tasks]
    return {
        "frame_index": frame_index,
        "episode_index": np.repeat(np.arange(len(lengths)), lengths),
        "index": np.arange(sum(lengths)),
        "timestamp": (frame_index / synth.FPS).astype(np.float32),
        "task_index": np.repeat(task_ids, lengths),
    }


def frame_tasks(spec: synth.Spec = synth.BASIC) -> list[str]:
    """The task string of every frame, in dataset order."""
    return [task for task, n in zip(spec.tasks, spec.episode_lengths) for _ in range(n)]


def assert_values_match(
    columns: dict[str, np.ndarray], who: str, spec: synth.Spec = synth.BASIC
) -> None:
    """Every numeric and bookkeeping value equals what was written, with the written dtype."""
    written = spec.frames()
    n = sum(spec.episode_lengths)
    for key in spec.numeric_keys:
        got = columns[key].reshape(n, -1)
        want = written[key].reshape(n, -1)
        assert got.dtype == want.dtype, f"{who}: {key} dtype {got.dtype} != {want.dtype}"
        np.testing.assert_array_equal(got, want, err_msg=f"{who}: {key}")
    for key, want in expected_bookkeeping(spec).items():
        got = columns[key].reshape(n)
        np.testing.assert_array_equal(got, want.astype(got.dtype), err_msg=f"{who}: {key}")


def assert_frames_close(
    frames_chw: np.ndarray, who: str, spec: synth.Spec = synth.BASIC, max_mae: float = MAX_FRAME_MAE
) -> None:
    """Each decoded frame is within the codec budget of its own written frame, and nearer to
    it than to its neighbours in the same episode (catches off-by-one timestamp lookups)."""
    written = spec.frames()[spec.camera_key].astype(np.float64)  # (N, H, W, 3)
    decoded = frames_chw.transpose(0, 2, 3, 1).astype(np.float64)
    assert decoded.shape == written.shape, f"{who}: {decoded.shape} != {written.shape}"
    mae = np.abs(decoded - written).mean(axis=(1, 2, 3))
    assert mae.max() <= max_mae, f"{who}: per-frame MAE {np.round(mae, 2)}"
    start = 0
    for length in spec.episode_lengths:
        for i in range(start, start + length):
            for j in (i - 1, i + 1):
                if start <= j < start + length:
                    other = np.abs(decoded[i] - written[j]).mean()
                    assert mae[i] < other, f"{who}: frame {i} looks like frame {j}"
        start += length


def assert_user_features_match(
    features: dict[str, Any], who: str, spec: synth.Spec = synth.BASIC
) -> None:
    """``spec``'s features and LeRobot's default bookkeeping features, as declared."""
    for key, want in spec.features.items():
        got = features[key]
        assert got["dtype"] == want["dtype"], f"{who}: {key}"
        assert list(got["shape"]) == list(want["shape"]), f"{who}: {key}"
        assert got["names"] == want["names"], f"{who}: {key}"
    for key, dtype in [("timestamp", "float32")] + [
        (k, "int64") for k in ("frame_index", "episode_index", "index", "task_index")
    ]:
        assert features[key]["dtype"] == dtype and list(features[key]["shape"]) == [1], who


def assert_episode_rows(rows: list[dict[str, Any]], who: str, spec: synth.Spec) -> None:
    """LeRobot's parsed episodes table: one contiguous row per episode with its task."""
    bounds = np.cumsum((0, *spec.episode_lengths))
    assert len(rows) == len(spec.episode_lengths), who
    for ep, row in enumerate(rows):
        assert row["episode_index"] == ep, who
        assert row["length"] == spec.episode_lengths[ep], who
        assert (row["dataset_from_index"], row["dataset_to_index"]) == (
            bounds[ep],
            bounds[ep + 1],
        ), f"{who}: episode {ep}"
        assert row["tasks"] == [spec.tasks[ep]], f"{who}: episode {ep}"
