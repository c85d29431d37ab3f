"""The video part of :func:`lerobot_gym.dataset.validate.validate`.

Without decoding (``check_videos=False``) every MP4 an episode names must still exist and not
be a Git LFS pointer (a clone without ``git lfs pull``); with decoding, each episode must find
as many frames in its ``[from_timestamp, to_timestamp)`` window as it has data rows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av

from lerobot_gym.dataset import layout
from lerobot_gym.dataset._advice import FROM_A_COPY, Report, delete_fix
from lerobot_gym.dataset.lfs import is_lfs_pointer


def group_video_files(
    root: Path, info: dict, rows: list[dict], report: Report
) -> dict[str, dict[Path, list[dict]]]:
    """``video key -> MP4 -> episode rows`` (rows lacking a key's columns are problems)."""
    template = info.get("video_path") or layout.VIDEO_PATH
    grouped: dict[str, dict[Path, list[dict]]] = {}
    for key in layout.video_keys(info["features"]):
        by_file: dict[Path, list[dict]] = {}
        for r in rows:
            if f"videos/{key}/chunk_index" not in r:
                report(
                    root / "meta" / "episodes",
                    f"episode {r['episode_index']} lacks {key} columns; restore meta/episodes/ "
                    f"{FROM_A_COPY}, or {delete_fix(root, [r['episode_index']])}",
                )
                continue
            path = root / template.format(
                video_key=key,
                chunk_index=r[f"videos/{key}/chunk_index"],
                file_index=r[f"videos/{key}/file_index"],
            )
            by_file.setdefault(path, []).append(r)
        grouped[key] = dict(sorted(by_file.items()))
    return grouped


def check_videos(
    root: Path,
    grouped: dict[str, dict[Path, list[dict]]],
    report: Report,
    file_checked: Callable[[], None],
    *,
    decode: bool,
) -> None:
    for key, by_file in grouped.items():
        for path, eps in by_file.items():
            _check_video_file(root, key, path, eps, report, decode=decode)
            if decode:
                file_checked()


def _check_video_file(
    root: Path, key: str, path: Path, eps: list[dict], report: Report, *, decode: bool
) -> None:
    tol = 1e-4
    all_episodes = [r["episode_index"] for r in eps]
    restore_or_delete = f"restore the file {FROM_A_COPY}, or {delete_fix(root, all_episodes)}"
    if not path.is_file():
        report(path, f"missing; needed by episodes {all_episodes}: {restore_or_delete}")
        return
    if is_lfs_pointer(path):
        report(
            path,
            f"a Git LFS pointer, not the video: run `git lfs pull` in {root} (episodes "
            f"{all_episodes} need it)",
        )
        return
    if not decode:
        return
    try:
        times = video_frame_times(path)
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        report(
            path,
            f"unreadable video ({exc}); it may be truncated; episodes {all_episodes} use it: "
            f"{restore_or_delete}",
        )
        return
    for r in eps:
        ep = r["episode_index"]
        start = r[f"videos/{key}/from_timestamp"]
        stop = r[f"videos/{key}/to_timestamp"]
        n = sum(1 for t in times if start - tol <= t < stop - tol)
        if n != r["length"]:
            report(
                path,
                f"episode {ep} has {n} video frames in [{start:.4f}, {stop:.4f}) s but "
                f"{r['length']} data rows; {delete_fix(root, [ep])}",
            )
        elif n and abs(min(t for t in times if t >= start - tol) - start) > tol:
            report(path, f"episode {ep}: first frame is not at {start} s; {delete_fix(root, [ep])}")


def video_frame_times(path: Path) -> list[float]:
    """Presentation times (s) of every packet of the first video stream, in pts order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None  # set on every demuxed stream
        tb = float(stream.time_base)
        times = [p.pts * tb for p in container.demux(stream) if p.pts is not None and p.size]
    return sorted(times)
