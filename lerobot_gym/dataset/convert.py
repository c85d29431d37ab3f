"""Converting a LeRobot v2.1 dataset into a new v3.0 dataset, in one step, without LeRobot.

:func:`convert_v21` reads a v2.1 dataset (:mod:`lerobot_gym.dataset.v21`) and writes the v3.0
layout of ``shared/reference/lerobot-dataset-v3.md``: episodes' parquet rows concatenated into
``data/chunk-*/file-*.parquet``, episodes' MP4s concatenated per camera into
``videos/<key>/chunk-*/file-*.mp4``, ``meta/episodes``, ``meta/tasks.parquet``,
``meta/stats.json`` and ``meta/info.json``. LeRobot's own converter
(``convert_dataset_v21_to_v30.py`` of lerobot 0.4) does the same, but needs a v3.0 LeRobot to
run and, to fetch the v2.1 files, a second install of the old one.

Design decisions:

* Lossless. Data columns are cast to the v3.0 Arrow types (value-preserving: a ``list<float>``
  becomes a ``fixed_size_list<float>``), and videos are *remuxed*, never re-encoded: each
  episode's packets are copied with their timestamps shifted by the episode's offset in the
  output file, which becomes its ``from_timestamp``. The offset is a whole number of frame
  periods past the previous episode's last packet, so ``from_timestamp + timestamp`` hits the
  episode's frames exactly, as LeRobot's reader expects.
* Where episodes cannot share a file without re-encoding (codec, size, pixel format, time base
  or codec headers differ, or the file reached ``video_files_size_in_mb``), the next episode
  starts a new file. v3.0 allows any number of files per camera, so this never costs a frame.
* Stats are recomputed from the frames, as our writer computes them: v2.1 has no quantiles,
  and LeRobot 0.4's ``QUANTILES`` normalisation refuses a dataset without them (LeRobot's own
  converter leaves them out and points to another script). Numeric and PNG features come from
  the data rows, video features from decoding every frame of the episode's packets on their way
  through (one decode per frame: the conversion's main cost).
* Crash safety: the input is only read. The output is built in a staging folder beside it
  (``.<name>.staging-<pid>-<random>``, :mod:`lerobot_gym.dataset.tools`' as for ``merge``),
  every file fsynced, and renamed into place at the end, so a kill at any moment leaves the
  output absent or complete. A staging folder of a process that no longer runs is a provable
  leftover and is removed by the next conversion.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa

from lerobot_gym.dataset import layout, lfs
from lerobot_gym.dataset.edit import build_then_place  # staged and placed as merge's output
from lerobot_gym.dataset.meta import DatasetMeta, read_parquet
from lerobot_gym.dataset.stats import (
    ImageStatsAccumulator,
    Stats,
    aggregate_stats,
    stats_to_json,
    to_episode_columns,
)
from lerobot_gym.dataset.tools import table_stats  # stats as `dataset stats` computes them
from lerobot_gym.dataset.v21 import CODEBASE_VERSION as V21
from lerobot_gym.dataset.v21 import V21Meta, codebase_version
from lerobot_gym.errors import ConfigError, DatasetCorruptError

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called with 0 first, then after each unit of work."""


