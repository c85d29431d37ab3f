"""Saving one episode: collecting its videos, and committing its files undoably.

:func:`finish_videos` collects every camera's encoded video of the episode. :class:`EpisodeFiles`
owns the files that grow episode by episode: the current data and episodes parquet files, the
next video file of each camera, ``meta/tasks.parquet``, and the undo log of a save that failed.
:class:`~lerobot_gym.dataset.writer.LeRobotDatasetWriter` builds an episode's rows and videos
and hands them to :meth:`EpisodeFiles.commit`; it owns the counters, stats and ``info.json``.

Design decisions:

* **Durable per episode.** Every file is rewritten whole and atomically (temp file, fsync,
  :func:`os.replace`); no parquet writer stays open between episodes, so there is no footer to
  lose. The order is videos, data, tasks, then the episodes parquet, which is the commit record
  (:mod:`lerobot_gym.dataset.recovery` relies on it to repair an interrupted save).
* **A failed save changes nothing.** The new tables and file indices are computed into locals
  and become this object's state only once the commit record is written. Every file step
  before it registers how to undo itself, and a failure (disk full, a video move, Ctrl-C) runs
  those undos newest first, so the data file no longer holds rows of the failed episode and
  its indices are reused by the next save. An undo that fails itself stays in the log,
  retried by :meth:`EpisodeFiles.run_undo` before the next save (or left for ``resume`` to
  repair). Undone videos go back to staging while the episode is buffered for a retry.
* **File layout.** Data and episodes parquet files grow by whole episodes and then rotate, as
  LeRobot does (the same rule as LeRobot 0.4.4's ``_save_episode_metadata`` and data writer:
  start the next file once ``current size + estimated size of the new rows >= limit``, the next
  file index from :func:`~lerobot_gym.dataset.layout.next_chunk_file`, a new chunk directory
  every ``chunks_size`` files; an episode never spans files; a resumed dataset starts new
  files). Each episode's video is its own MP4 (``from_timestamp`` 0): appending to a shared MP4
  would mean remuxing up to ``video_files_size_in_mb`` per episode, which is what made
  LeRobot's save slow; ``video_files_size_in_mb`` is recorded in ``info.json`` for LeRobot but
  never reached. LeRobot reads both layouts the same way, through the per-episode chunk/file
  indices, and loads every file of ``data/`` and ``meta/episodes/`` (sorted), however many.
* **The per-save rewrite is bounded: ``rewrite_limit_mb``.** A save reads back and rewrites the
  current data file and the current episodes file whole, so its time and memory are proportional
  to their size. LeRobot rotates both at ``data_files_size_in_mb`` (100 MB): the episodes file
  (1 to 3 KB a row, most of it per-episode stats) would then never rotate within hours and the
  data file (about 50 bytes a frame without images) within a day, so a save's cost would grow
  all session (issue 13, item 5). The writer therefore rotates at ``min(data_files_size_in_mb,
  rewrite_limit_mb)``, default :data:`DEFAULT_REWRITE_LIMIT_MB` (1 MB: about 100 episodes of 200
  frames per data file and several hundred rows per episodes file in ``benchmarks/soak.py``'s
  recording, about 10 files an hour, where LeRobot's loader and the Hub care about count only in
  the thousands). ``benchmarks/soak.py`` did not see the recorder's resident memory depend on it
  within 60 episodes (files below 1 MB either way, and rotating every few episodes changed
  nothing): the limit bounds the cost of a save, it does not by itself flatten the allocator's
  settling (:mod:`lerobot_gym.dataset._heap`). ``data_files_size_in_mb`` stays in ``info.json``
  unchanged: it is LeRobot's *maximum* file size, which a smaller file honours, and LeRobot's
  own writer appending to the dataset uses it. ``rewrite_limit_mb`` is a writer option, not a
  dataset property, so it is not stored; ``None`` rotates at ``data_files_size_in_mb`` only, as
  LeRobot does. A single episode larger than the limit (image features stored in the parquet)
  gets a file to itself: the save then rewrites only that episode.
* **Memory does not grow with the session.** The current files' rows are read back from disk
  at each save, not kept: held as in-memory tables (one more chunk per column per episode),
  the episodes file alone, which LeRobot's rule never rotates within hours, grew the recorder
  by ~0.1 MB an episode (issue 13: ``benchmarks/soak.py``, ``tests/dataset/test_writer_memory.py``).
  The read costs less than the rewrite that follows it, and both are bounded by
  ``rewrite_limit_mb`` (``tests/dataset/test_dataset_many_files.py`` counts the rows and bytes
  each save reads and writes); what stays between saves is the row counts.
  Not a ``pq.ParquetWriter`` kept open on the file: its footer is written only on close, so a
  crash would lose every episode of the open file, not just the one in progress.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.meta import read_parquet
from lerobot_gym.dataset.recovery import max_chunk_file
from lerobot_gym.dataset.video import EncodedEpisode, FrameEncoder
from lerobot_gym.errors import ConfigError, DatasetCorruptError, DatasetError, EncoderCrashedError

_Undo = Callable[[], object]

DEFAULT_REWRITE_LIMIT_MB = 1.0
"""Default size at which the writer starts the next data and episodes file (see above)."""


def rotation_limit_mb(data_files_size_in_mb: float, rewrite_limit_mb: float | None) -> float:
    """The size at which the writer starts the next data or episodes file, in MB.

    Raises:
        ConfigError: ``rewrite_limit_mb`` is not a positive number (or None).
    """
    if rewrite_limit_mb is None:
        return float(data_files_size_in_mb)
    if isinstance(rewrite_limit_mb, bool) or not float(rewrite_limit_mb) > 0:
        raise ConfigError(
            f"rewrite_limit_mb must be a positive number of MB (or None to rotate at "
            f"data_files_size_in_mb only), got {rewrite_limit_mb!r}"
        )
    return min(float(data_files_size_in_mb), float(rewrite_limit_mb))


def finish_videos(
    encoders: Mapping[str, FrameEncoder], num_frames: int
) -> dict[str, EncodedEpisode]:
    """Every camera's encoded video of the episode, all cameras flushed in parallel.

    Args:
        encoders: one encoder per video feature, each holding the episode in progress.
        num_frames: frames of the episode; every video must hold exactly as many.

    Returns:
        The staged video of each camera.

    Raises:
        DatasetError: a camera failed or encoded a wrong number of frames
            (:class:`EncoderCrashedError` if the encoder process died). The staged videos
            are deleted then (and on Ctrl-C): the episode cannot be saved, record it again.
    """
    for enc in encoders.values():
        enc.request_finish()  # all cameras flush in parallel
    encoded: dict[str, EncodedEpisode] = {}
    failures: list[tuple[str, Exception]] = []
    try:
        for key, enc in encoders.items():  # collect every result, even after a failure
            try:
                encoded[key] = enc.finish_episode()
            except Exception as exc:
                failures.append((key, exc))
        failures += [
            (key, DatasetCorruptError(f"encoded {r.num_frames} frames, not {num_frames}"))
            for key, r in encoded.items()
            if r.num_frames != num_frames
        ]
    finally:
        if failures or len(encoded) < len(encoders):  # a failure, or Ctrl-C
            for res in encoded.values():
                res.path.unlink(missing_ok=True)
    if failures:
        why = "; ".join(f"{key!r}: {exc.__cause__ or exc}" for key, exc in failures)
        crashed = any(isinstance(exc, EncoderCrashedError) for _, exc in failures)
        raise (EncoderCrashedError if crashed else DatasetError)(
            f"video encoding failed ({why}); the episode was discarded: record it again"
        ) from failures[0][1]
    return encoded


class EpisodeFiles:
    """The growing files of a dataset, and the undo log of a failed save.

    Args:
        root: dataset directory.
        info: the dataset's ``info.json`` contents (read for fps, features, chunk and file
            sizes; never written here).
        fsync: fsync every file and directory change.
        retry_pending: whether the episode of a failed save is still buffered for a retry;
            its videos are then moved back to staging when undone, otherwise deleted.
        rewrite_limit_mb: rotate the data and episodes files at this size when it is below
            ``data_files_size_in_mb`` (see the module docstring); None: that size only.
    """

    def __init__(
        self,
        root: Path,
        info: Mapping[str, Any],
        *,
        fsync: bool,
        retry_pending: Callable[[], bool],
        rewrite_limit_mb: float | None = DEFAULT_REWRITE_LIMIT_MB,
    ) -> None:
        self.root = root
        self._fps = int(info["fps"])
        self._chunks_size = int(info["chunks_size"])
        self._limit_mb = rotation_limit_mb(float(info["data_files_size_in_mb"]), rewrite_limit_mb)
        self._episodes_schema = layout.episodes_schema(info["features"])
        self._fsync = fsync
        self._retry_pending = retry_pending

        def after(paths: list[Path]) -> tuple[int, int]:
            last = max_chunk_file(paths)
            return (0, 0) if last is None else layout.next_chunk_file(*last, self._chunks_size)

        self._data_cf = after(list((root / "data").glob("*/*.parquet")))
        self._meta_cf = after(list((root / "meta" / "episodes").glob("*/*.parquet")))
        self._video_cf = {
            k: after(list((root / "videos" / k).glob("*/*.mp4")))
            for k in layout.video_keys(info["features"])
        }
        # Rows this object wrote to the current data and episodes files (0: start a new file).
        self._data_rows = 0
        self._meta_rows = 0
        # File changes of a failed save that could not be undone yet, oldest first.
        self._undo: list[_Undo] = []

    @property
    def undo_pending(self) -> bool:
        """Whether files of a failed save are still on disk."""
        return bool(self._undo)

    def commit(
        self,
        table: pa.Table,
        row: dict[str, Any],
        videos: Mapping[str, EncodedEpisode],
        *,
        tasks: list[str],
        known_tasks: list[str],
    ) -> tuple[dict[str, Path], BaseException | None]:
        """Write one episode's files, the episodes row last; undo them all if a step fails.

        Args:
            table: the episode's data rows.
            row: its episodes-parquet row without the file indices, which are added here.
            videos: its encoded videos, moved from staging into place.
            tasks: every task including this episode's; the tasks file is rewritten if it grew.
            known_tasks: the tasks already in the tasks file.

        Returns:
            Where each camera's video now is, and an error raised after the commit record was
            replaced (the directory fsync): the episode is committed all the same.

        Raises:
            BaseException: the failure of a step before the commit; its file steps were undone
                (what could not be stays pending for :meth:`run_undo`).
        """
        undo: list[_Undo] = []
        try:
            data_cf, data_rows = self._write_data(table, undo)
            row["data/chunk_index"], row["data/file_index"] = data_cf
            video_cf = dict(self._video_cf)
            finals: dict[str, Path] = {}
            for key, res in videos.items():
                chunk, file = video_cf[key]
                final = self.root / layout.VIDEO_PATH.format(
                    video_key=key, chunk_index=chunk, file_index=file
                )
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(res.path, final)
                undo.append(functools.partial(self._unplace_video, final, res.path))
                if self._fsync:
                    layout.fsync_dir(final.parent)
                finals[key] = final
                video_cf[key] = layout.next_chunk_file(chunk, file, self._chunks_size)
                row[f"videos/{key}/chunk_index"] = chunk
                row[f"videos/{key}/file_index"] = file
                row[f"videos/{key}/from_timestamp"] = 0.0
                row[f"videos/{key}/to_timestamp"] = table.num_rows / self._fps
            if len(tasks) > len(known_tasks):
                self._write_tasks(tasks, known_tasks, undo)
            meta_cf, meta_rows, late = self._write_episode_row(row)  # the commit point
        except BaseException:
            self._undo = undo
            self.run_undo(strict=False)  # the original error is the one to report
            raise
        self._data_cf, self._data_rows = data_cf, data_rows
        self._meta_cf, self._meta_rows = meta_cf, meta_rows
        self._video_cf = video_cf
        return finals, late

    def run_undo(self, *, strict: bool) -> None:
        """Undo the files of a failed save, newest first; what fails stays for a later try.

        Raises:
            DatasetError: with ``strict``, an undo failed (the message says how to recover).
        """
        while self._undo:
            try:
                self._undo[-1]()
            except Exception as exc:
                if not strict:
                    return
                raise DatasetError(
                    f"files of the episode whose save failed earlier could not be removed from "
                    f"{self.root} ({exc}); free disk space and call save_episode() again, or "
                    "close() and run `lerobot-gym dataset repair` (LeRobotDatasetWriter.resume() "
                    "does the same), which removes them"
                ) from exc
            self._undo.pop()

    # -- file steps ------------------------------------------------------------------------

    def _rotate_if_full(self, rows: int, path: Path, new_rows: int) -> bool:
        """Whether adding ``new_rows`` rows to the file at ``path`` would reach the size limit."""
        if rows == 0 or not path.exists():
            return False
        size_mb = path.stat().st_size / 2**20
        per_row = size_mb / rows
        return size_mb + per_row * new_rows >= self._limit_mb

    def _previous(self, path: Path, rows: int, schema: pa.Schema) -> pa.Table | None:
        """The rows this object wrote to ``path``, read back (None when it starts a new file).

        Raises:
            DatasetCorruptError: the file is missing, unreadable or holds other rows than
                were written to it: something else changed it during the recording.
        """
        if rows == 0:
            return None
        # In this thread: pyarrow's reader threads would spread its buffers, which grow every
        # episode, over malloc arenas that keep their pages.
        previous = read_parquet(path, use_threads=False, pre_buffer=False)
        if previous.num_rows != rows:
            raise DatasetCorruptError(
                f"{path} holds {previous.num_rows} rows, but {rows} were written to it: "
                "another program changed it during the recording. close() the writer (stop "
                "recording) and run `lerobot-gym dataset validate`",
                path=str(path),
            )
        # Parquet names list items "element": same types, but concat wants equal schemas.
        return previous.cast(schema)

    def _write_data(self, table: pa.Table, undo: list[_Undo]) -> tuple[tuple[int, int], int]:
        """Add the episode's rows to the current data file (or a new one); no state changes."""
        cf, rows = self._data_cf, self._data_rows
        path = self._data_path(cf)
        if self._rotate_if_full(rows, path, table.num_rows):
            cf, rows = layout.next_chunk_file(*cf, self._chunks_size), 0
            path = self._data_path(cf)
        previous = self._previous(path, rows, table.schema)
        combined = table if previous is None else pa.concat_tables([previous, table])
        if previous is None:
            undo.append(functools.partial(self._unlink, path))
        else:
            undo.append(
                functools.partial(layout.atomic_write_parquet, path, previous, fsync=self._fsync)
            )
        layout.atomic_write_parquet(path, combined, fsync=self._fsync)
        return cf, combined.num_rows

    def _write_tasks(self, tasks: list[str], known: list[str], undo: list[_Undo]) -> None:
        path = self.root / layout.TASKS_PATH
        if known:
            old = layout.tasks_table(known)
            undo.append(
                functools.partial(layout.atomic_write_parquet, path, old, fsync=self._fsync)
            )
        else:
            undo.append(functools.partial(self._unlink, path))
        layout.atomic_write_parquet(path, layout.tasks_table(tasks), fsync=self._fsync)

    def _write_episode_row(
        self, row: dict[str, Any]
    ) -> tuple[tuple[int, int], int, BaseException | None]:
        """Append the commit record; returns its file, its rows, and an error raised after it.

        The error is not None when the file was replaced but a later step of the atomic write
        (the directory fsync) raised: the episode is then committed all the same.
        """
        cf, rows = self._meta_cf, self._meta_rows
        path = self._meta_path(cf)
        if self._rotate_if_full(rows, path, 1):
            cf, rows = layout.next_chunk_file(*cf, self._chunks_size), 0
            path = self._meta_path(cf)
        row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = cf
        new = pa.Table.from_pylist([row], schema=self._episodes_schema)
        previous = self._previous(path, rows, self._episodes_schema)
        combined = new if previous is None else pa.concat_tables([previous, new])
        try:
            layout.atomic_write_parquet(path, combined, fsync=self._fsync)
        except BaseException as exc:
            if not _ends_with_episode(path, row["episode_index"], combined.num_rows):
                raise
            return cf, combined.num_rows, exc
        return cf, combined.num_rows, None

    def _unplace_video(self, final: Path, staged: Path) -> None:
        """Undo a video move: back to staging for a retry, or delete if the episode is gone."""
        if not final.exists():
            return
        if self._retry_pending() and not staged.exists():
            os.replace(final, staged)
        else:
            final.unlink()

    def _unlink(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        if self._fsync and path.parent.exists():
            layout.fsync_dir(path.parent)

    def _data_path(self, cf: tuple[int, int]) -> Path:
        return self.root / layout.DATA_PATH.format(chunk_index=cf[0], file_index=cf[1])

    def _meta_path(self, cf: tuple[int, int]) -> Path:
        return self.root / layout.EPISODES_PATH.format(chunk_index=cf[0], file_index=cf[1])


def _ends_with_episode(path: Path, episode: int, num_rows: int) -> bool:
    """Whether the episodes file at ``path`` is the one just written, ending with ``episode``."""
    try:
        table = read_parquet(path, columns=["episode_index"])
    except Exception:  # missing or unreadable: certainly not committed
        return False
    column = table["episode_index"]
    return table.num_rows == num_rows and column[num_rows - 1].as_py() == episode
