"""Check a dataset on disk against the LeRobot v3.0 format and against itself.

:func:`validate` never raises on a bad dataset: it returns one :class:`Problem` per finding,
each naming the file and what is wrong, so that ``lerobot-gym dataset validate`` can print
them all at once. It checks what LeRobot would trip over at load or training time
(reference ``/work/shared/reference/lerobot-dataset-v3.md`` section 9): ``info.json`` keys,
readable parquet and MP4 files, contiguous episode indices, data columns agreeing with the
declared features, per-episode row counts, and video frame counts and timestamps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import av
import pyarrow as pa
import pyarrow.compute as pc

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.meta import episode_files, read_info, read_parquet, read_tasks
from lerobot_gym.errors import DatasetError


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`validate`.

    Attributes:
        path: the file (or directory) concerned.
        message: what is wrong, and where useful what to do.
    """

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validate(root: str | Path, *, check_videos: bool = True) -> list[Problem]:
    """Return every problem found in the dataset at ``root`` (empty if it is sound).

    Args:
        root: dataset directory.
        check_videos: also open every referenced MP4 and count its frames (the slow part).
    """
    root = Path(root)
    problems: list[Problem] = []

    def report(path: Path, message: str) -> None:
        problems.append(Problem(path, message))

    try:
        info = read_info(root)
    except DatasetError as exc:
        info_path = root / layout.INFO_PATH
        try:
            raw = json.loads(info_path.read_text())
            missing = [k for k in layout.REQUIRED_INFO_KEYS if k not in raw]
            report(info_path, f"missing keys {missing}" if missing else str(exc))
        except (OSError, ValueError):
            report(info_path, str(exc))
        return problems
    features = info["features"]
    missing_defaults = [k for k in layout.DEFAULT_FEATURES if k not in features]
    if missing_defaults:
        report(root / layout.INFO_PATH, f"features lack the default columns {missing_defaults}")
        return problems

    try:
        tasks = read_tasks(root)
    except DatasetError as exc:
        report(root / layout.TASKS_PATH, str(exc))
        tasks = None

    rows: list[dict] = []
    for path in episode_files(root):
        try:
            rows += read_parquet(path).to_pylist()
        except DatasetError as exc:
            report(path, str(exc))
    rows.sort(key=lambda r: r["episode_index"])
    indices = [r["episode_index"] for r in rows]
    if indices != list(range(len(indices))):
        gaps = sorted(set(range(max(indices, default=-1) + 1)) - set(indices))
        dupes = sorted({i for i in indices if indices.count(i) > 1})
        report(
            root / "meta" / "episodes",
            f"episode indices are not contiguous 0..N-1: missing {gaps}, duplicated {dupes}",
        )

    n_frames = sum(int(r["length"]) for r in rows)
    for key, have in (("total_episodes", len(rows)), ("total_frames", n_frames)):
        if info[key] != have:
            report(root / layout.INFO_PATH, f"{key} is {info[key]} but the episodes sum to {have}")
    if tasks is not None and info["total_tasks"] != len(tasks):
        report(
            root / layout.INFO_PATH, f"total_tasks is {info['total_tasks']}, tasks has {len(tasks)}"
        )

    _check_data(root, info, rows, tasks, report)
    if check_videos:
        _check_videos(root, info, rows, report)
    if rows and not (root / layout.STATS_PATH).exists():
        report(root / layout.STATS_PATH, "missing (run lerobot_gym.dataset.tools.recompute_stats)")
    return problems


