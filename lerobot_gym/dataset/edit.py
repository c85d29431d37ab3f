"""Editing datasets into new ones: merge, delete episodes; crash-safe output placement.

Design decisions:

* :func:`merge` and :func:`delete_episodes` never re-encode video. They rewrite the data and
  episodes parquet files with new ``episode_index``, ``index`` and ``task_index`` values and
  hard-link (or copy) each needed MP4 unchanged, keeping every episode's ``from_timestamp`` /
  ``to_timestamp``. A shared MP4 of which only some episodes survive is kept whole: unused
  seconds of video cost disk space, never correctness. Per-episode stats are carried over and
  re-aggregated.
* **Crash-safe outputs.** Both build the new dataset in a hidden staging directory beside the
  output (``.<name>.staging-<pid>-<random>``), every file fsynced, and rename it into place
  only when it is complete: a process killed at any moment leaves the inputs untouched and
  the output either absent or complete (``tests/dataset/test_dataset_tools_crash.py`` kills
  them at random moments). A staging directory whose process is gone is provably never part
  of a dataset and is removed by the next run into the same output. In-place
  :func:`delete_episodes` swaps the complete new dataset with the old one in one
  ``renameat2(RENAME_EXCHANGE)`` call, so ``root`` is at every instant the old or the new
  dataset; where the kernel or filesystem lacks it (not Linux), two renames are used and a
  crash between them leaves ``root`` absent with both datasets beside it (named in
  :func:`delete_episodes`'s docstring).
* An input file that is missing (or a Git LFS pointer) fails the tool with a typed error
  naming it, before anything is placed at the output.
* Both take an optional ``progress(done, total)`` callback counting episodes, so the CLI can
  draw a bar without the library printing anything.

:mod:`lerobot_gym.dataset.tools` re-exports both, with the other tools.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.lfs import is_lfs_pointer
from lerobot_gym.dataset.meta import DatasetMeta, delete_hint, read_parquet
from lerobot_gym.dataset.stats import aggregate_stats, stats_to_json, to_episode_columns
from lerobot_gym.errors import ConfigError, DatasetCorruptError, DatasetError, DatasetMismatchError

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called with 0 first, then after each unit, ending at ``total``."""


def merge(
    roots: Sequence[str | Path], out_root: str | Path, *, progress: Progress | None = None
) -> DatasetMeta:
    """Concatenate datasets with equal fps and features into a new dataset at ``out_root``.

    Args:
        roots: dataset directories, in the order their episodes are concatenated.
        out_root: directory of the merged dataset (new or empty).
        progress: called as ``progress(episodes_written, total_episodes)``.

    Returns:
        The metadata of the merged dataset.

    Raises:
        DatasetMismatchError: the datasets differ in fps or features.
        DatasetError: ``out_root`` exists and is not empty.
    """
    if not roots:
        raise ConfigError("merge needs at least one dataset")
    metas = [DatasetMeta.load(r) for r in roots]
    first = metas[0]
    for meta in metas[1:]:
        if meta.fps != first.fps:
            raise DatasetMismatchError(
                f"{meta.root} is at {meta.fps} fps and {first.root} at {first.fps}; only "
                "datasets with equal fps can be merged"
            )
        a, b = layout.user_features(first.features), layout.user_features(meta.features)
        if a != b:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise DatasetMismatchError(
                f"{meta.root} and {first.root} differ on features {diff}; merge needs equal "
                "features"
            )
    sources = [(m, range(m.num_episodes)) for m in metas]
    return build_then_place(Path(out_root), lambda out: _rebuild(sources, out, progress))


