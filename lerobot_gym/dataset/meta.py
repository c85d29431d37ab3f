"""Reading a dataset's metadata: ``meta/info.json``, tasks, episodes and stats.

:class:`DatasetMeta` is shared by the reader, the writer (on resume), :mod:`validate` and
:mod:`tools`. The episodes parquet files are the source of truth for which episodes exist:
the writer commits an episode by rewriting its episodes file last but one (before
``stats.json`` and ``info.json``), so after a crash ``info.json`` may lag behind the episodes
table but never run ahead of it.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.stats import Stats, stats_from_json
from lerobot_gym.errors import DatasetCorruptError, DatasetNotFoundError


def read_parquet(path: Path, **kwargs: Any) -> pa.Table:
    """``pq.read_table`` that turns any failure into :class:`DatasetCorruptError`."""
    try:
        return pq.read_table(path, **kwargs)
    except FileNotFoundError as exc:
        raise DatasetCorruptError(f"{path} is missing", path=str(path)) from exc
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetCorruptError(
            f"{path} is not a readable parquet file ({exc}); it may be truncated. Run "
            "`lerobot-gym dataset validate` and re-record or delete the affected episodes",
            path=str(path),
        ) from exc


def rebuild_hint(root: Path) -> str:
    """How to rebuild lost metadata from the data and video files (nothing is deleted)."""
    flag = shlex.quote(f"--dataset.root={root}")
    return (
        f"rebuild it from the data and video files with `lerobot-gym dataset rebuild-meta "
        f"{flag}` (nothing is deleted), or restore meta/ from a copy of the dataset"
    )


def delete_hint(meta: DatasetMeta, ep: int) -> str:
    """How to delete a damaged episode (or restore its file), for error messages."""
    root = shlex.quote(f"--dataset.root={meta.root}")
    return (
        f"delete the episode with `lerobot-gym dataset delete-episodes {root} "
        f"--dataset.episodes=[{ep}]`, or restore the file from a copy of the dataset, then "
        "run this again (`lerobot-gym dataset validate` lists every damaged episode)"
    )


def read_info(root: Path) -> dict[str, Any]:
    """Load and check ``meta/info.json``."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DatasetNotFoundError(
            f"dataset root {root} is a file, not a directory; point --dataset.root at the "
            "dataset's top directory (the one holding meta/, data/ and videos/)"
        )
    if not root.is_dir():
        raise DatasetNotFoundError(f"dataset root {root} does not exist")
    path = root / layout.INFO_PATH
    if not path.is_file():
        raise DatasetNotFoundError(
            f"{path} not found: {root} is not a LeRobot v3.0 dataset; point --dataset.root at "
            "the dataset's top directory (the one holding meta/info.json), or record one with "
            "`lerobot-gym record`"
        )
    restore = (
        f"restore {path} from a copy of the dataset (e.g. the one pushed to the Hugging Face "
        "Hub); the data, videos and other metadata files are not affected"
    )
    try:
        info = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetCorruptError(
            f"{path} is not valid JSON ({exc}); {restore}", path=str(path)
        ) from exc
    except OSError as exc:
        raise DatasetCorruptError(f"{path} cannot be read ({exc})", path=str(path)) from exc
    if not isinstance(info, dict):
        raise DatasetCorruptError(
            f"{path} holds a JSON {type(info).__name__}, not an object; {restore}",
            path=str(path),
        )
    missing = [k for k in layout.REQUIRED_INFO_KEYS if k not in info]
    if missing:
        raise DatasetCorruptError(f"{path} lacks keys {missing}; {restore}", path=str(path))
    if not isinstance(info["features"], dict) or not all(
        isinstance(f, dict) and "dtype" in f and "shape" in f for f in info["features"].values()
    ):
        raise DatasetCorruptError(
            f"{path}: 'features' must map each feature to its dtype and shape; {restore}",
            path=str(path),
        )
    if info["codebase_version"] != layout.CODEBASE_VERSION:
        raise DatasetCorruptError(
            f"{path} has codebase_version {info['codebase_version']!r}; only "
            f"{layout.CODEBASE_VERSION!r} is supported here (a v2.1 dataset: convert it with "
            f"`lerobot-gym dataset convert --dataset.root={root} --output=NEW_DIR`)",
            path=str(path),
        )
    return info


