"""MP4 encoding off the control loop, and frame-accurate random-access decoding, with PyAV.

Source: ``shared/reference/lerobot-dataset-v3.md`` section 7 (LeRobot's
``RGBEncoderConfig``, ``encode_video_frames`` and ``decode_video_frames``).

Design decisions:

* One :class:`EpisodeVideoEncoder` thread per camera. It runs inside the encoder process of
  :mod:`lerobot_gym.dataset.encoder_process`, which is what a dataset writer uses, so that
  encoding never shares the recording process (its GIL, its scheduling) with the control
  loop; it can also run in the calling process. ``put`` hands a frame over through a
  *bounded* queue that blocks when full: the control loop slows down rather than losing a
  frame (LeRobot's streaming mode drops frames on a full queue, which later breaks timestamp
  lookup). Frame ``i`` is encoded at pts ``i`` in time base ``1/fps``; the encoder also keeps
  the camera's pixel statistics (see :mod:`lerobot_gym.dataset.stats`).
* Encoder settings are LeRobot's defaults: ``libsvtav1``, ``yuv420p``, ``g=2``, ``crf=30``,
  ``preset=12``, ``fast-decode=0``. ``h264`` (libx264) uses the same GOP and CRF and turns off
  B-frames so that decode order equals presentation order.
* Decoding seeks to the keyframe at or before the query and decodes forward; a forward query
  close to the previous one continues from the current position instead (the common case in
  sequential and ``delta_timestamps`` reads). A frame is accepted when it lies within
  ``tolerance_s`` of the query (LeRobot: 1e-4 s), else :class:`DatasetCorruptError`.
* Every episode an encoder starts gets a sequence number, which the worker echoes in the
  result it reports. :meth:`EpisodeVideoEncoder.finish_episode` drops results of any other
  episode, and :meth:`~EpisodeVideoEncoder.abort_episode` empties the result queue: a result
  left over by a failed save can never be taken for the next episode's video.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, cast

import av
import numpy as np

from lerobot_gym.dataset import lfs
from lerobot_gym.dataset.stats import ImageStatsAccumulator, Stats
from lerobot_gym.errors import ConfigError, DatasetCorruptError, DatasetError

# SVT-AV1 prints its whole configuration (~40 lines) to stderr for every encoder it opens, i.e.
# per camera per episode, and routine warnings (preset mapping, thread priority); keep errors
# only, unless the user chose a level.
os.environ.setdefault("SVT_LOG", "1")

_CODEC_ALIASES = {"av1": "libsvtav1", "libsvtav1": "libsvtav1", "h264": "libx264"}
_CODEC_ALIASES["libx264"] = "libx264"
# video.codec in info.json (the stream's canonical name) -> the encoder that wrote it
_CODEC_FROM_INFO = {"av1": "libsvtav1", "h264": "h264", "libx264": "h264"}


@dataclass(frozen=True)
class VideoEncoding:
    """Encoder settings; the defaults are LeRobot's ``RGBEncoderConfig`` defaults."""

    vcodec: str = "libsvtav1"
    pix_fmt: str = "yuv420p"
    g: int = 2
    crf: int = 30
    preset: int | str | None = None
    fast_decode: int = 0
    extra_options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_features(cls, features: Mapping[str, Any], vcodec: str | None = None) -> VideoEncoding:
        """Encoder settings of an existing dataset, so that resumed episodes match earlier ones.

        Args:
            features: ``info.json`` features (their video ``info`` blocks are read).
            vcodec: override the codec (``None``: the one already used).
        """
        for ft in features.values():
            info = ft.get("info") or {}
            if ft["dtype"] == "video" and "video.codec" in info:
                codec = vcodec or _CODEC_FROM_INFO.get(info["video.codec"], "libsvtav1")
                return cls(
                    vcodec=codec,
                    pix_fmt=info.get("video.pix_fmt", "yuv420p"),
                    g=int(info.get("video.g", 2)),
                    crf=int(info.get("video.crf", 30)),
                    preset=info.get("video.preset") if codec == "libsvtav1" else None,
                    fast_decode=int(info.get("video.fast_decode", 0)),
                )
        return cls(vcodec=vcodec or "libsvtav1")

    def encoder_name(self) -> str:
        """The PyAV encoder to open, after resolving aliases and checking availability."""
        name = _CODEC_ALIASES.get(self.vcodec)
        if name is None:
            raise ConfigError(
                f"unsupported vcodec {self.vcodec!r}; use 'libsvtav1' (default) or 'h264'"
            )
        try:
            av.codec.Codec(name, "w")
        except Exception as exc:  # PyAV raises a bare UnknownCodecError subclass of ValueError
            other = "h264" if name == "libsvtav1" else "libsvtav1"
            raise ConfigError(
                f"encoder {name!r} is not available in PyAV's ffmpeg build; "
                f"pass vcodec={other!r} instead"
            ) from exc
        return name

    def options(self) -> dict[str, str]:
        """PyAV stream options, as LeRobot sets them per codec."""
        name = self.encoder_name()
        opts = {"g": str(self.g), "crf": str(self.crf)}
        if name == "libsvtav1":
            opts["preset"] = str(12 if self.preset is None else self.preset)
            opts["svtav1-params"] = f"fast-decode={self.fast_decode}"
        else:
            opts["preset"] = str("veryfast" if self.preset is None else self.preset)
            opts["bf"] = "0"  # no B-frames: pts == decode order, no edit lists
        opts.update(self.extra_options)
        return opts

    def info_fields(self) -> dict[str, Any]:
        """The encoder part of a video feature's ``info`` block (reference section 2)."""
        name = self.encoder_name()
        preset = self.preset if self.preset is not None else (12 if name == "libsvtav1" else None)
        return {
            "video.g": self.g,
            "video.crf": self.crf,
            "video.preset": preset,
            "video.fast_decode": self.fast_decode,
            "video.video_backend": "pyav",
            "video.extra_options": dict(self.extra_options),
        }


