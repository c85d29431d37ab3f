"""Cameras for real robots: the threaded capture base and OpenCV devices.

This module owns frame capture for the hardware backends: :class:`OpenCVCamera` (USB/V4L2
cameras, or a video file replayed in real time) and :func:`find_cameras` (behind ``lerobot-gym
find-cameras``). Their base, :class:`ThreadedCamera`, is in
:mod:`lerobot_gym.hardware.camera_thread`; the synthetic stand-in for tests and benchmarks is
:class:`~lerobot_gym.hardware.synthetic_camera.SyntheticCamera`.

Every camera derives from :class:`ThreadedCamera`: a background thread grabs frames as they arrive
and keeps only the latest, so a control loop reading at its own rate never blocks on the
device and never sees stale buffered frames. ``read_latest()`` returns that frame at once;
``async_read()`` waits for a frame newer than the last one returned (LeRobot's semantics,
``lerobot-interfaces.md`` §2.6).

Design decisions:
    * ``cv2`` is imported when a camera connects, not when this module is imported, so
      ``import lerobot_gym`` stays light; a missing OpenCV raises ``MissingExtraError``.
    * ``connect()`` checks that the requested width, height and fps were applied and fails
      loudly instead of silently recording at another resolution.
    * When the device stops delivering (cable pulled, driver hiccup) the thread reopens it a
      bounded number of times with exponential backoff; after that every read raises the
      :class:`~lerobot_gym.errors.CameraError`, so the failure reaches the control loop.
    * A video *file* opened as the device is paced at its fps, so it behaves like a live
      camera; that is how the tests exercise the real OpenCV path without hardware.
    * Frames are HxWx3 uint8 in ``color`` order ("rgb" by default, as datasets store them),
      rotated by ``rotation`` degrees clockwise. Each frame is a fresh array; readers share
      the latest one, so copy before modifying it in place.
    * Once started, the capture thread owns the device: it alone reopens it and it closes it
      when it ends (``finally``). ``disconnect()`` only stops and joins it; if the thread is
      stuck in a driver call past the join timeout the device is left to it (releasing it
      under a running ``read()`` is undefined behaviour in OpenCV) and ``connect()`` refuses
      to open the device again until that thread has finished.
"""

from __future__ import annotations

import glob
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.errors import CameraError, MissingExtraError
from lerobot_gym.hardware.camera_thread import ThreadedCamera

__all__ = ["OpenCVCamera", "ThreadedCamera", "find_cameras"]

logger = logging.getLogger(__name__)


def _import_cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise MissingExtraError("cv2", "real", "OpenCV cameras") from exc
    return cv2