def read_tasks(root: Path) -> list[str]:
    """Tasks in ``task_index`` order (empty if no episode was saved yet)."""
    path = Path(root) / layout.TASKS_PATH
    if not path.exists():
        return []
    table = read_parquet(path)
    if "task" not in table.column_names:
        # LeRobot 0.4 writes the task as an unnamed pandas index ("__index_level_0__") and
        # names it when loading; find it through the pandas metadata.
        pandas_meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
        index_cols = [c for c in pandas_meta.get("index_columns", []) if isinstance(c, str)]
        if index_cols and index_cols[0] in table.column_names:
            table = table.rename_columns(
                ["task" if n == index_cols[0] else n for n in table.column_names]
            )
    if "task" not in table.column_names or "task_index" not in table.column_names:
        raise DatasetCorruptError(f"{path} needs columns 'task' and 'task_index'", path=str(path))
    pairs = sorted(zip(table["task_index"].to_pylist(), table["task"].to_pylist()))
    if [i for i, _ in pairs] != list(range(len(pairs))):
        raise DatasetCorruptError(f"{path}: task_index is not 0..N-1", path=str(path))
    return [t for _, t in pairs]


def episode_files(root: Path) -> list[Path]:
    """The episodes parquet files, sorted like LeRobot's loader."""
    return sorted((Path(root) / "meta" / "episodes").glob("*/*.parquet"))


def read_episodes(root: Path, *, check_contiguous: bool = True) -> pa.Table:
    """All episode rows (stats columns included), sorted by ``episode_index``."""
    files = episode_files(root)
    if not files:
        return pa.table({})
    tables = []
    for path in files:
        try:
            tables.append(_stats_as_float64(read_parquet(path)))
        except DatasetCorruptError as exc:
            raise DatasetCorruptError(
                f"{path} is not a readable parquet file ({exc.__cause__}); the episodes it "
                f"lists cannot be loaded: {rebuild_hint(Path(root))}",
                path=str(path),
            ) from exc
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as exc:
        raise DatasetCorruptError(
            f"episodes files under {Path(root) / 'meta/episodes'} disagree on columns: {exc}",
            path=str(files[0]),
        ) from exc
    table = table.sort_by("episode_index")
    if check_contiguous:
        idx = table["episode_index"].to_pylist()
        if idx != list(range(len(idx))):
            raise DatasetCorruptError(
                f"episode indices in {Path(root) / 'meta/episodes'} are not contiguous "
                f"0..{len(idx) - 1} (got {_summarise(idx)}): episodes files were lost; "
                f"{rebuild_hint(Path(root))}",
                path=str(files[0]),
            )
    return table


def check_committed(
    root: Path, info: dict[str, Any], episodes: list[dict[str, Any]], tasks: list[str]
) -> None:
    """Refuse metadata that lost committed episodes or tasks, before anyone builds on it.

    ``info.json`` is written after the episodes table, so it never counts more episodes than
    the table holds: if it does, episodes rows were lost (a missing or replaced episodes
    file). Every episode's tasks must be in ``tasks.parquet``: without them a resumed
    recording would hand the old tasks' indices to new tasks, relabelling old episodes.

    Raises:
        DatasetCorruptError: naming what is missing and how to rebuild it.
    """
    root = Path(root)
    n = len(episodes)
    counted = info.get("total_episodes")
    if isinstance(counted, int) and counted > n:
        where = root / "meta" / "episodes"
        what = (
            "has no episodes file"
            if not episode_files(root)
            else f"lists only {n} episode{'s' * (n != 1)}"
        )
        raise DatasetCorruptError(
            f"{where} {what} but meta/info.json counts {counted}: committed episodes were "
            f"lost from the episodes table (their data and videos are still on disk, and "
            f"nothing was changed); {rebuild_hint(root)}",
            path=str(where),
        )
    if not n:
        return
    tasks_path = root / layout.TASKS_PATH
    if not tasks_path.exists():
        raise DatasetCorruptError(
            f"{tasks_path} is missing but {n} episodes are recorded, so no frame's task is "
            f"known; {rebuild_hint(root)}",
            path=str(tasks_path),
        )
    known = set(tasks)
    for ep in episodes:
        unknown = [t for t in ep.get("tasks") or [] if t not in known]
        if unknown:
            raise DatasetCorruptError(
                f"episode {ep['episode_index']}'s task {unknown[0]!r} is not in {tasks_path}; "
                f"the tasks file was replaced or damaged: {rebuild_hint(root)}",
                path=str(tasks_path),
            )


