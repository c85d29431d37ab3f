"""LeRobot v2.1 datasets: read as they are, converted to v3.0 without loss, and datasets whose
videos are absent or Git LFS pointers read through their numeric features."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from dataset_synth import FPS, frame
from v21_synth import H, W, decode_all, write_v21

from lerobot_gym.dataset import LeRobotDataset, validate
from lerobot_gym.dataset.convert import convert_v21
from lerobot_gym.dataset.lfs import is_lfs_pointer
from lerobot_gym.dataset.v21 import V21Meta, load_meta
from lerobot_gym.errors import ConfigError, DatasetCorruptError

LENGTHS = (12, 7, 15)
CAM = "observation.images.front"
NUMERIC = ("observation.state", "action", "next.reward", "next.done")
POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 12345\n"
)


@pytest.fixture(scope="module")
def v21_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_v21(tmp_path_factory.mktemp("v21") / "ds", LENGTHS)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _uint8(chw: np.ndarray) -> np.ndarray:
    """The reader's float CHW frame back to the decoded HWC uint8 (exact: x / 255 * 255)."""
    return np.rint(np.asarray(chw) * 255).astype(np.uint8).transpose(1, 2, 0)


def _pointerize(paths: list[Path]) -> None:
    for path in paths:
        path.write_text(POINTER)


# -- reading v2.1 -------------------------------------------------------------------------------


def test_reads_v21_values_tasks_and_frames(v21_root: Path) -> None:
    ds = LeRobotDataset(v21_root, format="numpy")
    assert isinstance(ds.meta, V21Meta)
    assert (len(ds), ds.num_episodes, ds.fps) == (sum(LENGTHS), 3, FPS)
    assert ds.meta.tasks == ["task 0", "task 1"]
    pos = 0
    for ep, n in enumerate(LENGTHS):
        assert ds.episode_range(ep) == (pos, pos + n)
        frames = decode_all(ds.meta.video_path(ep, CAM))
        for i in range(n):
            item, want = ds[pos + i], frame(ep, i, n, ("front",), H, W)
            for key in NUMERIC:
                np.testing.assert_array_equal(item[key].reshape(-1), np.reshape(want[key], -1))
            assert (int(item["episode_index"]), int(item["frame_index"])) == (ep, i)
            assert item["task"] == f"task {ep % 2}"
            np.testing.assert_array_equal(_uint8(item[CAM]), frames[i][1])
        pos += n
    assert ds.meta.episode_stats[1]["action"]["count"].tolist() == [7]
    ds.close()


def test_v21_delta_timestamps_pad_at_episode_edges(v21_root: Path) -> None:
    ds = LeRobotDataset(
        v21_root, episodes=[1], delta_timestamps={"action": [-1 / FPS, 0.0]}, format="numpy"
    )
    first = ds[0]
    assert first["action_is_pad"].tolist() == [True, False]
    np.testing.assert_array_equal(first["action"][0], first["action"][1])


