"""Rebuild lost or replaced metadata from a dataset's data parquet and video files.

:func:`rebuild_meta` (``lerobot-gym dataset rebuild-meta``) writes the episodes table
(``meta/episodes``), ``meta/tasks.parquet`` where the task texts can be recovered,
``meta/stats.json`` and the totals of ``meta/info.json``, in the LeRobot v3.0 layout of
``shared/reference/lerobot-dataset-v3.md`` sections 4-6. It reads ``info.json`` (the features
cannot be guessed) and never changes a data or video file.

Design decisions:

* **Episodes come from the data.** Every data row carries ``episode_index``, ``index`` and
  ``frame_index``; an episode is its rows, which must sit in one data file with contiguous
  frame and global indices, and episode indices must be 0..N-1 (LeRobot's lookup is
  positional). Anything else is refused, naming the file: rebuilding never renumbers.
* An episode whose save was interrupted after its data and videos were written, but before
  its commit record, is complete on disk and is listed like the others.
* **Videos are assigned in order.** Per camera, the MP4 files are taken in (chunk, file)
  order and the episodes fill them one after another (LeRobot concatenates episodes this way;
  this project writes one MP4 per episode, the one-episode case). An episode's
  ``from_timestamp`` is the time of its first frame in the file. A file must be used up
  exactly before the next begins; MP4s after the last episode (an interrupted save's) are
  left alone, for ``lerobot-gym dataset repair``.
* **Task texts, most trusted first:** ``tasks=`` given by the user; the ``tasks`` lists of
  readable episodes rows (the commit record), matched to the rows' ``task_index`` for
  single-task episodes and, for multi-task ones, in order of first appearance when that
  agrees with what is already known; then ``tasks.parquet`` for indices still unknown. An
  index with no text is refused, naming ``--tasks=[...]``.
* **Stats are kept when they still describe the episode**: an old episodes row with the same
  length and index range keeps its ``stats/...`` columns; other episodes get stats computed
  from their rows and decoded video frames, as ``lerobot-gym dataset stats`` does.
* **Nothing is lost by rebuilding:** the metadata files it replaces are first copied to
  ``<root>/.meta-backup-<UTC time>/`` (a hidden folder LeRobot never reads and
  ``push_to_hub`` skips); the new episodes table is built in a hidden folder and swapped
  with the old one in one ``renameat2`` exchange where available.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.lfs import is_lfs_pointer
from lerobot_gym.dataset.meta import DatasetMeta, episode_files, read_info, read_parquet
from lerobot_gym.dataset.meta import read_tasks as _read_tasks_file
from lerobot_gym.dataset.recovery import _chunk_file
from lerobot_gym.dataset.stats import aggregate_stats, from_episode_row, stats_to_json
from lerobot_gym.dataset.stats import to_episode_columns as _stats_columns
from lerobot_gym.errors import DatasetCorruptError, DatasetError

BACKUP_PREFIX = ".meta-backup-"

_BOOKKEEPING = ["episode_index", "index", "frame_index", "task_index"]


def rebuild_meta(
    root: str | Path,
    *,
    tasks: Sequence[str] | None = None,
    progress: Any = None,
) -> DatasetMeta:
    """Rebuild ``meta/episodes``, ``tasks.parquet``, ``stats.json`` and the totals of ``info.json``.

    Args:
        root: dataset directory (its ``meta/info.json`` must be readable).
        tasks: task texts by ``task_index``, when neither the episodes rows nor
            ``tasks.parquet`` hold them.
        progress: ``progress(done, total)`` counting episodes.

    Returns:
        The metadata of the rebuilt dataset.

    Raises:
        DatasetCorruptError: the data or video files do not make a dataset (the message names
            the file); nothing was changed then.
    """
    root = Path(root)
    info = read_info(root)
    features = info["features"]
    fps = int(info["fps"])
    episodes = _episodes_from_data(root)
    n = len(episodes)
    if progress is not None:
        progress(0, n)
    old_rows = _old_rows(root)
    texts = _task_texts(root, episodes, old_rows, tasks)
    for key in layout.video_keys(features):
        _assign_videos(root, key, fps, episodes)

    rows: list[dict[str, Any]] = []
    tables: dict[Path, pa.Table] = {}
    for ep in episodes:
        i = ep["episode_index"]
        ep["tasks"] = [texts[t] for t in ep.pop("task_ids")]
        ep["meta/episodes/chunk_index"], ep["meta/episodes/file_index"] = 0, 0
        old = old_rows.get(i)
        stats = from_episode_row(old) if old and _same_episode(old, ep) else None
        if not stats:
            stats = _compute_stats(root, info, ep, rows, tables)
        ep.update(_stats_columns(stats))
        rows.append(ep)
        if progress is not None:
            progress(len(rows), n)

    _write(root, info, rows, texts)
    return DatasetMeta.load(root)


# -- reading the files ---------------------------------------------------------------------------
def _episodes_from_data(root: Path) -> list[dict[str, Any]]:
    """One row per episode found in the data files (no videos, tasks or stats yet)."""
    found: dict[int, dict[str, Any]] = {}
    files = sorted((root / "data").glob("*/*.parquet"))
    if not files:
        raise DatasetCorruptError(
            f"{root / 'data'} holds no data parquet file: there is nothing to rebuild the "
            "metadata from",
            path=str(root / "data"),
        )
    for path in files:
        table = read_parquet(path, columns=_BOOKKEEPING)
        table = table.sort_by([("episode_index", "ascending"), ("frame_index", "ascending")])
        chunk, file = _chunk_file(path)
        for ep in pc.unique(table["episode_index"]).to_pylist():
            rows = table.filter(pc.equal(table["episode_index"], ep))
            if ep in found:
                raise DatasetCorruptError(
                    f"episode {ep} has rows in {path} and in another data file; an episode "
                    "must sit in one file: restore the data files from a copy of the dataset",
                    path=str(path),
                )
            index = rows["index"].to_numpy()
            frames = rows["frame_index"].to_numpy()
            length = rows.num_rows
            if not (
                np.array_equal(frames, np.arange(length))
                and np.array_equal(index, np.arange(index[0], index[0] + length))
            ):
                raise DatasetCorruptError(
                    f"episode {ep} in {path} has gaps in frame_index or index; restore the "
                    "file from a copy of the dataset",
                    path=str(path),
                )
            ids = rows["task_index"].to_pylist()
            found[ep] = {
                "episode_index": ep,
                "task_ids": list(dict.fromkeys(ids)),
                "length": length,
                "data/chunk_index": chunk,
                "data/file_index": file,
                "dataset_from_index": int(index[0]),
                "dataset_to_index": int(index[0]) + length,
            }
    indices = sorted(found)
    if indices != list(range(len(indices))):
        missing = sorted(set(range(indices[-1] + 1)) - set(indices))
        raise DatasetCorruptError(
            f"the data files hold episodes {_summary(indices)}, not 0..N-1 (missing "
            f"{_summary(missing)}); rebuild-meta does not renumber episodes: restore the "
            "missing data file from a copy of the dataset",
            path=str(root / "data"),
        )
    return [found[i] for i in indices]


def _old_rows(root: Path) -> dict[int, dict[str, Any]]:
    """The episodes rows still readable, by episode index (damaged files are skipped)."""
    out: dict[int, dict[str, Any]] = {}
    for path in episode_files(root):
        try:
            for row in read_parquet(path).to_pylist():
                out[int(row["episode_index"])] = row
        except (DatasetError, KeyError):
            continue
    return out


def _task_texts(
    root: Path,
    episodes: list[dict[str, Any]],
    old_rows: dict[int, dict[str, Any]],
    given: Sequence[str] | None,
) -> list[str]:
    """Task text per ``task_index`` (see the module docstring for the order of trust)."""
    needed = sorted({t for ep in episodes for t in ep["task_ids"]})
    if given is not None:
        texts = list(given)
        if needed and needed[-1] >= len(texts):
            raise DatasetCorruptError(
                f"the data uses task_index up to {needed[-1]} but {len(texts)} task texts "
                "were given; pass one text per task_index with --tasks=[...]",
                path=str(root / layout.TASKS_PATH),
            )
        return texts
    known: dict[int, str] = {}
    multi = []
    for ep in episodes:
        old = old_rows.get(ep["episode_index"])
        names = list(old.get("tasks") or []) if old else []
        if len(names) != len(ep["task_ids"]) or not names:
            continue
        if len(names) == 1:
            known.setdefault(ep["task_ids"][0], names[0])
        else:
            multi.append((ep["task_ids"], names))
    for ids, names in multi:  # first-appearance order, only where it agrees
        if all(known.get(i, name) == name for i, name in zip(ids, names)):
            known.update(zip(ids, names))
    try:
        from_file = _read_tasks_file(root)
    except DatasetError:
        from_file = []
    for i in needed:
        if i not in known and i < len(from_file):
            known[i] = from_file[i]
    unknown = [i for i in needed if i not in known]
    if unknown:
        raise DatasetCorruptError(
            f"no text is known for task_index {unknown} (meta/tasks.parquet and the episodes "
            "rows are lost); pass the texts in task_index order with --tasks=['pick the "
            "cube', ...] (rebuild_meta(tasks=[...]))",
            path=str(root / layout.TASKS_PATH),
        )
    top = max(needed, default=-1)
    texts = [known.get(i, from_file[i] if i < len(from_file) else "") for i in range(top + 1)]
    if "" in texts or len(set(texts)) != len(texts):
        raise DatasetCorruptError(
            f"the recovered task texts {texts} are not one distinct text per task_index; "
            "pass them with --tasks=[...]",
            path=str(root / layout.TASKS_PATH),
        )
    return texts


def _assign_videos(root: Path, key: str, fps: int, episodes: list[dict[str, Any]]) -> None:
    """Fill the ``videos/<key>/...`` columns, episodes taking the MP4s' frames in order."""
    from lerobot_gym.dataset._validate_videos import video_frame_times

    files = sorted((root / "videos" / key).glob("*/*.mp4"))
    cursor, offset = 0, 0
    times: list[float] = []
    for ep in episodes:
        length = ep["length"]
        while True:
            if cursor >= len(files):
                raise DatasetCorruptError(
                    f"the videos of {key} end before episode {ep['episode_index']} "
                    f"({length} frames): restore the missing MP4 files from a copy of the "
                    "dataset",
                    path=str(root / "videos" / key),
                )
            path = files[cursor]
            if offset == 0:
                times = _times(path, video_frame_times)
            if offset < len(times):
                break
            cursor, offset = cursor + 1, 0
        if len(times) - offset < length:
            raise DatasetCorruptError(
                f"{path} has {len(times) - offset} frames left for episode "
                f"{ep['episode_index']}, which has {length} data rows; restore the file from "
                "a copy of the dataset",
                path=str(path),
            )
        chunk, file = _chunk_file(path)
        start = times[offset]
        ep[f"videos/{key}/chunk_index"] = chunk
        ep[f"videos/{key}/file_index"] = file
        ep[f"videos/{key}/from_timestamp"] = start
        ep[f"videos/{key}/to_timestamp"] = start + length / fps
        offset += length


