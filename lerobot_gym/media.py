"""A small MP4 writer for evaluation and demo videos (PyAV, H.264, ``yuv420p``).

This is for videos people watch (``eval_episode_0.mp4``), written frame by frame as an episode
runs, so no episode is held in memory. Dataset videos, which must decode frame-accurately and
follow LeRobot's encoder settings, are :mod:`lerobot_gym.dataset.video`'s job.

Design decisions:

* H.264 in ``yuv420p`` plays in every browser and video player; ``yuv420p`` subsamples chroma
  by two, so both dimensions must be even. Odd frames are padded by one replicated edge row or
  column rather than cropped, so no rendered pixel is lost.
* The first frame fixes the size; a later frame of another size is a
  :class:`~lerobot_gym.errors.ConfigError` (an encoder cannot change size mid-stream).
* The file is written to ``<name>.partial`` and renamed on :meth:`Mp4Writer.close`, so a crash
  never leaves a truncated file under the final name.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "clip.mp4"
    >>> with Mp4Writer(path, fps=10) as writer:
    ...     for i in range(5):
    ...         writer.write(np.full((31, 41, 3), 50 * i, dtype=np.uint8))
    >>> writer.frames_written, path.exists()
    (5, True)
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from lerobot_gym.errors import ConfigError

__all__ = ["Mp4Writer", "write_mp4"]


class Mp4Writer:
    """Write RGB frames (HxWx3 uint8) to an H.264 MP4 file.

    Args:
        path: output file; parent directories are created.
        fps: frame rate.
        crf: H.264 constant rate factor (lower: better quality, bigger file; 23 is x264's default).
        preset: x264 speed preset; ``"veryfast"`` keeps encoding cheap next to rendering.
    """

    def __init__(
        self, path: str | os.PathLike, *, fps: float, crf: int = 23, preset: str = "veryfast"
    ) -> None:
        if not fps > 0:
            raise ConfigError(f"fps must be positive, got {fps!r}")
        self.path = Path(path)
        self.fps = fps
        self._options = {"crf": str(int(crf)), "preset": preset}
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._size: tuple[int, int] | None = None  # (height, width) of the input frames
        self.frames_written = 0

    def write(self, frame: np.ndarray) -> None:
        """Encode one frame (HxWx3 uint8, RGB)."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ConfigError(
                "video frames must be HxWx3 uint8 RGB; "
                f"got shape {frame.shape}, dtype {frame.dtype}"
            )
        if self._container is None:
            self._open(frame.shape[0], frame.shape[1])
        elif frame.shape[:2] != self._size:
            raise ConfigError(
                f"frame size {frame.shape[:2]} differs from the first frame's {self._size} in "
                f"{self.path}; every frame of a video must have the same size"
            )
        assert self._container is not None and self._stream is not None  # set by _open
        padded = _pad_to_even(frame)
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="rgb24")
        video_frame.pts = self.frames_written
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and move the file to its final name (no file if no frame came)."""
        if self._container is None:
            return
        assert self._stream is not None  # _open sets both
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        """Close without publishing the file (used when the episode failed)."""
        if self._container is not None:
            self._container.close()
            self._container = None
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _open(self, height: int, width: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The final name's suffix tells the muxer the container; ".partial" would not.
        self._container = av.open(str(self._partial), mode="w", format="mp4")
        stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator())
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = self._options  # type: ignore[assignment]  # av types options as dict[str, object]
        stream.codec_context.time_base = Fraction(1, 1) / Fraction(self.fps).limit_denominator()
        self._stream, self._size = stream, (height, width)


def write_mp4(path: str | os.PathLike, frames, *, fps: float) -> Path:
    """Write an iterable of HxWx3 uint8 frames to ``path``; returns the path."""
    with Mp4Writer(path, fps=fps) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.path


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if not (pad_h or pad_w):
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
