"""The LeRobot v3.0 on-disk layout: paths, feature schemas and crash-safe file writes.

This module owns everything that must match LeRobot byte-for-byte in meaning: the path
templates, the default bookkeeping features, the Arrow schemas of the data, episodes and tasks
parquet files, and ``meta/info.json``. Source: ``shared/reference/lerobot-dataset-v3.md``
sections 1-5 and 9 (read from huggingface/lerobot, ``datasets/utils.py``).

Design decisions:

* Every file is written whole to a temporary name in the same directory, fsynced, and moved
  into place with :func:`os.replace`. A reader (or a process killed at any instant) therefore
  sees either the previous or the new version of a file, never a torn one. LeRobot keeps its
  parquet writers open across episodes and writes the footer only in ``finalize()``; we trade
  that for a rewrite of the (small) current parquet file per episode, which is what makes an
  episode durable the moment ``save_episode`` returns.
* Features with shape ``(1,)`` are stored as plain scalar columns and 1-D features as
  fixed-size lists of the declared dtype, as LeRobot's ``datasets`` features produce them.
  Higher-rank numeric features (LeRobot's ``Array2D``..``Array5D``) are rejected with a
  :class:`~lerobot_gym.errors.ConfigError`: no robot in this project records them.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lerobot_gym.errors import ConfigError

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
#: Scratch space for the episode in progress (video being encoded). Never part of a dataset:
#: removed on resume and ignored by readers and ``push_to_hub``.
STAGING_DIR = ".staging"

DEFAULT_CHUNKS_SIZE = 1000
DEFAULT_DATA_FILE_SIZE_IN_MB = 100
DEFAULT_VIDEO_FILE_SIZE_IN_MB = 200

DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = ("q01", "q10", "q50", "q90", "q99")
STAT_KEYS = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)

_VISUAL = ("video", "image")
_NON_NUMERIC = ("video", "image", "string", "language")


def is_visual(feature: Mapping[str, Any]) -> bool:
    """Whether a feature holds camera frames (``video`` or ``image`` dtype)."""
    return feature["dtype"] in _VISUAL


def video_keys(features: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Keys of the features stored as MP4 files, in declaration order."""
    return [k for k, f in features.items() if f["dtype"] == "video"]


def hwc_shape(feature: Mapping[str, Any]) -> tuple[int, int, int]:
    """(height, width, channels) of a camera feature, whichever axis order it declares.

    LeRobot accepts ``(H, W, C)`` with names ``["height", "width", "channels"]`` and
    ``(C, H, W)`` with names ``["channels", "height", "width"]`` (reference section 2).
    """
    shape = tuple(int(s) for s in feature["shape"])
    names = feature.get("names") or []
    if len(names) == 3 and names[0] in ("channel", "channels"):
        return shape[1], shape[2], shape[0]
    return shape[0], shape[1], shape[2]


