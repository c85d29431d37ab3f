"""validate() names the file and the problem for each kind of damage; readers raise typed errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lerobot_gym.dataset import LeRobotDataset, LeRobotDatasetWriter, tools, validate
from lerobot_gym.dataset.recovery import repair
from lerobot_gym.errors import DatasetCorruptError, DatasetNotFoundError

DATA = "data/chunk-000/file-000.parquet"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"
VIDEO = "videos/observation.images.front/chunk-000/file-{:03d}.mp4"


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _problems_for(root: Path, rel: str) -> list[str]:
    return [p.message for p in validate(root) if p.path == root / rel]


def _delete_command(root: Path, episodes: str) -> str:
    return (
        f"lerobot-gym dataset delete-episodes --dataset.root={root} --dataset.episodes={episodes}"
    )


def test_sound_dataset_has_no_problems(small_dataset: Path) -> None:
    assert validate(small_dataset) == []


def test_progress_counts_data_and_video_files(small_dataset: Path) -> None:
    calls: list[tuple[int, int]] = []
    validate(small_dataset, progress=lambda done, total: calls.append((done, total)))
    # one data file and one MP4 per episode
    assert calls == [(done, 4) for done in range(5)]
    calls.clear()
    validate(small_dataset, check_videos=False, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 1), (1, 1)]


def test_truncated_parquet(small_dataset: Path) -> None:
    _truncate(small_dataset / DATA)
    messages = _problems_for(small_dataset, DATA)
    assert messages and "truncated" in messages[0]
    # What to do, not "run validate" (the command that printed this).
    assert "validate" not in messages[0]
    assert "restore the file from a copy" in messages[0]
    assert _delete_command(small_dataset, "[0,1,2]") in messages[0]  # all three live in it
    with pytest.raises(DatasetCorruptError) as err:
        LeRobotDataset(small_dataset, format="numpy")
    assert err.value.path == str(small_dataset / DATA)


def test_truncated_mp4(small_dataset: Path) -> None:
    _truncate(small_dataset / VIDEO.format(1))
    messages = _problems_for(small_dataset, VIDEO.format(1))
    assert messages and "truncated" in messages[0]
    ds = LeRobotDataset(small_dataset, format="numpy")  # metadata and parquet are fine
    ds[0]  # episode 0's video is intact
    with pytest.raises(DatasetCorruptError) as err:
        ds[25]  # episode 1
    assert err.value.path == str(small_dataset / VIDEO.format(1))


def test_following_the_advice_for_a_truncated_mp4_fixes_the_dataset(small_dataset: Path) -> None:
    _truncate(small_dataset / VIDEO.format(1))
    (message,) = _problems_for(small_dataset, VIDEO.format(1))
    assert _delete_command(small_dataset, "[1]") in message
    tools.delete_episodes(small_dataset, [1])  # never opens the damaged MP4
    assert validate(small_dataset) == []


def test_stale_totals_and_missing_stats_say_what_to_run(small_dataset: Path) -> None:
    info_path = small_dataset / "meta/info.json"
    info = json.loads(info_path.read_text())
    info["total_frames"] += 7
    info_path.write_text(json.dumps(info))
    (small_dataset / "meta/stats.json").unlink()
    problems = {p.path.name: p.message for p in validate(small_dataset)}
    assert f"`lerobot-gym dataset stats --dataset.root={small_dataset}`" in problems["stats.json"]
    assert "total_frames is 67 but the episodes sum to 60" in problems["info.json"]
    assert f"`lerobot-gym dataset repair --dataset.root={small_dataset}`" in problems["info.json"]
    repair(small_dataset)  # the advice, run as given
    assert [p.path.name for p in validate(small_dataset)] == []


def test_info_missing_keys(small_dataset: Path) -> None:
    path = small_dataset / "meta/info.json"
    info = json.loads(path.read_text())
    del info["fps"], info["features"]
    path.write_text(json.dumps(info))
    messages = _problems_for(small_dataset, "meta/info.json")
    assert messages and "fps" in messages[0] and "features" in messages[0]
    with pytest.raises(DatasetCorruptError, match="fps"):
        LeRobotDataset(small_dataset)


def test_gap_in_episode_indices(small_dataset: Path) -> None:
    path = small_dataset / EPISODES
    table = pq.read_table(path)
    keep = pa.array([i != 1 for i in table["episode_index"].to_pylist()])
    pq.write_table(table.filter(keep), path)
    problems = validate(small_dataset)
    assert any(p.path == small_dataset / "meta/episodes" and "[1]" in p.message for p in problems)
    with pytest.raises(DatasetCorruptError, match="contiguous"):
        LeRobotDataset(small_dataset)


def test_features_disagree_with_files(small_dataset: Path) -> None:
    path = small_dataset / "meta/info.json"
    info = json.loads(path.read_text())
    info["features"]["observation.environment_state"] = {
        "dtype": "float32",
        "shape": [3],
        "names": None,
    }
    info["features"]["action"]["dtype"] = "float64"
    path.write_text(json.dumps(info))
    messages = _problems_for(small_dataset, DATA)
    assert any("observation.environment_state" in m for m in messages)
    assert any("'action'" in m and "double" in m for m in messages)


def test_frame_count_mismatch(small_dataset: Path) -> None:
    # episode 2's 15-frame video in place of episode 0's 20 frames
    shutil.copy(small_dataset / VIDEO.format(2), small_dataset / VIDEO.format(0))
    messages = _problems_for(small_dataset, VIDEO.format(0))
    assert messages and "15 video frames" in messages[0] and "20 data rows" in messages[0]
    assert _delete_command(small_dataset, "[0]") in messages[0]


def test_rows_disagree_with_episode_length(small_dataset: Path) -> None:
    path = small_dataset / DATA
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 3), path)  # drop the end of episode 2
    messages = _problems_for(small_dataset, DATA)
    assert any(
        "episode 2 has 12 rows" in m and _delete_command(small_dataset, "[2]") in m
        for m in messages
    )
    with pytest.raises(DatasetCorruptError, match="episode 2"):
        LeRobotDataset(small_dataset)


def test_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError):
        LeRobotDataset(tmp_path / "nope")
    with pytest.raises(DatasetNotFoundError):
        LeRobotDatasetWriter.resume(tmp_path / "nope")
    (problem,) = validate(tmp_path / "nope")
    assert problem.path == tmp_path / "nope/meta/info.json"
    assert "point --dataset.root at the dataset's top directory" in problem.message


def _crash_before_commit(root: Path) -> None:
    """What a save killed between the data file and the episodes file leaves: the rows of
    episode 3 at the end of the data file (and, after a rotation, in a new data file)."""
    path = root / DATA
    table = pq.read_table(path)
    last = table.filter(pa.compute.equal(table["episode_index"], 2))
    column = table.schema.get_field_index("episode_index")
    phantom = last.set_column(column, "episode_index", pa.array([3] * last.num_rows, pa.int64()))
    pq.write_table(pa.concat_tables([table, phantom]), path)
    pq.write_table(phantom, root / "data/chunk-000/file-001.parquet")


def test_rows_of_an_uncommitted_episode(small_dataset: Path) -> None:
    _crash_before_commit(small_dataset)
    (rows,) = _problems_for(small_dataset, DATA)
    assert "rows of episode 3, which meta/episodes does not list" in rows
    (orphan,) = _problems_for(small_dataset, "data/chunk-000/file-001.parquet")
    assert "no episode in meta/episodes uses this file; it holds episode 3" in orphan
    for message in (rows, orphan):
        assert f"`lerobot-gym dataset repair --dataset.root={small_dataset}`" in message
        assert "--resume=true" in message
    # Following the advice fixes it.
    repair(small_dataset)
    assert validate(small_dataset) == []
    assert pq.read_table(small_dataset / DATA)["episode_index"].to_pylist()[-1] == 2


def test_unlisted_rows_elsewhere_say_restore(small_dataset: Path) -> None:
    table = pq.read_table(small_dataset / EPISODES)
    pq.write_table(table.filter(pa.array([i != 1 for i in range(3)])), small_dataset / EPISODES)
    messages = _problems_for(small_dataset, DATA)
    assert any("rows of episodes [1]" in m and "rebuild-meta" in m for m in messages)
    assert not any("dataset repair" in m for m in messages)  # repair would not remove them
