"""A save_episode that fails leaves the dataset and the writer as before; encoders never mix up
episodes. Failures are injected by monkeypatching one file operation to raise once."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from lerobot_gym.dataset import DatasetMeta, LeRobotDatasetWriter, layout, validate
from lerobot_gym.dataset.video import EpisodeVideoEncoder, VideoEncoding
from lerobot_gym.errors import DatasetCorruptError, DatasetError

STATE = {"observation.state": {"dtype": "float32", "shape": [2], "names": None}}
CAM = {"dtype": "video", "shape": [32, 32, 3], "names": ["height", "width", "channels"]}
CAMS = {**STATE, "observation.images.a": CAM, "observation.images.b": CAM}


def _enospc(*_: Any, **__: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _fail_once(monkeypatch, obj: Any, name: str, when: Callable[..., bool]) -> list[int]:
    """Make ``obj.name`` raise ENOSPC the first time ``when(*args)`` holds; returns a hit list."""
    real = getattr(obj, name)
    hits: list[int] = []

    def patched(*args: Any, **kwargs: Any) -> Any:
        if not hits and when(*args):
            hits.append(1)
            _enospc()
        return real(*args, **kwargs)

    monkeypatch.setattr(obj, name, patched)
    return hits


def _is_episodes_file(path: Any, *_: Any) -> bool:
    return "episodes" in str(path)


def _record(w: LeRobotDatasetWriter, value: float, n: int = 5, task: str = "t") -> None:
    for _ in range(n):
        frame: dict[str, Any] = {"observation.state": np.full(2, value, np.float32)}
        for key in w.features:
            if key.startswith("observation.images."):
                frame[key] = np.full((32, 32, 3), int(value), np.uint8)
        w.add_frame(frame, task=task)


def _data_column(root: Path, column: str) -> list[int]:
    files = sorted((root / "data").glob("*/*.parquet"))
    return [v for f in files for v in pq.read_table(f)[column].to_pylist()]


def _assert_sound(root: Path, episodes: int, frames: int) -> None:
    assert validate(root) == []
    meta = DatasetMeta.load(root)
    assert meta.num_episodes == episodes and meta.num_frames == frames
    assert _data_column(root, "index") == list(range(frames))


@pytest.fixture
def writer(tmp_path: Path):
    w = LeRobotDatasetWriter.create(
        tmp_path / "ds", repo_id="t/x", fps=10, features=STATE, fsync=False
    )
    yield w
    w.close()


def test_failed_commit_leaves_no_rows_and_retry_saves(writer, monkeypatch) -> None:
    _record(writer, 0)
    writer.save_episode()
    _record(writer, 1, task="new task")
    hits = _fail_once(monkeypatch, layout, "atomic_write_parquet", _is_episodes_file)
    with pytest.raises(OSError, match="No space left"):
        writer.save_episode()
    assert hits
    # Nothing of the failed episode on disk: no rows, no task, same totals.
    _assert_sound(writer.root, episodes=1, frames=5)
    assert DatasetMeta.load(writer.root).tasks == ["t"]
    assert writer.num_episodes == 1 and writer.episode_buffer_size == 5
    with pytest.raises(DatasetError, match="retry"):
        _record(writer, 9)  # the failed episode is still buffered
    assert writer.save_episode() == 1  # the disk has room again
    _assert_sound(writer.root, episodes=2, frames=10)
    assert DatasetMeta.load(writer.root).tasks == ["t", "new task"]


def test_discarding_a_failed_episode_then_recording(writer, monkeypatch) -> None:
    _record(writer, 0)
    writer.save_episode()
    _record(writer, 1)
    _fail_once(monkeypatch, layout, "atomic_write_parquet", _is_episodes_file)
    with pytest.raises(OSError):
        writer.save_episode()
    writer.clear_episode()
    _record(writer, 2)
    assert writer.save_episode() == 1
    writer.close()
    _assert_sound(writer.root, episodes=2, frames=10)
    assert _data_column(writer.root, "episode_index") == [0] * 5 + [1] * 5
    state = pq.read_table(writer.root / "data/chunk-000/file-000.parquet")["observation.state"]
    assert [v[0] for v in state.to_pylist()] == [0.0] * 5 + [2.0] * 5


def test_a_data_file_changed_by_another_program_is_refused_not_overwritten(writer) -> None:
    # The writer reads the current data file back at each save instead of keeping its rows in
    # memory (issue 13); a file that lost rows meanwhile must not be silently rewritten over.
    _record(writer, 0)
    writer.save_episode()
    _record(writer, 1)
    writer.save_episode()
    path = writer.root / "data/chunk-000/file-000.parquet"
    pq.write_table(pq.read_table(path).slice(0, 5), path)  # another program drops episode 1
    _record(writer, 2)
    with pytest.raises(DatasetCorruptError, match="holds 5 rows, but 10 were written"):
        writer.save_episode()
    assert pq.read_table(path).num_rows == 5  # left as found, for the user to look at
    assert writer.num_episodes == 2 and writer.episode_buffer_size == 5
    assert DatasetMeta.load(writer.root).num_episodes == 2
    writer.clear_episode()


def test_failure_after_rotation_leaves_no_orphan_file(tmp_path: Path, monkeypatch) -> None:
    with LeRobotDatasetWriter.create(
        tmp_path / "ds",
        repo_id="t/x",
        fps=10,
        features=STATE,
        fsync=False,
        data_files_size_in_mb=0.002,
    ) as w:
        _record(w, 0, n=20)
        w.save_episode()
        _record(w, 1, n=20)
        _fail_once(monkeypatch, layout, "atomic_write_parquet", _is_episodes_file)
        with pytest.raises(OSError):
            w.save_episode()
        assert len(list((w.root / "data").glob("*/*.parquet"))) == 1  # the rotated file is gone
        assert w.save_episode() == 1
    _assert_sound(w.root, episodes=2, frames=40)
    assert len(list((w.root / "data").glob("*/*.parquet"))) == 2


def test_an_undo_that_fails_is_finished_before_the_next_save(writer, monkeypatch) -> None:
    _record(writer, 0)
    writer.save_episode()
    _record(writer, 1)
    real = layout.atomic_write_parquet
    calls: list[str] = []

    def failing(path: Path, table: Any, **kwargs: Any) -> None:
        calls.append(str(path))
        # the commit fails, and so does restoring the data file (the undo)
        if "episodes" in str(path) or calls.count(str(path)) == 2:
            _enospc()
        real(path, table, **kwargs)

    monkeypatch.setattr(layout, "atomic_write_parquet", failing)
    with pytest.raises(OSError):
        writer.save_episode()
    assert _data_column(writer.root, "episode_index") == [0] * 5 + [1] * 5  # not undone yet
    monkeypatch.setattr(layout, "atomic_write_parquet", real)
    writer.clear_episode()
    _record(writer, 2, n=3)
    assert writer.save_episode() == 1
    _assert_sound(writer.root, episodes=2, frames=8)


def test_video_move_failure_rolls_back_and_retry_keeps_the_video(
    tmp_path: Path, monkeypatch
) -> None:
    with LeRobotDatasetWriter.create(
        tmp_path / "ds", repo_id="t/x", fps=10, features=CAMS, vcodec="h264", fsync=False
    ) as w:
        _record(w, 50, n=6)
        w.save_episode()
        _record(w, 150, n=6)
        # the second camera's move fails, after the data file and the first video were placed
        moves: list[str] = []

        def second_staged(src: Any, *_: Any) -> bool:
            if layout.STAGING_DIR in str(src):
                moves.append(str(src))
            return len(moves) == 2

        _fail_once(monkeypatch, os, "replace", second_staged)
        with pytest.raises(OSError):
            w.save_episode()
        for cam in ("a", "b"):
            videos = list((w.root / f"videos/observation.images.{cam}").glob("*/*.mp4"))
            assert len(videos) == 1, cam
        assert validate(w.root) == []
        assert w.save_episode() == 1
    _assert_sound(w.root, episodes=2, frames=12)
    meta = DatasetMeta.load(w.root)
    for cam in ("a", "b"):
        mean = float(meta.episode_stats[1][f"observation.images.{cam}"]["mean"].ravel()[0])
        assert mean * 255 == pytest.approx(150, abs=1)


def test_commit_on_disk_with_a_failed_directory_fsync_counts(tmp_path: Path, monkeypatch) -> None:
    with LeRobotDatasetWriter.create(tmp_path / "ds", repo_id="t/x", fps=10, features=STATE) as w:
        _record(w, 0)
        w.save_episode()
        _record(w, 1)
        _fail_once(monkeypatch, layout, "fsync_dir", lambda path: "episodes" in str(path))
        with pytest.raises(DatasetError, match="episode 1 was saved"):
            w.save_episode()
        assert w.num_episodes == 2 and w.episode_buffer_size == 0
        _record(w, 2)
        assert w.save_episode() == 2
    _assert_sound(w.root, episodes=3, frames=15)


def test_failure_after_the_commit_keeps_the_episode(writer, monkeypatch) -> None:
    _record(writer, 0)
    _fail_once(monkeypatch, layout, "atomic_write_json", lambda path, *_: "stats" in str(path))
    with pytest.raises(DatasetError, match="episode 0 was saved"):
        writer.save_episode()
    assert writer.num_episodes == 1
    _record(writer, 1)
    assert writer.save_episode() == 1  # rewrites stats.json and info.json
    _assert_sound(writer.root, episodes=2, frames=10)


# -- encoders ---------------------------------------------------------------------------------


def test_one_camera_failing_discards_the_episode_and_no_stale_result(tmp_path: Path) -> None:
    with LeRobotDatasetWriter.create(
        tmp_path / "ds", repo_id="t/x", fps=10, features=CAMS, vcodec="h264", fsync=False
    ) as w:
        # The encoder runs in another process: make its first MP4 impossible to open there.
        enc = w._encoders["observation.images.a"]
        real_start = enc.start_episode
        started: list[Path] = []

        def start_into_a_directory(path: Path) -> None:
            if not started:
                path = path.with_name("a-directory.mp4")
                path.mkdir(parents=True)
            started.append(path)
            real_start(path)

        enc.start_episode = start_into_a_directory  # type: ignore[method-assign]
        _record(w, 10, n=8)
        with pytest.raises(DatasetError, match=r"observation\.images\.a.*Is a directory"):
            w.save_episode()
        assert w.episode_buffer_size == 0  # discarded: its video is lost
        _record(w, 200, n=8)
        assert w.save_episode() == 0
    _assert_sound(w.root, episodes=1, frames=8)
    stats = DatasetMeta.load(w.root).episode_stats[0]
    for cam in ("a", "b"):  # camera b's result of the failed episode (all 10s) was dropped
        assert float(stats[f"observation.images.{cam}"]["mean"].ravel()[0]) * 255 == (
            pytest.approx(200, abs=1)
        )


@pytest.fixture
def encoder(tmp_path: Path):
    enc = EpisodeVideoEncoder("cam", 10, VideoEncoding(vcodec="h264"), fsync=False)
    yield enc
    enc.close()


def _frames(enc: EpisodeVideoEncoder, n: int) -> None:
    for _ in range(n):
        enc.put(np.zeros((16, 16, 3), np.uint8))


def test_encoder_drops_results_of_earlier_episodes(encoder, tmp_path: Path) -> None:
    encoder.start_episode(tmp_path / "first.mp4")
    _frames(encoder, 3)
    encoder.request_finish()  # never collected, as when another camera's failure aborts a save
    encoder.start_episode(tmp_path / "second.mp4")
    _frames(encoder, 5)
    result = encoder.finish_episode(timeout_s=30)
    assert (result.path.name, result.num_frames) == ("second.mp4", 5)


def test_abort_empties_the_results(encoder, tmp_path: Path) -> None:
    encoder.start_episode(tmp_path / "first.mp4")
    _frames(encoder, 3)
    encoder.request_finish()
    encoder.abort_episode()  # waits for the worker, so the result was queued before
    assert encoder._results.empty()


def test_finish_timeout_is_typed_and_can_be_waited_out(encoder, tmp_path: Path) -> None:
    release = threading.Event()
    real_open = encoder._open

    def slow_open(height: int, width: int) -> Any:
        release.wait(30)
        return real_open(height, width)

    encoder._open = slow_open  # type: ignore[method-assign]
    encoder.start_episode(tmp_path / "slow.mp4")
    _frames(encoder, 2)
    with pytest.raises(DatasetError, match=r"did not finish.*within 0\.05 s"):
        encoder.finish_episode(timeout_s=0.05)
    release.set()
    assert encoder.finish_episode(timeout_s=30).num_frames == 2