def normalize_features(features: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Check user features and return them with the default features appended.

    Args:
        features: LeRobot features dict (``dtype``, ``shape``, ``names``, optional ``info``).

    Returns:
        A new dict: shapes as lists of ints, ``names`` present, defaults added at the end.

    Raises:
        ConfigError: on a malformed entry, a reserved key, or an unsupported shape.
    """
    out: dict[str, dict[str, Any]] = {}
    for key, ft in features.items():
        if key in DEFAULT_FEATURES:
            continue  # LeRobot adds these itself; accept them back from an existing info.json
        if "/" in key:
            raise ConfigError(f"feature name {key!r} must not contain '/' (LeRobot forbids it)")
        if not isinstance(ft, Mapping) or "dtype" not in ft or "shape" not in ft:
            raise ConfigError(f"feature {key!r} needs 'dtype' and 'shape', got {ft!r}")
        entry = copy.deepcopy(dict(ft))
        entry["shape"] = [int(s) for s in ft["shape"]]
        entry.setdefault("names", None)
        dtype = entry["dtype"]
        if dtype in _VISUAL:
            if len(entry["shape"]) != 3 or 3 not in (entry["shape"][0], entry["shape"][2]):
                raise ConfigError(
                    f"camera feature {key!r} must have shape (H, W, 3) or (3, H, W), "
                    f"got {entry['shape']}"
                )
        elif dtype in ("string", "language"):
            pass
        else:
            try:
                pa.from_numpy_dtype(np.dtype(dtype))
            except TypeError as exc:
                raise ConfigError(f"feature {key!r} has unknown dtype {dtype!r}") from exc
            if len(entry["shape"]) != 1:
                raise ConfigError(
                    f"feature {key!r} has shape {entry['shape']}; only 1-D numeric features "
                    "are supported: flatten it and record its layout in 'names'"
                )
        out[key] = entry
    for key, ft in DEFAULT_FEATURES.items():
        out[key] = copy.deepcopy(ft)
    return out


def user_features(features: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Features without the defaults and without the video ``info`` block, for comparisons."""
    out = {}
    for key, ft in features.items():
        if key in DEFAULT_FEATURES:
            continue
        out[key] = {
            "dtype": ft["dtype"],
            "shape": [int(s) for s in ft["shape"]],
            "names": _plain(ft.get("names")),
        }
    return out


def _plain(value: Any) -> Any:
    """JSON round trip, so tuples and lists compare equal."""
    return json.loads(json.dumps(value))


def arrow_type(feature: Mapping[str, Any]) -> pa.DataType:
    """Arrow type of one data-parquet column (reference section 3)."""
    dtype = feature["dtype"]
    if dtype == "image":
        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    if dtype in ("string", "language"):
        return pa.string()
    value = pa.from_numpy_dtype(np.dtype(dtype))
    shape = list(feature["shape"])
    if shape == [1]:
        return value
    return pa.list_(value, shape[0])


def data_schema(features: Mapping[str, Mapping[str, Any]]) -> pa.Schema:
    """Schema of ``data/*.parquet``: every non-video feature, in declaration order."""
    return pa.schema(
        [pa.field(k, arrow_type(f)) for k, f in features.items() if f["dtype"] != "video"]
    )


def stats_arrow_type(feature: Mapping[str, Any], stat: str) -> pa.DataType:
    """Arrow type of a ``stats/<feature>/<stat>`` column in the episodes parquet."""
    if stat == "count":
        return pa.list_(pa.int64())
    if is_visual(feature):  # (3, 1, 1) nested lists, as LeRobot stores image stats
        return pa.list_(pa.list_(pa.list_(pa.float64())))
    return pa.list_(pa.float64())


def episodes_schema(features: Mapping[str, Mapping[str, Any]]) -> pa.Schema:
    """Schema of ``meta/episodes/*.parquet`` (reference section 4). Fixed, so files concat."""
    fields = [
        pa.field("episode_index", pa.int64()),
        pa.field("tasks", pa.list_(pa.string())),
        pa.field("length", pa.int64()),
        pa.field("data/chunk_index", pa.int64()),
        pa.field("data/file_index", pa.int64()),
        pa.field("dataset_from_index", pa.int64()),
        pa.field("dataset_to_index", pa.int64()),
    ]
    for key in video_keys(features):
        fields += [
            pa.field(f"videos/{key}/chunk_index", pa.int64()),
            pa.field(f"videos/{key}/file_index", pa.int64()),
            pa.field(f"videos/{key}/from_timestamp", pa.float64()),
            pa.field(f"videos/{key}/to_timestamp", pa.float64()),
        ]
    for key, ft in features.items():
        if ft["dtype"] in ("string", "language"):
            continue
        for stat in STAT_KEYS:
            fields.append(pa.field(f"stats/{key}/{stat}", stats_arrow_type(ft, stat)))
    fields += [
        pa.field("meta/episodes/chunk_index", pa.int64()),
        pa.field("meta/episodes/file_index", pa.int64()),
    ]
    return pa.schema(fields)


def tasks_table(tasks: list[str]) -> pa.Table:
    """``meta/tasks.parquet`` as pandas would write a frame indexed by ``task``.

    LeRobot reads it with ``pd.read_parquet`` and looks tasks up by the index, so the pandas
    metadata naming ``task`` as the index column must be present; we write it by hand to keep
    pandas an optional dependency.
    """
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": "task",
                "field_name": "task",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "attributes": {},
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    schema = pa.schema(
        [pa.field("task_index", pa.int64()), pa.field("task", pa.string())],
        metadata={b"pandas": json.dumps(pandas_meta).encode()},
    )
    return pa.table(
        {"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks)},
        schema=schema,
    )


def make_info(
    *,
    fps: int,
    features: Mapping[str, Any],
    robot_type: str | None,
    total_episodes: int = 0,
    total_frames: int = 0,
    total_tasks: int = 0,
    chunks_size: int = DEFAULT_CHUNKS_SIZE,
    data_files_size_in_mb: float = DEFAULT_DATA_FILE_SIZE_IN_MB,
    video_files_size_in_mb: float = DEFAULT_VIDEO_FILE_SIZE_IN_MB,
) -> dict[str, Any]:
    """``meta/info.json`` with LeRobot's field order (reference section 2)."""
    return {
        "codebase_version": CODEBASE_VERSION,
        "fps": int(fps),
        "features": _plain(features),
        "total_episodes": total_episodes,
        "total_frames": total_frames,
        "total_tasks": total_tasks,
        "chunks_size": chunks_size,
        "data_files_size_in_mb": data_files_size_in_mb,
        "video_files_size_in_mb": video_files_size_in_mb,
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if video_keys(features) else None,
        "robot_type": robot_type,
        "splits": {"train": f"0:{total_episodes}"},
    }


REQUIRED_INFO_KEYS = (
    "codebase_version",
    "fps",
    "features",
    "total_episodes",
    "total_frames",
    "total_tasks",
    "chunks_size",
    "data_path",
)


def next_chunk_file(chunk: int, file: int, chunks_size: int) -> tuple[int, int]:
    """The (chunk, file) after ``(chunk, file)``, as LeRobot's ``update_chunk_file_indices``."""
    if file >= chunks_size - 1:
        return chunk + 1, 0
    return chunk, file + 1


# --- crash-safe writes ---------------------------------------------------------------------


def fsync_dir(path: Path) -> None:
    """Persist a directory entry (a rename or a new file) on POSIX; a no-op elsewhere."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_temp(path: Path) -> tuple[int, str]:
    """A new hidden temp file beside ``path``, created with mode 0666 minus the umask.

    ``tempfile.mkstemp`` creates 0600 files: a dataset shared with another user or served by a
    web server would be unreadable. ``O_CREAT | O_EXCL`` with 0666 lets the kernel apply the
    umask, as for any file the user writes, without touching the process-wide umask.
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return fd, str(tmp)
    raise FileExistsError(f"no free temporary name beside {path}")  # pragma: no cover


def _atomic(path: Path, write: Any, *, fsync: bool = True) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so that it is either fully there or not changed at all."""
    _atomic(path, lambda fh: fh.write(data), fsync=fsync)


def atomic_write_json(path: Path, obj: Any, *, fsync: bool = True) -> None:
    """Atomically write ``obj`` as indented JSON (LeRobot writes ``indent=4``)."""
    atomic_write_bytes(path, json.dumps(obj, indent=4, ensure_ascii=False).encode(), fsync=fsync)


def atomic_write_parquet(path: Path, table: pa.Table, *, fsync: bool = True) -> None:
    """Atomically write ``table`` as one snappy parquet file with dictionary encoding."""

    def write(fh: Any) -> None:
        pq.write_table(table, fh, compression="snappy", use_dictionary=True)

    _atomic(path, write, fsync=fsync)


def exchange_dirs(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns:
        False where the call or the filesystem does not support it (nothing was changed).
    """
    import ctypes
    import errno

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def is_temp_file(path: Path) -> bool:
    """Whether ``path`` is a leftover of an interrupted :func:`atomic_write_bytes`."""
    return path.name.startswith(".") and path.name.endswith(".tmp")
