"""`lerobot-gym find-cameras`: the report, no cameras, and saving a frame of each camera."""

from __future__ import annotations

import types

import cv2
import numpy as np
import pytest

from lerobot_gym.cli.main import main
from lerobot_gym.hardware import cameras

H, W = 48, 64


@pytest.fixture
def video(tmp_path):
    """A short MJPG file: OpenCV opens it as a camera (left half gray 200, right half red)."""
    path = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (W, H))
    assert writer.isOpened()
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:, : W // 2] = 200
    frame[:, W // 2 :, 2] = 255  # BGR: red
    for _ in range(30):
        writer.write(frame)
    writer.release()
    return path


def test_no_cameras_is_reported_with_exit_0(monkeypatch, capsys):
    # The real finder, probing a machine whose /dev has no video devices.
    monkeypatch.setattr(cameras, "glob", types.SimpleNamespace(glob=lambda pattern: []))
    assert main(["find-cameras", "--output_dir=unused"]) == 0
    assert "no cameras found" in capsys.readouterr().out


def test_lists_cameras_and_saves_one_png_each(monkeypatch, capsys, tmp_path, video):
    # The real finder and camera, with the video file standing in for /dev/video0.
    real_find = cameras.find_cameras
    monkeypatch.setattr(cameras, "find_cameras", lambda: real_find([str(video)]))
    out_dir = tmp_path / "images"
    assert main(["find-cameras", f"--output_dir={out_dir}", "--warmup_s=0"]) == 0
    out = capsys.readouterr().out
    assert "--- Detected Cameras ---" in out and "Camera #0:" in out
    assert f"  Id: {video}" in out and "  Type: OpenCV" in out
    assert f"    Width: {W}" in out and f"    Height: {H}" in out and "    Fps: 30.0" in out
    expected = out_dir / ("opencv_" + str(video).replace("/", "_") + ".png")
    assert f"saved {expected}" in out
    image = cv2.imread(str(expected))
    assert image.shape == (H, W, 3)
    assert abs(int(image[H // 2, W // 4, 0]) - 200) < 12  # gray left half
    assert image[H // 2, 3 * W // 4, 2] > 230 and image[H // 2, 3 * W // 4, 0] < 25  # red


def test_list_only_opens_nothing(monkeypatch, capsys):
    listed = [
        {
            "name": "OpenCV Camera @ /dev/video4",
            "type": "OpenCV",
            "id": "/dev/video4",
            "backend_api": "V4L2",
            "default_stream_profile": {"format": "YUYV", "width": 640, "height": 480, "fps": 30.0},
        }
    ]
    monkeypatch.setattr(cameras, "find_cameras", lambda: listed)
    monkeypatch.setattr(cameras, "OpenCVCamera", None)  # opening one would fail loudly
    assert main(["find-cameras"]) == 0
    out = capsys.readouterr().out
    assert "  Backend api: V4L2" in out and "    Format: YUYV" in out and "saved" not in out


def test_a_camera_that_cannot_be_opened_is_reported_and_fails_the_run(
    monkeypatch, capsys, tmp_path, video
):
    gone = tmp_path / "unplugged.avi"
    listed = [
        {"name": "gone", "type": "OpenCV", "id": str(gone), "default_stream_profile": {}},
        {"name": "ok", "type": "OpenCV", "id": str(video), "default_stream_profile": {}},
    ]
    monkeypatch.setattr(cameras, "find_cameras", lambda: listed)
    assert main(["find-cameras", f"--output_dir={tmp_path / 'out'}", "--warmup_s=0"]) == 1
    out = capsys.readouterr().out
    assert "could not save a frame of gone" in out and "find-cameras" in out
    assert len(list((tmp_path / "out").glob("*.png"))) == 1