def _stats_as_float64(table: pa.Table) -> pa.Table:
    """Cast bool/integer ``stats/...`` lists to float64 lists.

    LeRobot 0.4 stores min/max of bool and integer features with the feature's own type
    (``list<bool>``, ``list<int64>``), we store ``list<double>``; a dataset both tools appended to
    holds files of each kind, which concat cannot promote bool into double on its own.
    """
    columns = []
    for name, column in zip(table.column_names, table.columns):
        kind = column.type
        if name.startswith("stats/") and pa.types.is_list(kind):
            value = kind.value_type
            if pa.types.is_boolean(value) or pa.types.is_integer(value):
                column = column.cast(pa.list_(pa.float64()))
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _summarise(idx: list[int]) -> str:
    return str(idx) if len(idx) <= 12 else f"{idx[:6]} ... {idx[-6:]}"


@dataclass
class DatasetMeta:
    """Everything in ``meta/``: info, features, tasks, episodes and stats.

    Attributes:
        root: dataset directory.
        info: ``meta/info.json`` as a dict.
        tasks: task strings, position = ``task_index``.
        episodes: one dict per episode (without ``stats/`` columns), position = episode index.
        episode_stats: per-episode stats, from the episodes parquet ``stats/`` columns.
        stats: ``meta/stats.json`` (feature -> stat -> array), or None if absent.
    """

    root: Path
    info: dict[str, Any]
    tasks: list[str] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    episode_stats: list[dict[str, Stats]] = field(default_factory=list)
    stats: dict[str, Stats] | None = None

    @classmethod
    def load(cls, root: str | Path) -> DatasetMeta:
        """Read the metadata of the dataset at ``root``.

        Raises:
            DatasetNotFoundError: ``root`` or its ``meta/info.json`` does not exist.
            DatasetCorruptError: a metadata file is unreadable or inconsistent.
        """
        from lerobot_gym.dataset.stats import from_episode_row

        root = Path(root)
        info = read_info(root)
        table = read_episodes(root)
        rows = table.to_pylist() if table.num_columns else []
        episodes = [{k: v for k, v in r.items() if not k.startswith("stats/")} for r in rows]
        stats_path = root / layout.STATS_PATH
        stats = None
        if stats_path.exists():
            try:
                stats = stats_from_json(json.loads(stats_path.read_text()))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DatasetCorruptError(
                    f"{stats_path} is not valid JSON: {exc}", path=str(stats_path)
                ) from exc
        tasks = read_tasks(root)
        check_committed(root, info, episodes, tasks)
        return cls(
            root=root,
            info=info,
            tasks=tasks,
            episodes=episodes,
            episode_stats=[from_episode_row(r) for r in rows],
            stats=stats,
        )

    @property
    def fps(self) -> int:
        """Frames per second."""
        return int(self.info["fps"])

    @property
    def features(self) -> dict[str, dict[str, Any]]:
        """Features, including the default bookkeeping columns."""
        return self.info["features"]

    @property
    def video_keys(self) -> list[str]:
        """Keys of the features stored as MP4."""
        return layout.video_keys(self.features)

    @property
    def camera_keys(self) -> list[str]:
        """Keys of the ``video`` and ``image`` features."""
        return [k for k, f in self.features.items() if layout.is_visual(f)]

    @property
    def num_episodes(self) -> int:
        """Committed episodes (from the episodes table, the source of truth)."""
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        """Frames over all committed episodes."""
        return sum(int(e["length"]) for e in self.episodes)

    def data_path(self, episode: int) -> Path:
        """Data parquet file holding ``episode``."""
        ep = self.episodes[episode]
        return self.root / self.info["data_path"].format(
            chunk_index=ep["data/chunk_index"], file_index=ep["data/file_index"]
        )

    def video_path(self, episode: int, key: str) -> Path:
        """MP4 file holding camera ``key`` of ``episode``."""
        ep = self.episodes[episode]
        template = self.info.get("video_path") or layout.VIDEO_PATH
        return self.root / template.format(
            video_key=key,
            chunk_index=ep[f"videos/{key}/chunk_index"],
            file_index=ep[f"videos/{key}/file_index"],
        )
