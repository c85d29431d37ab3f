"""Datasets of many data and episodes files: bounded per-save rewrites; every tool reads them.

Issue 13, item 5: a save reads back and rewrites the current data and episodes parquet files
whole, and LeRobot rotates them only at ``data_files_size_in_mb`` (100 MB), so a save cost more
time and memory every episode of a session. The writer now starts the next file at
``min(data_files_size_in_mb, rewrite_limit_mb)`` (:mod:`lerobot_gym.dataset._commit`). These
tests count what each save reads and writes (rows and bytes, not time), and check that a
dataset of several data and episodes files reads back, resumes, validates, merges, deletes and
rebuilds its metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from dataset_synth import FPS

from lerobot_gym.dataset import (
    DatasetMeta,
    LeRobotDataset,
    LeRobotDatasetWriter,
    _commit,
    layout,
    tools,
    validate,
)
from lerobot_gym.dataset.meta import episode_files
from lerobot_gym.dataset.rebuild import rebuild_meta
from lerobot_gym.errors import ConfigError

FRAMES = 20
WIDTH = 300  # floats per frame: an episode is ~24 KB of data, its episodes row (stats) ~20 KB
LIMIT_MB = 0.2  # about 7 episodes per data file and per episodes file
FEATURES = {
    "observation.state": {"dtype": "float32", "shape": [WIDTH], "names": None},
    "action": {"dtype": "float32", "shape": [2], "names": None},
}


def _state(ep: int, i: int) -> np.ndarray:
    """Incompressible values, a function of the episode and frame (so files grow steadily)."""
    return np.random.default_rng([ep, i]).random(WIDTH, dtype=np.float32)


def _record(writer: LeRobotDatasetWriter, lengths: list[int], first_ep: int = 0) -> None:
    for k, n in enumerate(lengths):
        for i in range(n):
            state = _state(first_ep + k, i)
            writer.add_frame({"observation.state": state, "action": state[:2]}, task=f"t{k % 2}")
        writer.save_episode()


class _SaveIO:
    """Rows and bytes that each save reads back and writes, per kind of file (data, episodes)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.saves: list[dict[str, int]] = []
        real_read, real_write = _commit.read_parquet, layout.atomic_write_parquet

        def kind(path: Path) -> str:
            return "episodes" if "episodes" in Path(path).parts else Path(path).parts[-3]

        def read(path: Path, **kwargs: Any) -> pa.Table:
            table = real_read(path, **kwargs)
            self._add(f"read {kind(path)}", table)
            return table

        def write(path: Path, table: pa.Table, **kwargs: Any) -> None:
            self._add(f"written {kind(path)}", table)
            real_write(path, table, **kwargs)

        monkeypatch.setattr(_commit, "read_parquet", read)
        monkeypatch.setattr(layout, "atomic_write_parquet", write)

    def _add(self, what: str, table: pa.Table) -> None:
        if self.saves:
            save = self.saves[-1]
            save[f"{what} rows"] = save.get(f"{what} rows", 0) + table.num_rows
            save[f"{what} bytes"] = save.get(f"{what} bytes", 0) + table.nbytes

    def record(self, writer: LeRobotDatasetWriter, episodes: int) -> None:
        for _ in range(episodes):
            self.saves.append({})
            _record(writer, [FRAMES], first_ep=writer.num_episodes)

    def most(self, key: str, saves: slice) -> int:
        return max(save.get(key, 0) for save in self.saves[saves])


def _writer(root: Path, **kwargs: Any) -> LeRobotDatasetWriter:
    return LeRobotDatasetWriter.create(
        root, repo_id="t/files", fps=FPS, features=FEATURES, fsync=False, **kwargs
    )


@pytest.mark.parametrize("kind", ["data", "episodes"])
def test_what_a_save_rewrites_does_not_grow_with_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    io = _SaveIO(monkeypatch)
    with _writer(tmp_path / "ds", rewrite_limit_mb=LIMIT_MB) as writer:
        io.record(writer, 60)
    # data_files_size_in_mb stays LeRobot's 100 MB (a maximum); the files rotate far below it.
    assert DatasetMeta.load(tmp_path / "ds").info["data_files_size_in_mb"] == 100
    for what in ("read", "written"):
        for unit in ("rows", "bytes"):
            key = f"{what} {kind} {unit}"
            first, last = io.most(key, slice(0, 30)), io.most(key, slice(30, 60))
            # Files hold whole episodes, so their sizes differ by about one at rotation.
            assert 0 < last <= 1.25 * first, (key, first, last)
    files = sorted(
        (tmp_path / "ds").glob(f"{'meta/episodes' if kind == 'episodes' else 'data'}/*/*")
    )
    assert len(files) >= 3, files
    biggest = max(p.stat().st_size for p in files[:-1]) / 2**20  # every full file
    assert biggest < LIMIT_MB * 1.2, biggest


def test_without_a_rewrite_limit_each_save_rewrites_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # LeRobot's rule alone (rewrite_limit_mb=None, as before issue 13): the same recording
    # rewrites the whole session's rows at every save, which the test above would refuse.
    io = _SaveIO(monkeypatch)
    with _writer(tmp_path / "ds", rewrite_limit_mb=None) as writer:
        io.record(writer, 60)
    for kind in ("data", "episodes"):
        for what in ("read", "written"):
            key = f"{what} {kind} rows"
            assert io.most(key, slice(30, 60)) > 1.9 * io.most(key, slice(0, 30)), key
    assert len(episode_files(tmp_path / "ds")) == 1


