"""Resuming a dataset across tools: one writer records episodes 0-1, the other appends 2-3.

- ``lerobot_then_ours``: LeRobot 0.4.4's writer creates the RL dataset (both episodes in one
  data file and one MP4), our ``LeRobotDatasetWriter.resume`` appends two episodes.
- ``ours_then_lerobot``: our writer creates it, LeRobot resumes it the way
  ``lerobot-record --resume=true`` does in 0.4.4 (``LeRobotDataset(repo_id, root)``, then
  ``add_frame``/``save_episode``/``finalize``; 0.4.4 has no ``resume`` classmethod). LeRobot
  starts a new MP4 for episode 2 and concatenates episode 3 into it.

Either way the result must be one dataset: LeRobot's reader sees 4 episodes, 34 frames, the
third task that only the second tool saw, contiguous indices, every value as written and every
video frame at its own timestamp; our reader sees the same. Statistics of these datasets are
checked in ``test_lerobot_stats.py``, their RL columns in ``test_lerobot_rl_columns.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import compat_synthetic as synth
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from compat_helpers import (
    COMPAT_MARKS,
    MAX_DECODER_DIFF,
    Dump,
    assert_episode_rows,
    assert_frames_close,
    assert_user_features_match,
    assert_values_match,
    frame_tasks,
    our_read,
)

from lerobot_gym.dataset import LeRobotDataset, LeRobotDatasetWriter

pytestmark = COMPAT_MARKS

SPEC = synth.RL
RESUMED = ["lerobot_then_ours", "ours_then_lerobot"]
VIDEO = f"videos/{synth.CAMERA_KEY}"


@pytest.fixture(params=RESUMED)
def resumed(request: pytest.FixtureRequest) -> tuple[str, Path, Dump]:
    root, dump = request.getfixturevalue(request.param)
    return request.param, root, dump


def test_lerobot_reads_resumed_metadata(resumed) -> None:
    name, _, (meta, _) = resumed
    who = f"LeRobot reading {name}"
    assert meta["codebase_version"] == "v3.0"
    assert meta["fps"] == synth.FPS
    assert meta["video_keys"] == [synth.CAMERA_KEY]
    assert_user_features_match(meta["features"], who, SPEC)
    assert meta["total_episodes"] == meta["num_episodes"] == 4
    assert meta["total_frames"] == meta["num_frames"] == sum(SPEC.episode_lengths) == 34
    # "stack the cubes" only occurs in episode 3, which the second tool wrote.
    assert meta["tasks"] == {t: i for i, t in enumerate(SPEC.unique_tasks())}
    assert meta["total_tasks"] == 3
    assert meta["frame_tasks"] == frame_tasks(SPEC)
    assert_episode_rows(meta["episodes"], who, SPEC)


def test_resume_starts_new_files(resumed) -> None:
    """Both writers append in new data/episodes/video files, never rewriting the other's."""
    name, _, (meta, _) = resumed
    rows = meta["episodes"]
    for key in ("data/file_index", "meta/episodes/file_index", f"{VIDEO}/file_index"):
        first, second = {r[key] for r in rows[:2]}, {r[key] for r in rows[2:]}
        assert not first & second, f"{name}: {key} {first} / {second}"
    # The LeRobot-written half shares one MP4, so our reader must seek mid-file there.
    lerobot_half = rows[:2] if name == "lerobot_then_ours" else rows[2:]
    assert lerobot_half[1][f"{VIDEO}/from_timestamp"] > 0, name
    assert lerobot_half[1][f"{VIDEO}/file_index"] == lerobot_half[0][f"{VIDEO}/file_index"]


def test_lerobot_reads_resumed_values(resumed) -> None:
    name, _, (_, columns) = resumed
    assert_values_match(columns, f"LeRobot reading {name}", SPEC)


def test_lerobot_finds_every_resumed_video_frame(resumed) -> None:
    name, _, (_, columns) = resumed
    assert_frames_close(columns[synth.CAMERA_KEY], f"LeRobot reading {name}", SPEC)


def test_we_read_resumed_dataset(resumed) -> None:
    name, root, (_, theirs) = resumed
    meta, ours, tasks = our_read(root)
    who = f"us reading {name}"
    assert meta.num_episodes == 4 and meta.num_frames == 34
    assert meta.tasks == SPEC.unique_tasks()
    assert tasks == frame_tasks(SPEC)
    assert_values_match(ours, who, SPEC)
    assert_frames_close(ours[synth.CAMERA_KEY], who, SPEC)
    diff = np.abs(ours[synth.CAMERA_KEY].astype(np.int16) - theirs[synth.CAMERA_KEY])
    assert diff.max() <= MAX_DECODER_DIFF, who


def test_we_resume_a_dataset_resumed_by_lerobot(ours_then_lerobot, tmp_path: Path) -> None:
    """A third session: our writer resumes after LeRobot did (the same bug stops it)."""
    root, _ = ours_then_lerobot
    copy = tmp_path / "dataset"
    shutil.copytree(root, copy)
    writer = LeRobotDatasetWriter.resume(copy, fps=synth.FPS, features=SPEC.features, fsync=False)
    writer.close()
    assert writer.num_episodes == 4


def test_episodes_files_with_lerobot_stats_types(tmp_path: Path) -> None:
    """The bug in miniature, without LeRobot: one episodes file with LeRobot's ``list<bool>``
    min/max for a bool feature, one written by our resumed writer."""
    root = tmp_path / "dataset"
    features = {"next.done": {"dtype": "bool", "shape": [1], "names": None}}

    def record(writer: LeRobotDatasetWriter) -> None:
        with writer:
            for done in (False, False, True):
                writer.add_frame({"next.done": np.array([done])}, task="t")
            writer.save_episode()

    record(LeRobotDatasetWriter.create(root, repo_id="a/b", fps=10, features=features, fsync=False))
    path = root / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    for column in ("stats/next.done/min", "stats/next.done/max"):
        bools = table.column(column).cast(pa.list_(pa.bool_()))  # as LeRobot 0.4.4 stores them
        table = table.set_column(table.schema.get_field_index(column), column, bools)
    pq.write_table(table, path)
    record(LeRobotDatasetWriter.resume(root, fsync=False))
    dataset = LeRobotDataset(root, format="numpy")
    assert [bool(dataset[i]["next.done"]) for i in range(6)] == [False, False, True] * 2
