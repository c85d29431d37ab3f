"""Cameras without hardware: a video file stands in for the OpenCV device, injected capture
objects simulate failures, and SyntheticCamera is tested directly."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lerobot_gym.errors import CameraError, ConfigError
from lerobot_gym.hardware.cameras import OpenCVCamera, find_cameras
from lerobot_gym.hardware.synthetic_camera import SyntheticCamera

cv2 = pytest.importorskip("cv2")

W, H = 64, 48


def write_video(path: Path, n_frames: int, fps: float) -> Path:
    """Frame i: the left half is gray 4*i (the index), the right half pure red (channel order).

    Gray survives MJPG's chroma subsampling far better than a coloured index would.
    """
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    assert writer.isOpened()
    for i in range(n_frames):
        frame = np.zeros((H, W, 3), np.uint8)
        frame[:, : W // 2] = 4 * i
        frame[:, W // 2 :, 2] = 255
        writer.write(frame)
    writer.release()
    return path


def frame_index(frame: np.ndarray) -> int:
    return round(float(frame[8:-8, 4 : W // 2 - 8].mean()) / 4)


def red_channel(frame: np.ndarray) -> int:
    """Which channel carries the red half: 0 for RGB, 2 for BGR."""
    return int(np.argmax(frame[8:-8, W // 2 + 8 : -4].mean(axis=(0, 1))))


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("cam") / "clip.avi", n_frames=60, fps=30)


# ------------------------------------------------------------------------------ OpenCV, file


def test_file_device_delivers_rgb_frames_in_real_time(video: Path) -> None:
    with OpenCVCamera(video, W, H, 30, warmup_s=0) as cam:
        assert cam.is_connected and cam.frame_shape == (H, W, 3)
        frames = [cam.async_read(timeout_s=1.0) for _ in range(6)]
        t0 = time.monotonic()
        frames += [cam.async_read(timeout_s=1.0) for _ in range(6)]
        elapsed = time.monotonic() - t0
    assert not cam.is_connected
    assert frames[0].shape == (H, W, 3) and frames[0].dtype == np.uint8
    assert red_channel(frames[0]) == 0  # converted to RGB
    indices = [frame_index(f) for f in frames]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)  # always newer
    # 6 frames paced at 30 fps (~0.2 s), not decoded at once; the upper bound only says "paced,
    # not stalled" (a loaded machine may be slow; the rate itself is a benchmark's figure).
    assert 0.12 < elapsed < 2.0


def test_read_latest_skips_to_the_newest_frame(video: Path) -> None:
    with OpenCVCamera(video, W, H, 30, warmup_s=0) as cam:
        first, t_first = cam.read_latest()
        time.sleep(0.3)
        latest, t_latest = cam.read_latest(max_age_s=0.2)
        again, t_again = cam.read_latest()
    assert frame_index(latest) - frame_index(first) >= 6  # ~9 frames went by; none queued
    assert t_latest > t_first and t_latest <= time.monotonic()
    assert again is latest and t_again == t_latest  # no newer frame -> the same one


def test_bgr_and_rotation(video: Path) -> None:
    with OpenCVCamera(video, W, H, 30, color="bgr", rotation=90, warmup_s=0) as cam:
        frame, _ = cam.read_latest()
    assert frame.shape == (W, H, 3) == cam.frame_shape
    assert red_channel(np.rot90(frame, 1)) == 2  # red stays last in BGR
    assert frame[-1, :, 2].mean() > 200 and frame[0, :, 2].mean() < 50  # 90° clockwise


def test_nonexistent_device_names_it_and_suggests_find_cameras(tmp_path: Path) -> None:
    cam = OpenCVCamera(tmp_path / "video9", 640, 480, 30)
    with pytest.raises(CameraError, match=r"video9.*lerobot-gym find-cameras"):
        cam.connect()
    assert not cam.is_connected


def test_device_that_does_not_open(tmp_path: Path) -> None:
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video")
    with pytest.raises(CameraError, match=r"cannot open .*find-cameras"):
        OpenCVCamera(junk, warmup_s=0).connect()


@pytest.mark.parametrize(
    ("width", "height", "fps", "message"),
    [(128, 96, 30, "size 64x48 instead of 128x96"), (W, H, 60, "30 fps instead of 60")],
)
def test_requested_mode_is_checked(
    video: Path, width: int, height: int, fps: float, message: str
) -> None:
    with pytest.raises(CameraError, match=message):
        OpenCVCamera(video, width, height, fps, warmup_s=0).connect()


def test_device_defaults_are_adopted(video: Path) -> None:
    with OpenCVCamera(str(video), warmup_s=0.1) as cam:
        assert (cam.width, cam.height, cam.fps) == (W, H, 30)


def test_reads_before_connect_fail() -> None:
    cam = OpenCVCamera(0, 640, 480, 30)
    with pytest.raises(CameraError, match="not connected"):
        cam.read_latest()
    with pytest.raises(ConfigError):
        OpenCVCamera(0, color="hsv")
    with pytest.raises(ConfigError):
        OpenCVCamera(0, rotation=45)


# ------------------------------------------------------------------------------ reconnect


def test_file_that_ends_is_reopened(tmp_path: Path) -> None:
    short = write_video(tmp_path / "short.avi", n_frames=5, fps=50)
    with OpenCVCamera(short, W, H, 50, warmup_s=0, reconnect_backoff_s=0.01) as cam:
        seen = [frame_index(cam.async_read(timeout_s=1.0)) for _ in range(12)]
        assert cam.reconnect_count >= 1
    assert 0 in seen[1:]  # replay started over after the loss


def test_lost_device_raises_after_bounded_retries(tmp_path: Path) -> None:
    short = write_video(tmp_path / "gone.avi", n_frames=5, fps=50)
    cam = OpenCVCamera(short, W, H, 50, warmup_s=0, max_reconnect_attempts=2)
    cam.reconnect_backoff_s = 0.01
    with cam:
        short.unlink()  # the "cable is pulled": reopening can no longer succeed
        deadline = time.monotonic() + 3.0
        with pytest.raises(CameraError, match=r"lost and 2 reconnect attempts failed"):
            while time.monotonic() < deadline:
                cam.async_read(timeout_s=1.0)
        with pytest.raises(CameraError, match="lost"):
            cam.read_latest()
        assert not cam.is_connected


class FakeCapture:
    """A VideoCapture stand-in that delivers ``frames`` frames, then fails."""

    def __init__(self, frames: int, opened: bool = True) -> None:
        self.frames, self.opened, self.released = frames, opened, False

    def isOpened(self) -> bool:
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FRAME_WIDTH: W, cv2.CAP_PROP_FRAME_HEIGHT: H}.get(prop, 100.0)

    def read(self) -> tuple[bool, Any]:
        time.sleep(0.005)
        if self.frames <= 0:
            return False, None
        self.frames -= 1
        return True, np.zeros((H, W, 3), np.uint8)

    def release(self) -> None:
        self.released = True


def test_injected_failure_retries_with_backoff_then_raises() -> None:
    opened: list[FakeCapture] = []

    def factory(source: int | str, backend: int) -> FakeCapture:
        capture = FakeCapture(frames=3, opened=not opened)  # only the first open succeeds
        opened.append(capture)
        return capture

    cam = OpenCVCamera(4, W, H, 100, warmup_s=0, capture_factory=factory, max_reconnect_attempts=3)
    cam.reconnect_backoff_s = 0.02
    t0 = time.monotonic()
    cam.connect()
    with pytest.raises(CameraError, match=r"3 reconnect attempts failed .*cannot open"):
        while True:
            cam.async_read(timeout_s=2.0)
    assert time.monotonic() - t0 >= 0.02 + 0.04 + 0.08  # exponential backoff was waited
    assert len(opened) == 4 and all(c.released for c in opened)
    cam.disconnect()
    with pytest.raises(CameraError, match="not connected"):
        cam.read_latest()


def test_injected_transient_failure_recovers() -> None:
    def factory(source: int | str, backend: int) -> FakeCapture:
        return FakeCapture(frames=4)

    with OpenCVCamera(0, W, H, 100, warmup_s=0, capture_factory=factory) as cam:
        cam.reconnect_backoff_s = 0.01
        for _ in range(10):
            cam.async_read(timeout_s=1.0)
        assert cam.reconnect_count >= 2


class BlockingCapture(FakeCapture):
    """Delivers frames until ``block`` is set, then hangs in read() until ``unblock`` is set."""

    def __init__(self) -> None:
        super().__init__(frames=10**6)
        self.block, self.unblock = threading.Event(), threading.Event()
        self.reading = False
        self.released_while_reading = False

    def read(self) -> tuple[bool, Any]:
        self.reading = True
        if self.block.is_set():
            self.unblock.wait(10.0)
        result = super().read()
        self.reading = False
        return result

    def release(self) -> None:
        self.released_while_reading |= self.reading
        super().release()


def test_disconnect_never_releases_a_device_the_capture_thread_is_reading() -> None:
    captures: list[BlockingCapture] = []

    def factory(source: int | str, backend: int) -> BlockingCapture:
        captures.append(BlockingCapture())
        return captures[-1]

    cam = OpenCVCamera(0, W, H, 100, warmup_s=0, capture_factory=factory, join_timeout_s=0.1)
    cam.connect()
    first = captures[0]
    first.block.set()  # a USB hiccup: read() blocks past the join timeout
    time.sleep(0.05)
    t0 = time.monotonic()
    cam.disconnect()
    assert time.monotonic() - t0 < 1.0
    assert not first.released and not cam.is_connected
    with pytest.raises(CameraError, match="still blocked"):
        cam.connect()  # the stuck thread still owns the device
    first.unblock.set()  # the driver returns: the thread releases the device itself
    deadline = time.monotonic() + 2.0
    while not first.released and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.released and not first.released_while_reading
    cam.connect()  # the device can be opened again
    cam.async_read(timeout_s=1.0)
    cam.disconnect()
    assert captures[-1].released and not captures[-1].released_while_reading


# ------------------------------------------------------------------------------ synthetic


def test_synthetic_camera_paces_frames_and_renders_them() -> None:
    calls: list[int] = []

    def render(index: int, t_s: float) -> np.ndarray:
        calls.append(index)
        return np.full((24, 32, 3), index % 256, np.uint8)

    with SyntheticCamera(32, 24, fps=100, render=render) as cam:
        first = cam.async_read(timeout_s=1.0)
        t0 = time.monotonic()
        frames = [cam.async_read(timeout_s=1.0) for _ in range(10)]
        elapsed = time.monotonic() - t0
        latest, timestamp = cam.read_latest(max_age_s=0.1)
    values = [int(f[0, 0, 0]) for f in [first, *frames]]
    assert values == sorted(values) and len(set(values)) == 11
    assert 0.07 < elapsed < 2.0  # ~10 frames at 100 fps (the upper bound: not stalled)
    assert latest.shape == (24, 32, 3) and timestamp <= time.monotonic()
    assert calls[:3] == [0, 1, 2]


def test_synthetic_default_gradient_moves() -> None:
    with SyntheticCamera(16, 8, fps=200, rotation=270) as cam:
        a = cam.async_read()
        b = cam.async_read()
    assert a.shape == (16, 8, 3)
    assert not np.array_equal(a, b)


def test_synthetic_stale_frame_and_timeout() -> None:
    with SyntheticCamera(8, 8, fps=4) as cam:
        cam.async_read(timeout_s=1.0)
        with pytest.raises(CameraError, match="no new frame within 50 ms"):
            cam.async_read(timeout_s=0.05)
        time.sleep(0.12)
        with pytest.raises(CameraError, match="ms old"):
            cam.read_latest(max_age_s=0.1)


def test_synthetic_render_errors_reach_the_reader() -> None:
    with pytest.raises(CameraError, match="expected"):
        SyntheticCamera(8, 8, render=lambda i, t: np.zeros((4, 4, 3), np.uint8)).connect()

    def flaky(index: int, t_s: float) -> np.ndarray:
        if index >= 3:
            raise RuntimeError("sensor exploded")
        return np.zeros((8, 8, 3), np.uint8)

    with SyntheticCamera(8, 8, fps=100, render=flaky) as cam:
        with pytest.raises(CameraError, match="sensor exploded"):
            for _ in range(10):
                cam.async_read(timeout_s=1.0)


def test_find_cameras_reports_openable_devices(video: Path, tmp_path: Path) -> None:
    found = find_cameras([str(video), str(tmp_path / "missing")])
    assert len(found) == 1
    camera = found[0]
    assert camera["id"] == str(video) and camera["type"] == "OpenCV"
    assert camera["default_stream_profile"]["width"] == W
    assert camera["default_stream_profile"]["height"] == H
    assert camera["default_stream_profile"]["fps"] == 30.0
    assert camera["default_stream_profile"]["format"] == "MJPG"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="probes /dev/video*")
def test_find_cameras_default_probe_matches_dev_video() -> None:
    import glob

    found = find_cameras()
    assert {c["id"] for c in found} <= set(glob.glob("/dev/video*"))