def _times(path: Path, frame_times: Any) -> list[float]:
    if is_lfs_pointer(path):
        raise DatasetCorruptError(
            f"{path} is a Git LFS pointer, not the video: run `git lfs pull`", path=str(path)
        )
    try:
        return frame_times(path)
    except Exception as exc:  # av.error.FFmpegError and friends: unreadable
        raise DatasetCorruptError(
            f"{path} is not a readable video ({exc}); restore it from a copy of the dataset",
            path=str(path),
        ) from exc


def _same_episode(old: dict[str, Any], new: dict[str, Any]) -> bool:
    keys = ("length", "dataset_from_index", "dataset_to_index")
    return all(old.get(k) == new[k] for k in keys)


def _compute_stats(
    root: Path,
    info: dict[str, Any],
    ep: dict[str, Any],
    rows: list[dict[str, Any]],
    tables: dict[Path, pa.Table],
) -> dict[str, Any]:
    """Stats of one episode from its data rows and decoded video frames."""
    from lerobot_gym.dataset.tools import _video_stats, table_stats

    path = root / info["data_path"].format(
        chunk_index=ep["data/chunk_index"], file_index=ep["data/file_index"]
    )
    if path not in tables:
        tables.clear()  # episodes come in file order: one table in memory at a time
        tables[path] = read_parquet(path)
    table = tables[path]
    mine = table.filter(pc.equal(table["episode_index"], ep["episode_index"]))
    mine = mine.sort_by("frame_index")
    stats = table_stats(info["features"], mine)
    meta = DatasetMeta(root=root, info=info, episodes=[*rows, ep])
    for key in layout.video_keys(info["features"]):
        stats[key] = _video_stats(meta, ep["episode_index"], key)
    return stats


