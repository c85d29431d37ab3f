"""Long recording sessions: what the writer holds in memory does not grow with the episodes.

Issue 13, item 5: the writer kept the current data and episodes parquet files as in-memory
tables, one more chunk per column per episode, to rewrite them whole at every save. The
episodes file holds a few KB a row and was only rotated at ``data_files_size_in_mb`` (100 MB),
so over an hour's recording (about 900 episodes) those tables, their numpy buffers and the
C++ objects of every chunk grew without bound (~0.1 MB per episode). What a save reads back
and rewrites is now bounded too (``tests/dataset/test_dataset_many_files.py``).
``benchmarks/soak.py`` measures the whole recorder; these tests measure the writer alone, on
numeric features (no encoder threads), in a process of their own
(``writer_memory_child.py``), so every byte that stays allocated after a save is the writer's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lerobot_gym.dataset import DatasetMeta, LeRobotDataset

CHILD = Path(__file__).resolve().parent / "writer_memory_child.py"
FRAMES, WARMUP, MEASURED = 50, 5, 25  # as in the child: frames an episode, episodes


def test_writer_memory_does_not_grow_with_episodes(tmp_path: Path) -> None:
    # Measured in a fresh process: in the pytest process, threads left by earlier tests could
    # allocate from the pyarrow pool between the two measurements (seen once in CI: 55 KB).
    out = subprocess.run(
        [sys.executable, str(CHILD), str(tmp_path / "ds")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    held = json.loads(out.stdout)
    # Measured with the rows held in memory (issue 13), 50-frame episodes: the pyarrow pool grew
    # ~15 KB an episode, Python and numpy ~7 KB, malloc ~155 KB (the C++ objects of one more
    # chunk per column per episode); with the rows read back at each save: 0, 8 KB and ~100 KB
    # over all 25 episodes (caches and allocator noise, not per-episode growth).
    grown = {
        key: held["after"][key] - held["before"][key]
        for key in held["before"]
        if held["before"][key] is not None and held["after"][key] is not None
    }
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
