"""Reading the metadata of LeRobot v2.1 datasets (read-only), in the shape of v3.0's.

LeRobot 0.1-0.3 wrote v2.1 (``CODEBASE_VERSION = "v2.1"`` in
``lerobot/datasets/lerobot_dataset.py`` of lerobot 0.3.3; 0.4 moved to v3.0). Its layout,
from that release's ``lerobot/datasets/utils.py``::

    meta/info.json             codebase_version "v2.1", chunks_size, total_chunks,
                               total_videos, data_path, video_path, features
    meta/tasks.jsonl           {"task_index": i, "task": "..."} per line
    meta/episodes.jsonl        {"episode_index": e, "tasks": [...], "length": n} per line
    meta/episodes_stats.jsonl  {"episode_index": e, "stats": {feature: {min,max,mean,std,count}}}
    data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet        one per episode
    videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4   one per
                               episode and camera, its first frame at t = 0

with ``episode_chunk = episode_index // chunks_size``. v2.1 has no ``meta/stats.json`` (LeRobot
aggregates the per-episode stats when loading), and the data parquet stores 1-D features as
fixed-size lists, like v3.0.

Design decisions:

* :func:`load_meta` returns a :class:`V21Meta`, a :class:`~lerobot_gym.dataset.meta.DatasetMeta`
  whose episode rows carry the v3.0 keys the reader uses (``dataset_from_index``,
  ``videos/<key>/from_timestamp`` = 0, ...) and whose ``data_path`` / ``video_path`` follow the
  v2.1 templates. The reader and the converter then need no v2.1 branch of their own.
* Episodes must be numbered 0..N-1, as LeRobot writes them; a gap is reported, not renumbered,
  since the data parquet rows carry the old numbers.
* Version 2.0 (per-episode stats missing) is refused with the name of LeRobot's v2.0 -> v2.1
  script; it is rare and its stats would have to be recomputed from the frames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.meta import DatasetMeta, read_info
from lerobot_gym.dataset.stats import Stats, aggregate_stats
from lerobot_gym.errors import DatasetCorruptError, DatasetNotFoundError

CODEBASE_VERSION = "v2.1"
TASKS_PATH = "meta/tasks.jsonl"
EPISODES_PATH = "meta/episodes.jsonl"
EPISODES_STATS_PATH = "meta/episodes_stats.jsonl"
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
_REQUIRED_INFO_KEYS = ("fps", "features", "chunks_size", "data_path")


def codebase_version(root: str | Path) -> str | None:
    """The ``codebase_version`` in ``meta/info.json``, or None if it cannot be read."""
    path = Path(root) / layout.INFO_PATH
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    version = info.get("codebase_version") if isinstance(info, dict) else None
    return version if isinstance(version, str) else None


def load_meta(root: str | Path) -> DatasetMeta:
    """The metadata of a v3.0 or v2.1 dataset at ``root``.

    Raises:
        DatasetNotFoundError: no dataset at ``root``.
        DatasetCorruptError: a metadata file is unreadable, inconsistent, or of another version.
    """
    if codebase_version(root) == CODEBASE_VERSION:
        return V21Meta.load(root)
    return DatasetMeta.load(root)


@dataclass
class V21Meta(DatasetMeta):
    """Metadata of a LeRobot v2.1 dataset, presented like a v3.0 dataset's."""

    @classmethod
    def load(cls, root: str | Path) -> V21Meta:
        """Read ``meta/`` of the v2.1 dataset at ``root``.

        Raises:
            DatasetNotFoundError: ``root`` or its ``meta/info.json`` does not exist.
            DatasetCorruptError: a metadata file is unreadable or inconsistent.
        """
        root = Path(root)
        info = _read_info(root)
        fps = int(info["fps"])
        tasks = _read_tasks(root)
        rows = _read_jsonl(root / EPISODES_PATH)
        rows.sort(key=lambda r: int(r.get("episode_index", -1)))
        numbers = [r.get("episode_index") for r in rows]
        if numbers != list(range(len(rows))):
            raise DatasetCorruptError(
                f"{root / EPISODES_PATH}: episode indices are not 0..{len(rows) - 1} "
                f"(got {numbers[:12]}{' ...' if len(numbers) > 12 else ''})",
                path=str(root / EPISODES_PATH),
            )
        chunks_size = int(info["chunks_size"])
        video_keys = layout.video_keys(info["features"])
        episodes: list[dict[str, Any]] = []
        start = 0
        for row in rows:
            ep, length = int(row["episode_index"]), int(row["length"])
            entry: dict[str, Any] = {
                "episode_index": ep,
                "tasks": list(row.get("tasks") or []),
                "length": length,
                "data/chunk_index": ep // chunks_size,
                "data/file_index": ep,
                "dataset_from_index": start,
                "dataset_to_index": start + length,
            }
            for key in video_keys:
                entry[f"videos/{key}/chunk_index"] = ep // chunks_size
                entry[f"videos/{key}/file_index"] = ep
                entry[f"videos/{key}/from_timestamp"] = 0.0
                entry[f"videos/{key}/to_timestamp"] = length / fps
            episodes.append(entry)
            start += length
        episode_stats = _read_episode_stats(root, len(episodes))
        stats = aggregate_stats(episode_stats) if any(episode_stats) else None
        return cls(
            root=root,
            info=info,
            tasks=tasks,
            episodes=episodes,
            episode_stats=episode_stats,
            stats=stats,
        )

    def data_path(self, episode: int) -> Path:
        """The episode's own parquet file."""
        return self.root / self.info["data_path"].format(
            episode_chunk=episode // int(self.info["chunks_size"]), episode_index=episode
        )

    def video_path(self, episode: int, key: str) -> Path:
        """The episode's own MP4 file of camera ``key`` (its first frame at t = 0)."""
        template = self.info.get("video_path") or VIDEO_PATH
        return self.root / template.format(
            episode_chunk=episode // int(self.info["chunks_size"]),
            video_key=key,
            episode_index=episode,
        )


