"""rebuild_meta: a lost episodes table or tasks file is recovered from the files, without loss."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from dataset_synth import FPS, features, frame

from lerobot_gym.dataset import DatasetMeta, LeRobotDataset, LeRobotDatasetWriter, layout, validate
from lerobot_gym.dataset.rebuild import BACKUP_PREFIX, rebuild_meta
from lerobot_gym.errors import DatasetCorruptError

EPISODES = "meta/episodes/chunk-000/file-000.parquet"


def _items(root: Path) -> list[dict]:
    ds = LeRobotDataset(root, format="numpy")
    try:
        return [ds[i] for i in range(len(ds))]
    finally:
        ds.close()


def _assert_same_items(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], str):
                assert x[key] == y[key], key
            else:
                np.testing.assert_array_equal(np.asarray(x[key]), np.asarray(y[key]), key)


def _episode_columns(root: Path) -> list[dict]:
    table = pq.read_table(root / EPISODES)
    keep = [c for c in table.column_names if not c.startswith("stats/")]
    return table.select(keep).to_pylist()


@pytest.fixture
def multi_task(tmp_path: Path) -> Path:
    """Three episodes, two cameras, a multi-task episode, and rotated data files."""
    root = tmp_path / "ds"
    cams = ("front", "wrist")
    with LeRobotDatasetWriter.create(
        root,
        repo_id="t/r",
        fps=FPS,
        features=features(cams, 32, 32),
        data_files_size_in_mb=0.001,  # one data file per episode
        fsync=False,
    ) as w:
        for ep, (n, labels) in enumerate([(7, ["pick"]), (9, ["pick", "place"]), (6, ["wave"])]):
            for i in range(n):
                w.add_frame(frame(ep, i, n, cams, 32, 32), task=labels[i * len(labels) // n])
            w.save_episode()
    return root


@pytest.mark.parametrize("lose", ["episodes", "tasks", "both_with_texts"])
def test_rebuild_recovers_without_loss(multi_task: Path, lose: str) -> None:
    before_items = _items(multi_task)
    before_rows = _episode_columns(multi_task)
    before_info = json.loads((multi_task / layout.INFO_PATH).read_text())
    before_stats = json.loads((multi_task / layout.STATS_PATH).read_text())
    texts = None
    if lose in ("episodes", "both_with_texts"):
        shutil.rmtree(multi_task / "meta/episodes")
    if lose in ("tasks", "both_with_texts"):
        (multi_task / layout.TASKS_PATH).unlink()
    if lose == "both_with_texts":
        texts = ["pick", "place", "wave"]
    with pytest.raises(DatasetCorruptError):  # the damage is refused before the rebuild
        DatasetMeta.load(multi_task)

    meta = rebuild_meta(multi_task, tasks=texts)

    assert meta.num_episodes == 3 and meta.tasks == ["pick", "place", "wave"]
    assert validate(multi_task) == []
    _assert_same_items(_items(multi_task), before_items)
    rows = _episode_columns(multi_task)
    for old, new in zip(before_rows, rows):
        for key, value in old.items():
            if key == "tasks":
                assert sorted(new[key]) == sorted(value)
            elif isinstance(value, float):
                assert new[key] == pytest.approx(value, abs=1e-9), key
            else:
                assert new[key] == value, key
    assert json.loads((multi_task / layout.INFO_PATH).read_text()) == before_info
    after_stats = json.loads((multi_task / layout.STATS_PATH).read_text())
    for key in ("observation.state", "action", "index"):
        for stat in ("min", "max", "mean", "count"):
            np.testing.assert_allclose(after_stats[key][stat], before_stats[key][stat])
    # what was replaced is kept beside the data, and the dataset can be resumed
    (backup,) = multi_task.glob(f"{BACKUP_PREFIX}*")
    assert (backup / "meta/info.json").exists()
    with LeRobotDatasetWriter.resume(multi_task, fsync=False) as w:
        assert w.num_episodes == 3 and w.tasks == ["pick", "place", "wave"]


def test_lost_task_texts_are_asked_for(multi_task: Path) -> None:
    shutil.rmtree(multi_task / "meta/episodes")
    (multi_task / layout.TASKS_PATH).unlink()
    with pytest.raises(DatasetCorruptError, match=r"--tasks=\["):
        rebuild_meta(multi_task)
    assert not (multi_task / "meta/episodes").exists()  # nothing written


def test_a_replaced_tasks_file_is_corrected_from_the_episodes_rows(multi_task: Path) -> None:
    pq.write_table(layout.tasks_table(["relabelled"]), multi_task / layout.TASKS_PATH)
    meta = rebuild_meta(multi_task)
    assert meta.tasks == ["pick", "place", "wave"]
    assert validate(multi_task, check_videos=False) == []


def test_a_missing_video_is_refused(multi_task: Path) -> None:
    shutil.rmtree(multi_task / "meta/episodes")
    (multi_task / "videos/observation.images.wrist/chunk-000/file-002.mp4").unlink()
    with pytest.raises(DatasetCorruptError, match=r"wrist end before episode 2"):
        rebuild_meta(multi_task)