def probe_video_info(path: Path) -> dict[str, Any]:
    """The stream part of a video feature's ``info`` block, read from an MP4 like LeRobot."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        fmt = ctx.format
        return {
            "video.height": int(ctx.height),
            "video.width": int(ctx.width),
            "video.codec": ctx.codec.canonical_name
            if hasattr(ctx.codec, "canonical_name")
            else ctx.name,
            "video.pix_fmt": fmt.name if fmt is not None else ctx.pix_fmt,
            "video.fps": int(stream.base_rate) if stream.base_rate else None,
            "video.channels": 3,
            "has_audio": len(container.streams.audio) > 0,
        }


def video_frame_count(path: Path) -> int:
    """Number of frames in an MP4 (demuxed packet count; raises DatasetCorruptError)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return sum(1 for p in container.demux(stream) if p.size > 0)
    except (av.error.FFmpegError, IndexError, OSError) as exc:
        raise DatasetCorruptError(f"cannot read video {path}: {exc}", path=str(path)) from exc


@dataclass
class EncodedEpisode:
    """What an encoder reports once an episode's video is complete on disk."""

    path: Path
    num_frames: int
    stats: Stats


_STOP = object()
_FINISH = object()


class FrameEncoder(Protocol):
    """What a dataset writer needs of one camera's encoder, in this process or another."""

    key: str

    def start_episode(self, path: Path) -> None: ...
    def put(self, frame_hwc: np.ndarray) -> None: ...
    def request_finish(self) -> None: ...
    def finish_episode(self, timeout_s: float | None = None) -> EncodedEpisode: ...
    def abort_episode(self) -> None: ...
    def close(self) -> None: ...


class _QueuedFrame:
    """A frame whose owner wants to hear when the encoder no longer reads it."""

    __slots__ = ("frame", "on_done")

    def __init__(self, frame: np.ndarray, on_done: Callable[[], None]) -> None:
        self.frame = frame
        self.on_done = on_done