def delete_episodes(
    root: str | Path,
    episodes: Iterable[int],
    out_root: str | Path | None = None,
    *,
    progress: Progress | None = None,
) -> DatasetMeta:
    """Remove episodes and re-index the rest contiguously.

    Only the kept episodes' data and video files are read, so this also removes episodes
    whose files are damaged.

    Args:
        root: dataset directory.
        episodes: indices to remove.
        out_root: where to write the result; default: replace ``root`` in place.
        progress: called as ``progress(episodes_written, episodes_kept)``.

    Returns:
        The metadata of the resulting dataset.

    Raises:
        ConfigError: an index does not exist.
        DatasetCorruptError: a kept episode's file is missing or unreadable (nothing changed).

    In place, the new dataset is built beside ``root`` and swapped with it atomically (see
    the module docstring); without ``renameat2`` a crash between the two renames leaves the
    old dataset at ``.<name>.old-<pid>`` and the new one at ``.<name>.staging-<pid>-*``.
    """
    meta = DatasetMeta.load(root)
    drop = {int(e) for e in episodes}
    bad = sorted(e for e in drop if not 0 <= e < meta.num_episodes)
    if bad:
        raise ConfigError(f"episodes {bad} do not exist in {root} ({meta.num_episodes} episodes)")
    keep = [e for e in range(meta.num_episodes) if e not in drop]
    if out_root is not None:
        return build_then_place(Path(out_root), lambda out: _rebuild([(meta, keep)], out, progress))
    root = Path(root)
    _remove_stale_staging(root)
    staging = _new_staging(root)
    try:
        _rebuild([(meta, keep)], staging, progress)
        if layout.exchange_dirs(staging, root):  # root: old -> new in one step
            old = staging
        else:
            old = root.with_name(f".{root.name}.old-{os.getpid()}")
            os.replace(root, old)
            os.replace(staging, root)
        layout.fsync_dir(root.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return DatasetMeta.load(root)


_STAGING_INFIX = ".staging-"


def _new_staging(out: Path) -> Path:
    """A new hidden directory beside ``out``, named after this process."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}{_STAGING_INFIX}{os.getpid()}-{secrets.token_hex(3)}")
    staging.mkdir()
    return staging


def _remove_stale_staging(out: Path) -> None:
    """Remove staging directories of ``out`` whose process is gone (killed mid-build)."""
    for path in out.parent.glob(f".{glob.escape(out.name)}{_STAGING_INFIX}*"):
        pid_text = path.name[len(f".{out.name}{_STAGING_INFIX}") :].split("-")[0]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def build_then_place(out: Path, build: Callable[[Path], None]) -> DatasetMeta:
    """Run ``build(staging)`` and move the finished dataset to ``out`` in one rename."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out} already exists and is not empty; choose a new directory")
    _remove_stale_staging(out)
    staging = _new_staging(out)
    try:
        build(staging)
        os.replace(staging, out)  # replaces an empty directory too (POSIX rename)
        layout.fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return DatasetMeta.load(out)


