"""Bring a dataset back to its last committed episode after a crash, deleting nothing else.

The writer saves an episode in this order, each step an atomic file replace (see
:mod:`lerobot_gym.dataset._commit`): video files, data parquet, tasks, **episodes parquet (the
commit)**, ``stats.json``, ``info.json``. A process killed between two steps therefore leaves
only *extra* things behind, never a torn file:

* a staging directory with a half-encoded MP4 (the episode in progress);
* hidden ``.*.tmp`` files from an interrupted atomic write;
* one video file per camera and at most one data file, after the last committed ones, holding
  the next episode (index ``n``, where ``n`` episodes are committed) and nothing else;
* rows of that episode ``n`` at the end of the last committed data file;
* ``stats.json`` / ``info.json`` one episode behind.

:func:`repair` removes or rewrites exactly those, using the episodes table as the truth.

Design decision: **nothing is deleted unless it is provably an uncommitted leftover.** A lost
or replaced episodes file looks, from the data's side, like "rows no episode lists", which a
naive repair would delete. So :func:`find_leftovers` accepts only what an interrupted save can
produce (the shapes above; ``info.json``, written after the commit, never counts more episodes
than the table holds), and anything else (rows of several episodes, or of an episode other
than ``n``, a file before the last committed one, an unreadable file) is *unexplained*:
:func:`repair` then changes nothing and raises, naming ``lerobot-gym dataset rebuild-meta``,
which rebuilds the metadata from the files instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.meta import DatasetMeta, read_parquet, rebuild_hint
from lerobot_gym.dataset.stats import aggregate_stats, stats_to_json
from lerobot_gym.errors import DatasetCorruptError, DatasetError


def _chunk_file(path: Path) -> tuple[int, int]:
    """(chunk, file) indices from ``.../chunk-XXX/file-YYY.ext``."""
    return int(path.parent.name.split("-")[1]), int(path.stem.split("-")[1])


def max_chunk_file(paths: list[Path]) -> tuple[int, int] | None:
    """The largest (chunk, file) among ``paths``, or None if there are none."""
    pairs = [_chunk_file(p) for p in paths]
    return max(pairs) if pairs else None


@dataclass
class Leftovers:
    """What an interrupted save left, and what no interrupted save can explain.

    Attributes:
        files: whole data or video files of the uncommitted episode.
        trim: the last committed data file, when it also holds rows of the uncommitted episode.
        unexplained: ``(path, why)`` of files or rows that no committed episode lists and that
            are not the leftovers of one interrupted save: possibly committed data whose
            metadata was lost. Never deleted.
    """

    files: list[Path] = field(default_factory=list)
    trim: Path | None = None
    unexplained: list[tuple[Path, str]] = field(default_factory=list)


_UNLISTED_ROWS = "holds rows of episodes {} that meta/episodes does not list"
_UNUSED_DATA = "no episode in meta/episodes uses this data file"


def _episodes_in(path: Path) -> set[int] | None:
    """The episode indices of a data file's rows, or None if it is unreadable."""
    try:
        column = read_parquet(path, columns=["episode_index"])["episode_index"]
    except (DatasetError, KeyError):
        return None
    return set(pc.unique(column).to_pylist())


