"""Long recording sessions: what the writer holds in memory does not grow with the episodes.

Issue 13, item 5: the writer kept the current data and episodes parquet files as in-memory
tables, one more chunk per column per episode, to rewrite them whole at every save. The
episodes file holds a few KB a row and was only rotated at ``data_files_size_in_mb`` (100 MB),
so over an hour's recording (about 900 episodes) those tables, their numpy buffers and the
C++ objects of every chunk grew without bound (~0.1 MB per episode). What a save reads back
and rewrites is now bounded too (``tests/dataset/test_dataset_many_files.py``).
``benchmarks/soak.py`` measures the whole recorder; these tests measure the writer alone, on
numeric features (no encoder threads), so every byte that stays allocated after a save is the
writer's.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pyarrow as pa
from dataset_synth import FPS, features, record

from lerobot_gym.dataset import DatasetMeta, LeRobotDataset, LeRobotDatasetWriter
from lerobot_gym.dataset._heap import malloc_in_use

FRAMES = 50  # per episode
WARMUP = 5  # episodes before the first measurement (caches, pyarrow's lazy imports)
MEASURED = 25  # episodes between the two measurements


def _held() -> tuple[int, int, int | None]:
    """(pyarrow pool bytes, Python/numpy bytes traced, malloc bytes in use) after a collection."""
    gc.collect()
    return pa.total_allocated_bytes(), tracemalloc.get_traced_memory()[0], malloc_in_use()


def test_writer_memory_does_not_grow_with_episodes(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        with LeRobotDatasetWriter.create(
            tmp_path / "ds", repo_id="t/mem", fps=FPS, features=features(cams=()), fsync=False
        ) as writer:
            record(writer, [FRAMES] * WARMUP, cams=())
            arrow0, traced0, malloc0 = _held()
            record(writer, [FRAMES] * MEASURED, first_ep=WARMUP, cams=())
            arrow1, traced1, malloc1 = _held()
    finally:
        tracemalloc.stop()
    # Measured with the rows held in memory (issue 13), 50-frame episodes: the pyarrow pool grew
    # ~15 KB an episode, Python and numpy ~7 KB, malloc ~155 KB (the C++ objects of one more
    # chunk per column per episode); with the rows read back at each save: 0, 8 KB and ~100 KB
    # over all 25 episodes (caches and allocator noise, not per-episode growth).
    grown = {"pyarrow pool": arrow1 - arrow0, "Python and numpy": traced1 - traced0}
    if malloc0 is not None and malloc1 is not None:
        grown["malloc in use"] = malloc1 - malloc0
    limits = {"pyarrow pool": 4_000, "Python and numpy": 64_000, "malloc in use": 1_000_000}
    over = {k: v for k, v in grown.items() if v > limits[k]}
    assert not over, f"bytes held grew over {MEASURED} episodes: {grown} (limits {limits})"

    meta = DatasetMeta.load(tmp_path / "ds")
    assert meta.num_episodes == WARMUP + MEASURED
    assert meta.num_frames == (WARMUP + MEASURED) * FRAMES
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    assert [int(ds[k]["index"]) for k in (0, len(ds) - 1)] == [0, len(ds) - 1]


def test_importing_lerobot_gym_makes_pyarrow_allocate_from_malloc() -> None:
    # mimalloc (pyarrow's default) kept the pages of each save's ever larger buffers resident.
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    code = "import lerobot_gym, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "system", out.stderr
