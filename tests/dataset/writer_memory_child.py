"""Child process of test_writer_memory.py: records episodes and prints what the writer kept.

Usage: python writer_memory_child.py ROOT. Prints one JSON object: the bytes held (pyarrow pool,
Python and numpy as traced, malloc in use) after the warm-up episodes and after the measured
ones. A process of its own, so threads and caches left by other tests in the pytest process
(an encoder, a reader's pool) cannot allocate between the two measurements.
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa
from dataset_synth import FPS, features, record

from lerobot_gym.dataset import LeRobotDatasetWriter
from lerobot_gym.dataset._heap import malloc_in_use

FRAMES = 50  # per episode
WARMUP = 5  # episodes before the first measurement (caches, pyarrow's lazy imports)
MEASURED = 25  # episodes between the two measurements


def _held() -> dict[str, int | None]:
    gc.collect()
    return {
        "pyarrow pool": pa.total_allocated_bytes(),
        "Python and numpy": tracemalloc.get_traced_memory()[0],
        "malloc in use": malloc_in_use(),
    }


def main() -> None:
    root = Path(sys.argv[1])
    tracemalloc.start()
    with LeRobotDatasetWriter.create(
        root, repo_id="t/mem", fps=FPS, features=features(cams=()), fsync=False
    ) as writer:
        record(writer, [FRAMES] * WARMUP, cams=())
        before = _held()
        record(writer, [FRAMES] * MEASURED, first_ep=WARMUP, cams=())
        after = _held()
    tracemalloc.stop()
    json.dump({"before": before, "after": after}, sys.stdout)


if __name__ == "__main__":
    main()