def convert_v21(
    root: str | Path,
    output: str | Path,
    *,
    data_files_size_in_mb: float = layout.DEFAULT_DATA_FILE_SIZE_IN_MB,
    video_files_size_in_mb: float = layout.DEFAULT_VIDEO_FILE_SIZE_IN_MB,
    progress: Progress | None = None,
) -> DatasetMeta:
    """Write the v2.1 dataset at ``root`` as a new v3.0 dataset at ``output``.

    Args:
        root: the v2.1 dataset (only read).
        output: where the v3.0 dataset goes; must not exist (or be an empty directory).
        data_files_size_in_mb: start a new data parquet file past this size.
        video_files_size_in_mb: start a new MP4 per camera past this size.
        progress: called as ``progress(done, total)`` over episodes x (1 + cameras).

    Returns:
        The metadata of the new dataset.

    Raises:
        ConfigError: ``output`` exists and is not empty, or lies inside ``root``; or ``root``
            is a dataset of another version.
        DatasetNotFoundError: no dataset at ``root``.
        DatasetCorruptError: a file of ``root`` is missing, an LFS pointer, unreadable or
            inconsistent with the metadata.
    """
    root, output = Path(root), Path(output)
    version = codebase_version(root)
    if version is not None and version != V21:
        raise ConfigError(
            f"{root} is a LeRobot {version} dataset; `dataset convert` reads v2.1 only"
            + (" (it is already v3.0)" if version == layout.CODEBASE_VERSION else "")
        )
    meta = V21Meta.load(root)
    check_output(root, output)
    for ep in range(meta.num_episodes):
        lfs.check_file(meta.data_path(ep), "data file")
        for key in meta.video_keys:
            lfs.check_file(meta.video_path(ep, key), f"video of {key!r}")

    def build(staging: Path) -> None:
        _build(meta, staging, data_files_size_in_mb, video_files_size_in_mb, progress)
        _fsync_tree(staging)

    # The staging folder, its placement and the removal of dead processes' leftovers are
    # merge's and delete-episodes' (one implementation of "absent or complete").
    return build_then_place(output, build)


def check_output(root: str | Path, output: str | Path) -> None:
    """Refuse an ``output`` that exists with content, or lies inside the input ``root``.

    Raises:
        ConfigError: naming the problem and what to choose instead.
    """
    root, output = Path(root), Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ConfigError(f"{output} already exists and is not empty: choose a new directory")
    if output.resolve().is_relative_to(root.resolve()):
        raise ConfigError(
            f"{output} lies inside the v2.1 dataset {root}: choose a directory outside it "
            "(the input is never modified)"
        )


def _build(
    meta: V21Meta,
    out: Path,
    data_mb: float,
    video_mb: float,
    progress: Progress | None,
) -> None:
    total = meta.num_episodes * (1 + len(meta.video_keys))
    done = 0
    if progress is not None:
        progress(0, total)

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    features = {k: dict(ft) for k, ft in meta.features.items()}
    rows, episode_stats = _convert_data(meta, out, features, data_mb, step)
    for key in meta.video_keys:
        placed = _convert_videos(meta, out, key, video_mb, step)
        for ep, (fields, camera_stats) in enumerate(placed):
            rows[ep].update(fields)
            episode_stats[ep][key] = camera_stats
    for row, stats in zip(rows, episode_stats):
        row.update(to_episode_columns(stats))
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
    schema = layout.episodes_schema(features)
    layout.atomic_write_parquet(
        out / layout.EPISODES_PATH.format(chunk_index=0, file_index=0),
        pa.Table.from_pylist(rows, schema=schema),
    )
    layout.atomic_write_parquet(out / layout.TASKS_PATH, layout.tasks_table(meta.tasks))
    if episode_stats:
        layout.atomic_write_json(
            out / layout.STATS_PATH, stats_to_json(aggregate_stats(episode_stats))
        )
    info = layout.make_info(
        fps=meta.fps,
        features=features,
        robot_type=meta.info.get("robot_type"),
        total_episodes=meta.num_episodes,
        total_frames=meta.num_frames,
        total_tasks=len(meta.tasks),
        chunks_size=int(meta.info.get("chunks_size", layout.DEFAULT_CHUNKS_SIZE)),
        data_files_size_in_mb=data_mb,
        video_files_size_in_mb=video_mb,
    )
    layout.atomic_write_json(out / layout.INFO_PATH, info)


# -- data ------------------------------------------------------------------------------------