def test_v21_torn_jsonl_names_file_and_line(tmp_path: Path, v21_root: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(v21_root, root)
    path = root / "meta/episodes.jsonl"
    path.write_text(path.read_text()[:-10])
    with pytest.raises(DatasetCorruptError, match=r"episodes.jsonl line 3 .*truncated"):
        LeRobotDataset(root)


# -- conversion ---------------------------------------------------------------------------------


def _assert_same_dataset(src: Path, out: Path) -> None:
    """Every frame value and every video frame of ``out`` equals ``src``'s, bit for bit."""
    a, b = LeRobotDataset(src, format="numpy"), LeRobotDataset(out, format="numpy")
    assert len(a) == len(b) and a.meta.tasks == b.meta.tasks
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert x.keys() == y.keys()
        for key in x:
            if key == "task":
                assert x[key] == y[key]
            else:
                assert np.asarray(x[key]).dtype == np.asarray(y[key]).dtype, key
                np.testing.assert_array_equal(x[key], y[key], err_msg=f"frame {i} {key}")
    for key in a.meta.video_keys:
        for ep in range(a.num_episodes):
            source = decode_all(a.meta.video_path(ep, key))
            row = b.meta.episodes[ep]
            start = row[f"videos/{key}/from_timestamp"]
            whole = decode_all(b.meta.video_path(ep, key))
            mine = [f for t, f in whole if start - 1e-6 <= t < row[f"videos/{key}/to_timestamp"]]
            assert len(mine) == len(source) == a.meta.episodes[ep]["length"]
            for (_, want), got in zip(source, mine):
                np.testing.assert_array_equal(got, want)
    a.close()
    b.close()


@pytest.mark.parametrize("codec", ["libsvtav1", "h264"])
def test_convert_round_trip_is_lossless(tmp_path: Path, codec: str) -> None:
    src = write_v21(tmp_path / "v21", LENGTHS, ("front", "wrist"), codec=codec)
    before = _digest(src)
    meta = convert_v21(src, tmp_path / "v30")
    assert _digest(src) == before  # the input is only read
    assert meta.info["codebase_version"] == "v3.0"
    assert (meta.num_episodes, meta.num_frames) == (3, sum(LENGTHS))
    assert validate(tmp_path / "v30") == []
    _assert_same_dataset(src, tmp_path / "v30")
    # one MP4 per camera: episodes follow each other on frame boundaries
    starts = [row[f"videos/{CAM}/from_timestamp"] for row in meta.episodes]
    assert starts == pytest.approx([0.0, LENGTHS[0] / FPS, (LENGTHS[0] + LENGTHS[1]) / FPS])
    assert len(list((tmp_path / "v30/videos").rglob("*.mp4"))) == 2
    # stats recomputed from the frames, with the quantiles v2.1 lacks (LeRobot 0.4 needs them)
    stats, recorded = meta.episode_stats[2], V21Meta.load(src).episode_stats[2]
    assert "q50" not in recorded["action"] and "q50" not in recorded[CAM]
    assert stats["action"]["q50"].shape == (6,) and stats[CAM]["q99"].shape == (3, 1, 1)
    np.testing.assert_allclose(stats["action"]["mean"], recorded["action"]["mean"], rtol=1e-6)
    assert stats[CAM]["count"].tolist() == [15]
    np.testing.assert_allclose(stats[CAM]["mean"], recorded[CAM]["mean"], atol=3 / 255)


def test_convert_splits_files_at_size_limits(tmp_path: Path, v21_root: Path) -> None:
    meta = convert_v21(
        v21_root, tmp_path / "v30", data_files_size_in_mb=1e-6, video_files_size_in_mb=1e-6
    )
    rows = meta.episodes
    assert [r["data/file_index"] for r in rows] == [0, 1, 2]
    assert [r[f"videos/{CAM}/file_index"] for r in rows] == [0, 1, 2]
    assert [r[f"videos/{CAM}/from_timestamp"] for r in rows] == [0.0, 0.0, 0.0]
    assert validate(tmp_path / "v30") == []
    _assert_same_dataset(v21_root, tmp_path / "v30")


def test_convert_refuses_bad_outputs_and_inputs(tmp_path: Path, v21_root: Path) -> None:
    taken = tmp_path / "taken"
    (taken / "x").mkdir(parents=True)
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        convert_v21(v21_root, taken)
    with pytest.raises(ConfigError, match=r"inside the v2\.1 dataset"):
        convert_v21(v21_root, v21_root / "v30")
    done = convert_v21(v21_root, tmp_path / "v30")
    with pytest.raises(ConfigError, match=r"already v3\.0"):
        convert_v21(done.root, tmp_path / "again")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert convert_v21(v21_root, empty).num_episodes == 3  # an empty folder may be the output


def test_convert_of_lfs_pointer_video_names_git_lfs_and_writes_nothing(
    tmp_path: Path, v21_root: Path
) -> None:
    src = tmp_path / "v21"
    shutil.copytree(v21_root, src)
    _pointerize([V21Meta.load(src).video_path(2, CAM)])
    with pytest.raises(DatasetCorruptError, match=r"Git LFS pointer.*git lfs pull"):
        convert_v21(src, tmp_path / "v30")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v21"]


def test_convert_removes_staging_of_dead_process_only(tmp_path: Path, v21_root: Path) -> None:
    dead = tmp_path / ".v30.staging-999999999-abc"  # no such pid
    mine = tmp_path / f".v30.staging-{os.getppid()}-abc"  # a live process (our parent)
    dead.mkdir()
    mine.mkdir()
    convert_v21(v21_root, tmp_path / "v30")
    assert not dead.exists() and mine.exists()


# -- videos absent or Git LFS pointers ----------------------------------------------------------


@pytest.fixture(params=["v3.0", "v2.1"])
def any_root(request: pytest.FixtureRequest, tmp_path: Path, v21_root: Path, small_dataset: Path):
    root = tmp_path / "copy"
    shutil.copytree(small_dataset if request.param == "v3.0" else v21_root, root)
    return root


def _videos(root: Path) -> list[Path]:
    return sorted(root.glob("videos/**/*.mp4"))


def test_lfs_pointer_videos_name_the_cause_and_numeric_features_still_read(any_root: Path) -> None:
    want = LeRobotDataset(any_root, format="numpy")
    state = np.stack([want[i]["observation.state"] for i in range(len(want))])
    want.close()
    _pointerize(_videos(any_root))
    assert all(is_lfs_pointer(p) for p in _videos(any_root))
    with pytest.raises(DatasetCorruptError, match=r"is a Git LFS pointer.*run `git lfs pull`") as e:
        LeRobotDataset(any_root)
    assert "features=[...]" in str(e.value) and "--dataset.video=false" in str(e.value)
    ds = LeRobotDataset(any_root, features=["observation.state", "action"], format="numpy")
    assert set(ds.features) >= {"observation.state", "action", "index", "task_index"}
    assert CAM not in ds.features and ds.video_keys == []
    got = np.stack([ds[i]["observation.state"] for i in range(len(ds))])
    np.testing.assert_array_equal(got, state)
    assert CAM not in ds[0] and "next.reward" not in ds[0]


def test_absent_videos_name_the_cause_and_numeric_features_still_read(any_root: Path) -> None:
    shutil.rmtree(any_root / "videos")
    with pytest.raises(DatasetCorruptError, match=r"video .* is missing"):
        LeRobotDataset(any_root)
    ds = LeRobotDataset(any_root, features=["action"], format="numpy")
    assert len(ds) == ds.meta.num_frames and ds[0]["action"].shape == (6,)


def test_lfs_pointer_data_file_names_git_lfs(any_root: Path) -> None:
    _pointerize([load_meta(any_root).data_path(0)])
    with pytest.raises(DatasetCorruptError, match=r"data file .* Git LFS pointer.*git lfs pull"):
        LeRobotDataset(any_root, features=["action"])


def test_unknown_feature_selection_is_a_config_error(v21_root: Path) -> None:
    with pytest.raises(ConfigError, match="not in"):
        LeRobotDataset(v21_root, features=["observation.imagez"])
    with pytest.raises(ConfigError, match="add it to features"):
        LeRobotDataset(v21_root, features=["action"], delta_timestamps={CAM: [0.0]})
