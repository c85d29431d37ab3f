"""Rerun visualisation: open a recording with its sinks, log frames, log a recorded episode.

This module owns the entity layout shared by the live :class:`~lerobot_gym.wrappers.RerunViz`
wrapper and :func:`log_dataset_episode`, so an episode looks the same live and from its
dataset. Entity paths are the LeRobot keys with ``.`` turned into ``/``:

* ``observation/images/<cam>``: camera images;
* ``observation/state/<name>``, ``action/<name>``: one scalar plot entity per joint (names
  from the features, e.g. ``shoulder_pan.pos``; indices when a feature has none);
* ``next/reward``, ``next/done``, ``next/success``, ``complementary_info/...``: scalars
  (every one-element feature plots at its own path);
* ``episode_index`` (scalar) and ``task`` (text log).

Timelines: ``frame_index`` (within the episode), ``timestamp`` (seconds, ``frame_index/fps``)
and ``step`` (a count over all episodes: the dataset's global ``index``). Frame ``t`` shows the
observation before action ``t``, the action and its outcome, as a dataset row does.

Sinks (any combination of ``save`` with one of ``spawn`` or ``serve``): ``save="run.rrd"``
writes a file; ``spawn=True`` starts a local viewer (needs a display); ``serve=True`` (or a
port number) serves gRPC for a remote viewer: ``rerun rerun+http://<host>:<port>/proxy``.
A served recording lives as long as the :class:`RerunSession` (and the process).

rerun is imported lazily (``pip install 'lerobot-gym[viz]'``); ``import lerobot_gym`` never
imports it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from lerobot_gym.errors import ConfigError, MissingExtraError

DEFAULT_APP_ID = "lerobot_gym"
DEFAULT_GRPC_PORT = 9876


def require_rerun() -> ModuleType:
    """Import rerun, or raise :class:`MissingExtraError` naming the ``viz`` extra."""
    try:
        return importlib.import_module("rerun")
    except ImportError as exc:
        raise MissingExtraError("rerun", "viz", "Rerun visualisation") from exc


@dataclass
class RerunSession:
    """An open Rerun recording and where it goes.

    Attributes:
        recording: the ``rerun.RecordingStream``.
        save: the ``.rrd`` file being written, if any.
        server_uri: URI for ``rerun <uri>`` when serving, else None.
    """

    recording: Any
    save: Path | None = None
    server_uri: str | None = None

    def close(self) -> None:
        """Flush and disconnect (completes the ``.rrd`` file; stops a gRPC server)."""
        self.recording.flush()
        self.recording.disconnect()


def open_session(
    app_id: str = DEFAULT_APP_ID,
    *,
    save: str | Path | None = None,
    serve: bool | int = False,
    spawn: bool = False,
    recording_id: str | None = None,
) -> RerunSession:
    """Create a recording stream with the requested sinks.

    Args:
        app_id: Rerun application id (groups recordings in the viewer).
        save: path of an ``.rrd`` file to write.
        serve: serve gRPC for remote viewers; True for port 9876 or a port number.
        spawn: start a local Rerun viewer and stream to it.
        recording_id: stable id (default: a fresh one).

    Raises:
        ConfigError: no sink chosen, or both ``spawn`` and ``serve`` (a spawned viewer
            already listens on 9876).
        MissingExtraError: rerun is not installed.
    """
    if save is None and not serve and not spawn:
        raise ConfigError("choose where to send the data: save='run.rrd', spawn=True or serve=True")
    if serve and spawn:
        raise ConfigError("spawn=True and serve=True both use a gRPC port; choose one")
    rr = require_rerun()
    rec = rr.RecordingStream(app_id, recording_id=recording_id)
    sinks = []
    if save is not None:
        save = Path(save)
        save.parent.mkdir(parents=True, exist_ok=True)
        sinks.append(rr.FileSink(str(save)))
    server_uri = None
    if serve:
        port = DEFAULT_GRPC_PORT if serve is True else int(serve)
        server = rr.GrpcServerSink(port=port)
        server_uri = server.uri
        sinks.append(server)
    if spawn:
        rr.spawn(connect=False, port=DEFAULT_GRPC_PORT)
        sinks.append(rr.GrpcSink(f"rerun+http://127.0.0.1:{DEFAULT_GRPC_PORT}/proxy"))
    rec.set_sinks(*sinks)
    return RerunSession(recording=rec, save=save, server_uri=server_uri)


def entity_path(key: str) -> str:
    """The entity path of a LeRobot key (``observation.images.front`` -> ``.../front``)."""
    return "/".join(key.split("."))


def series_paths(key: str, names: list[str] | None, size: int) -> list[str]:
    """One entity path per dimension of a vector feature."""
    rr = require_rerun()
    labels = names if names and len(names) == size else [str(i) for i in range(size)]
    return [f"{entity_path(key)}/{rr.escape_entity_path_part(str(n))}" for n in labels]


class FrameLogger:
    """Logs LeRobot-keyed frames with the module's entity layout.

    Args:
        session: where to log.
        names: feature key -> per-dimension names (``features[key]["names"]``).
        fps: frames per second of the ``timestamp`` timeline.
        jpeg_quality: compress camera images to JPEG at this quality (None: raw RGB).
    """

    def __init__(
        self,
        session: RerunSession,
        names: Mapping[str, list[str] | None],
        fps: float,
        jpeg_quality: int | None = None,
    ) -> None:
        self.rr = require_rerun()
        self.rec = session.recording
        self.names = dict(names)
        self.fps = float(fps)
        self.jpeg_quality = jpeg_quality
        self._paths: dict[str, list[str]] = {}

    def set_time(self, step: int, frame_index: int) -> None:
        """Place the next log calls at this global step / frame of the episode."""
        self.rec.set_time("step", sequence=int(step))
        self.rec.set_time("frame_index", sequence=int(frame_index))
        self.rec.set_time("timestamp", duration=frame_index / self.fps)

    def log_episode_start(self, episode_index: int, task: str | None) -> None:
        """Mark the start of an episode (at the current time)."""
        self.rec.log("episode_index", self.rr.Scalars(float(episode_index)))
        if task:
            self.rec.log("task", self.rr.TextLog(task))

    def log(self, frame: Mapping[str, Any]) -> None:
        """Log every key of ``frame`` (images HxWx3 uint8; numbers and vectors as scalars)."""
        rr = self.rr
        for key, value in frame.items():
            if key.startswith("observation.images."):
                image = rr.Image(np.asarray(value))
                if self.jpeg_quality is not None:
                    image = image.compress(jpeg_quality=self.jpeg_quality)
                self.rec.log(entity_path(key), image)
                continue
            arr = np.asarray(value, dtype=np.float64).reshape(-1)
            if arr.size == 1:  # a scalar column plots at its own path, named or not
                self.rec.log(entity_path(key), rr.Scalars(float(arr[0])))
                continue
            paths = self._paths.get(key)
            if paths is None:
                paths = self._paths[key] = series_paths(key, self.names.get(key), arr.size)
                for path in paths:
                    name = path.rsplit("/", 1)[1]
                    self.rec.log(path, rr.SeriesLines(names=name), static=True)
            for path, v in zip(paths, arr):
                self.rec.log(path, rr.Scalars(float(v)))


def log_dataset_episode(
    root: str | Path,
    episode_index: int,
    *,
    save: str | Path | None = None,
    serve: bool | int = False,
    spawn: bool = False,
    app_id: str = DEFAULT_APP_ID,
    jpeg_quality: int | None = None,
    video: bool = True,
) -> RerunSession:
    """Log one recorded episode of a LeRobot dataset to Rerun.

    Args:
        root: dataset directory.
        episode_index: the episode to show.
        save: write an ``.rrd`` file here.
        serve: serve gRPC for a remote viewer (True: port 9876, or a port number); keep the
            returned session (and the process) alive while the viewer reads.
        spawn: start a local viewer.
        app_id: Rerun application id.
        jpeg_quality: compress camera images to JPEG (None: raw RGB).
        video: log the cameras stored as MP4 (False: numeric features and PNG images only,
            for a dataset whose videos are absent or Git LFS pointers).

    Returns:
        The session; call ``close()`` when done (it completes the ``.rrd`` file).

    Example:
        >>> import tempfile, pathlib
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> from lerobot_gym.wrappers import RecordEpisodes
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> env = RecordEpisodes(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"),
        ...                      tmp / "reach", repo_id="me/reach")
        >>> obs, info = env.reset(seed=0)
        >>> for _ in range(5):
        ...     obs, *_ = env.step(env.action_space.sample())
        >>> env.close()
        >>> session = log_dataset_episode(tmp / "reach", 0, save=tmp / "episode0.rrd")
        >>> session.close()
        >>> (tmp / "episode0.rrd").stat().st_size > 0
        True
    """
    from lerobot_gym.dataset import LeRobotDataset

    selected = None
    if not video:
        from lerobot_gym.dataset.v21 import load_meta

        every = load_meta(root).features
        selected = [k for k, ft in every.items() if ft["dtype"] != "video"]
    dataset = LeRobotDataset(root, episodes=[episode_index], format="numpy", features=selected)
    features = dataset.features
    session = open_session(app_id, save=save, serve=serve, spawn=spawn)
    logger = FrameLogger(
        session,
        {k: ft.get("names") for k, ft in features.items()},
        dataset.fps,
        jpeg_quality,
    )
    skip = {"timestamp", "frame_index", "episode_index", "index", "task_index", "task"}
    try:
        for i in range(len(dataset)):
            item = dataset[i]
            frame_index = int(item["frame_index"])
            logger.set_time(int(item["index"]), frame_index)
            if i == 0:
                logger.log_episode_start(episode_index, item["task"])
            frame = {}
            for key, value in item.items():
                if key in skip or key.endswith("_is_pad"):
                    continue
                if features[key]["dtype"] in ("video", "image"):
                    value = _to_hwc_uint8(value)
                frame[key] = value
            logger.log(frame)
    except BaseException:
        session.close()
        raise
    finally:
        dataset.close()
    return session


def _to_hwc_uint8(chw_float: np.ndarray) -> np.ndarray:
    """The reader's float CHW [0, 1] frame back to HxWx3 uint8."""
    arr = np.clip(np.rint(np.asarray(chw_float) * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr.transpose(1, 2, 0))
