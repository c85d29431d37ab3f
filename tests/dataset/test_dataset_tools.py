"""merge, delete_episodes, recompute_stats, info and push_to_hub (with a fake Hub client)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from dataset_synth import FPS, features, frame, image, record

from lerobot_gym.dataset import DatasetMeta, LeRobotDataset, LeRobotDatasetWriter, tools, validate
from lerobot_gym.dataset.stats import ImageStatsAccumulator, numeric_stats
from lerobot_gym.errors import ConfigError, DatasetCorruptError, DatasetError, DatasetMismatchError


class ProgressLog:
    """A ``progress(done, total)`` callback that remembers its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))

    def assert_counted_to(self, total: int) -> None:
        """One call per unit: 0, 1, ..., total (strictly increasing), always with ``total``."""
        assert self.calls == [(done, total) for done in range(total + 1)]


def _second(tmp_path: Path, lengths=(12, 9), fps=FPS, feats=None) -> Path:
    root = tmp_path / "second"
    with LeRobotDatasetWriter.create(
        root, repo_id="t/b", fps=fps, features=feats or features(), fsync=False
    ) as w:
        for k, n in enumerate(lengths):
            for i in range(n):
                w.add_frame(frame(10 + k, i, n), task="stack the blocks")
            w.save_episode()
    return root


def test_merge(small_dataset: Path, tmp_path: Path) -> None:
    other = _second(tmp_path)
    out = tmp_path / "merged"
    progress = ProgressLog()
    meta = tools.merge([small_dataset, other], out, progress=progress)
    progress.assert_counted_to(5)
    assert meta.num_episodes == 5 and meta.num_frames == 60 + 21
    assert meta.tasks == ["task 0", "task 1", "stack the blocks"]
    assert validate(out) == []
    ds = LeRobotDataset(out, format="numpy")
    assert [int(ds[i]["index"]) for i in (0, 80)] == [0, 80]
    item = ds[60 + 12 + 4]  # second dataset, its episode 1, frame 4
    assert int(item["episode_index"]) == 4 and item["task"] == "stack the blocks"
    np.testing.assert_array_equal(item["observation.state"], frame(11, 4, 9)["observation.state"])
    ref = image(11, 4, 0).transpose(2, 0, 1) / 255.0
    assert abs(item["observation.images.front"].mean() - ref.mean()) < 2.5 / 255
    assert meta.stats["observation.state"]["count"].tolist() == [81]
    assert json.loads((out / "meta/info.json").read_text())["total_tasks"] == 3


def test_merge_mismatch(small_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetMismatchError, match="fps"):
        tools.merge([small_dataset, _second(tmp_path, fps=15)], tmp_path / "out")
    feats = features()
    feats["action"]["names"] = None
    other = tmp_path / "third"
    other.mkdir()
    with pytest.raises(DatasetMismatchError, match="action"):
        tools.merge([small_dataset, _second(other, feats=feats)], tmp_path / "out2")


