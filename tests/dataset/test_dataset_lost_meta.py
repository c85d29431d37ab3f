"""Damaged metadata never makes the tools delete or relabel recorded data (issue 13, item 1).

Each test damages a sound dataset the way a user's disk or a bad copy would, then checks that
resume, repair, validate, stats and info refuse with a typed error naming the fix, and that
no data or video file changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dataset_synth import FPS, features, record

from lerobot_gym.dataset import DatasetMeta, LeRobotDatasetWriter, layout, tools, validate
from lerobot_gym.dataset.recovery import repair
from lerobot_gym.errors import DatasetCorruptError, DatasetError

DATA = "data/chunk-000/file-000.parquet"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"


def _snapshot(root: Path) -> dict[str, str]:
    """Hash of every recorded file (data and videos)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for sub in ("data", "videos")
        for p in sorted((root / sub).rglob("*"))
        if p.is_file()
    }


def _no_deletion_advice(messages: list[str]) -> None:
    for m in messages:
        assert "delete-episodes" not in m and "dataset repair" not in m, m


def test_resume_refuses_a_missing_episodes_table(small_dataset: Path) -> None:
    before = _snapshot(small_dataset)
    shutil.rmtree(small_dataset / "meta/episodes")
    with pytest.raises(DatasetCorruptError) as err:
        LeRobotDatasetWriter.resume(small_dataset, fps=FPS, features=features())
    message = str(err.value)
    assert "meta/episodes has no episodes file" in message and "counts 3" in message
    assert f"lerobot-gym dataset rebuild-meta --dataset.root={small_dataset}" in message
    assert _snapshot(small_dataset) == before
    with pytest.raises(DatasetCorruptError, match="rebuild-meta"):
        repair(small_dataset)
    assert _snapshot(small_dataset) == before


def test_resume_refuses_an_unreadable_episodes_file(small_dataset: Path) -> None:
    before = _snapshot(small_dataset)
    path = small_dataset / EPISODES
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DatasetCorruptError) as err:
        LeRobotDatasetWriter.resume(small_dataset, fps=FPS, features=features())
    assert str(path) in str(err.value) and "rebuild-meta" in str(err.value)
    assert _snapshot(small_dataset) == before


def test_repair_refuses_rows_that_are_not_one_interrupted_save(small_dataset: Path) -> None:
    """Even when info.json agrees with an emptied episodes table (e.g. both replaced), rows
    of three episodes are not what an interrupted save leaves: nothing is deleted."""
    before = _snapshot(small_dataset)
    shutil.rmtree(small_dataset / "meta/episodes")
    info = json.loads((small_dataset / layout.INFO_PATH).read_text())
    info.update(total_episodes=0, total_frames=0)
    (small_dataset / layout.INFO_PATH).write_text(json.dumps(info))
    with pytest.raises(DatasetCorruptError) as err:
        repair(small_dataset)
    assert "rows of episodes [0, 1, 2]" in str(err.value) and "rebuild-meta" in str(err.value)
    assert _snapshot(small_dataset) == before
    problems = validate(small_dataset)
    assert any("rebuild-meta" in p.message for p in problems)
    _no_deletion_advice([p.message for p in problems])


def test_repair_still_removes_what_an_interrupted_first_save_leaves(tmp_path: Path) -> None:
    """The one case that *is* provable: episode n's rows and video after the last commit."""
    root = tmp_path / "ds"
    with LeRobotDatasetWriter.create(root, repo_id="t/a", fps=FPS, features=features()) as w:
        record(w, [8])
    # As if killed before the commit of the first episode: no episodes table, totals 0.
    shutil.rmtree(root / "meta/episodes")
    info = json.loads((root / layout.INFO_PATH).read_text())
    info.update(total_episodes=0, total_frames=0)
    (root / layout.INFO_PATH).write_text(json.dumps(info))
    meta = repair(root)
    assert meta.num_episodes == 0
    assert not list((root / "data").rglob("*.parquet")) and not list(root.rglob("*.mp4"))


def test_validate_on_a_missing_episodes_table_proposes_no_deletion(small_dataset: Path) -> None:
    shutil.rmtree(small_dataset / "meta/episodes")
    problems = validate(small_dataset)
    assert problems
    assert any("rebuild-meta" in p.message for p in problems)
    _no_deletion_advice([p.message for p in problems])


def test_lost_tasks_file_is_refused_and_reported(small_dataset: Path) -> None:
    before = _snapshot(small_dataset)
    (small_dataset / layout.TASKS_PATH).unlink()
    with pytest.raises(DatasetCorruptError) as err:
        LeRobotDatasetWriter.resume(small_dataset, fps=FPS, features=features())
    assert "tasks.parquet is missing" in str(err.value) and "rebuild-meta" in str(err.value)
    assert _snapshot(small_dataset) == before
    messages = [p.message for p in validate(small_dataset) if p.path.name == "tasks.parquet"]
    assert messages and "rebuild-meta" in messages[0]