def find_leftovers(root: Path, info: dict[str, Any], episodes: list[dict[str, Any]]) -> Leftovers:
    """Classify the data and video files no committed episode lists (reads nothing else).

    Args:
        root: dataset directory.
        info: its ``info.json``.
        episodes: the committed episode rows, in index order.
    """
    root = Path(root)
    n = len(episodes)
    out = Leftovers()

    def data_cf(ep: dict[str, Any]) -> tuple[int, int]:
        return int(ep["data/chunk_index"]), int(ep["data/file_index"])

    referenced = {data_cf(ep) for ep in episodes}
    last = max(referenced) if referenced else None
    for path in sorted((root / "data").glob("*/*.parquet")):
        cf = _chunk_file(path)
        if cf in referenced and cf != last:
            continue
        eps = _episodes_in(path)
        if cf == last:
            extra = None if eps is None else {e for e in eps if e >= n}
            if extra == {n}:
                out.trim = path
            elif extra:
                out.unexplained.append((path, _UNLISTED_ROWS.format(sorted(extra))))
            continue
        if eps is None:
            out.unexplained.append((path, "unreadable, and no episode in meta/episodes uses it"))
        elif eps and eps != {n}:
            out.unexplained.append((path, _UNLISTED_ROWS.format(sorted(eps))))
        elif last is not None and cf < last:
            out.unexplained.append((path, _UNUSED_DATA))
        else:
            out.files.append(path)
    if len(out.files) > 1:  # one save writes one data file
        out.unexplained += [(p, _UNUSED_DATA) for p in out.files]
        out.files = []

    chunks_size = int(info.get("chunks_size") or layout.DEFAULT_CHUNKS_SIZE)
    for key in layout.video_keys(info["features"]):
        used = {
            (int(ep[f"videos/{key}/chunk_index"]), int(ep[f"videos/{key}/file_index"]))
            for ep in episodes
            if ep.get(f"videos/{key}/chunk_index") is not None
        }
        last_video = max(used) if used else None
        nxt = (0, 0) if last_video is None else layout.next_chunk_file(*last_video, chunks_size)
        for path in sorted((root / "videos" / key).glob("*/*.mp4")):
            cf = _chunk_file(path)
            if cf in used:
                continue
            if cf == nxt:
                out.files.append(path)
            else:
                out.unexplained.append((path, "no episode in meta/episodes uses this video file"))
    if out.unexplained:  # then the episodes table itself is in doubt: nothing is provable
        out.unexplained += [
            (p, f"holds episode {n}, which meta/episodes does not list") for p in out.files
        ]
        if out.trim is not None:
            out.unexplained.append((out.trim, _UNLISTED_ROWS.format([n])))
        out.files, out.trim = [], None
    return out


def repair(
    root: Path, *, fsync: bool = True, removed: Callable[[Path, str], None] | None = None
) -> DatasetMeta:
    """Remove the leftovers of an interrupted episode and rewrite stale metadata.

    Args:
        root: dataset directory.
        fsync: fsync rewritten files.
        removed: called as ``removed(path, what)`` for each file removed or rewritten.

    Returns:
        The metadata of the repaired dataset.

    Raises:
        DatasetCorruptError: committed episodes or tasks are missing from the metadata, or
            files no committed episode lists are not the leftovers of one interrupted save;
            nothing but scratch files was changed, and the message names
            ``lerobot-gym dataset rebuild-meta``.
    """
    root = Path(root)
    note = removed or (lambda path, what: None)
    # Scratch space and temp files of atomic writes are never part of a committed dataset.
    if (root / layout.STAGING_DIR).exists():
        shutil.rmtree(root / layout.STAGING_DIR, ignore_errors=True)
        note(root / layout.STAGING_DIR, "removed the episode in progress")
    for sub in ("meta", "data", "videos"):
        for tmp in (root / sub).rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            note(tmp, "removed an interrupted write")

    meta = DatasetMeta.load(root)  # refuses lost episodes rows or tasks
    n = meta.num_episodes
    left = find_leftovers(root, meta.info, meta.episodes)
    if left.unexplained:
        listed = "; ".join(f"{path}: {why}" for path, why in left.unexplained[:5])
        more = len(left.unexplained) - 5
        raise DatasetCorruptError(
            f"{root} holds data no committed episode lists, and it is not what an interrupted "
            f"save leaves ({listed}{f'; and {more} more' if more > 0 else ''}); the episodes "
            f"table may have lost committed episodes, so nothing was deleted: "
            f"{rebuild_hint(root)}",
            path=str(left.unexplained[0][0]),
        )
    for path in left.files:
        path.unlink()
        note(path, f"removed a file of episode {n}, whose save was interrupted")
    if left.trim is not None:
        table = read_parquet(left.trim)
        keep = pc.less(table["episode_index"], n)
        layout.atomic_write_parquet(left.trim, table.filter(keep), fsync=fsync)
        note(left.trim, f"removed the rows of episode {n}, whose save was interrupted")

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
        note(root / layout.INFO_PATH, "rewrote the totals from the episodes table")
        meta.info = info
    return meta