class OpenCVCamera(ThreadedCamera):
    """A camera opened with ``cv2.VideoCapture``: a device index, ``/dev/videoN``, or a file.

    Args:
        index_or_path: Device index (``0``), device path (``"/dev/video2"``), or a video file.
        width: Requested frame width (None: the device's default).
        height: Requested frame height (None: the device's default).
        fps: Requested frame rate (None: the device's default).
        color: "rgb" (default) or "bgr" channel order.
        rotation: Clockwise rotation: 0, 90, 180, 270 (or -90).
        warmup_s: Seconds of frames discarded at connect, letting auto exposure settle.
        max_reconnect_attempts: Reopen attempts after the device is lost.
        reconnect_backoff_s: First wait before reopening (doubles each attempt).
        join_timeout_s: How long ``disconnect()`` waits for the capture thread to stop.
        backend: A ``cv2.CAP_*`` API id; default V4L2 on Linux, AVFoundation on macOS, MSMF on
            Windows, automatic for files.
        capture_factory: Builds the capture object from ``(source, backend)``; tests inject
            failing captures through it. Default ``cv2.VideoCapture``.

    Example:
        >>> cam = OpenCVCamera(0, 640, 480, 30)  # no I/O until connect()
        >>> cam.frame_shape
        (480, 640, 3)
    """

    _native_color = "bgr"

    def __init__(
        self,
        index_or_path: int | str | Path,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        *,
        color: str = "rgb",
        rotation: int = 0,
        warmup_s: float = 1.0,
        max_reconnect_attempts: int = 3,
        reconnect_backoff_s: float = 0.2,
        join_timeout_s: float = 5.0,
        backend: int | None = None,
        capture_factory: Callable[[int | str, int], Any] | None = None,
    ) -> None:
        if isinstance(index_or_path, str) and index_or_path.isdigit():
            index_or_path = int(index_or_path)  # "0" from a CLI flag means index 0
        self.source: int | str = (
            index_or_path if isinstance(index_or_path, int) else str(index_or_path)
        )
        super().__init__(
            f"camera {self.source!r}",
            width,
            height,
            fps,
            color=color,
            rotation=rotation,
            warmup_s=warmup_s,
            max_reconnect_attempts=max_reconnect_attempts,
            reconnect_backoff_s=reconnect_backoff_s,
            join_timeout_s=join_timeout_s,
        )
        self._requested = (width, height, fps)
        self.backend = backend
        self._capture_factory = capture_factory
        self._capture: Any = None
        self._cv2: Any = None
        self._is_file = isinstance(self.source, str) and os.path.isfile(self.source)
        self._next_frame_t = 0.0

    def _open(self) -> None:
        cv2 = self._cv2 = _import_cv2()
        if isinstance(self.source, str) and not os.path.exists(self.source):
            raise CameraError(
                f"{self.name} does not exist; run `lerobot-gym find-cameras` to list cameras."
            )
        backend = self.backend if self.backend is not None else _default_backend(cv2, self)
        factory = self._capture_factory or cv2.VideoCapture
        capture = factory(self.source, backend)
        if not capture.isOpened():
            capture.release()
            raise CameraError(
                f"cannot open {self.name} (is it in use, or the wrong index?); run "
                "`lerobot-gym find-cameras` to list the cameras OpenCV can open."
            )
        want_w, want_h, want_fps = self._requested
        if not self._is_file:  # a file's mode is fixed; setting it only logs warnings
            if want_fps is not None:
                capture.set(cv2.CAP_PROP_FPS, float(want_fps))
            if want_w is not None:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, float(want_w))
            if want_h is not None:
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, float(want_h))
        got_w = round(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        got_h = round(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        got_fps = float(capture.get(cv2.CAP_PROP_FPS))
        problems = []
        if (want_w is not None and got_w != want_w) or (want_h is not None and got_h != want_h):
            problems.append(f"size {got_w}x{got_h} instead of {want_w}x{want_h}")
        if want_fps is not None and not math.isclose(got_fps, want_fps, rel_tol=1e-3):
            problems.append(f"{got_fps:g} fps instead of {want_fps:g}")
        if problems:
            capture.release()
            raise CameraError(
                f"{self.name} does not support the requested mode ({'; '.join(problems)}); "
                "pass a mode it supports (listed by `lerobot-gym find-cameras`) or None."
            )
        self.width, self.height = got_w, got_h
        self.fps = want_fps if want_fps is not None else (got_fps or None)
        self._capture = capture
        self._next_frame_t = time.monotonic()

    def _grab(self) -> np.ndarray | None:
        if self._capture is None:
            return None
        if self._is_file and self.fps:  # replay a file in real time, like a live device
            delay = self._next_frame_t - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return None
            self._next_frame_t = max(self._next_frame_t + 1.0 / self.fps, time.monotonic() - 1)
        ok, frame = self._capture.read()
        if not ok or frame is None:
            return None
        if frame.shape[:2] != (self.height, self.width):
            return None  # the driver changed mode under us: treat as a loss and reopen
        return frame

    def _close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _process(self, frame: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        if self.color == "rgb":
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180}
        codes.update({270: cv2.ROTATE_90_COUNTERCLOCKWISE, -90: cv2.ROTATE_90_COUNTERCLOCKWISE})
        if self.rotation:
            frame = cv2.rotate(frame, codes[self.rotation])
        return frame


def _default_backend(cv2: Any, camera: OpenCVCamera | None = None) -> int:
    if camera is not None and camera._is_file:
        return cv2.CAP_ANY
    if sys.platform.startswith("linux"):
        return cv2.CAP_V4L2
    if sys.platform == "darwin":
        return cv2.CAP_AVFOUNDATION
    if sys.platform == "win32":
        return cv2.CAP_MSMF
    return cv2.CAP_ANY


def _video_sort_key(path: str) -> tuple[int, str]:
    match = re.search(r"(\d+)$", path)
    return (int(match.group(1)) if match else sys.maxsize, path)


def find_cameras(
    devices: Sequence[int | str] | None = None,
    *,
    max_index: int = 10,
    capture_factory: Callable[[int | str, int], Any] | None = None,
) -> list[dict[str, Any]]:
    """The cameras OpenCV can open, with their default mode (LeRobot's report layout).

    Args:
        devices: Devices to probe; default ``/dev/video*`` on Linux, else indices
            ``0..max_index-1``.
        max_index: Indices probed when ``/dev/video*`` is not available.
        capture_factory: As in :class:`OpenCVCamera`.

    Returns:
        One dict per camera: ``name``, ``type`` ("OpenCV"), ``id`` (pass it to
        :class:`OpenCVCamera`), ``backend_api`` and ``default_stream_profile``
        (``format``, ``width``, ``height``, ``fps``).
    """
    cv2 = _import_cv2()
    if devices is None:
        if sys.platform.startswith("linux"):
            paths = sorted(glob.glob("/dev/video*"), key=_video_sort_key)
            devices = paths
        else:
            devices = list(range(max_index))
    factory = capture_factory or cv2.VideoCapture
    found = []
    for device in devices:
        if isinstance(device, str) and not os.path.exists(device):
            continue
        is_file = isinstance(device, str) and os.path.isfile(device)
        capture = factory(device, cv2.CAP_ANY if is_file else _default_backend(cv2))
        try:
            if not capture.isOpened():
                continue
            fourcc = int(capture.get(cv2.CAP_PROP_FOURCC))
            found.append(
                {
                    "name": f"OpenCV Camera @ {device}",
                    "type": "OpenCV",
                    "id": device,
                    "backend_api": capture.getBackendName(),
                    "default_stream_profile": {
                        "format": "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)),
                        "width": round(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                        "height": round(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                        "fps": float(capture.get(cv2.CAP_PROP_FPS)),
                    },
                }
            )
        finally:
            capture.release()
    return found