def _convert_data(
    meta: V21Meta,
    out: Path,
    features: dict[str, dict[str, Any]],
    data_mb: float,
    step: Callable[[], None],
) -> tuple[list[dict[str, Any]], list[dict[str, Stats]]]:
    """Concatenate the episodes' parquet files; their episodes rows and numeric/PNG stats."""
    schema = layout.data_schema(features)
    chunks_size = int(meta.info.get("chunks_size", layout.DEFAULT_CHUNKS_SIZE))
    rows: list[dict[str, Any]] = []
    stats: list[dict[str, Stats]] = []
    pending: list[pa.Table] = []
    pending_bytes = 0
    chunk, file = 0, 0

    def flush() -> None:
        path = out / layout.DATA_PATH.format(chunk_index=chunk, file_index=file)
        layout.atomic_write_parquet(path, pa.concat_tables(pending))

    for ep, episode in enumerate(meta.episodes):
        path = meta.data_path(ep)
        size = path.stat().st_size
        if pending and pending_bytes + size > data_mb * 1e6:
            flush()
            pending, pending_bytes = [], 0
            chunk, file = layout.next_chunk_file(chunk, file, chunks_size)
        table = _episode_table(meta, ep, path, schema)
        pending.append(table)
        pending_bytes += size
        start = int(episode["dataset_from_index"])
        rows.append(
            {
                "episode_index": ep,
                "tasks": list(episode["tasks"]),
                "length": int(episode["length"]),
                "data/chunk_index": chunk,
                "data/file_index": file,
                "dataset_from_index": start,
                "dataset_to_index": start + table.num_rows,
            }
        )
        stats.append(table_stats(features, table))
        step()
    if pending:
        flush()
    return rows, stats


def _episode_table(meta: V21Meta, ep: int, path: Path, schema: pa.Schema) -> pa.Table:
    """The episode's rows in v3.0 column types, after checking them against the metadata."""
    table = read_parquet(path)
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise DatasetCorruptError(
            f"{path} lacks columns {missing} declared in meta/info.json", path=str(path)
        )
    table = table.select(schema.names)
    try:
        table = table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DatasetCorruptError(
            f"{path}: columns do not match the features of meta/info.json ({exc})", path=str(path)
        ) from exc
    length = int(meta.episodes[ep]["length"])
    start = int(meta.episodes[ep]["dataset_from_index"])
    episode_index = table["episode_index"].to_numpy()
    index = table["index"].to_numpy()
    if (
        table.num_rows != length
        or not np.all(episode_index == ep)
        or not np.array_equal(index, np.arange(start, start + length))
    ):
        raise DatasetCorruptError(
            f"{path}: expected {length} rows of episode {ep} with index {start}..."
            f"{start + length - 1} (meta/episodes.jsonl), found {table.num_rows} rows"
            f"{'' if np.all(episode_index == ep) else ' of other episodes'}",
            path=str(path),
        )
    return table


# -- video -----------------------------------------------------------------------------------


@dataclass
class _Output:
    """The MP4 being filled for one camera."""

    container: Any
    stream: Any
    signature: tuple[Any, ...]
    path: Path
    next_ticks: int  # where the next episode may start, in the stream's time base
    last_dts: int  # of the last packet written (dts must increase across episodes)
    size: int = 0  # bytes of packets written (the file on disk lags behind, buffered)


def _convert_videos(
    meta: V21Meta, out: Path, key: str, video_mb: float, step: Callable[[], None]
) -> list[tuple[dict[str, Any], Stats]]:
    """Remux every episode's MP4 of camera ``key``.

    Returns:
        Per episode, its ``videos/<key>/...`` fields and the camera's stats.
    """
    chunks_size = int(meta.info.get("chunks_size", layout.DEFAULT_CHUNKS_SIZE))
    placed: list[tuple[dict[str, Any], Stats]] = []
    current: _Output | None = None
    chunk, file = 0, -1
    try:
        for ep in range(meta.num_episodes):
            src_path = meta.video_path(ep, key)
            length = int(meta.episodes[ep]["length"])
            with _open_source(src_path) as src:
                stream = src.streams.video[0]
                packets = [p for p in src.demux(stream) if p.dts is not None]
                frames = sum(1 for p in packets if p.size > 0)
                if frames < length:
                    raise DatasetCorruptError(
                        f"{src_path} holds {frames} frames but episode {ep} has {length} "
                        "(meta/episodes.jsonl)",
                        path=str(src_path),
                    )
                camera_stats = _decoded_stats(stream, packets, length, src_path)
                # Ticks of the stream's time base per frame; 0 if fps does not divide it, and
                # then every episode gets a file of its own (offset 0 is always exact).
                per_frame = Fraction(1, meta.fps) / stream.time_base
                frame_ticks = int(per_frame) if per_frame.denominator == 1 else 0
                signature = _signature(stream)
                if (
                    current is None
                    or current.signature != signature
                    or frame_ticks == 0
                    or current.size >= video_mb * 1e6
                ):
                    if current is not None:
                        _close(current)
                    first = file < 0
                    chunk, file = (
                        (0, 0) if first else layout.next_chunk_file(chunk, file, chunks_size)
                    )
                    path = out / layout.VIDEO_PATH.format(
                        video_key=key, chunk_index=chunk, file_index=file
                    )
                    current = _open_output(path, stream, signature)
                offset = _remux(current, packets, frame_ticks, length)
                start_s = float(offset * stream.time_base)
            fields = {
                f"videos/{key}/chunk_index": chunk,
                f"videos/{key}/file_index": file,
                f"videos/{key}/from_timestamp": start_s,
                f"videos/{key}/to_timestamp": start_s + length / meta.fps,
            }
            placed.append((fields, camera_stats))
            step()
        if current is not None:
            _close(current)
            current = None
    finally:
        if current is not None:
            current.container.close()
    return placed