def test_delete_episodes_in_place_and_to_new_root(small_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "deleted"
    progress = ProgressLog()
    meta = tools.delete_episodes(small_dataset, [1], out_root=out, progress=progress)
    progress.assert_counted_to(2)  # the episodes kept are the ones written
    assert [e["length"] for e in meta.episodes] == [20, 15]
    assert validate(out) == []
    ds = LeRobotDataset(out, format="numpy")
    item = ds[20 + 3]  # old episode 2, frame 3 -> new episode 1
    assert (int(item["episode_index"]), int(item["index"])) == (1, 23)
    np.testing.assert_array_equal(item["observation.state"], frame(2, 3, 15)["observation.state"])
    assert item["task"] == "task 0"

    progress = ProgressLog()
    meta = tools.delete_episodes(small_dataset, [0, 2], progress=progress)
    progress.assert_counted_to(1)
    assert meta.num_episodes == 1 and meta.episodes[0]["length"] == 25
    assert validate(small_dataset) == []
    assert not list(small_dataset.parent.glob(".ds.*"))  # no leftovers next to it
    # the re-indexed dataset can be resumed with contiguous indices
    with LeRobotDatasetWriter.resume(small_dataset, fps=FPS, features=features()) as w:
        assert record(w, [5], first_ep=1) == [1]
    assert DatasetMeta.load(small_dataset).episodes[1]["dataset_from_index"] == 25
    with pytest.raises(ConfigError):
        tools.delete_episodes(small_dataset, [7])


def test_recompute_stats(small_dataset: Path) -> None:
    before = json.loads((small_dataset / "meta/stats.json").read_text())
    (small_dataset / "meta/stats.json").unlink()
    progress = ProgressLog()
    after = tools.recompute_stats(small_dataset, progress=progress)
    progress.assert_counted_to(3)
    for key in ("observation.state", "action", "next.reward", "index"):
        for stat in ("min", "max", "mean", "std", "q01", "q99"):
            np.testing.assert_allclose(after[key][stat], before[key][stat], rtol=1e-6)
    # video stats now come from decoded frames: close to the stats of the written frames
    cam = "observation.images.front"
    np.testing.assert_allclose(after[cam]["mean"], before[cam]["mean"], atol=0.01)
    assert after[cam]["count"] == before[cam]["count"]
    assert validate(small_dataset) == []


def test_info(small_dataset: Path) -> None:
    summary = tools.info(small_dataset)
    assert summary["episodes"] == 3 and summary["frames"] == 60
    assert summary["duration_s"] == pytest.approx(2.0)
    assert summary["cameras"] == ["observation.images.front"]
    assert summary["video_codecs"] == {"observation.images.front": "av1"}
    assert summary["robot_type"] == "so101_follower" and summary["size_mb"] > 0


def test_push_to_hub_uses_upload_folder(small_dataset: Path, monkeypatch) -> None:
    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kw):
            calls.append(("create_repo", repo_id, kw["repo_type"], kw["private"]))

        def upload_folder(self, **kw):
            calls.append(("upload_folder", kw))
            return types.SimpleNamespace(commit_url="https://hf.example/commit/1")

        def create_tag(self, repo_id, **kw):
            calls.append(("create_tag", repo_id, kw["tag"]))

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(HfApi=FakeApi))
    url = tools.push_to_hub(small_dataset, "me/pick", token="tok", private=True)
    assert url == "https://hf.example/commit/1"
    assert calls[0] == ("init", "tok")
    assert calls[1] == ("create_repo", "me/pick", "dataset", True)
    upload = calls[2][1]
    assert upload["folder_path"] == str(small_dataset) and upload["repo_type"] == "dataset"
    assert ".staging/**" in upload["ignore_patterns"]
    assert calls[3] == ("create_tag", "me/pick", "v3.0")


def test_push_to_hub_without_hub_package(small_dataset: Path, monkeypatch) -> None:
    from lerobot_gym.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(MissingExtraError, match="hub"):
        tools.push_to_hub(small_dataset, "me/pick")


def test_recompute_stats_reads_each_data_file_once(small_dataset: Path, monkeypatch) -> None:
    reads: list[str] = []
    real = tools.read_parquet

    def counting(path, *args, **kwargs):
        reads.append(Path(path).parent.parent.name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(tools, "read_parquet", counting)
    tools.recompute_stats(small_dataset)
    assert reads.count("data") == 1  # three episodes, one data file


def test_recompute_stats_errors_are_typed(small_dataset: Path) -> None:
    video = small_dataset / "videos/observation.images.front/chunk-000/file-001.mp4"
    video.write_bytes(video.read_bytes()[:200])
    with pytest.raises(DatasetCorruptError, match="episode 1") as err:
        tools.recompute_stats(small_dataset)
    assert err.value.path == str(video)
    assert "delete-episodes" in str(err.value) and "--dataset.episodes=[1]" in str(err.value)

    video.unlink()
    with pytest.raises(DatasetCorruptError, match="missing"):
        tools.recompute_stats(small_dataset)


def test_stats_of_nothing_are_typed() -> None:
    with pytest.raises(DatasetError, match="no frames"):
        numeric_stats(np.zeros((0, 3)))
    with pytest.raises(DatasetError, match="without frames"):
        ImageStatsAccumulator().result()


def test_exchange_dirs_swaps_two_folders(tmp_path: Path) -> None:
    from lerobot_gym.dataset import layout

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "from_a").touch()
    assert layout.exchange_dirs(tmp_path / "a", tmp_path / "b")
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["from_a"]
    assert not list((tmp_path / "a").iterdir())


def test_delete_in_place_without_an_atomic_exchange(small_dataset: Path, monkeypatch) -> None:
    """Where renameat2 is missing (not Linux), two renames place the new dataset."""
    from lerobot_gym.dataset import layout

    monkeypatch.setattr(layout, "exchange_dirs", lambda a, b: False)
    meta = tools.delete_episodes(small_dataset, [0])
    assert [e["length"] for e in meta.episodes] == [25, 15]
    assert validate(small_dataset) == []
    assert not list(small_dataset.parent.glob(".ds.*"))
