"""Check a dataset on disk against the LeRobot v3.0 format and against itself.

:func:`validate` never raises on a bad dataset: it returns one :class:`Problem` per finding,
each naming the file, what is wrong and what to do about it, so that ``lerobot-gym dataset
validate`` can print them all at once. It checks what LeRobot would trip over at load or
training time (reference ``shared/reference/lerobot-dataset-v3.md`` section 9):
``info.json`` keys, readable parquet and MP4 files, contiguous episode indices, data columns
agreeing with the declared features, per-episode row counts, data rows or files that no
committed episode owns, and video frame counts and timestamps.

Design decisions:
    * Every message ends with the fix, with the dataset's own root filled in: restore a
      damaged data or video file from a copy, or delete its episodes with ``lerobot-gym
      dataset delete-episodes`` (it never reads the files of deleted episodes); rebuild lost
      or replaced metadata (episodes table, tasks) from the files with ``lerobot-gym dataset
      rebuild-meta``; remove an interrupted save's leftovers and rewrite stale totals with
      ``lerobot-gym dataset repair``; recompute stats with ``lerobot-gym dataset stats``.
    * The advice never proposes deleting committed data to "repair" metadata: files or rows
      no committed episode lists are called leftovers (to remove) only when they are exactly
      what an interrupted save leaves (:func:`lerobot_gym.dataset.recovery.find_leftovers`);
      otherwise the episodes table may have lost them, and the fix is ``rebuild-meta``.
    * Tasks must resolve: every task an episodes row names is in ``tasks.parquet``, and each
      episode's frames map through ``task_index`` to exactly those tasks (a tasks file
      rewritten after it was lost relabels old episodes, which only this catches).
    * Progress is reported per data or video file, the units of work (the videos are the
      slow part).
    * Data rows and files not listed in ``meta/episodes`` are problems although our own
      reader filters by episode: LeRobot loads every parquet file under ``data/`` whole, so
      the rows of a save killed before its commit would train as a phantom episode.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from lerobot_gym.dataset import layout
from lerobot_gym.dataset._advice import (
    FROM_A_COPY,
    UNCOMMITTED_WHY,
    Report,
    delete_fix,
    repair_fix,
    root_flag,
    what_is_wrong,
)
from lerobot_gym.dataset._validate_videos import check_videos as _check_videos
from lerobot_gym.dataset._validate_videos import group_video_files as _group_video_files
from lerobot_gym.dataset.meta import (
    episode_files,
    read_info,
    read_parquet,
    read_tasks,
    rebuild_hint,
)
from lerobot_gym.dataset.recovery import find_leftovers
from lerobot_gym.errors import DatasetError, DatasetNotFoundError


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`validate`.

    Attributes:
        path: the file (or directory) concerned.
        message: what is wrong and what to do about it.
    """

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validate(
    root: str | Path,
    *,
    check_videos: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> list[Problem]:
    """Return every problem found in the dataset at ``root`` (empty if it is sound).

    Args:
        root: dataset directory.
        check_videos: also open every referenced MP4 and count its frames (the slow part).
            Without it, every referenced MP4 must still exist and not be a Git LFS pointer.
        progress: called as ``progress(done, total)`` with the number of data and video
            files checked so far: once with ``done=0`` when ``total`` is known, then after
            each file, ending with ``done == total``. Not called when the metadata is too
            broken to know which files there are.
    """
    root = Path(root)
    problems: list[Problem] = []

    def report(path: Path, message: str) -> None:
        problems.append(Problem(path, message))

    info = _check_info(root, report)
    if info is None:
        return problems

    try:
        tasks: list[str] | None = read_tasks(root)
    except DatasetError as exc:
        report(
            root / layout.TASKS_PATH,
            f"{what_is_wrong(exc)}; without it no frame's task is known: {rebuild_hint(root)}",
        )
        tasks = None

    rows: list[dict] = []
    episodes_complete = True  # every episodes file was readable
    for path in episode_files(root):
        try:
            rows += read_parquet(path).to_pylist()
        except DatasetError as exc:
            episodes_complete = False
            report(
                path,
                f"{what_is_wrong(exc)}; the episodes it lists cannot be loaded: "
                f"{rebuild_hint(root)}",
            )
    rows.sort(key=lambda r: r["episode_index"])
    _check_totals(root, info, rows, tasks, report)
    if rows and tasks is not None:
        _check_episode_tasks(root, rows, tasks, report)

    data_files = _group_data_files(root, info, rows)
    video_files = _group_video_files(root, info, rows, report)
    total = len(data_files)
    if check_videos:  # without decoding, a video check is a stat(): not worth a bar step
        total += sum(len(files) for files in video_files.values())
    done = 0

    def file_checked() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    # With an episodes file unreadable, rows of its episodes would look unowned.
    owned = {r["episode_index"] for r in rows} if episodes_complete else None
    # Rows after the last committed episode, in its file, are classified as leftovers or not.
    leftovers_checked = episodes_complete and info["total_episodes"] <= len(rows)
    last_file = next(reversed(data_files)) if data_files and leftovers_checked else None
    # (the last file in (chunk, file) order is the one the writer appends to)
    _check_data(root, info, data_files, tasks, owned, last_file, report, file_checked)
    if leftovers_checked:
        _check_leftovers(root, info, rows, report)
    _check_videos(root, video_files, report, file_checked, decode=check_videos)
    if rows and not (root / layout.STATS_PATH).exists():
        report(
            root / layout.STATS_PATH,
            f"missing; compute it with `lerobot-gym dataset stats {root_flag(root)}`",
        )
    return problems


# -- metadata --------------------------------------------------------------------------------------
def _check_info(root: Path, report: Report) -> dict | None:
    """``meta/info.json``, or None (and a problem) when nothing else can be checked."""
    info_path = root / layout.INFO_PATH
    try:
        info = read_info(root)
    except DatasetNotFoundError as exc:
        report(
            info_path,
            f"{exc}; point --dataset.root at the dataset's top directory (the one holding "
            "meta/, data/ and videos/)",
        )
        return None
    except DatasetError as exc:
        try:
            raw = json.loads(info_path.read_text())
        except (OSError, ValueError) as read_exc:
            report(info_path, f"not valid JSON ({read_exc}); restore it {FROM_A_COPY}")
            return None
        missing = [k for k in layout.REQUIRED_INFO_KEYS if k not in raw]
        if missing:
            report(info_path, f"missing keys {missing}; restore it {FROM_A_COPY}")
        else:  # an old codebase_version: the reader's message names the conversion script
            report(info_path, str(exc))
        return None
    missing_defaults = [k for k in layout.DEFAULT_FEATURES if k not in info["features"]]
    if missing_defaults:
        report(
            info_path,
            f"features lack the default columns {missing_defaults} of every LeRobot v3.0 "
            f'dataset; restore it {FROM_A_COPY}, or declare them under "features" '
            '(timestamp: {"dtype": "float32", "shape": [1], "names": null}; the others '
            'the same with "dtype": "int64")',
        )
        return None
    return info


def _check_totals(
    root: Path, info: dict, rows: list[dict], tasks: list[str] | None, report: Report
) -> None:
    indices = [r["episode_index"] for r in rows]
    if indices != list(range(len(indices))):
        gaps = sorted(set(range(max(indices, default=-1) + 1)) - set(indices))
        dupes = sorted({i for i in indices if indices.count(i) > 1})
        report(
            root / "meta" / "episodes",
            f"episode indices are not contiguous 0..N-1: missing {gaps}, duplicated {dupes}; "
            f"the dataset cannot be loaded or edited like this: {rebuild_hint(root)}",
        )
    tasks_lost = bool(rows) and not (root / layout.TASKS_PATH).exists()
    if tasks_lost:
        report(
            root / layout.TASKS_PATH,
            f"missing, but {len(rows)} episodes are recorded, so no frame's task is known; "
            f"{rebuild_hint(root)}",
        )
    if info["total_episodes"] > len(rows):
        # info.json is written after the commit record: it never runs ahead of it.
        report(
            root / "meta" / "episodes",
            f"lists {len(rows)} episodes but meta/info.json counts {info['total_episodes']}: "
            f"committed episodes were lost from the episodes table; {rebuild_hint(root)}",
        )
        return
    n_frames = sum(int(r["length"]) for r in rows)
    for key, have in (("total_episodes", len(rows)), ("total_frames", n_frames)):
        if info[key] != have:
            report(
                root / layout.INFO_PATH,
                f"{key} is {info[key]} but the episodes sum to {have}; {repair_fix(root)}",
            )
    if tasks is not None and not tasks_lost and info["total_tasks"] != len(tasks):
        report(
            root / layout.INFO_PATH,
            f"total_tasks is {info['total_tasks']}, tasks has {len(tasks)}; {repair_fix(root)}",
        )


# -- data files ------------------------------------------------------------------------------------
def _group_data_files(root: Path, info: dict, rows: list[dict]) -> dict[Path, list[dict]]:
    by_file: dict[Path, list[dict]] = {}
    for r in rows:
        path = root / info["data_path"].format(
            chunk_index=r["data/chunk_index"], file_index=r["data/file_index"]
        )
        by_file.setdefault(path, []).append(r)
    return dict(sorted(by_file.items()))


def _check_data(
    root: Path,
    info: dict,
    by_file: dict[Path, list[dict]],
    tasks: list[str] | None,
    owned: set[int] | None,
    last_file: Path | None,
    report: Report,
    file_checked: Callable[[], None],
) -> None:
    schema = layout.data_schema(info["features"])
    for path, eps in by_file.items():
        table = _check_data_file(root, path, eps, schema, tasks, report)
        if table is not None and owned is not None and "episode_index" in table.column_names:
            _check_unowned_rows(root, path, table, eps, owned, path == last_file, report)
        file_checked()


def _check_unowned_rows(
    root: Path,
    path: Path,
    table: pa.Table,
    eps: list[dict],
    owned: set[int],
    is_last: bool,
    report: Report,
) -> None:
    """Rows of episodes that meta/episodes does not place in this file."""
    here = {r["episode_index"] for r in eps}
    stray = sorted(set(pc.unique(table["episode_index"]).to_pylist()) - here)
    unlisted = [ep for ep in stray if ep not in owned]
    if is_last:  # rows after the last committed episode: classified by _check_leftovers
        unlisted = [ep for ep in unlisted if ep < len(owned)]
    if unlisted:
        report(
            path,
            f"holds rows of episodes {unlisted} that meta/episodes does not list; LeRobot "
            "loads every data row, so these rows would train as phantom episodes: "
            f"{rebuild_hint(root)}",
        )
    misplaced = [ep for ep in stray if ep in owned]
    if misplaced:
        report(
            path,
            f"holds rows of episodes {misplaced} that meta/episodes places in another file; "
            f"restore the file {FROM_A_COPY}, or {delete_fix(root, misplaced)}",
        )


def _check_leftovers(root: Path, info: dict, rows: list[dict], report: Report) -> None:
    """Files and rows no committed episode lists: an interrupted save's, or lost metadata's."""
    left = find_leftovers(root, info, rows)
    n = len(rows)
    for path in left.files:
        report(
            path,
            f"no episode in meta/episodes uses this file; it holds episode {n}, whose save "
            f"was interrupted before its commit: {UNCOMMITTED_WHY}; "
            f"{repair_fix(root, 'remove it')}",
        )
    if left.trim is not None:
        report(
            left.trim,
            f"holds rows of episode {n}, which meta/episodes does not list: a save was "
            f"interrupted before its commit; {UNCOMMITTED_WHY}; {repair_fix(root, 'remove them')}",
        )
    for path, why in left.unexplained:
        report(
            path,
            f"{why}; not what an interrupted save leaves, so meta/episodes may have lost "
            f"committed episodes (LeRobot would load these rows as phantom episodes): "
            f"{rebuild_hint(root)}",
        )


def _check_episode_tasks(root: Path, rows: list[dict], tasks: list[str], report: Report) -> None:
    """Every task an episode row names is in tasks.parquet."""
    known = set(tasks)
    for r in rows:
        unknown = [t for t in r.get("tasks") or [] if t not in known]
        if unknown:
            report(
                root / layout.TASKS_PATH,
                f"episode {r['episode_index']}'s task {unknown[0]!r} is not in it: the tasks "
                f"file was replaced or damaged; {rebuild_hint(root)}",
            )


def _check_data_file(
    root: Path,
    path: Path,
    eps: list[dict],
    schema: pa.Schema,
    tasks: list[str] | None,
    report: Report,
) -> pa.Table | None:
    """Check one data file; returns its table, or None if it is unreadable."""
    all_episodes = [r["episode_index"] for r in eps]
    try:
        table = read_parquet(path)
    except DatasetError as exc:
        report(
            path,
            f"{what_is_wrong(exc)}; episodes {all_episodes} are stored in it: restore the "
            f"file {FROM_A_COPY}, or {delete_fix(root, all_episodes)}",
        )
        return None
    mismatch_fix = (
        f"restore meta/info.json or this file {FROM_A_COPY}, or {delete_fix(root, all_episodes)}"
    )
    missing = [f.name for f in schema if f.name not in table.column_names]
    extra = [n for n in table.column_names if n not in schema.names]
    if missing or extra:
        report(
            path,
            f"columns disagree with meta/info.json features: missing {missing}, "
            f"not declared {extra}; {mismatch_fix}",
        )
    for field in schema:
        if field.name in table.column_names and not _compatible(
            table.schema.field(field.name).type, field.type
        ):
            report(
                path,
                f"column {field.name!r} has type {table.schema.field(field.name).type}, "
                f"the feature declares {field.type}; {mismatch_fix}",
            )
    if "episode_index" not in table.column_names or "index" not in table.column_names:
        return table
    counts = pc.value_counts(table["episode_index"]).to_pylist()
    counts = {c["values"]: c["counts"] for c in counts}
    for r in eps:
        ep = r["episode_index"]
        have = counts.get(ep, 0)
        if have != r["length"]:
            report(
                path,
                f"episode {ep} has {have} rows, meta/episodes says length {r['length']}; "
                f"{delete_fix(root, [ep])}",
            )
        idx = table["index"].filter(pc.equal(table["episode_index"], ep))
        if len(idx) and (
            pc.min(idx).as_py() != r["dataset_from_index"]
            or pc.max(idx).as_py() != r["dataset_to_index"] - 1
        ):
            report(
                path,
                f"episode {ep} index range does not match dataset_from_index/dataset_to_index "
                f"[{r['dataset_from_index']}, {r['dataset_to_index']}); {delete_fix(root, [ep])}",
            )
    if tasks is not None and "task_index" in table.column_names and table.num_rows:
        # Only rows of the episodes listed here: unowned rows are reported on their own.
        listed = pc.is_in(table["episode_index"], value_set=pa.array(all_episodes, pa.int64()))
        unknown = pc.and_(listed, pc.greater_equal(table["task_index"], len(tasks)))
        if pc.any(unknown).as_py():
            top = pc.max(table["task_index"].filter(unknown)).as_py()
            bad = pc.unique(table["episode_index"].filter(unknown)).to_pylist()
            report(
                path,
                f"task_index {top} (episodes {bad}) has no entry in meta/tasks.parquet; "
                f"{rebuild_hint(root)}",
            )
        else:
            _check_frame_tasks(root, path, table, eps, tasks, report)
    return table


def _check_frame_tasks(
    root: Path, path: Path, table: pa.Table, eps: list[dict], tasks: list[str], report: Report
) -> None:
    """Each episode's frames resolve to the tasks its episodes row names."""
    for r in eps:
        if r.get("tasks") is None:
            continue
        ids = table["task_index"].filter(pc.equal(table["episode_index"], r["episode_index"]))
        labels = {tasks[i] for i in pc.unique(ids).to_pylist()}
        if labels != set(r["tasks"]):
            report(
                path,
                f"the frames of episode {r['episode_index']} resolve to tasks {sorted(labels)} "
                f"through meta/tasks.parquet, but meta/episodes names {sorted(r['tasks'])}: the "
                f"tasks file was replaced (e.g. rewritten after it was lost); "
                f"{rebuild_hint(root)}",
            )


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
