"""Choose the crop of each camera on a dataset's frames and write it to the env config.

``lerobot-gym select-roi --dataset.root=DIR --config=hil.json`` (LeRobot's crop selection of
``gym_manipulator``) takes frame ``--frame`` of episode ``--episode`` of each camera and asks
for a region of interest ``(top, left, height, width)``, then writes them to the env config as
``image.crops`` (``--size=[64,64]`` sets ``image.size`` too) for ``ImageCropResize``.

Modes (``--mode``):

* ``flags``: the crops are given as ``--roi.<camera>=[top,left,height,width]``; nothing is
  asked. Chosen by ``auto`` whenever a ``--roi.*`` flag is given.
* ``window``: OpenCV's ``selectROI`` window (drag a box, Enter), when there is a display and an
  OpenCV build with a GUI. Chosen by ``auto`` then.
* ``terminal``: each frame is drawn in the terminal (24-bit colour, with pixel rulers) and the
  crop typed as ``top,left,height,width``; the crop is drawn again to confirm. Works over SSH.
  Chosen by ``auto`` on a terminal without a display.

``--save_frames=DIR`` writes the frames as PNG files (to look at elsewhere and pass the crops as
flags). Crops are checked against the frame size, and against the config's ``env.image_size``
when it has one (the env's images must be the frames the crops were chosen on).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.cli.args import REQUIRED, CommandParser, Flag, UsageError
from lerobot_gym.errors import ConfigError

MODES = ("auto", "flags", "window", "terminal")

PARSER = CommandParser(
    prog="lerobot-gym select-roi",
    description="""
        Choose a crop (top, left, height, width) for each camera on a recorded frame and write
        them to an env config (image.crops). In a window when there is a display, drawn in the
        terminal otherwise, or given as --roi.<camera>=[top,left,height,width].
    """,
    flags=(
        Flag("dataset.root", REQUIRED, "the dataset whose frames to show", str),
        Flag("config", None, "env config file to write image.crops into (created if absent)", str),
        Flag("episode", 0, "episode to take the frame from", int),
        Flag("frame", 0, "frame index within the episode", int),
        Flag("size", None, "also set image.size (height, width), e.g. [64,64]", Any, True),
        Flag("mode", "auto", "|".join(MODES), str),
        Flag("save_frames", None, "write the frames as PNG files into this folder", str),
        Flag("preview_width", 64, "terminal preview width, characters", int),
    ),
    open_groups={"roi": "a crop per camera, e.g. --roi.front=[40,60,160,160]"},
    examples=(
        "lerobot-gym select-roi --dataset.root=data/pick --config=hil_pick.json --size=[64,64]",
        "lerobot-gym select-roi --dataset.root=data/pick --config=hil_pick.json "
        "--roi.front=[40,60,160,160] --roi.wrist=[0,0,96,128]",
    ),
)


def run(argv: list[str]) -> int:
    """Parse the flags, choose the crops (asking on the terminal if needed), write them."""
    cfg = PARSER.parse(argv)
    crops = select_roi(cfg, ask=input, show=print)
    for cam, roi in crops.items():
        print(f"{cam}: top={roi[0]} left={roi[1]} height={roi[2]} width={roi[3]}")
    if cfg["config"]:
        print(f"wrote image.crops to {cfg['config']}")
    return 0


def select_roi(
    cfg: dict[str, Any],
    *,
    ask: Callable[[str], str],
    show: Callable[[str], None],
    interactive: bool | None = None,
) -> dict[str, tuple[int, int, int, int]]:
    """The crops the flags (or the operator) choose; written to ``--config`` when given.

    ``interactive``: whether a terminal is there to ask (default: stdin is a TTY).
    """
    from lerobot_gym.hil import update_hil_config
    from lerobot_gym.hil.config import read_config_file
    from lerobot_gym.hil.roi import check_roi, dataset_frames

    mode = cfg["mode"]
    if mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    root = Path(cfg["dataset"]["root"])
    if not root.exists():
        raise UsageError(f"--dataset.root={root} does not exist")
    frames = dataset_frames(root, cfg["episode"], cfg["frame"])
    if cfg["save_frames"]:
        _save_frames(frames, Path(cfg["save_frames"]), show)
    given = dict(cfg.get("roi") or {})
    unknown = sorted(set(given) - set(frames))
    if unknown:
        raise UsageError(f"--roi.{unknown[0]}: no such camera; the dataset's: {sorted(frames)}")
    if mode == "auto":
        if given or (cfg["save_frames"] and not cfg["config"]):
            mode = "flags"
        elif os.environ.get("DISPLAY") and _have_gui():
            mode = "window"
        else:
            mode = "terminal"
    if mode == "terminal" and not (sys.stdin.isatty() if interactive is None else interactive):
        raise UsageError(
            "no terminal to choose crops on: pass --roi.<camera>=[top,left,height,width] "
            "(--save_frames=DIR writes the frames to look at)"
        )
    crops: dict[str, tuple[int, int, int, int]] = {}
    for cam, image in frames.items():
        if mode == "flags":
            if cam in given:
                crops[cam] = _checked(given[cam], image.shape, cam)
        elif mode == "window":
            roi = _window_roi(cam, image)
            if roi is not None:
                crops[cam] = check_roi(roi, image.shape, cam)
        else:
            roi = _terminal_roi(cam, image, ask, show, cfg["preview_width"])
            if roi is not None:
                crops[cam] = roi
    if cfg["config"]:
        path = Path(cfg["config"])
        if path.exists():
            _check_env_size(read_config_file(path), frames, path)
        update_hil_config(path, "image.crops", {k: list(v) for k, v in crops.items()})
        if cfg["size"] is not None:
            size = cfg["size"]
            if not isinstance(size, list) or len(size) != 2:
                raise UsageError(f"--size must be [height,width], got {size!r}")
            update_hil_config(path, "image.size", [int(v) for v in size])
    return crops


def _checked(roi: Any, shape: tuple[int, ...], cam: str) -> tuple[int, int, int, int]:
    try:
        return _check(roi, shape, cam)
    except ConfigError as exc:
        raise UsageError(f"--roi.{cam}: {exc}") from None


def _check(roi: Any, shape: tuple[int, ...], cam: str) -> tuple[int, int, int, int]:
    from lerobot_gym.hil.roi import check_roi

    return check_roi(roi, shape, cam)


def _terminal_roi(
    cam: str,
    image: np.ndarray,
    ask: Callable[[str], str],
    show: Callable[[str], None],
    width: int,
) -> tuple[int, int, int, int] | None:
    """Ask until the operator gives a crop that fits and keeps it, or skips (Enter)."""
    from lerobot_gym.hil.roi import ansi_preview, parse_roi

    h, w = image.shape[:2]
    show(f"camera {cam!r} ({h}x{w}):")
    show(ansi_preview(image, width=width))
    while True:
        answer = ask(f"crop of {cam!r} as top,left,height,width (Enter: no crop): ")
        try:
            values = parse_roi(answer)
            if values is None:
                return None
            roi = _check(values, image.shape, cam)
        except ConfigError as exc:
            show(f"  {exc}")
            continue
        top, left, ch, cw = roi
        show(ansi_preview(image[top : top + ch, left : left + cw], width=min(width, cw)))
        if ask("keep this crop? [Y/n] ").strip().lower() in ("", "y", "yes"):
            return roi


def _have_gui() -> bool:
    try:
        import cv2

        return "NONE" not in _gui_line(cv2)  # headless builds report "GUI: NONE"
    except Exception:  # no OpenCV, or a build that cannot report
        return False


def _gui_line(cv2: Any) -> str:
    info = cv2.getBuildInformation()
    start = info.find("GUI:")
    return info[start : info.find("\n", start)] if start >= 0 else "NONE"


def _window_roi(cam: str, image: np.ndarray) -> tuple[int, int, int, int] | None:
    import cv2

    x, y, w, h = cv2.selectROI(f"select-roi: {cam}", image[..., ::-1], showCrosshair=True)
    cv2.destroyAllWindows()
    return None if w == 0 or h == 0 else (int(y), int(x), int(h), int(w))


def _save_frames(frames: dict[str, np.ndarray], folder: Path, show: Callable[[str], None]) -> None:
    from lerobot_gym.dataset.images import encode_png

    folder.mkdir(parents=True, exist_ok=True)
    for cam, image in frames.items():
        path = folder / f"{cam}.png"
        path.write_bytes(encode_png(image))
        show(f"saved {path} ({image.shape[0]}x{image.shape[1]})")


def _check_env_size(data: dict[str, Any], frames: dict[str, np.ndarray], path: Path) -> None:
    size = (data.get("env") or {}).get("image_size")
    if size is None:
        return
    for cam, image in frames.items():
        if tuple(image.shape[:2]) != tuple(size):
            raise ConfigError(
                f"camera {cam!r} frames are {image.shape[0]}x{image.shape[1]} but {path} makes "
                f"the env's images {size[0]}x{size[1]}: choose crops on a dataset recorded at "
                "that env.image_size"
            )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
