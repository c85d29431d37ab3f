"""The capture thread every camera shares: latest frame, timestamps, bounded reconnect.

:class:`ThreadedCamera` grabs frames on a background thread as they arrive and keeps only the
latest, so a control loop reading at its own rate never blocks on the device and never sees
stale buffered frames. ``read_latest()`` returns that frame at once; ``async_read()`` waits for a
frame newer than the last one returned (LeRobot's semantics, ``lerobot-interfaces.md`` §2.6).
Subclasses implement opening, grabbing and closing a device: :class:`~lerobot_gym.hardware.
cameras.OpenCVCamera` for USB/V4L2 devices, :class:`~lerobot_gym.hardware.synthetic_camera.
SyntheticCamera` for tests and benchmarks. The design decisions are in
:mod:`lerobot_gym.hardware.cameras`.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from lerobot_gym.errors import CameraError, ConfigError

__all__ = ["ThreadedCamera"]

logger = logging.getLogger(__name__)

_ROTATIONS = {0: 0, 90: -1, 180: 2, 270: 1, -90: 1}  # degrees clockwise -> np.rot90 k


class ThreadedCamera:
    """Base class: latest-frame capture on a background thread, with reconnects.

    Subclasses implement ``_open()``, ``_grab()`` (block until the next frame; return None
    when the device failed) and ``_close()``, and may set ``_native_color``.

    Args:
        name: Shown in errors.
        width: Frame width before rotation, or None to take the device's.
        height: Frame height before rotation, or None to take the device's.
        fps: Frame rate, or None to take the device's.
        color: "rgb" or "bgr" channel order of returned frames.
        rotation: Clockwise rotation applied to frames: 0, 90, 180, 270 (or -90).
        warmup_s: Frames are grabbed and discarded for this long at connect (auto exposure).
        max_reconnect_attempts: Reopen attempts after the device stops delivering.
        reconnect_backoff_s: Wait before the first reopen; doubled after each failure.
        join_timeout_s: How long ``disconnect()`` waits for the capture thread to stop.
    """

    _native_color = "rgb"

    def __init__(
        self,
        name: str,
        width: int | None,
        height: int | None,
        fps: float | None,
        *,
        color: str = "rgb",
        rotation: int = 0,
        warmup_s: float = 0.0,
        max_reconnect_attempts: int = 3,
        reconnect_backoff_s: float = 0.1,
        join_timeout_s: float = 5.0,
    ) -> None:
        if color not in ("rgb", "bgr"):
            raise ConfigError(f"color must be 'rgb' or 'bgr', got {color!r}.")
        if rotation not in _ROTATIONS:
            raise ConfigError(f"rotation must be one of 0, 90, 180, 270, -90; got {rotation!r}.")
        for label, value in (("width", width), ("height", height), ("fps", fps)):
            if value is not None and not value > 0:
                raise ConfigError(f"{label} must be positive or None, got {value!r}.")
        self.name = name
        self.width, self.height, self.fps = width, height, fps
        self.color, self.rotation = color, rotation
        self.warmup_s = warmup_s
        self.max_reconnect_attempts = max_reconnect_attempts
        self.reconnect_backoff_s = reconnect_backoff_s
        self.join_timeout_s = join_timeout_s
        self.reconnect_count = 0
        """How many times the device was reopened after a loss (for diagnostics)."""
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._timestamp = 0.0
        self._seq = 0
        self._last_returned_seq = 0
        self._error: CameraError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- subclass hooks --------------------------------------------------------------------
    def _open(self) -> None:
        raise NotImplementedError

    def _grab(self) -> np.ndarray | None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _process(self, frame: np.ndarray) -> np.ndarray:
        """Colour order and rotation (numpy; subclasses may use faster kernels)."""
        if self.color != self._native_color:
            frame = frame[..., ::-1]
        k = _ROTATIONS[self.rotation]
        if k:
            frame = np.rot90(frame, k)
        return np.ascontiguousarray(frame)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        """True while the capture thread runs and has not been asked to stop."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop.is_set()

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """Shape of returned frames (after rotation); known once connected or fully configured."""
        if self.width is None or self.height is None:
            raise CameraError(f"{self.name}: frame size unknown until connect().")
        if self.rotation in (90, 270, -90):
            return (self.width, self.height, 3)
        return (self.height, self.width, 3)

    def connect(self) -> None:
        """Open the device, warm it up, and start the capture thread (no-op if connected).

        Raises:
            CameraError: The device cannot be opened, refuses the requested mode, or
                delivers no frame.
        """
        if self.is_connected:
            return
        if self._thread is not None:  # a previous capture thread still holds the device
            self._thread.join(timeout=self.join_timeout_s)
            if self._thread.is_alive():
                raise CameraError(
                    f"{self.name}: the previous capture thread is still blocked in the driver; "
                    "unplug and replug the camera, or try again in a few seconds."
                )
            self._thread = None
        self._open()
        first = None
        deadline = time.monotonic() + self.warmup_s
        while True:  # at least one frame, then keep discarding until the warm-up ends
            frame = self._grab()
            if frame is None:
                self._close()
                raise CameraError(
                    f"{self.name} opened but delivered no frame; check that no other program "
                    "uses it, or pick another device with `lerobot-gym find-cameras`."
                )
            first = frame
            if time.monotonic() >= deadline:
                break
        self._stop.clear()
        self._error = None
        self._publish(first)
        self._thread = threading.Thread(target=self._run, name=f"camera:{self.name}", daemon=True)
        self._thread.start()

    def disconnect(self) -> None:
        """Stop the capture thread and release the device (idempotent).

        The thread releases the device as it ends. If it does not end within
        ``join_timeout_s`` (blocked in the driver), it keeps the device and releases it when
        the driver returns; a warning is logged.
        """
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.join_timeout_s)
            if thread.is_alive():
                logger.warning(
                    "%s: the capture thread did not stop within %.1f s (blocked in the driver); "
                    "it will release the device when the driver returns",
                    self.name,
                    self.join_timeout_s,
                )
                self._error = None
                return  # keep self._thread: connect() must wait for it
            self._thread = None
            self._close()  # already closed by the thread; harmless, and covers a subclass
        self._error = None

    def __enter__(self) -> ThreadedCamera:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    def __del__(self) -> None:
        if getattr(self, "_thread", None) is not None:
            self._stop.set()

    # -- capture thread ----------------------------------------------------------------------
    def _publish(self, frame: np.ndarray) -> None:
        processed = self._process(frame)
        with self._cond:
            self._frame = processed
            self._timestamp = time.monotonic()
            self._seq += 1
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self._grab()
                if frame is not None:
                    self._publish(frame)
                elif not self._stop.is_set() and not self._reconnect():
                    return
        except Exception as exc:  # surface any capture bug to readers instead of dying quietly
            error = exc if isinstance(exc, CameraError) else None
            with self._cond:
                self._error = error or CameraError(f"{self.name}: capture failed: {exc!r}")
                self._cond.notify_all()
        finally:
            self._close()  # this thread owns the device once started

    def _reconnect(self) -> bool:
        last_error = "it stopped delivering frames"
        for attempt in range(self.max_reconnect_attempts):
            self._close()
            if self._stop.wait(self.reconnect_backoff_s * 2**attempt):
                return False
            try:
                self._open()
            except CameraError as exc:
                last_error = str(exc)
                continue
            frame = self._grab()
            if frame is not None:
                self.reconnect_count += 1
                self._publish(frame)
                return True
        self._close()
        with self._cond:
            self._error = CameraError(
                f"{self.name} was lost and {self.max_reconnect_attempts} reconnect attempts "
                f"failed (last: {last_error}); check the cable and run `lerobot-gym "
                "find-cameras`."
            )
            self._cond.notify_all()
        return False

    # -- reading -----------------------------------------------------------------------------
    def _check_readable(self) -> None:
        if self._error is not None:
            raise self._error
        if self._thread is None or self._stop.is_set():
            raise CameraError(f"{self.name} is not connected; call connect() first.")

    def read_latest(self, max_age_s: float | None = None) -> tuple[np.ndarray, float]:
        """The most recent frame and its ``time.monotonic()`` capture time, without waiting.

        Args:
            max_age_s: Raise if the latest frame is older than this (a stalled camera).

        Raises:
            CameraError: Not connected, lost for good, or the frame is too old.
        """
        with self._cond:
            self._check_readable()
            assert self._frame is not None  # connect() publishes a frame before starting
            frame, timestamp = self._frame, self._timestamp
            self._last_returned_seq = self._seq
        if max_age_s is not None:
            age = time.monotonic() - timestamp
            if age > max_age_s:
                raise CameraError(
                    f"{self.name}: the latest frame is {age * 1e3:.0f} ms old (limit "
                    f"{max_age_s * 1e3:.0f} ms); the camera has stalled or is slower than asked."
                )
        return frame, timestamp

    def async_read(self, timeout_s: float = 1.0) -> np.ndarray:
        """Wait for a frame newer than the last one returned, and return it.

        Raises:
            CameraError: Not connected, lost for good, or no new frame within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                self._check_readable()
                if self._seq > self._last_returned_seq:
                    self._last_returned_seq = self._seq
                    assert self._frame is not None
                    return self._frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CameraError(
                        f"{self.name}: no new frame within {timeout_s * 1e3:.0f} ms "
                        f"(expected one every {1e3 / (self.fps or 1):.0f} ms)."
                    )
                self._cond.wait(remaining)