def _check_data(root: Path, info: dict, rows: list[dict], tasks: list[str] | None, report) -> None:
    schema = layout.data_schema(info["features"])
    by_file: dict[Path, list[dict]] = {}
    for r in rows:
        path = root / info["data_path"].format(
            chunk_index=r["data/chunk_index"], file_index=r["data/file_index"]
        )
        by_file.setdefault(path, []).append(r)
    for path, eps in sorted(by_file.items()):
        try:
            table = read_parquet(path)
        except DatasetError as exc:
            report(path, str(exc))
            continue
        missing = [f.name for f in schema if f.name not in table.column_names]
        extra = [n for n in table.column_names if n not in schema.names]
        if missing or extra:
            report(
                path,
                f"columns disagree with meta/info.json features: missing {missing}, "
                f"not declared {extra}",
            )
        for field in schema:
            if field.name in table.column_names and not _compatible(
                table.schema.field(field.name).type, field.type
            ):
                report(
                    path,
                    f"column {field.name!r} has type {table.schema.field(field.name).type}, "
                    f"the feature declares {field.type}",
                )
        if "episode_index" not in table.column_names or "index" not in table.column_names:
            continue
        counts = pc.value_counts(table["episode_index"]).to_pylist()
        counts = {c["values"]: c["counts"] for c in counts}
        for r in eps:
            have = counts.get(r["episode_index"], 0)
            if have != r["length"]:
                report(
                    path,
                    f"episode {r['episode_index']} has {have} rows, meta/episodes says length "
                    f"{r['length']}",
                )
            mask = pc.equal(table["episode_index"], r["episode_index"])
            idx = table["index"].filter(mask)
            if len(idx) and (
                pc.min(idx).as_py() != r["dataset_from_index"]
                or pc.max(idx).as_py() != r["dataset_to_index"] - 1
            ):
                report(
                    path,
                    f"episode {r['episode_index']} index range does not match "
                    f"dataset_from_index/dataset_to_index [{r['dataset_from_index']}, "
                    f"{r['dataset_to_index']})",
                )
        if tasks is not None and "task_index" in table.column_names and table.num_rows:
            top = pc.max(table["task_index"]).as_py()
            if top is not None and top >= len(tasks):
                report(path, f"task_index {top} has no entry in meta/tasks.parquet")


def _compatible(have: pa.DataType, want: pa.DataType) -> bool:
    """Same type, allowing a variable-size list where LeRobot declares a fixed-size one."""
    if have == want:
        return True
    if pa.types.is_fixed_size_list(want) and (
        pa.types.is_list(have) or pa.types.is_large_list(have) or pa.types.is_fixed_size_list(have)
    ):
        return have.value_type == want.value_type
    if pa.types.is_struct(want) and pa.types.is_struct(have):  # image structs
        return {f.name for f in want} <= {f.name for f in have}
    return False


def _check_videos(root: Path, info: dict, rows: list[dict], report) -> None:
    template = info.get("video_path") or layout.VIDEO_PATH
    tol = 1e-4
    for key in layout.video_keys(info["features"]):
        by_file: dict[Path, list[dict]] = {}
        for r in rows:
            if f"videos/{key}/chunk_index" not in r:
                report(
                    root / "meta" / "episodes", f"episode {r['episode_index']} lacks {key} columns"
                )
                continue
            path = root / template.format(
                video_key=key,
                chunk_index=r[f"videos/{key}/chunk_index"],
                file_index=r[f"videos/{key}/file_index"],
            )
            by_file.setdefault(path, []).append(r)
        for path, eps in sorted(by_file.items()):
            if not path.exists():
                report(path, f"missing; needed by episodes {[r['episode_index'] for r in eps]}")
                continue
            try:
                times = _frame_times(path)
            except (av.error.FFmpegError, IndexError, OSError) as exc:
                report(path, f"unreadable video ({exc}); it may be truncated")
                continue
            for r in eps:
                start = r[f"videos/{key}/from_timestamp"]
                stop = r[f"videos/{key}/to_timestamp"]
                n = sum(1 for t in times if start - tol <= t < stop - tol)
                if n != r["length"]:
                    report(
                        path,
                        f"episode {r['episode_index']} has {n} video frames in "
                        f"[{start:.4f}, {stop:.4f}) s but {r['length']} data rows",
                    )
                elif n and abs(min(t for t in times if t >= start - tol) - start) > tol:
                    report(path, f"episode {r['episode_index']}: first frame is not at {start} s")


def _frame_times(path: Path) -> list[float]:
    """Presentation times (s) of every packet of the first video stream, in pts order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base)
        times = [p.pts * tb for p in container.demux(stream) if p.pts is not None and p.size]
    return sorted(times)
