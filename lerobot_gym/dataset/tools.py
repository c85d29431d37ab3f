"""Dataset tools: summarise, recompute stats, push to the Hub; merge and delete episodes.

:func:`merge` and :func:`delete_episodes` live in :mod:`lerobot_gym.dataset.edit` (with their
crash-safe output placement) and are re-exported here, so ``tools`` stays the one place the
CLI and users look for every tool.

Design decisions:

* :func:`recompute_stats` takes an optional ``progress(done, total)`` callback counting
  episodes, so the CLI can draw a bar without the library printing anything. It refuses a
  dataset without committed episodes (rather than writing an empty ``stats.json``) and one
  whose metadata lost episodes (through :class:`~lerobot_gym.dataset.meta.DatasetMeta`).
* :func:`push_to_hub` imports ``huggingface_hub`` lazily, uploads everything but scratch
  files and rebuild backups, and tags the revision ``v3.0`` as LeRobot does (reference
  section 8).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.edit import Progress, delete_episodes, merge
from lerobot_gym.dataset.meta import DatasetMeta, delete_hint, episode_files, read_parquet
from lerobot_gym.dataset.stats import (
    ImageStatsAccumulator,
    aggregate_stats,
    numeric_stats,
    stats_to_json,
    to_episode_columns,
)
from lerobot_gym.errors import DatasetCorruptError, DatasetError, MissingExtraError

__all__ = [
    "Progress",
    "delete_episodes",
    "info",
    "merge",
    "push_to_hub",
    "recompute_stats",
]


def info(root: str | Path) -> dict[str, Any]:
    """A short summary of a dataset, for ``lerobot-gym dataset info``."""
    meta = DatasetMeta.load(root)
    size = sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())
    codecs = {k: (meta.features[k].get("info") or {}).get("video.codec") for k in meta.video_keys}
    return {
        "root": str(meta.root),
        "codebase_version": meta.info["codebase_version"],
        "robot_type": meta.info.get("robot_type"),
        "fps": meta.fps,
        "episodes": meta.num_episodes,
        "frames": meta.num_frames,
        "duration_s": meta.num_frames / meta.fps,
        "tasks": list(meta.tasks),
        "features": {
            k: {"dtype": f["dtype"], "shape": list(f["shape"])}
            for k, f in meta.features.items()
            if k not in layout.DEFAULT_FEATURES
        },
        "cameras": meta.camera_keys,
        "video_codecs": codecs,
        "size_mb": size / 2**20,
    }


def recompute_stats(root: str | Path, *, progress: Progress | None = None) -> dict[str, Any]:
    """Recompute every episode's stats from the files and rewrite them and ``stats.json``.

    Each data file is read once, whatever the number of episodes in it. Video stats decode
    every frame of every episode (slow, but exact).

    Args:
        root: dataset directory.
        progress: called as ``progress(episodes_done, total_episodes)``.

    Returns:
        The aggregated stats, as written to ``meta/stats.json``.

    Raises:
        DatasetCorruptError: an episode's rows or video frames are missing or unreadable (the
            message names the file and how to delete the episode).
    """
    root = Path(root)
    meta = DatasetMeta.load(root)  # refuses a dataset whose episodes table lost episodes
    if meta.num_episodes == 0:
        raise DatasetError(
            f"{root} has no committed episode, so there are no stats to compute; "
            "meta/stats.json was left as it is (record episodes first)"
        )
    by_file: dict[Path, list[int]] = {}
    for ep in range(meta.num_episodes):
        by_file.setdefault(meta.data_path(ep), []).append(ep)
    per_episode: dict[int, dict[str, Any]] = {}
    if progress is not None:
        progress(0, meta.num_episodes)
    for path, eps in by_file.items():
        table = read_parquet(path)
        episode_column = table["episode_index"]
        for ep in eps:
            rows = table.filter(pc.equal(episode_column, ep))
            if rows.num_rows == 0:
                raise DatasetCorruptError(
                    f"{path} holds no rows of episode {ep}, which meta/episodes places in it; "
                    f"{delete_hint(meta, ep)}",
                    path=str(path),
                )
            stats = table_stats(meta.features, rows)
            for key in meta.video_keys:
                stats[key] = _video_stats(meta, ep, key)
            per_episode[ep] = stats
            if progress is not None:
                progress(len(per_episode), meta.num_episodes)
    for path in episode_files(root):
        table = read_parquet(path)
        rows = table.to_pylist()
        for row in rows:
            row.update(to_episode_columns(per_episode[row["episode_index"]]))
        layout.atomic_write_parquet(path, pa.Table.from_pylist(rows, schema=table.schema))
    ordered = [per_episode[ep] for ep in sorted(per_episode)]
    aggregated = stats_to_json(aggregate_stats(ordered))
    layout.atomic_write_json(root / layout.STATS_PATH, aggregated)
    return aggregated


def table_stats(features: dict[str, Any], table: pa.Table) -> dict[str, Any]:
    """Stats of the numeric and image features of one episode's data rows."""
    stats = {}
    for key, ft in features.items():
        if ft["dtype"] in ("string", "language", "video"):
            continue
        if ft["dtype"] == "image":
            from lerobot_gym.dataset.images import decode_png

            acc = ImageStatsAccumulator()
            for v in table[key].to_pylist():
                acc.update(decode_png(v["bytes"]))
            stats[key] = acc.result()
            continue
        col = table[key]
        if pa.types.is_fixed_size_list(col.type):
            flat = pc.list_flatten(col).to_numpy(zero_copy_only=False)
            values = flat.astype(np.float64).reshape(len(col), -1)
        elif pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            values = np.asarray(col.to_pylist(), dtype=np.float64)
        else:
            values = col.to_numpy()
        stats[key] = numeric_stats(values)
    return stats


