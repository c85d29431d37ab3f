"""List OpenCV cameras with their default mode; optionally save one frame of each.

``lerobot-gym find-cameras [--output_dir=DIR]`` prints LeRobot's camera report (name, type, id,
backend and default stream profile, as ``lerobot-find-cameras`` prints it) from
:func:`lerobot_gym.hardware.cameras.find_cameras`. With ``--output_dir`` it opens each camera in
its default mode and writes one frame as ``DIR/opencv_<id>.png`` (LeRobot's file names: the id
with ``/`` replaced by ``_``), so the operator can tell which device looks where.

Design decisions:

* No camera is not an error (exit 0 with "no cameras found"): on a machine without cameras
  that is the correct answer, and scripts can test for it.
* A camera that is listed but fails to deliver a frame is reported and skipped; the others are
  still saved, and the exit code is 1 so a script notices.
* Frames are captured in BGR and written with ``cv2.imwrite``: OpenCV is already needed to find
  the cameras, so saving adds no dependency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lerobot_gym.cli.args import CommandParser, Flag, UsageError
from lerobot_gym.errors import CameraError

PARSER = CommandParser(
    prog="lerobot-gym find-cameras",
    description="""
        List the cameras OpenCV can open (on Linux the /dev/video* devices) with their default
        stream profile (format, width, height, fps). Pass the printed id as a camera device,
        e.g. --robot.cameras={front: /dev/video0}. With --output_dir, save one frame of each
        camera as a PNG to see which is which.
    """,
    flags=(
        Flag("output_dir", None, "save one PNG frame per camera here (null: list only)", str, True),
        Flag("warmup_s", 1.0, "seconds of frames discarded before saving (auto exposure)", float),
    ),
    examples=(
        "lerobot-gym find-cameras",
        "lerobot-gym find-cameras --output_dir=outputs/captured_images",
    ),
)


def run(argv: list[str]) -> int:
    """Parse the flags, list the cameras, save a frame of each if asked."""
    from lerobot_gym.hardware import cameras

    cfg = PARSER.parse(argv)
    if cfg["warmup_s"] < 0:
        raise UsageError(f"--warmup_s must be >= 0, got {cfg['warmup_s']}")
    found = cameras.find_cameras()
    if not found:
        print(
            "no cameras found (OpenCV could open none; check the cable, and on Linux that your "
            "user may read /dev/video*, e.g. is in the 'video' group)"
        )
        return 0
    print(format_report(found))
    if cfg["output_dir"] is None:
        return 0
    output_dir = Path(cfg["output_dir"])
    failures = 0
    for camera in found:
        try:
            path = save_frame(camera, output_dir, warmup_s=cfg["warmup_s"])
        except CameraError as exc:
            failures += 1
            print(f"could not save a frame of {camera['name']}: {exc}")
        else:
            print(f"saved {path}")
    return 1 if failures else 0


def format_report(found: list[dict[str, Any]]) -> str:
    """The camera list as LeRobot's ``lerobot-find-cameras`` prints it."""
    lines = ["--- Detected Cameras ---"]
    for i, camera in enumerate(found):
        lines.append(f"Camera #{i}:")
        for key, value in camera.items():
            label = key.replace("_", " ").capitalize()
            if isinstance(value, dict):
                lines.append(f"  {label}:")
                lines += [f"    {k.capitalize()}: {v}" for k, v in value.items()]
            else:
                lines.append(f"  {label}: {value}")
        lines.append("-" * 20)
    return "\n".join(lines)


def image_name(camera: dict[str, Any]) -> str:
    """LeRobot's file name for a camera's frame: ``opencv__dev_video0.png``.

    Example:
        >>> image_name({"type": "OpenCV", "id": "/dev/video0"})
        'opencv__dev_video0.png'
    """
    safe = str(camera["id"]).replace("/", "_").replace("\\", "_")
    return f"{str(camera['type']).lower()}_{safe}.png"


def save_frame(camera: dict[str, Any], output_dir: Path, *, warmup_s: float = 1.0) -> Path:
    """Open a listed camera in its default mode, grab one frame and write it as PNG.

    Raises:
        CameraError: the camera cannot be opened, delivers no frame, or the file cannot be
            written.
    """
    import cv2

    from lerobot_gym.hardware.cameras import OpenCVCamera

    device = OpenCVCamera(camera["id"], color="bgr", warmup_s=warmup_s, max_reconnect_attempts=0)
    device.connect()
    try:
        frame = device.async_read(timeout_s=2.0)
    finally:
        device.disconnect()
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / image_name(camera)
    if not cv2.imwrite(str(path), frame):
        raise CameraError(f"could not write {path}; check that the folder is writable")
    return path
