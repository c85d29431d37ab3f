"""Small LeRobot v2.1 datasets for the v2.1 reading and conversion tests (imported by basename).

The layout is LeRobot 0.3.3's (lerobot/datasets/utils.py of that release): meta/info.json
(codebase_version "v2.1"), tasks.jsonl, episodes.jsonl, episodes_stats.jsonl, one parquet per
episode under data/chunk-XXX/ and one MP4 per episode and camera under
videos/chunk-XXX/<key>/, its first frame at pts 0. tests/compat records the same layout with
LeRobot 0.3.3 itself; this writer lets the main test run exercise it without that venv, and
choose codecs (H.264 with B-frames has negative decode timestamps at each file's start).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from dataset_synth import FPS, features, frame

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.stats import ImageStatsAccumulator, numeric_stats

DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
H, W = 48, 64


def write_v21(
    root: Path,
    lengths: tuple[int, ...] = (12, 7, 15),
    cams: tuple[str, ...] = ("front",),
    *,
    codec: str = "libsvtav1",
    chunks_size: int = 1000,
) -> Path:
    """Write a v2.1 dataset of ``dataset_synth`` frames; returns ``root``."""
    feats = layout.normalize_features(features(cams, H, W))
    info = {
        "codebase_version": "v2.1",
        "robot_type": "so101_follower",
        "total_episodes": len(lengths),
        "total_frames": sum(lengths),
        "total_tasks": 2,
        "total_videos": len(lengths) * len(cams),
        "total_chunks": (len(lengths) - 1) // chunks_size + 1,
        "chunks_size": chunks_size,
        "fps": FPS,
        "splits": {"train": f"0:{len(lengths)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH,
        "features": feats,
    }
    tasks, episodes, stats_lines = [], [], []
    index = 0
    for ep, n in enumerate(lengths):
        task = f"task {ep % 2}"
        if task not in tasks:
            tasks.append(task)
        frames = [frame(ep, i, n, cams, H, W) for i in range(n)]
        columns: dict[str, np.ndarray] = {
            key: np.stack([np.asarray(f[key]) for f in frames])
            for key, ft in feats.items()
            if ft["dtype"] != "video" and key in frames[0]
        }
        columns["timestamp"] = (np.arange(n) / FPS).astype(np.float32)
        columns["frame_index"] = np.arange(n)
        columns["episode_index"] = np.full(n, ep)
        columns["index"] = np.arange(index, index + n)
        columns["task_index"] = np.full(n, tasks.index(task))
        arrays = {}
        for key, values in columns.items():
            ft = feats[key]
            arr = values.astype(ft["dtype"])
            if list(ft["shape"]) == [1]:
                arrays[key] = pa.array(arr.reshape(-1))
            else:  # LeRobot 0.3's datasets.Sequence(length=D): a fixed-size list
                arrays[key] = pa.FixedSizeListArray.from_arrays(
                    pa.array(arr.reshape(-1)), ft["shape"][0]
                )
        path = root / DATA_PATH.format(episode_chunk=ep // chunks_size, episode_index=ep)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(arrays), path)
        ep_stats = {k: numeric_stats(v) for k, v in columns.items()}
        for cam in cams:
            key = f"observation.images.{cam}"
            video = root / VIDEO_PATH.format(
                episode_chunk=ep // chunks_size, video_key=key, episode_index=ep
            )
            acc = ImageStatsAccumulator()
            images = [f[key] for f in frames]
            for img in images:
                acc.update(img)
            encode(video, images, codec)
            ep_stats[key] = {k: v for k, v in acc.result().items() if not k.startswith("q")}
        for per in ep_stats.values():
            for k in [k for k in per if k.startswith("q")]:
                del per[k]  # v2.1 stats have no quantiles
        episodes.append({"episode_index": ep, "tasks": [task], "length": n})
        stats_lines.append(
            {
                "episode_index": ep,
                "stats": {
                    f: {s: np.asarray(v).tolist() for s, v in per.items()}
                    for f, per in ep_stats.items()
                },
            }
        )
        index += n
    meta = root / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "info.json").write_text(json.dumps(info, indent=4))
    _jsonl(meta / "tasks.jsonl", [{"task_index": i, "task": t} for i, t in enumerate(tasks)])
    _jsonl(meta / "episodes.jsonl", episodes)
    _jsonl(meta / "episodes_stats.jsonl", stats_lines)
    return root


def encode(path: Path, images: list[np.ndarray], codec: str) -> None:
    """One MP4, frame i at pts i/fps; ``h264`` keeps libx264's B-frames (reordered pts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        name = "libx264" if codec == "h264" else codec
        options = {"g": "2", "crf": "30"}
        if name == "libx264":
            options = {"g": "12", "crf": "18", "bf": "2"}
        stream = out.add_stream(name, rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        for i, img in enumerate(images):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = i
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def decode_all(path: Path) -> list[tuple[float, np.ndarray]]:
    """Every frame of an MP4 in presentation order: (time in s, RGB array)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        out = [
            (float(f.pts * stream.time_base), f.to_ndarray(format="rgb24"))
            for f in container.decode(stream)
        ]
    return sorted(out, key=lambda x: x[0])


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
