"""Writer and reader round trip, stats, resume, rotation (LeRobot v3.0 layout)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from dataset_synth import FPS, features, frame, image, record

from lerobot_gym.dataset import DatasetMeta, LeRobotDataset, LeRobotDatasetWriter
from lerobot_gym.errors import ConfigError, DatasetError, DatasetMismatchError


def test_layout_and_info(small_dataset: Path) -> None:
    root = small_dataset
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["fps"] == FPS and isinstance(info["fps"], int)
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 60, 2)
    assert info["splits"] == {"train": "0:3"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert info["features"][key]["names"] is None
    vinfo = info["features"]["observation.images.front"]["info"]
    assert vinfo["video.codec"] == "av1" and vinfo["video.pix_fmt"] == "yuv420p"
    assert (vinfo["video.g"], vinfo["video.crf"], vinfo["video.fps"]) == (2, 30, 30)
    assert (root / "meta/tasks.parquet").exists()
    assert (root / "meta/episodes/chunk-000/file-000.parquet").exists()
    assert (root / "videos/observation.images.front/chunk-000/file-000.mp4").exists()
    assert not (root / ".staging").exists()

    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert "observation.images.front" not in data.column_names
    assert str(data.schema.field("next.reward").type) == "float"  # scalar, not a 1-list
    assert str(data.schema.field("observation.state").type).startswith("fixed_size_list")
    assert data["index"].to_pylist() == list(range(60))
    ts = data["timestamp"].to_numpy()
    fi = data["frame_index"].to_numpy()
    np.testing.assert_allclose(ts, (fi / FPS).astype(np.float32))

    # tasks.parquet reads back in pandas with the task as index, as LeRobot expects
    pd = pytest.importorskip("pandas")
    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert tasks.index.name == "task"
    assert tasks.loc["task 1", "task_index"] == 1


def test_round_trip_values_and_frames(small_dataset: Path) -> None:
    ds = LeRobotDataset(small_dataset, format="numpy")
    assert len(ds) == 60 and ds.num_episodes == 3
    lengths = [20, 25, 15]
    errors = []
    for ep, n in enumerate(lengths):
        start, stop = ds.episode_range(ep)
        assert stop - start == n
        for i in range(n):
            item = ds[start + i]
            want = frame(ep, i, n)
            np.testing.assert_array_equal(item["observation.state"], want["observation.state"])
            np.testing.assert_array_equal(item["action"], want["action"])
            assert item["next.reward"] == want["next.reward"]
            assert bool(item["next.done"]) == want["next.done"]
            assert item["complementary_info.discrete_penalty"] == pytest.approx(
                want["complementary_info.discrete_penalty"]
            )
            assert item["task"] == f"task {ep % 2}"
            assert int(item["frame_index"]) == i and int(item["episode_index"]) == ep
            img = item["observation.images.front"]
            assert img.shape == (3, 48, 64) and img.dtype == np.float32
            ref = image(ep, i, 0).transpose(2, 0, 1) / 255.0
            errors.append(np.abs(img - ref).mean())
            # The mean brightness identifies the frame: a neighbour is 6/255 away.
            assert abs(img.mean() - ref.mean()) < 2.5 / 255
    assert np.mean(errors) < 0.02


def test_reader_random_order_and_torch(small_dataset: Path) -> None:
    torch = pytest.importorskip("torch")
    ds = LeRobotDataset(small_dataset)
    rng = np.random.default_rng(0)
    for idx in rng.permutation(len(ds))[:20]:
        item = ds[int(idx)]
        assert isinstance(item["observation.images.front"], torch.Tensor)
        assert item["observation.images.front"].dtype == torch.float32
        assert item["next.reward"].shape == ()  # LeRobot's scalar columns are 0-d tensors
        assert int(item["index"]) == idx


def test_delta_timestamps_and_padding(small_dataset: Path) -> None:
    ds = LeRobotDataset(
        small_dataset,
        delta_timestamps={
            "observation.images.front": [-2 / FPS, 0.0],
            "action": [0.0, 1 / FPS, 2 / FPS],
        },
        format="numpy",
    )
    item = ds[0]  # first frame of episode 0
    assert item["observation.images.front"].shape == (2, 3, 48, 64)
    assert item["observation.images.front_is_pad"].tolist() == [True, False]
    assert item["action"].shape == (3, 6)
    item = ds[19]  # last frame of episode 0
    assert item["action_is_pad"].tolist() == [False, True, True]
    np.testing.assert_array_equal(item["action"][1], item["action"][0])  # edge repeated
    item = ds[25]  # episode 1, frame 5
    np.testing.assert_array_equal(item["action"][2], frame(1, 7, 25)["action"])
    earlier = item["observation.images.front"][0]
    ref = image(1, 3, 0).transpose(2, 0, 1) / 255.0
    assert abs(earlier.mean() - ref.mean()) < 2.5 / 255
    with pytest.raises(ConfigError):
        LeRobotDataset(small_dataset, delta_timestamps={"action": [0.01]})


def test_episode_subset(small_dataset: Path) -> None:
    ds = LeRobotDataset(small_dataset, episodes=[2, 0], format="numpy")
    assert len(ds) == 35 and ds.episodes == [0, 2]
    assert int(ds[20]["episode_index"]) == 2
    with pytest.raises(ConfigError):
        LeRobotDataset(small_dataset, episodes=[3])


def test_stats_match_numpy(small_dataset: Path) -> None:
    meta = DatasetMeta.load(small_dataset)
    lengths = [20, 25, 15]
    states = np.concatenate(
        [
            np.stack([frame(e, i, n)["observation.state"] for i in range(n)])
            for e, n in enumerate(lengths)
        ]
    ).astype(np.float64)
    s = meta.stats["observation.state"]
    np.testing.assert_allclose(s["mean"], states.mean(0), rtol=1e-9)
    np.testing.assert_allclose(s["std"], states.std(0), rtol=1e-9)
    np.testing.assert_array_equal(s["min"], states.min(0))
    np.testing.assert_array_equal(s["max"], states.max(0))
    assert s["count"].tolist() == [60]
    # per-episode quantiles are exact
    ep1 = states[20:45]
    np.testing.assert_allclose(
        meta.episode_stats[1]["observation.state"]["q90"], np.quantile(ep1, 0.9, axis=0)
    )
    # aggregated quantiles: LeRobot's envelope (q<=0.5 min over episodes, q>0.5 max)
    q01 = [meta.episode_stats[e]["observation.state"]["q01"] for e in range(3)]
    np.testing.assert_allclose(s["q01"], np.min(q01, axis=0))
    # image stats: per channel, (3,1,1), in [0,1]; exact over every (downsample-free) pixel
    img_stats = meta.episode_stats[0]["observation.images.front"]
    pixels = np.stack([image(0, i, 0) for i in range(20)]).reshape(-1, 3) / 255.0
    assert np.asarray(img_stats["mean"]).shape == (3, 1, 1)
    np.testing.assert_allclose(np.asarray(img_stats["mean"]).ravel(), pixels.mean(0), atol=1e-9)
    np.testing.assert_allclose(np.asarray(img_stats["std"]).ravel(), pixels.std(0), atol=1e-9)
    np.testing.assert_allclose(
        np.asarray(img_stats["q50"]).ravel(), np.quantile(pixels, 0.5, axis=0), atol=1e-9
    )
    assert img_stats["count"].tolist() == [20]
    # default features have stats too, as in LeRobot
    assert meta.stats["frame_index"]["max"].tolist() == [24]
    # stats.json == aggregate of the per-episode stats stored in the episodes parquet
    raw = json.loads((small_dataset / "meta/stats.json").read_text())
    assert set(raw["observation.state"]) >= {
        "min",
        "max",
        "mean",
        "std",
        "count",
        "q01",
        "q10",
        "q50",
        "q90",
        "q99",
    }


def test_resume_contiguous_and_mismatch(small_dataset: Path) -> None:
    feats = features()
    with pytest.raises(DatasetMismatchError):
        LeRobotDatasetWriter.resume(small_dataset, fps=15, features=feats)
    other = dict(feats)
    other["action"] = {"dtype": "float32", "shape": [7], "names": None}
    with pytest.raises(DatasetMismatchError, match="action"):
        LeRobotDatasetWriter.resume(small_dataset, fps=FPS, features=other)
    with LeRobotDatasetWriter.resume(small_dataset, fps=FPS, features=feats) as w:
        assert (w.num_episodes, w.num_frames) == (3, 60)
        assert record(w, [10, 12], first_ep=3) == [3, 4]
    meta = DatasetMeta.load(small_dataset)
    assert meta.num_episodes == 5 and meta.num_frames == 82
    assert [e["dataset_from_index"] for e in meta.episodes] == [0, 20, 45, 60, 70]
    # a resumed writer starts new files, like LeRobot
    assert meta.episodes[3]["data/file_index"] == 1
    assert meta.episodes[3]["meta/episodes/file_index"] == 1
    ds = LeRobotDataset(small_dataset, format="numpy")
    assert ds[81]["index"] == 81 and ds[81]["frame_index"] == 11
    assert meta.stats["observation.state"]["count"].tolist() == [82]


def test_clear_episode_and_errors(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    w = LeRobotDatasetWriter.create(root, repo_id="t/x", fps=FPS, features=features())
    for i in range(5):
        w.add_frame(frame(0, i, 5), task="discarded")
    assert w.episode_buffer_size == 5
    w.clear_episode()
    assert w.episode_buffer_size == 0
    with pytest.raises(DatasetError):
        w.save_episode()
    record(w, [8])
    with pytest.raises(ConfigError, match="missing"):
        w.add_frame({"action": np.zeros(6, np.float32)}, task="x")
    bad = frame(0, 0, 1)
    bad["observation.state"] = np.zeros(5, np.float32)
    with pytest.raises(ConfigError, match="shape"):
        w.add_frame(bad, task="x")
    with pytest.raises(ConfigError, match="task"):
        w.add_frame(frame(0, 0, 1))
    w.close()
    meta = DatasetMeta.load(root)
    assert meta.num_episodes == 1 and meta.tasks == ["task 0"]
    with pytest.raises(DatasetError):
        LeRobotDatasetWriter.create(root, repo_id="t/x", fps=FPS, features=features())


def test_rotation_with_tiny_limits(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with LeRobotDatasetWriter.create(
        root,
        repo_id="t/x",
        fps=FPS,
        features=features(),
        data_files_size_in_mb=0.004,
        chunks_size=2,
        fsync=False,
    ) as w:
        record(w, [15] * 5)
    meta = DatasetMeta.load(root)
    places = [(e["data/chunk_index"], e["data/file_index"]) for e in meta.episodes]
    assert len(set(places)) > 1, places  # the data file rotated
    assert max(c for c, _ in places) >= 1  # and, with 2 files per chunk, the chunk too
    assert all(f < 2 for _, f in places)
    videos = sorted((root / "videos/observation.images.front").glob("*/*.mp4"))
    assert len(videos) == 5 and {p.parent.name for p in videos} == {
        "chunk-000",
        "chunk-001",
        "chunk-002",
    }
    ds = LeRobotDataset(root, format="numpy")
    assert len(ds) == 75
    assert [int(ds[k]["episode_index"]) for k in (0, 15, 30, 45, 74)] == [0, 1, 2, 3, 4]


def test_h264_and_chw_float_frames(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    feats = features()
    feats["observation.images.front"] = {
        "dtype": "video",
        "shape": [3, 48, 64],
        "names": ["channels", "height", "width"],
    }
    with LeRobotDatasetWriter.create(
        root, repo_id="t/x", fps=FPS, features=feats, vcodec="h264", crf=10
    ) as w:
        for i in range(10):
            f = frame(0, i, 10)
            f["observation.images.front"] = f["observation.images.front"].transpose(2, 0, 1) / 255.0
            w.add_frame(f, task="t")
        w.save_episode()
    info = json.loads((root / "meta/info.json").read_text())
    assert info["features"]["observation.images.front"]["info"]["video.codec"] == "h264"
    ds = LeRobotDataset(root, format="numpy")
    err = np.abs(ds[7]["observation.images.front"] - image(0, 7, 0).transpose(2, 0, 1) / 255).mean()
    assert err < 0.01


def test_image_dtype_is_exact(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with LeRobotDatasetWriter.create(
        root, repo_id="t/x", fps=FPS, features=features(), use_videos=False
    ) as w:
        record(w, [6])
    assert json.loads((root / "meta/info.json").read_text())["video_path"] is None
    ds = LeRobotDataset(root, format="numpy")
    np.testing.assert_array_equal(
        np.rint(ds[4]["observation.images.front"] * 255).astype(np.uint8),
        image(0, 4, 0).transpose(2, 0, 1),
    )


def test_unknown_codec_is_typed() -> None:
    from lerobot_gym.dataset.video import VideoEncoding

    with pytest.raises(ConfigError, match="h264"):
        VideoEncoding(vcodec="libaom-av1").encoder_name()


def test_missing_libsvtav1_names_h264(tmp_path: Path, monkeypatch) -> None:
    import av

    real = av.codec.Codec

    def codec(name, mode="r"):
        if name == "libsvtav1":
            raise av.codec.codec.UnknownCodecError(name)
        return real(name, mode)

    monkeypatch.setattr(av.codec, "Codec", codec)
    with pytest.raises(ConfigError, match="vcodec='h264'"):
        LeRobotDatasetWriter.create(tmp_path / "a", repo_id="t/x", fps=FPS, features=features())
    with LeRobotDatasetWriter.create(
        tmp_path / "b", repo_id="t/x", fps=FPS, features=features(), vcodec="h264"
    ) as w:
        record(w, [3])


def test_close_warns_about_unsaved_frames(tmp_path: Path) -> None:
    w = LeRobotDatasetWriter.create(tmp_path / "ds", repo_id="t/x", fps=FPS, features=features())
    w.add_frame(frame(0, 0, 1), task="t")
    with pytest.warns(UserWarning, match="1 frames"):
        w.close()
    assert DatasetMeta.load(tmp_path / "ds").num_episodes == 0
    assert LeRobotDataset(tmp_path / "ds", format="numpy").num_frames == 0


def test_timestamps(tmp_path: Path) -> None:
    feats = features(cams=())
    with LeRobotDatasetWriter.create(tmp_path / "a", repo_id="t/x", fps=FPS, features=feats) as w:
        for i in range(3):  # without video, any timestamps are stored as given
            f = frame(0, i, 3, cams=())
            f["timestamp"] = 0.5 * i
            w.add_frame(f, task="t")
        w.save_episode()
    ds = LeRobotDataset(tmp_path / "a", format="numpy")
    assert [float(ds[i]["timestamp"]) for i in range(3)] == [0.0, 0.5, 1.0]
    with LeRobotDatasetWriter.create(
        tmp_path / "b", repo_id="t/x", fps=FPS, features=features()
    ) as w:
        f = frame(0, 0, 2)
        w.add_frame(dict(f, timestamp=0.0), task="t")
        with pytest.raises(ConfigError, match="constant rate"):
            w.add_frame(dict(frame(0, 1, 2), timestamp=0.05), task="t")
        w.clear_episode()
