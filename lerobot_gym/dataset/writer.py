"""Recording LeRobot v3.0 datasets, one durable episode at a time.

:class:`LeRobotDatasetWriter` is this project's counterpart of LeRobot's
``LeRobotDataset.create`` / ``add_frame`` / ``save_episode`` / ``finalize`` (reference
``shared/reference/lerobot-dataset-v3.md`` section 8), with two differences that matter
on a robot:

* **Durable per episode.** When :meth:`save_episode` returns, every file of the episode is
  complete on disk; the episodes parquet is the commit record, and :meth:`resume` (see
  :mod:`lerobot_gym.dataset.recovery`) removes whatever an interrupted episode left behind.
* **A failed save changes nothing.** The tasks, counters and stats of an episode are computed
  into locals and become the writer's state only once the commit record is written; the file
  steps before it are undone (:mod:`lerobot_gym.dataset._commit` owns those files, their
  rotation and the undo log). The episode stays buffered with its encoded videos, so
  ``save_episode()`` can simply be called again; only an encoder failure discards it, since
  its video is lost.
* **Video off the control loop, no dropped frames.** :meth:`add_frame` copies each camera
  frame into shared memory for the encoder process (:mod:`lerobot_gym.dataset.encoder_process`:
  one encoder thread per camera there, at a lower priority); it blocks while ``queue_size``
  frames of a camera wait, never drops one. The process writes only this writer's staging
  files (``.staging/<pid>-<random>/``, unique so that an encoder outliving a killed writer can
  never touch a later writer's files); the writer commits them.
"""

from __future__ import annotations

import copy
import os
import secrets
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from lerobot_gym.dataset import _heap, layout
from lerobot_gym.dataset._commit import (
    DEFAULT_REWRITE_LIMIT_MB,
    EpisodeFiles,
    finish_videos,
    rotation_limit_mb,
)
from lerobot_gym.dataset.columns import arrow_column, convert_value
from lerobot_gym.dataset.encoder_process import ProcessVideoEncoder
from lerobot_gym.dataset.meta import DatasetMeta
from lerobot_gym.dataset.recovery import repair
from lerobot_gym.dataset.stats import (
    Stats,
    aggregate_stats,
    episode_stats,
    stats_to_json,
    to_episode_columns,
)
from lerobot_gym.dataset.video import (
    EncodedEpisode,
    FrameEncoder,
    VideoEncoding,
    probe_video_info,
)
from lerobot_gym.errors import (
    ConfigError,
    DatasetError,
    DatasetMismatchError,
)

# LeRobot's default ``tolerance_s``: a stored timestamp must find its video frame within it.
_TIMESTAMP_TOLERANCE_S = 1e-4


