"""Long recording sessions: memory the encoders free goes back to the OS after every episode.

Each episode opens and closes one video encoder per camera (SVT-AV1 allocates ~50 MB per
instance, in its own threads' malloc arenas). glibc keeps freed chunks in those arenas, and their
fragments pin pages, so a recorder's resident memory grew every episode (issue 13: 447 MB ->
598 MB over 60 episodes) though nothing was leaked; ``benchmarks/soak.py`` measures it. The writer
now hands the free pages back (glibc's ``malloc_trim``) once an episode is committed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from dataset_synth import FPS, features, record

import lerobot_gym.dataset._heap as heap
from lerobot_gym.dataset import LeRobotDatasetWriter

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or heap.malloc_trim() is None,
    reason="malloc_trim is glibc's (Linux); other allocators return memory their own way",
)


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


@glibc
def test_free_heap_pages_pinned_by_a_live_block_are_returned():
    # 64 MB in 64 KB blocks (below the mmap threshold: they live in the heap), then all freed
    # but the last one, which pins the top of the heap so free() alone cannot shrink it.
    blocks = [np.ones(8192) for _ in range(1024)]
    pin = blocks.pop()
    before = _rss_mb()
    del blocks
    freed = _rss_mb()
    assert heap.release_free_heap()
    after = _rss_mb()
    assert before - freed < 16, "free() returned the pages by itself: nothing to test"
    assert freed - after > 32, (before, freed, after)
    del pin


def test_every_saved_episode_releases_the_free_heap(tmp_path: Path, monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "release_free_heap", lambda: calls.append(1) or True)
    with LeRobotDatasetWriter.create(
        tmp_path / "ds", repo_id="test/ds", fps=FPS, features=features(), fsync=False
    ) as writer:
        record(writer, [5, 4, 6])
    assert len(calls) == 3