def test_a_replaced_tasks_file_relabels_nothing_unnoticed(small_dataset: Path) -> None:
    """What resume after a lost tasks.parquet used to do: index 0 became the new task."""
    pq.write_table(layout.tasks_table(["new task", "task 1"]), small_dataset / layout.TASKS_PATH)
    with pytest.raises(DatasetCorruptError, match="'task 0' is not in"):
        LeRobotDatasetWriter.resume(small_dataset, fps=FPS, features=features())
    messages = [p.message for p in validate(small_dataset, check_videos=False)]
    assert any("'task 0' is not in it" in m for m in messages)
    assert any(
        "frames of episode 0 resolve to tasks ['new task']" in m and "rebuild-meta" in m
        for m in messages
    )


def test_stats_and_info_refuse_a_lost_episodes_table(small_dataset: Path) -> None:
    stats_before = (small_dataset / layout.STATS_PATH).read_bytes()
    shutil.rmtree(small_dataset / "meta/episodes")
    with pytest.raises(DatasetCorruptError, match="rebuild-meta"):
        tools.recompute_stats(small_dataset)
    assert (small_dataset / layout.STATS_PATH).read_bytes() == stats_before
    with pytest.raises(DatasetCorruptError, match="rebuild-meta"):
        tools.info(small_dataset)


def test_stats_of_a_dataset_without_episodes_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    LeRobotDatasetWriter.create(root, repo_id="t/e", fps=FPS, features=features()).close()
    with pytest.raises(DatasetError, match="no committed episode"):
        tools.recompute_stats(root)
    assert not (root / layout.STATS_PATH).exists()


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'"v3.0"'])
def test_garbage_info_json_names_the_file_and_the_fix(small_dataset: Path, content) -> None:
    path = small_dataset / layout.INFO_PATH
    path.write_bytes(content)
    with pytest.raises(DatasetCorruptError) as err:
        DatasetMeta.load(small_dataset)
    assert str(path) in str(err.value) and "restore" in str(err.value)
    (problem,) = validate(small_dataset)
    assert problem.path == path and "restore" in problem.message


def test_files_honour_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        root = tmp_path / "ds"
        with LeRobotDatasetWriter.create(
            root, repo_id="t/u", fps=FPS, features=features(), fsync=False
        ) as w:
            record(w, [5, 6])
        out = tmp_path / "merged"
        tools.merge([root, root], out)
    finally:
        os.umask(old)
    for base in (root, out):
        files = [p for p in base.rglob("*") if p.is_file()]
        assert {p.suffix for p in files} >= {".parquet", ".json", ".mp4"}
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o644, p


def test_validate_without_decoding_still_checks_video_files(small_dataset: Path) -> None:
    videos = sorted((small_dataset / "videos").rglob("*.mp4"))
    videos[0].unlink()
    videos[1].write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12345\n")
    problems = {p.path: p.message for p in validate(small_dataset, check_videos=False)}
    assert "missing" in problems[videos[0]]
    assert "a Git LFS pointer" in problems[videos[1]] and "git lfs pull" in problems[videos[1]]


def test_merge_with_a_missing_input_video_leaves_nothing_and_reruns(
    small_dataset: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(small_dataset, other)
    video = sorted((other / "videos").rglob("*.mp4"))[1]
    saved = video.read_bytes()
    video.unlink()
    out = tmp_path / "merged"
    with pytest.raises(DatasetCorruptError) as err:
        tools.merge([small_dataset, other], out)
    assert str(video) in str(err.value) and "episode 1" in str(err.value)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".merged")]
    video.write_bytes(saved)
    meta = tools.merge([small_dataset, other], out)  # the rerun is not blocked
    assert meta.num_episodes == 6 and validate(out) == []


def test_merge_into_an_empty_existing_folder(small_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "made_by_user"
    out.mkdir()
    assert tools.merge([small_dataset, small_dataset], out).num_episodes == 6


def test_a_stale_staging_folder_of_a_killed_merge_is_cleared(
    small_dataset: Path, tmp_path: Path
) -> None:
    # A pid that cannot be alive (above the kernel's pid_max).
    stale = tmp_path / ".merged.staging-99999999-abcdef"
    (stale / "data").mkdir(parents=True)
    tools.merge([small_dataset, small_dataset], tmp_path / "merged")
    assert not stale.exists()


def test_episode_rows_without_tasks_table_still_error_typed(small_dataset: Path) -> None:
    table = pq.read_table(small_dataset / EPISODES)
    pq.write_table(table.slice(0, 1), small_dataset / EPISODES)
    with pytest.raises(DatasetCorruptError, match="lists only 1 episode"):
        DatasetMeta.load(small_dataset)
    assert pa.__version__  # pyarrow in use for the rewrite above