def _open_source(path: Path) -> Any:
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise DatasetCorruptError(f"cannot open video {path}: {exc}", path=str(path)) from exc
    if not container.streams.video:
        container.close()
        raise DatasetCorruptError(f"{path} has no video stream", path=str(path))
    return container


def _decoded_stats(stream: Any, packets: list[Any], length: int, path: Path) -> Stats:
    """Pixel stats of the episode's first ``length`` frames, decoded from its packets.

    Frames are folded into the accumulator as they come out of the decoder (never held: an
    episode's RGB frames can be gigabytes); the first ``length`` in presentation order are
    known beforehand from the packets' pts.
    """
    shown = sorted(p.pts for p in packets if p.pts is not None and p.size > 0)
    last = shown[length - 1] if len(shown) >= length else None
    acc = ImageStatsAccumulator()
    try:
        for packet in [*packets, None]:
            for decoded in stream.codec_context.decode(packet):
                if last is None or decoded.pts is None or decoded.pts <= last:
                    acc.update(decoded.to_ndarray(format="rgb24"))
    except av.error.FFmpegError as exc:
        raise DatasetCorruptError(f"cannot decode {path}: {exc}", path=str(path)) from exc
    return acc.result()


def _remux(current: _Output, packets: list[Any], frame_ticks: int, length: int) -> int:
    """Append an episode's packets, shifted; the shift (its start in the output, in ticks).

    The shift is past the previous episode's last frame, on a frame boundary, and keeps decode
    timestamps increasing across the seam (a stream with reordered frames starts at a
    negative dts).
    """
    offset = current.next_ticks
    if packets:
        offset = max(offset, current.last_dts + 1 - int(packets[0].dts))
    if frame_ticks > 1 and offset % frame_ticks:
        offset += frame_ticks - offset % frame_ticks
    end = offset + length * max(frame_ticks, 1)
    for packet in packets:
        if packet.pts is not None:
            packet.pts += offset
        packet.dts += offset
        shown = packet.pts if packet.pts is not None else packet.dts
        end = max(end, shown + max(int(packet.duration or 0), 1))
        current.last_dts = packet.dts
        current.size += packet.size
        packet.stream = current.stream
        current.container.mux(packet)
    current.next_ticks = end
    return offset


def _signature(stream: Any) -> tuple[Any, ...]:
    """What two episodes' streams must share to be concatenated without re-encoding."""
    ctx = stream.codec_context
    return (
        ctx.name,
        ctx.width,
        ctx.height,
        ctx.format.name if ctx.format is not None else None,
        stream.time_base,
        bytes(ctx.extradata or b""),
    )


def _open_output(path: Path, template: Any, signature: tuple[Any, ...]) -> _Output:
    path.parent.mkdir(parents=True, exist_ok=True)
    container = av.open(str(path), "w", format="mp4")
    stream = container.add_stream_from_template(template=template, opaque=True)
    stream.time_base = template.time_base
    return _Output(container, stream, signature, path, next_ticks=0, last_dts=-(2**62))


def _close(current: _Output) -> None:
    current.container.close()
    with open(current.path, "rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_tree(root: Path) -> None:
    """Persist every directory entry under ``root`` (files were fsynced when written)."""
    for dirpath, _, _ in os.walk(root):
        layout.fsync_dir(Path(dirpath))
