"""Bring a dataset back to its last committed episode after a crash.

The writer saves an episode in this order, each step an atomic file replace (see
:mod:`lerobot_gym.dataset._commit`): video files, data parquet, tasks, **episodes parquet (the
commit)**, ``stats.json``, ``info.json``. A process killed between two steps therefore leaves
only *extra* things behind, never a torn file:

* a staging directory with a half-encoded MP4 (the episode in progress);
* hidden ``.*.tmp`` files from an interrupted atomic write;
* video or data files not referenced by any committed episode;
* rows of an uncommitted episode at the end of the last data file;
* ``stats.json`` / ``info.json`` one episode behind.

:func:`repair` removes or rewrites exactly those, using the episodes table as the truth.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.meta import DatasetMeta, read_parquet
from lerobot_gym.dataset.stats import aggregate_stats, stats_to_json


def _chunk_file(path: Path) -> tuple[int, int]:
    """(chunk, file) indices from ``.../chunk-XXX/file-YYY.ext``."""
    return int(path.parent.name.split("-")[1]), int(path.stem.split("-")[1])


def max_chunk_file(paths: list[Path]) -> tuple[int, int] | None:
    """The largest (chunk, file) among ``paths``, or None if there are none."""
    pairs = [_chunk_file(p) for p in paths]
    return max(pairs) if pairs else None


def repair(root: Path, *, fsync: bool = True) -> DatasetMeta:
    """Remove the leftovers of an interrupted episode and rewrite stale metadata.

    Args:
        root: dataset directory.
        fsync: fsync rewritten files.

    Returns:
        The metadata of the repaired dataset.
    """
    root = Path(root)
    shutil.rmtree(root / layout.STAGING_DIR, ignore_errors=True)
    for sub in ("meta", "data", "videos"):
        for tmp in (root / sub).rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    meta = DatasetMeta.load(root)
    n = meta.num_episodes

    referenced_data = {meta.data_path(i) for i in range(n)}
    for path in (root / "data").glob("*/*.parquet"):
        if path not in referenced_data:
            path.unlink()
    if n:
        last = meta.data_path(n - 1)
        ep_col = read_parquet(last, columns=["episode_index"])["episode_index"]
        if pc.max(ep_col).as_py() >= n:
            table = read_parquet(last)
            keep = pc.less(table["episode_index"], n)
            layout.atomic_write_parquet(last, table.filter(keep), fsync=fsync)

    for key in meta.video_keys:
        referenced = {meta.video_path(i, key) for i in range(n)}
        for path in (root / "videos" / key).glob("*/*.mp4"):
            if path not in referenced:
                path.unlink()

    if meta.episode_stats:
        stats = aggregate_stats(meta.episode_stats)
        layout.atomic_write_json(root / layout.STATS_PATH, stats_to_json(stats), fsync=fsync)
        meta.stats = stats
    info: dict[str, Any] = dict(meta.info)
    info["total_episodes"] = n
    info["total_frames"] = meta.num_frames
    info["total_tasks"] = len(meta.tasks)
    info["splits"] = {"train": f"0:{n}"}
    if info != meta.info:
        layout.atomic_write_json(root / layout.INFO_PATH, info, fsync=fsync)
        meta.info = info
    return meta