# -- writing -------------------------------------------------------------------------------------
def _write(root: Path, info: dict[str, Any], rows: list[dict[str, Any]], texts: list[str]) -> None:
    meta_dir = root / "meta"
    backup = root / f"{BACKUP_PREFIX}{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    backup.mkdir(parents=True, exist_ok=True)
    for path in [*episode_files(root), *(meta_dir / n for n in ("tasks.parquet", "stats.json"))]:
        if path.is_file():
            dst = backup / path.relative_to(root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst)
    shutil.copy2(root / layout.INFO_PATH, backup / "meta" / "info.json")

    for stale in meta_dir.glob(".episodes.rebuild-*"):  # scratch of a killed rebuild
        shutil.rmtree(stale, ignore_errors=True)
    schema = layout.episodes_schema(info["features"])
    table = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema)
    episodes_dir = meta_dir / "episodes"
    fresh = meta_dir / f".episodes.rebuild-{time.time_ns()}"
    layout.atomic_write_parquet(
        fresh
        / layout.EPISODES_PATH.format(chunk_index=0, file_index=0).removeprefix("meta/episodes/"),
        table,
    )
    if episodes_dir.exists():
        if not layout.exchange_dirs(fresh, episodes_dir):
            episodes_dir.rename(fresh.with_name(fresh.name + ".old"))
            fresh.rename(episodes_dir)
            fresh = fresh.with_name(fresh.name + ".old")
        shutil.rmtree(fresh)  # the old table, already copied to the backup
    else:
        fresh.rename(episodes_dir)
    layout.fsync_dir(meta_dir)

    layout.atomic_write_parquet(root / layout.TASKS_PATH, layout.tasks_table(texts))
    stats = aggregate_stats([from_episode_row(r) for r in rows])
    layout.atomic_write_json(root / layout.STATS_PATH, stats_to_json(stats))
    n = len(rows)
    info = dict(info)
    info.update(
        total_episodes=n,
        total_frames=sum(int(r["length"]) for r in rows),
        total_tasks=len(texts),
        splits={"train": f"0:{n}"},
    )
    layout.atomic_write_json(root / layout.INFO_PATH, info)


def _summary(values: list[int]) -> str:
    return str(values) if len(values) <= 12 else f"{values[:6]} ... {values[-6:]}"
