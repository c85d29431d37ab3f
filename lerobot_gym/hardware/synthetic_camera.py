"""A camera whose frames come from a function: the stand-in for tests and benchmarks.

This module owns :class:`SyntheticCamera` and its default test pattern
(:func:`moving_gradient`). It runs on the same capture thread as a real camera
(:class:`~lerobot_gym.hardware.cameras.ThreadedCamera`), so code under test and benchmarks
see the same latest-frame and timing behaviour as with ``OpenCVCamera``, without a device.

Design decisions:
    * Frame ``i`` is due ``i / fps`` seconds after ``connect()``. A ``render`` slower than the
      frame period makes frames late (then delivered back to back), never skipped, so the
      index passed to ``render`` counts the frames delivered.
    * A ``render`` returning the wrong shape or dtype raises
      :class:`~lerobot_gym.errors.CameraError` to the reader instead of passing on a
      mis-shaped observation.
    * No reconnects: there is no device to lose, so a render failure is final.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from lerobot_gym.errors import CameraError
from lerobot_gym.hardware.camera_thread import ThreadedCamera

__all__ = ["SyntheticCamera", "moving_gradient"]


def moving_gradient(width: int, height: int) -> Callable[[int, float], np.ndarray]:
    """A render function drawing a diagonal RGB gradient that scrolls one pixel per frame."""
    ys, xs = np.mgrid[0:height, 0:width]
    base = (xs + ys).astype(np.int64)

    def render(index: int, _t: float) -> np.ndarray:
        phase = (base + index) % 256
        return np.stack([phase, (phase + 85) % 256, (phase + 170) % 256], axis=-1).astype(np.uint8)

    return render


class SyntheticCamera(ThreadedCamera):
    """A camera whose frames come from ``render(frame_index, t_s) -> HxWx3 uint8 RGB``.

    Frames are produced at ``fps`` on the same capture thread as a real camera, so code and
    benchmarks see the same timing behaviour. The default renders a scrolling gradient.

    Args:
        width: Frame width.
        height: Frame height.
        fps: Frame rate.
        render: The frame source; ``t_s`` is seconds since connect.
        color: "rgb" or "bgr".
        rotation: Clockwise rotation: 0, 90, 180, 270 (or -90).
        warmup_s: Seconds of frames discarded at connect.

    Example:
        >>> with SyntheticCamera(32, 24, fps=100) as cam:
        ...     frame = cam.async_read(timeout_s=1.0)
        >>> frame.shape, frame.dtype
        ((24, 32, 3), dtype('uint8'))
    """

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        *,
        render: Callable[[int, float], np.ndarray] | None = None,
        color: str = "rgb",
        rotation: int = 0,
        warmup_s: float = 0.0,
    ) -> None:
        super().__init__(
            f"synthetic camera {width}x{height}@{fps:g}",
            width,
            height,
            fps,
            color=color,
            rotation=rotation,
            warmup_s=warmup_s,
            max_reconnect_attempts=0,
        )
        self._render = render or moving_gradient(width, height)
        self._index = 0
        self._t0 = 0.0

    def _open(self) -> None:
        self._index = 0
        self._t0 = time.monotonic()

    def _grab(self) -> np.ndarray | None:
        assert self.fps is not None
        due = self._t0 + self._index / self.fps
        delay = due - time.monotonic()
        if delay > 0 and self._stop.wait(delay):
            return None
        frame = self._render(self._index, time.monotonic() - self._t0)
        self._index += 1
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise CameraError(
                f"{self.name}: render returned {frame.shape} {frame.dtype}, expected "
                f"({self.height}, {self.width}, 3) uint8."
            )
        return frame

    def _close(self) -> None:
        pass
