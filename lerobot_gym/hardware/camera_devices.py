"""Camera devices for hardware backends: the :class:`FrameSource` shape and :func:`make_camera`.

A hardware backend reads its cameras through :class:`FrameSource` (an :class:`OpenCVCamera`, a
:class:`SyntheticCamera`, a twin render); :func:`make_camera` turns what a user passed in
``cameras={"front": 0, ...}`` into one. No robot is named here: every robot's backends use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lerobot_gym.errors import ConfigError

__all__ = ["FrameSource", "make_camera"]


class FrameSource(Protocol):
    """A camera as a backend uses it (``OpenCVCamera``, ``SyntheticCamera``, a twin render)."""

    def connect(self) -> None:
        """Start delivering frames."""

    def disconnect(self) -> None:
        """Stop and release the device."""

    def read_latest(self, max_age_s: float | None = None) -> tuple[np.ndarray, float]:
        """The newest HxWx3 uint8 frame and its ``time.monotonic()`` capture time."""


def make_camera(name: str, device: Any, image_size: tuple[int, int], fps: int) -> Any:
    """A frame source for one observed camera from what the user passed in ``cameras={...}``.

    Args:
        name: Camera name (for errors).
        device: A device index (``0``), a device or video-file path (``"/dev/video2"``),
            ``"synthetic"`` (a generated test pattern), or an object with ``connect``,
            ``disconnect`` and ``read_latest`` (used as is).
        image_size: (height, width) the camera is opened at.
        fps: Frame rate asked of the camera.
    """
    from lerobot_gym.hardware.cameras import OpenCVCamera
    from lerobot_gym.hardware.synthetic_camera import SyntheticCamera

    height, width = image_size
    if all(hasattr(device, attr) for attr in ("connect", "disconnect", "read_latest")):
        return device
    if isinstance(device, str) and device == "synthetic":
        return SyntheticCamera(width, height, fps=fps)
    if isinstance(device, (int, str, Path)) and not isinstance(device, bool):
        return OpenCVCamera(device, width, height, fps)
    raise ConfigError(
        f"camera {name!r}: device {device!r} is not a device index, a path, 'synthetic' or a "
        "camera object; e.g. cameras={'front': 0, 'wrist': '/dev/video2'}"
    )