def _rebuild(
    sources: Sequence[tuple[DatasetMeta, Iterable[int]]],
    out: Path,
    progress: Progress | None = None,
) -> None:
    """Write the chosen episodes of ``sources``, in order, as a new dataset in ``out``."""
    selected = [(meta, list(chosen)) for meta, chosen in sources]
    n_chosen = sum(len(chosen) for _, chosen in selected)
    if progress is not None:
        progress(0, n_chosen)
    first = selected[0][0]
    features = first.features
    chunks_size = int(first.info["chunks_size"])
    schema = layout.data_schema(features)
    tasks: list[str] = []
    rows: list[dict[str, Any]] = []
    episode_stats = []
    data_cf = (0, 0)
    video_cf = dict.fromkeys(first.video_keys, (0, 0))
    total = 0
    for meta, chosen in selected:
        task_map = {}
        for i, task in enumerate(meta.tasks):
            if task not in tasks:
                tasks.append(task)
            task_map[i] = tasks.index(task)
        # One output data file per source data file; one output MP4 per source MP4.
        by_file: dict[Path, list[int]] = {}
        for ep in chosen:
            by_file.setdefault(meta.data_path(ep), []).append(ep)
        new_video: dict[tuple[str, Path], tuple[int, int]] = {}
        for path, eps in by_file.items():
            table = read_parquet(path).select(schema.names)
            mask = pc.is_in(table["episode_index"], value_set=pa.array(eps, pa.int64()))
            table = table.filter(mask).sort_by(
                [("episode_index", "ascending"), ("frame_index", "ascending")]
            )
            old_ep = table["episode_index"].to_numpy()
            ep_map = {e: len(rows) + i for i, e in enumerate(eps)}
            new_ep = np.array([ep_map[e] for e in old_ep], dtype=np.int64)
            new_task = np.array(
                [task_map[t] for t in table["task_index"].to_numpy()], dtype=np.int64
            )
            index = np.arange(total, total + table.num_rows, dtype=np.int64)
            for name, values in (
                ("episode_index", new_ep),
                ("task_index", new_task),
                ("index", index),
            ):
                table = table.set_column(schema.get_field_index(name), name, pa.array(values))
            layout.atomic_write_parquet(
                out / layout.DATA_PATH.format(chunk_index=data_cf[0], file_index=data_cf[1]),
                table.cast(schema),
            )
            for ep in eps:
                row = {k: v for k, v in meta.episodes[ep].items()}
                length = int(row["length"])
                row.update(
                    {
                        "episode_index": ep_map[ep],
                        "data/chunk_index": data_cf[0],
                        "data/file_index": data_cf[1],
                        "dataset_from_index": total,
                        "dataset_to_index": total + length,
                    }
                )
                total += length
                for key in meta.video_keys:
                    src = meta.video_path(ep, key)
                    if (key, src) not in new_video:
                        new_video[(key, src)] = video_cf[key]
                        chunk, file = video_cf[key]
                        dst = out / layout.VIDEO_PATH.format(
                            video_key=key, chunk_index=chunk, file_index=file
                        )
                        _check_source_video(src, meta, ep)
                        _link_or_copy(src, dst)
                        video_cf[key] = layout.next_chunk_file(chunk, file, chunks_size)
                    row[f"videos/{key}/chunk_index"], row[f"videos/{key}/file_index"] = new_video[
                        (key, src)
                    ]
                row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = 0, 0
                stats = meta.episode_stats[ep]
                row.update(to_episode_columns(stats))
                episode_stats.append(stats)
                rows.append(row)
                if progress is not None:
                    progress(len(rows), n_chosen)
            data_cf = layout.next_chunk_file(*data_cf, chunks_size)
    rows.sort(key=lambda r: r["episode_index"])
    ep_schema = layout.episodes_schema(features)
    layout.atomic_write_parquet(
        out / layout.EPISODES_PATH.format(chunk_index=0, file_index=0),
        pa.Table.from_pylist([{k: r.get(k) for k in ep_schema.names} for r in rows], ep_schema),
    )
    if tasks:
        layout.atomic_write_parquet(out / layout.TASKS_PATH, layout.tasks_table(tasks))
    if episode_stats:
        layout.atomic_write_json(
            out / layout.STATS_PATH, stats_to_json(aggregate_stats(episode_stats))
        )
    info_dict = dict(first.info)
    info_dict.update(
        total_episodes=len(rows),
        total_frames=total,
        total_tasks=len(tasks),
        splits={"train": f"0:{len(rows)}"},
    )
    layout.atomic_write_json(out / layout.INFO_PATH, info_dict)


def _check_source_video(src: Path, meta: DatasetMeta, ep: int) -> None:
    """A typed error naming the input video an episode needs, if it is not there."""
    if src.is_file() and not is_lfs_pointer(src):
        return
    what = "a Git LFS pointer: run `git lfs pull` in the input" if src.exists() else "missing"
    raise DatasetCorruptError(
        f"{src} (episode {ep} of {meta.root}) is {what}; nothing was written to the output. "
        f"Restore the file, or leave the episode out: {delete_hint(meta, ep)}",
        path=str(src),
    )


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
        with open(dst, "rb+") as fh:  # the output is renamed into place only once durable
            os.fsync(fh.fileno())
    layout.fsync_dir(dst.parent)