class EpisodeVideoEncoder:
    """Background encoder of one camera; one MP4 per episode.

    Args:
        key: feature key, for messages and the thread name.
        fps: frames per second (time base ``1/fps``).
        encoding: codec settings.
        queue_size: frames that may wait for the encoder before ``put`` blocks.
        fsync: fsync each finished file before reporting it.
        on_result: called from the worker thread with ``(episode sequence number, result)``
            instead of keeping the result for :meth:`finish_episode` (the encoder process
            forwards results this way).
    """

    def __init__(
        self,
        key: str,
        fps: int,
        encoding: VideoEncoding,
        *,
        queue_size: int = 64,
        fsync: bool = True,
        on_result: Callable[[int, EncodedEpisode | BaseException], None] | None = None,
    ) -> None:
        self.key = key
        self.fps = int(fps)
        self.encoding = encoding
        self._codec = encoding.encoder_name()
        self._options = encoding.options()
        self._fsync = fsync
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        # (episode sequence number, result): see finish_episode
        self._results: queue.Queue[tuple[int, EncodedEpisode | BaseException]] = queue.Queue()
        self._on_result = on_result
        self._path: Path | None = None
        self._seq = 0  # sequence number of the latest episode started
        self._finishing = False
        self._thread = threading.Thread(target=self._run, name=f"encode-{key}", daemon=True)
        self._thread.start()

    def start_episode(self, path: Path, seq: int | None = None) -> None:
        """Direct the next frames to a new MP4 at ``path``.

        Args:
            path: the episode's MP4.
            seq: the episode's sequence number, echoed with its result (default: one more
                than the last; the encoder process passes its parent's numbers).
        """
        self._seq = self._seq + 1 if seq is None else seq
        self._finishing = False
        self._queue.put(("start", Path(path), self._seq))

    def put(self, frame_hwc: np.ndarray, on_done: Callable[[], None] | None = None) -> None:
        """Queue one ``(H, W, 3)`` uint8 frame; blocks while the queue is full, never drops.

        Args:
            frame_hwc: the frame; it must not change until the encoder is done with it.
            on_done: called from the worker once the frame is no longer read (encoded,
                skipped or failed), so that its memory can be reused.
        """
        self._queue.put(frame_hwc if on_done is None else _QueuedFrame(frame_hwc, on_done))

    def request_finish(self) -> None:
        """Ask the thread to flush and close the episode's file (returns at once)."""
        self._finishing = True
        self._queue.put(_FINISH)

    def _finish_requested(self) -> bool:
        return self._finishing

    def finish_episode(self, timeout_s: float | None = None) -> EncodedEpisode:
        """Flush the encoder, close and fsync the file, and return what was written.

        Call :meth:`request_finish` on every camera first to flush them in parallel.

        Args:
            timeout_s: longest wait for the encoder (``None``: as long as it takes).

        Raises:
            DatasetError: encoding failed, or did not finish within ``timeout_s`` (then the
                episode is still being flushed: call this again to keep waiting).
        """
        if not self._finish_requested():
            self.request_finish()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                seq, result = self._results.get(timeout=remaining)
            except queue.Empty:
                raise DatasetError(
                    f"the video encoder of {self.key!r} did not finish the episode within "
                    f"{timeout_s} s (the CPU may be overloaded, e.g. by a slow codec at a "
                    "high resolution); wait longer by calling finish_episode() again, or "
                    "record with vcodec='h264' or smaller frames"
                ) from None
            if seq == self._seq:
                break
            # A result of an earlier episode whose save failed before collecting it: its file
            # is that episode's video, never this one's.
        self._finishing = False
        if isinstance(result, BaseException):
            raise DatasetError(
                f"video encoding of {self.key!r} failed: {result}; discard the episode with "
                "clear_episode() and record it again"
            ) from result
        return result

    def abort_episode(self) -> None:
        """Stop the episode in progress, delete its partial file and drop unread results."""
        self._queue.put(("abort", None, self._seq))
        self._queue.join()
        self._finishing = False
        while True:
            try:
                self._results.get_nowait()
            except queue.Empty:
                break

    def close(self) -> None:
        """Stop the thread (an unfinished episode is discarded)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    # -- worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        container: av.container.OutputContainer | None = None
        stream: av.VideoStream | None = None
        stats: ImageStatsAccumulator | None = None
        count = 0
        seq = 0  # sequence number of the episode being encoded, echoed in its result
        failure: BaseException | None = None
        while True:
            queued = self._queue.get()
            on_done = queued.on_done if isinstance(queued, _QueuedFrame) else None
            item = queued.frame if isinstance(queued, _QueuedFrame) else queued
            try:
                if item is _STOP:
                    if container is not None:
                        container.close()
                        self._discard()
                    return
                if isinstance(item, tuple):
                    cmd, arg, seq = item
                    if container is not None:
                        container.close()
                        self._discard()
                    container = stream = None
                    failure = None
                    count = 0
                    stats = ImageStatsAccumulator()
                    self._path = arg if cmd == "start" else None
                    continue
                if item is _FINISH:
                    result: EncodedEpisode | BaseException
                    if failure is not None:
                        result = failure
                    elif container is None or stats is None or self._path is None:
                        result = DatasetError("episode has no video frames")
                    else:
                        try:
                            assert stream is not None  # opened together with container
                            for packet in stream.encode(None):
                                container.mux(packet)
                            container.close()
                            if self._fsync:
                                with open(self._path, "rb+") as fh:
                                    os.fsync(fh.fileno())
                            result = EncodedEpisode(self._path, count, stats.result())
                        except BaseException as exc:  # e.g. disk full: finish_episode must hear
                            result = exc
                    self._report(seq, result)
                    container = stream = None
                    failure = None
                    continue
                if failure is not None or self._path is None:
                    continue
                frame = item
                if container is None:
                    container, stream = self._open(frame.shape[0], frame.shape[1])
                assert stream is not None  # opened together with container
                video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
                video_frame.pts = count
                for packet in stream.encode(video_frame):
                    container.mux(packet)
                assert stats is not None  # created with self._path at "start"
                stats.update(frame)
                count += 1
            except BaseException as exc:  # reported at finish_episode, never lost silently
                failure = exc
            finally:
                if on_done is not None:
                    on_done()
                self._queue.task_done()

    def _report(self, seq: int, result: EncodedEpisode | BaseException) -> None:
        if self._on_result is None:
            self._results.put((seq, result))
        else:
            self._on_result(seq, result)

    def _open(self, height: int, width: int) -> tuple[av.container.OutputContainer, av.VideoStream]:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self._path), "w", format="mp4")
        stream = cast(av.VideoStream, container.add_stream(self._codec, rate=self.fps))
        stream.width, stream.height = width, height
        stream.pix_fmt = self.encoding.pix_fmt
        stream.time_base = Fraction(1, self.fps)
        stream.options = self._options  # type: ignore[assignment]  # av types options as dict[str, object]
        return container, stream

    def _discard(self) -> None:
        if self._path is not None:
            self._path.unlink(missing_ok=True)


class VideoDecoder:
    """Random-access frame reader over a small LRU cache of open MP4 containers.

    Args:
        tolerance_s: maximal distance between a query and the returned frame's timestamp.
        max_open: containers kept open at once.
    """

    def __init__(self, tolerance_s: float = 1e-4, max_open: int = 16) -> None:
        self.tolerance_s = tolerance_s
        self.max_open = max_open
        self._open: OrderedDict[str, _OpenVideo] = OrderedDict()

    def frames_at(self, path: Path, timestamps: list[float]) -> np.ndarray:
        """Decode the frames at ``timestamps`` (seconds in the file) as ``(T, H, W, 3)`` uint8."""
        video = self._get(path)
        try:
            return np.stack([video.frame_at(t, self.tolerance_s) for t in timestamps])
        except (av.error.FFmpegError, EOFError) as exc:
            self.close_file(path)
            raise DatasetCorruptError(f"cannot decode {path}: {exc}", path=str(path)) from exc

    def close_file(self, path: Path) -> None:
        """Close one cached container, if open."""
        video = self._open.pop(str(path), None)
        if video is not None:
            video.close()

    def close(self) -> None:
        """Close every cached container."""
        for video in self._open.values():
            video.close()
        self._open.clear()

    def __getstate__(self) -> dict[str, Any]:  # containers do not cross process boundaries
        return {"tolerance_s": self.tolerance_s, "max_open": self.max_open, "_open": OrderedDict()}

    def _get(self, path: Path) -> _OpenVideo:
        key = str(path)
        video = self._open.get(key)
        if video is None:
            lfs.check_file(key, "video file", video=True)  # absent or an LFS pointer: say so
            try:
                video = _OpenVideo(key)
            except (av.error.FFmpegError, IndexError) as exc:
                raise DatasetCorruptError(f"cannot open video {key}: {exc}", path=key) from exc
            self._open[key] = video
            while len(self._open) > self.max_open:
                _, old = self._open.popitem(last=False)
                old.close()
        else:
            self._open.move_to_end(key)
        return video


class _OpenVideo:
    """One open container plus the decoder position, for forward continuation."""

    # Continue decoding forward instead of seeking when the query is this close ahead.
    _FORWARD_WINDOW_S = 0.5

    def __init__(self, path: str) -> None:
        self.path = path
        self.container = av.open(path)
        self.stream = self.container.streams.video[0]
        # No frame threading: after a seek it must refill a pipeline of frames before the
        # first one comes out, which made random access ~1.5x slower than one thread.
        self.stream.thread_type = "NONE"
        assert self.stream.time_base is not None  # set on every demuxed stream
        self.time_base = float(self.stream.time_base)
        self._frames: Any = None  # iterator over decoded frames
        self._last: tuple[float, Any] | None = None  # last decoded (time, av.VideoFrame)
        self._cache: OrderedDict[float, np.ndarray] = OrderedDict()

    def frame_at(self, t: float, tol: float) -> np.ndarray:
        cached = self._cache.get(round(t, 6))
        if cached is not None:
            return cached
        pos = self._last[0] if self._last is not None else None
        if pos is None or self._frames is None or t < pos - tol or t > pos + self._FORWARD_WINDOW_S:
            self._seek(t)
        best = self._last if self._last is not None and abs(self._last[0] - t) <= tol else None
        while best is None:
            frame = next(self._frames, None)
            if frame is None:
                break
            ft = float(frame.pts * self.time_base)
            self._last = (ft, frame)  # converted to RGB only if it is the one asked for
            if abs(ft - t) <= tol:
                best = self._last
            elif ft > t + tol:
                break
        if best is None:
            near = self._last[0] if self._last is not None else float("nan")
            raise DatasetCorruptError(
                f"no frame within {tol} s of t={t:.6f} s in {self.path} (nearest decoded: "
                f"{near:.6f} s); the video is shorter than its episode or its timestamps are "
                "off: run `lerobot-gym dataset validate`",
                path=self.path,
            )
        rgb = best[1] if isinstance(best[1], np.ndarray) else best[1].to_ndarray(format="rgb24")
        self._last = (best[0], rgb)
        self._cache[round(t, 6)] = rgb
        while len(self._cache) > 8:
            self._cache.popitem(last=False)
        return rgb

    def _seek(self, t: float) -> None:
        target = max(0, round(t / self.time_base))
        self.container.seek(target, backward=True, any_frame=False, stream=self.stream)
        self._frames = self.container.decode(self.stream)
        self._last = None

    def close(self) -> None:
        self.container.close()