def test_the_default_rewrite_limit_rotates_below_data_files_size(tmp_path: Path) -> None:
    # Rows of ~16 KB of noise (incompressible): a 40-frame episode is ~0.6 MB of data.
    feats = {"observation.state": {"dtype": "float32", "shape": [4000], "names": None}}
    rng = np.random.default_rng(0)
    with LeRobotDatasetWriter.create(
        tmp_path / "ds", repo_id="t/files", fps=FPS, features=feats, fsync=False
    ) as writer:
        for _ in range(6):
            for _ in range(40):
                writer.add_frame({"observation.state": rng.random(4000, np.float32)}, task="t")
            writer.save_episode()
    files = sorted((tmp_path / "ds" / "data").glob("*/*.parquet"))
    assert _commit.DEFAULT_REWRITE_LIMIT_MB < 100
    assert len(files) >= 3, files  # at 100 MB alone, one file
    assert all(p.stat().st_size / 2**20 < 2 * _commit.DEFAULT_REWRITE_LIMIT_MB for p in files)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), True])
def test_a_bad_rewrite_limit_is_refused_before_any_file(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ConfigError, match="rewrite_limit_mb"):
        _writer(tmp_path / "ds", rewrite_limit_mb=bad)
    assert not (tmp_path / "ds").exists()


@pytest.fixture
def many_files(tmp_path: Path) -> Path:
    """20 episodes over several data files and several episodes files, two chunks of each."""
    root = tmp_path / "many"
    with _writer(root, rewrite_limit_mb=LIMIT_MB, chunks_size=2) as writer:
        _record(writer, [FRAMES + k for k in range(20)])
    return root


def _assert_episodes(root: Path, sources: list[int]) -> None:
    """The dataset at ``root`` holds, in order, the many_files episodes ``sources``."""
    meta = DatasetMeta.load(root)
    assert [int(e["episode_index"]) for e in meta.episodes] == list(range(len(sources)))
    ds = LeRobotDataset(root, format="numpy")
    try:
        assert len(ds) == sum(FRAMES + s for s in sources)
        for new, src in enumerate(sources):
            lo, hi = ds.episode_range(new)
            assert hi - lo == FRAMES + src
            for i in (0, hi - lo - 1):
                item = ds[lo + i]
                assert int(item["episode_index"]) == new and int(item["frame_index"]) == i
                np.testing.assert_array_equal(item["observation.state"], _state(src, i))
    finally:
        ds.close()


def test_several_episodes_files_read_back_in_order(many_files: Path) -> None:
    eps = episode_files(many_files)
    data = sorted((many_files / "data").glob("*/*.parquet"))
    assert 3 <= len(eps) < 20 and 3 <= len(data) < 20, (eps, data)  # several episodes a file
    for files in (eps, data):  # chunks roll at 2 files
        assert {p.parent.name for p in files} >= {"chunk-000", "chunk-001"}, files
    meta = DatasetMeta.load(many_files)
    where = {(e["meta/episodes/chunk_index"], e["meta/episodes/file_index"]) for e in meta.episodes}
    assert len(where) == len(eps)  # every row says which file it lives in
    _assert_episodes(many_files, list(range(20)))
    assert validate(many_files) == []


def test_several_episodes_files_resume(many_files: Path) -> None:
    before = set(episode_files(many_files))
    with LeRobotDatasetWriter.resume(many_files, fsync=False, rewrite_limit_mb=0.006) as writer:
        assert writer.num_episodes == 20
        _record(writer, [FRAMES + 20, FRAMES + 21], first_ep=20)
    assert set(episode_files(many_files)) > before  # new files, the old ones untouched
    _assert_episodes(many_files, list(range(22)))
    assert validate(many_files) == []


def test_several_episodes_files_merge_delete_and_rebuild(many_files: Path, tmp_path: Path) -> None:
    tools.merge([many_files, many_files], tmp_path / "merged")
    _assert_episodes(tmp_path / "merged", list(range(20)) * 2)
    assert validate(tmp_path / "merged") == []

    tools.delete_episodes(many_files, [0, 5, 11], out_root=tmp_path / "fewer")
    _assert_episodes(tmp_path / "fewer", [e for e in range(20) if e not in (0, 5, 11)])
    assert validate(tmp_path / "fewer") == []

    before = DatasetMeta.load(many_files).episodes
    rebuild_meta(many_files)
    after = DatasetMeta.load(many_files).episodes
    same = ("episode_index", "length", "dataset_from_index", "dataset_to_index", "tasks")
    assert [[e[k] for k in same] for e in after] == [[e[k] for k in same] for e in before]
    _assert_episodes(many_files, list(range(20)))
    assert validate(many_files) == []
    with LeRobotDatasetWriter.resume(many_files, fsync=False) as writer:  # and records on
        _record(writer, [FRAMES + 20], first_ep=20)
    _assert_episodes(many_files, list(range(21)))