def recorded_vcodec(features: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The encoder of the videos already in a dataset, or None before its first video."""
    for ft in features.values():
        if ft["dtype"] == "video" and "video.codec" in (ft.get("info") or {}):
            return VideoEncoding.from_features(features).vcodec
    return None


def same_codec(a: str, b: str) -> bool:
    """Whether two ``vcodec`` names (``"h264"``, ``"libx264"``, ...) mean one encoder."""
    return VideoEncoding(vcodec=a).encoder_name() == VideoEncoding(vcodec=b).encoder_name()


class LeRobotDatasetWriter:
    """Writes episodes of a LeRobot v3.0 dataset. Build it with :meth:`create` or :meth:`resume`.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp()) / "demo"
        >>> features = {"observation.state": {"dtype": "float32", "shape": [2], "names": None},
        ...             "action": {"dtype": "float32", "shape": [2], "names": None}}
        >>> with LeRobotDatasetWriter.create(root, repo_id="me/demo", fps=10,
        ...                                  features=features) as w:
        ...     for _ in range(5):
        ...         w.add_frame({"observation.state": np.zeros(2, np.float32),
        ...                      "action": np.ones(2, np.float32)}, task="wave")
        ...     w.save_episode()
        0
    """

    def __init__(
        self,
        root: Path,
        info: dict[str, Any],
        *,
        repo_id: str | None,
        encoding: VideoEncoding,
        meta: DatasetMeta | None,
        queue_size: int,
        fsync: bool,
        rewrite_limit_mb: float | None,
    ) -> None:
        # Private: use create() or resume(), which check the directory first.
        self.root = Path(root)
        self.repo_id = repo_id
        self.info = info
        self.features: dict[str, dict[str, Any]] = info["features"]
        self.fps = int(info["fps"])
        self.encoding = encoding
        self._fsync = fsync
        self._video_keys = layout.video_keys(self.features)
        self._user_keys = [k for k in self.features if k not in layout.DEFAULT_FEATURES]
        self._schema = layout.data_schema(self.features)

        self._tasks: list[str] = list(meta.tasks) if meta else []
        self._num_episodes = meta.num_episodes if meta else 0
        self._num_frames = meta.num_frames if meta else 0
        self._stats: dict[str, Stats] | None = meta.stats if meta and meta.num_episodes else None

        # Videos of a buffered episode whose save failed after encoding (kept for a retry).
        self._encoded: dict[str, EncodedEpisode] | None = None
        self._files = EpisodeFiles(
            self.root,
            info,
            fsync=fsync,
            retry_pending=lambda: self._encoded is not None,
            rewrite_limit_mb=rewrite_limit_mb,
        )

        self._staging_dir = self.root / layout.STAGING_DIR / f"{os.getpid()}-{secrets.token_hex(3)}"
        self._encoders: dict[str, FrameEncoder] = {}
        try:
            for k in self._video_keys:
                self._encoders[k] = ProcessVideoEncoder(
                    k,
                    self.fps,
                    encoding,
                    shape=layout.hwc_shape(self.features[k]),
                    queue_size=queue_size,
                    fsync=fsync,
                )
        except BaseException:
            for enc in self._encoders.values():
                enc.close()
            raise
        self._closed = False
        self._reset_buffer()
        # pyarrow imports pandas (if installed) on its first numpy conversion: ~0.6 s that
        # must not land in the first save_episode.
        pa.array(np.zeros(1, dtype=np.float32))

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        root: str | Path,
        *,
        repo_id: str,
        fps: int,
        features: Mapping[str, Mapping[str, Any]],
        robot_type: str | None = None,
        use_videos: bool = True,
        vcodec: str = "libsvtav1",
        crf: int | None = None,
        encoding: VideoEncoding | None = None,
        chunks_size: int = layout.DEFAULT_CHUNKS_SIZE,
        data_files_size_in_mb: float = layout.DEFAULT_DATA_FILE_SIZE_IN_MB,
        video_files_size_in_mb: float = layout.DEFAULT_VIDEO_FILE_SIZE_IN_MB,
        queue_size: int = 64,
        fsync: bool = True,
        rewrite_limit_mb: float | None = DEFAULT_REWRITE_LIMIT_MB,
    ) -> LeRobotDatasetWriter:
        """Create a new, empty dataset at ``root`` (which must not exist or be empty).

        Args:
            root: dataset directory.
            repo_id: Hugging Face repo id, used by ``push_to_hub``.
            fps: frames per second (an integer, as LeRobot requires).
            features: LeRobot features dict; the default bookkeeping features are added.
            robot_type: robot name written to ``info.json`` (e.g. ``"so101_follower"``).
            use_videos: store ``video`` features as MP4; if False they become ``image``
                features (PNG inside the parquet), as in LeRobot.
            vcodec: ``"libsvtav1"`` (LeRobot's default) or ``"h264"`` (alias ``"libx264"``).
            crf: constant rate factor (default 30, LeRobot's).
            encoding: full encoder settings; overrides ``vcodec`` and ``crf``.
            chunks_size: files per chunk directory.
            data_files_size_in_mb: maximum size of a data or episodes parquet file, recorded in
                ``info.json`` for LeRobot.
            video_files_size_in_mb: recorded for LeRobot; each episode has its own MP4 here.
            queue_size: camera frames that may wait for an encoder before ``add_frame`` blocks.
            fsync: fsync every file on save (turn off only for throwaway data in tests).
            rewrite_limit_mb: start the next data or episodes file at this size when it is
                below ``data_files_size_in_mb``, so that a save, which rewrites the current
                files whole, costs the same at the first episode and the thousandth (see
                :mod:`lerobot_gym.dataset._commit`); None rotates at ``data_files_size_in_mb``
                only, as LeRobot does. Not stored in the dataset.

        Raises:
            ConfigError: bad features, fps or codec (e.g. libsvtav1 missing: use ``"h264"``).
            DatasetError: ``root`` already holds files.
        """
        root = Path(root)
        if root.exists() and any(root.iterdir()):
            raise DatasetError(
                f"{root} already exists and is not empty; append to it with "
                "LeRobotDatasetWriter.resume() (`lerobot-gym record --resume=true`), or choose "
                "a new root"
            )
        if int(fps) != fps or fps <= 0:
            raise ConfigError(f"fps must be a positive integer, got {fps!r}")
        rotation_limit_mb(data_files_size_in_mb, rewrite_limit_mb)  # refuse it before any file
        feats = layout.normalize_features(features)
        if not use_videos:
            for ft in feats.values():
                if ft["dtype"] == "video":
                    ft["dtype"] = "image"
        if encoding is None:
            encoding = VideoEncoding(vcodec=vcodec, crf=30 if crf is None else crf)
        if layout.video_keys(feats):
            encoding.encoder_name()  # fail now, with the fallback named, not at the first frame
        info = layout.make_info(
            fps=int(fps),
            features=feats,
            robot_type=robot_type,
            chunks_size=chunks_size,
            data_files_size_in_mb=data_files_size_in_mb,
            video_files_size_in_mb=video_files_size_in_mb,
        )
        layout.atomic_write_json(root / layout.INFO_PATH, info, fsync=fsync)
        return cls(
            root,
            info,
            repo_id=repo_id,
            encoding=encoding,
            meta=None,
            queue_size=queue_size,
            fsync=fsync,
            rewrite_limit_mb=rewrite_limit_mb,
        )

    @classmethod
    def resume(
        cls,
        root: str | Path,
        *,
        fps: int | None = None,
        features: Mapping[str, Mapping[str, Any]] | None = None,
        repo_id: str | None = None,
        vcodec: str | None = None,
        queue_size: int = 64,
        fsync: bool = True,
        rewrite_limit_mb: float | None = DEFAULT_REWRITE_LIMIT_MB,
    ) -> LeRobotDatasetWriter:
        """Open an existing dataset to append episodes, repairing an interrupted save first.

        Args:
            root: dataset directory.
            fps: if given, must equal the dataset's fps.
            features: if given, must equal the dataset's features (defaults and video
                ``info`` blocks are not compared).
            repo_id: Hugging Face repo id, used by ``push_to_hub``.
            vcodec: encoder for new episodes: ``None`` (the codec already in the dataset) or
                that same codec. A different codec is refused rather than ignored or mixed:
                ``info.json`` records one ``video.codec`` per camera, which would then be
                wrong for some files. Before the first video is saved any codec is taken.
            queue_size: see :meth:`create`.
            fsync: see :meth:`create`.
            rewrite_limit_mb: see :meth:`create`.

        Raises:
            DatasetNotFoundError: no dataset at ``root``.
            DatasetMismatchError: ``fps``, ``features`` or ``vcodec`` differ from the
                dataset's.
            DatasetCorruptError: the metadata lost committed episodes or tasks, or files no
                episode lists are not an interrupted save's leftovers (the message names
                ``lerobot-gym dataset rebuild-meta``); nothing was deleted.
        """
        root = Path(root)
        meta = DatasetMeta.load(root)
        if fps is not None and int(fps) != meta.fps:
            raise DatasetMismatchError(
                f"{root} was recorded at {meta.fps} fps, not {fps}; resume with fps={meta.fps} "
                "or record into a new dataset"
            )
        if features is not None:
            want = layout.user_features(layout.normalize_features(features))
            have = layout.user_features(meta.features)
            if want != have:
                diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
                raise DatasetMismatchError(
                    f"features differ from those of {root} on {diff}; record into a new "
                    "dataset, or pass features equal to meta/info.json's"
                )
        recorded = recorded_vcodec(meta.features)
        if vcodec is not None and recorded is not None and not same_codec(vcodec, recorded):
            raise DatasetMismatchError(
                f"{root} holds videos encoded with {recorded}, and info.json records one codec "
                f"per camera: resume with vcodec={recorded!r} (or None) instead of {vcodec!r}, "
                "or record into a new dataset (`lerobot-gym record`: omit --dataset.vcodec or "
                f"pass --dataset.vcodec={recorded})"
            )
        meta = repair(root, fsync=fsync)
        encoding = VideoEncoding.from_features(meta.features, vcodec)
        return cls(
            root,
            copy.deepcopy(meta.info),
            repo_id=repo_id,
            encoding=encoding,
            meta=meta,
            queue_size=queue_size,
            fsync=fsync,
            rewrite_limit_mb=rewrite_limit_mb,
        )

    # -- recording -------------------------------------------------------------------------

    @property
    def num_episodes(self) -> int:
        """Episodes saved so far."""
        return self._num_episodes

    @property
    def num_frames(self) -> int:
        """Frames in saved episodes."""
        return self._num_frames

    @property
    def episode_buffer_size(self) -> int:
        """Frames of the episode in progress."""
        return len(self._buf_tasks)

    @property
    def tasks(self) -> list[str]:
        """Tasks known so far, position = ``task_index``."""
        return list(self._tasks)

    def add_frame(
        self, frame: Mapping[str, Any], task: str | None = None, *, copy_images: bool = True
    ) -> None:
        """Append one frame to the episode in progress.

        Args:
            frame: one value per feature (numeric arrays of the declared shape; camera frames
                ``(H, W, 3)`` or ``(3, H, W)``, uint8 or float in [0, 1]). May include
                ``"timestamp"`` (seconds since episode start; default ``frame_index / fps``)
                and ``"task"``.
            task: natural-language task of this frame (or ``frame["task"]``).
            copy_images: copy ``image`` (PNG) frames before buffering them (the caller may
                reuse its buffers); pass False to hand over frames the caller never touches
                again. Video frames are copied into the encoder's shared memory either way.

        Raises:
            ConfigError: a missing or unknown key, a wrong shape, or no task.
        """
        self._check_open()
        if self._encoded is not None:
            raise DatasetError(
                "the last save_episode() failed and its episode is still buffered; call "
                "save_episode() again to retry it, or clear_episode() to discard it"
            )
        task = task if task is not None else frame.get("task")
        if not isinstance(task, str) or not task:
            raise ConfigError("every frame needs a task: add_frame(frame, task='pick the cube')")
        keys = set(frame) - {"task", "timestamp"}
        expected = set(self._user_keys)
        if keys != expected:
            raise ConfigError(
                f"frame keys differ from the features: missing {sorted(expected - keys)}, "
                f"unknown {sorted(keys - expected)}"
            )
        converted = {
            k: convert_value(
                k, self.features[k], frame[k], copy_images=copy_images and k not in self._encoders
            )
            for k in self._user_keys
        }
        i = len(self._buf_tasks)
        ts = float(
            i / self.fps
            if frame.get("timestamp") is None
            else np.asarray(frame["timestamp"]).item()
        )
        if self._encoders and abs(ts - i / self.fps) > _TIMESTAMP_TOLERANCE_S:
            # Video is encoded at a constant rate (frame i at i/fps); a reader looks frames up
            # by the stored timestamp, so any other timestamp would make them unreadable.
            raise ConfigError(
                f"timestamp {ts:.6f} s of frame {i} is not frame_index/fps = {i / self.fps:.6f} s;"
                " with video features, record at a constant rate and omit 'timestamp'"
            )
        if i == 0:
            for key, enc in self._encoders.items():
                enc.start_episode(self._staging(key))
        for key in self._user_keys:
            if key in self._encoders:
                self._encoders[key].put(converted[key])
            else:
                self._buf[key].append(converted[key])
        self._buf_timestamps.append(ts)
        self._buf_tasks.append(task)

    def clear_episode(self) -> None:
        """Discard the episode in progress (for example to re-record it)."""
        self._check_open()
        for enc in self._encoders.values():
            enc.abort_episode()
        self._drop_encoded()
        self._reset_buffer()

    def save_episode(self) -> int:
        """Write the episode in progress to disk; it is durable when this returns.

        If it raises before the episode is committed, the dataset and the writer are as they
        were before the call and the episode stays buffered: call ``save_episode()`` again
        (for example after freeing disk space), or :meth:`clear_episode` to discard it.

        Returns:
            The index of the saved episode.

        Raises:
            DatasetError: no frame was added; a camera's encoding failed (the episode is then
                discarded, since its video is lost); or the episode was saved but rewriting
                ``meta/stats.json`` / ``meta/info.json`` failed (the message says so).
            OSError: writing a file failed (e.g. disk full); nothing of the episode was kept.
        """
        self._check_open()
        n = len(self._buf_tasks)
        if n == 0:
            raise DatasetError("the episode has no frames; call add_frame() before save_episode()")
        self._files.run_undo(strict=True)
        if self._encoded is None:
            try:
                self._encoded = finish_videos(self._encoders, n)
            except DatasetError:
                self.clear_episode()  # its video is lost: nothing to retry
                raise
        encoded = self._encoded
        ep = self._num_episodes
        tasks = self._tasks + [t for t in dict.fromkeys(self._buf_tasks) if t not in self._tasks]
        columns = self._episode_columns(ep, n, {t: i for i, t in enumerate(tasks)})
        table = pa.table(
            {name: arrow_column(self.features[name], col) for name, col in columns.items()},
            schema=self._schema,
        )
        ep_stats = episode_stats(self.features, columns, {k: r.stats for k, r in encoded.items()})

        row: dict[str, Any] = {
            "episode_index": ep,
            "tasks": list(dict.fromkeys(self._buf_tasks)),
            "length": n,
            "dataset_from_index": self._num_frames,
            "dataset_to_index": self._num_frames + n,
            **to_episode_columns(ep_stats),
        }
        finals, late = self._files.commit(table, row, encoded, tasks=tasks, known_tasks=self._tasks)

        # Committed: from here on the episode is part of the dataset, whatever fails next.
        self._tasks = tasks
        self._stats = ep_stats if self._stats is None else aggregate_stats([self._stats, ep_stats])
        self._num_episodes += 1
        self._num_frames += n
        self._encoded = None
        self._reset_buffer()
        # The episode's encoders have closed: give their freed arenas back (see _heap).
        _heap.release_free_heap()
        self.info.update(
            total_episodes=self._num_episodes,
            total_frames=self._num_frames,
            total_tasks=len(self._tasks),
            splits={"train": f"0:{self._num_episodes}"},
        )
        try:
            if late is not None:
                raise late
            for key, final in finals.items():
                self._fill_video_info(key, final)
            layout.atomic_write_json(
                self.root / layout.STATS_PATH, stats_to_json(self._stats), fsync=self._fsync
            )
            layout.atomic_write_json(self.root / layout.INFO_PATH, self.info, fsync=self._fsync)
        except Exception as exc:
            raise DatasetError(
                f"episode {ep} was saved (do not record it again), but finishing the save "
                f"failed: {exc}; meta/stats.json and meta/info.json are rewritten by the next "
                "save, or by `lerobot-gym dataset repair` (LeRobotDatasetWriter.resume() in "
                "Python, `--resume=true` when recording)"
            ) from exc
        return ep

    def close(self) -> None:
        """Stop the encoders. An unsaved episode in progress is discarded."""
        if self._closed:
            return
        self._closed = True
        if self._buf_tasks:
            warnings.warn(
                f"closing {self.root} discards the unsaved episode in progress "
                f"({len(self._buf_tasks)} frames); call save_episode() first to keep it",
                stacklevel=2,
            )
        self._files.run_undo(strict=False)
        if self._files.undo_pending:
            warnings.warn(
                f"{self.root} still holds files of an episode whose save failed; "
                "`lerobot-gym dataset repair` (or LeRobotDatasetWriter.resume()) removes them",
                stacklevel=2,
            )
        for enc in self._encoders.values():
            enc.close()
        shutil.rmtree(self.root / layout.STAGING_DIR, ignore_errors=True)

    finalize = close  # LeRobot's name

    def __enter__(self) -> LeRobotDatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise DatasetError("the writer is closed; open it again with resume()")

    def _reset_buffer(self) -> None:
        self._buf: dict[str, list[Any]] = {k: [] for k in self._user_keys}
        self._buf_tasks: list[str] = []
        self._buf_timestamps: list[float] = []

    def _staging(self, key: str) -> Path:
        return self._staging_dir / f"{key}.mp4"

    def _episode_columns(self, ep: int, n: int, task_ids: dict[str, int]) -> dict[str, Any]:
        cols: dict[str, Any] = {}
        for key in self._user_keys:
            if key in self._encoders:
                continue
            dtype = self.features[key]["dtype"]
            cols[key] = (
                self._buf[key]
                if dtype in ("image", "string", "language")
                else (np.stack(self._buf[key]))
            )
        cols["timestamp"] = np.asarray(self._buf_timestamps, dtype=np.float32)
        cols["frame_index"] = np.arange(n, dtype=np.int64)
        cols["episode_index"] = np.full(n, ep, dtype=np.int64)
        cols["index"] = np.arange(self._num_frames, self._num_frames + n, dtype=np.int64)
        cols["task_index"] = np.asarray([task_ids[t] for t in self._buf_tasks], dtype=np.int64)
        return cols

    def _drop_encoded(self) -> None:
        if self._encoded is not None:
            for res in self._encoded.values():
                res.path.unlink(missing_ok=True)
        self._encoded = None

    def _fill_video_info(self, key: str, path: Path) -> None:
        ft = self.features[key]
        if "info" in ft and "video.codec" in ft["info"]:
            return
        ft["info"] = {
            "is_depth_map": False,
            **probe_video_info(path),
            **self.encoding.info_fields(),
        }