def _video_stats(meta: DatasetMeta, ep: int, key: str) -> dict[str, np.ndarray]:
    row = meta.episodes[ep]
    start, stop = row[f"videos/{key}/from_timestamp"], row[f"videos/{key}/to_timestamp"]
    path = meta.video_path(ep, key)
    acc = ImageStatsAccumulator()
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.time_base is not None  # set on every demuxed stream
            if start > 0:
                container.seek(int(start / stream.time_base), backward=True, stream=stream)
            for frame in container.decode(stream):
                assert frame.pts is not None  # decoded MP4 frames always carry a timestamp
                t = float(frame.pts * stream.time_base)
                if t >= stop - 1e-4:
                    break
                if t >= start - 1e-4:
                    acc.update(frame.to_ndarray(format="rgb24"))
    except (av.error.FFmpegError, IndexError, OSError) as exc:  # missing, truncated, no stream
        raise DatasetCorruptError(
            f"cannot decode {path} for episode {ep} ({exc}); it may be missing or truncated: "
            f"{delete_hint(meta, ep)}",
            path=str(path),
        ) from exc
    if acc.frames == 0:
        raise DatasetCorruptError(
            f"{path} has no frame in [{start:.4f}, {stop:.4f}) s for episode {ep}; "
            f"{delete_hint(meta, ep)}",
            path=str(path),
        )
    return acc.result()


def push_to_hub(
    root: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    *,
    tag: bool = True,
) -> str:
    """Upload a dataset to the Hugging Face Hub and tag it ``v3.0``, as LeRobot does.

    Args:
        root: dataset directory.
        repo_id: ``"user/name"``.
        token: Hub token (default: the one stored by ``huggingface-cli login``).
        private: create the repository private.
        tag: create the ``v3.0`` tag LeRobot resolves revisions with.

    Returns:
        The URL of the upload commit.

    Raises:
        MissingExtraError: ``huggingface_hub`` is not installed.
    """
    meta = DatasetMeta.load(root)  # refuse to upload something that is not a dataset
    try:
        from huggingface_hub import HfApi
    except ImportError as exc:
        raise MissingExtraError("huggingface_hub", "hub", "push_to_hub") from exc
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(
        folder_path=str(meta.root),
        repo_id=repo_id,
        repo_type="dataset",
        ignore_patterns=[
            f"{layout.STAGING_DIR}/**",
            ".meta-backup-*/**",  # rebuild-meta's copies of the metadata it replaced
            "images/**",
            "**/.*.tmp",
            ".*.tmp",
        ],
        commit_message=f"Upload LeRobot {layout.CODEBASE_VERSION} dataset",
    )
    if tag:
        api.create_tag(repo_id, tag=layout.CODEBASE_VERSION, repo_type="dataset", exist_ok=True)
    return str(getattr(commit, "commit_url", commit))
