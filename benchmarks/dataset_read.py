"""Random-access read speed of a LeRobot v3.0 dataset with one video camera.

Writes its own dataset (libsvtav1, LeRobot's default settings), then measures
``LeRobotDataset.__getitem__`` at random indices -- what a shuffled training DataLoader does --
and prints it as a ratio against an anchor measured in the same run: decoding the same videos
sequentially with PyAV (the fastest any reader can go through these files, frame by frame).

Usage: python benchmarks/dataset_read.py [--quick] [--height H --width W] [--items N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from lerobot_gym.dataset import DatasetMeta, LeRobotDataset, LeRobotDatasetWriter

FPS = 30


def write_dataset(root: Path, episodes: int, frames: int, h: int, w: int) -> float:
    feats = {
        "observation.state": {"dtype": "float32", "shape": [6], "names": None},
        "action": {"dtype": "float32", "shape": [6], "names": None},
        "observation.images.front": {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
        },
    }
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 127 // (h + w)], -1)
    saves = []
    with LeRobotDatasetWriter.create(root, repo_id="bench/read", fps=FPS, features=feats) as wr:
        for ep in range(episodes):
            for i in range(frames):
                img = ((base + 2 * i + 17 * ep) % 256).astype(np.uint8)
                state = np.full(6, i, np.float32)
                wr.add_frame(
                    {"observation.state": state, "action": state, "observation.images.front": img},
                    task="bench",
                )
            t0 = time.perf_counter()
            wr.save_episode()
            saves.append(time.perf_counter() - t0)
    return float(np.mean(saves))


def sequential_decode_fps(meta: DatasetMeta) -> float:
    paths = sorted(
        {meta.video_path(e, "observation.images.front") for e in range(meta.num_episodes)}
    )
    n = 0
    t0 = time.perf_counter()
    for path in paths:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                frame.to_ndarray(format="rgb24")
                n += 1
    return n / (time.perf_counter() - t0)


def random_access_fps(root: Path, items: int, seed: int, fmt: str) -> float:
    ds = LeRobotDataset(root, format=fmt)
    rng = np.random.default_rng(seed)
    order = rng.integers(0, len(ds), size=items)
    ds[int(order[0])]  # open the containers outside the timed loop
    t0 = time.perf_counter()
    for i in order:
        ds[int(i)]
    rate = items / (time.perf_counter() - t0)
    ds.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small dataset, fewer reads")
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    episodes, frames = (2, 150) if args.quick else (6, 600)
    items = args.items or (600 if args.quick else 3000)
    tmp = Path(tempfile.mkdtemp(prefix="lerobot_gym_bench_"))
    try:
        root = tmp / "ds"
        save_s = write_dataset(root, episodes, frames, args.height, args.width)
        meta = DatasetMeta.load(root)
        anchor = sequential_decode_fps(meta)
        fmt = "torch"
        try:
            import torch  # noqa: F401
        except ImportError:
            fmt = "numpy"
        rand = random_access_fps(root, items, args.seed, fmt)
        print(
            f"dataset: {episodes} episodes x {frames} frames, one {args.height}x{args.width} "
            f"libsvtav1 camera; mean save_episode {save_s * 1000:.0f} ms"
        )
        print(f"anchor   sequential PyAV decode:        {anchor:8.1f} frames/s")
        print(f"measured random-access __getitem__ ({fmt}): {rand:8.1f} frames/s")
        print(f"ratio    random / sequential:            {rand / anchor:8.3f}")
        print(f"goal >= 500 frames/s: {'met' if rand >= 500 else 'NOT met'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