def _read_info(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise DatasetNotFoundError(f"dataset root {root} does not exist")
    path = root / layout.INFO_PATH
    if codebase_version(root) != CODEBASE_VERSION:
        read_info(root)  # raises the v3.0 reader's error for a missing or unreadable file
        raise DatasetCorruptError(f"{path} is not a LeRobot v2.1 info.json", path=str(path))
    info = json.loads(path.read_text())
    missing = [k for k in _REQUIRED_INFO_KEYS if k not in info]
    if missing:
        raise DatasetCorruptError(f"{path} lacks keys {missing}", path=str(path))
    return dict(info)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """One JSON object per line; a missing or torn file is a typed error naming the line."""
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise DatasetCorruptError(f"{path} is missing", path=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetCorruptError(f"cannot read {path}: {exc}", path=str(path)) from exc
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetCorruptError(
                f"{path} line {number} is not valid JSON ({exc}); the file may be truncated",
                path=str(path),
            ) from exc
        if not isinstance(obj, dict):
            raise DatasetCorruptError(f"{path} line {number} is not a JSON object", path=str(path))
        out.append(obj)
    return out


def _read_tasks(root: Path) -> list[str]:
    path = root / TASKS_PATH
    pairs = sorted((int(r["task_index"]), str(r["task"])) for r in _read_jsonl(path))
    if [i for i, _ in pairs] != list(range(len(pairs))):
        raise DatasetCorruptError(f"{path}: task_index is not 0..N-1", path=str(path))
    return [t for _, t in pairs]


def _read_episode_stats(root: Path, num_episodes: int) -> list[dict[str, Stats]]:
    path = root / EPISODES_STATS_PATH
    if not path.exists():
        raise DatasetCorruptError(
            f"{path} is missing: a v2.1 dataset keeps per-episode stats there (a v2.0 dataset "
            "has none: upgrade it with LeRobot's convert_dataset_v20_to_v21 script first)",
            path=str(path),
        )
    by_episode = {int(r["episode_index"]): r.get("stats") or {} for r in _read_jsonl(path)}
    return [
        {
            feature: {stat: np.asarray(value) for stat, value in per.items()}
            for feature, per in by_episode.get(ep, {}).items()
        }
        for ep in range(num_episodes)
    ]
