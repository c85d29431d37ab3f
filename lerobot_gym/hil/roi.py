"""Regions of interest for ``ImageCropResize``: a dataset's frames, checks, terminal previews.

``lerobot-gym select-roi`` shows a recorded frame of each camera and asks for a crop
``(top, left, height, width)``; this module holds what it needs that is not I/O with the user:
reading the frames (:func:`dataset_frames`), checking a crop against an image
(:func:`check_roi`), reading a typed answer (:func:`parse_roi`) and drawing an image on a
terminal (:func:`ansi_preview`), so choosing crops works over SSH without a display.

Decision: the terminal preview uses 24-bit colour and the upper-half-block character, two image
rows per text row, with a ruler every ``tick`` pixels: a coarse picture, enough to read off the
coordinates of a region of interest, which the cropped preview then confirms.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerobot_gym.errors import ConfigError

__all__ = ["ansi_preview", "check_roi", "dataset_frames", "parse_roi"]

IMAGE_PREFIX = "observation.images."


def dataset_frames(root: str | Path, episode: int = 0, frame: int = 0) -> dict[str, np.ndarray]:
    """Camera name -> frame ``frame`` of episode ``episode`` (HxWx3 uint8).

    Raises:
        ConfigError: no cameras, or the episode/frame does not exist.
    """
    from lerobot_gym.dataset import LeRobotDataset
    from lerobot_gym.dataset.v21 import load_meta

    features = load_meta(Path(root)).features
    keys = [k for k in features if k.startswith(IMAGE_PREFIX)]
    if not keys:
        raise ConfigError(f"the dataset at {root} has no cameras (observation.images.*)")
    ds = LeRobotDataset(root, episodes=[episode], features=keys, format="numpy")
    try:
        if not 0 <= frame < len(ds):
            raise ConfigError(
                f"--frame={frame} is not in episode {episode}, which has {len(ds)} frames"
            )
        item = ds[frame]
        out = {}
        for key in keys:
            img = np.asarray(item[key])
            if img.ndim == 3 and img.shape[0] == 3 and img.shape[-1] != 3:
                img = img.transpose(1, 2, 0)
            if img.dtype != np.uint8:
                img = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
            out[key.removeprefix(IMAGE_PREFIX)] = np.ascontiguousarray(img)
        return out
    finally:
        ds.close()


def check_roi(roi: object, shape: tuple[int, ...], camera: str) -> tuple[int, int, int, int]:
    """``roi`` as ``(top, left, height, width)`` ints inside an image of ``shape``.

    Raises:
        ConfigError: not four whole numbers, or a region that does not fit the image.

    Example:
        >>> check_roi([10, 20, 30, 40], (96, 128, 3), "front")
        (10, 20, 30, 40)
    """
    values = list(roi) if isinstance(roi, (list, tuple)) else []
    if len(values) != 4 or not all(isinstance(v, (int, np.integer)) for v in values):
        raise ConfigError(
            f"the crop of camera {camera!r} must be four whole numbers [top, left, height, "
            f"width], got {roi!r}"
        )
    top, left, h, w = (int(v) for v in values)
    height, width = shape[:2]
    if top < 0 or left < 0 or h < 1 or w < 1 or top + h > height or left + w > width:
        raise ConfigError(
            f"the crop {(top, left, h, w)} (top, left, height, width) of camera {camera!r} "
            f"does not fit its {height}x{width} image"
        )
    return top, left, h, w


def parse_roi(text: str) -> list[int] | None:
    """An answer ``"top,left,height,width"`` (spaces or brackets allowed); None for empty.

    Raises:
        ConfigError: anything but four integers.

    Example:
        >>> parse_roi("[4, 8, 32, 32]"), parse_roi("  ")
        ([4, 8, 32, 32], None)
    """
    cleaned = text.strip().strip("[]()")
    if not cleaned:
        return None
    parts = [p for p in cleaned.replace(",", " ").split() if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []

    if len(values) != 4:
        raise ConfigError(f"expected four whole numbers top,left,height,width; got {text!r}")
    return values


def ansi_preview(image: np.ndarray, width: int = 64, tick: int = 16) -> str:
    """``image`` drawn with 24-bit colour half blocks, ``width`` characters wide, with rulers.

    The top ruler marks columns and the left one rows, every ``tick`` image pixels, in image
    pixel coordinates.
    """
    img = np.asarray(image)
    h, w = img.shape[:2]
    cols = max(1, min(width, w))
    scale = w / cols
    rows = max(1, round(h / scale / 2))  # two image rows per text row
    xs = np.minimum((np.arange(cols) * scale + scale / 2).astype(int), w - 1)
    ys = np.minimum((np.arange(rows * 2) * (h / (rows * 2)) + h / (rows * 4)).astype(int), h - 1)
    small = img[ys][:, xs]
    ruler = [" "] * cols
    for x in range(0, w, tick):
        label = str(x)
        col = int(x / scale)
        for i, ch in enumerate(label):
            if col + i < cols:
                ruler[col + i] = ch
    lines = ["      " + "".join(ruler)]
    for r in range(rows):
        top_px, bottom_px = small[2 * r], small[2 * r + 1]
        y = int(ys[2 * r])
        label = f"{y:>5} " if r == 0 or (y // tick) != (int(ys[2 * r - 2]) // tick) else "      "
        cells = [
            f"\x1b[38;2;{a[0]};{a[1]};{a[2]}m\x1b[48;2;{b[0]};{b[1]};{b[2]}m\u2580"
            for a, b in zip(top_px, bottom_px)
        ]
        lines.append(label + "".join(cells) + "\x1b[0m")
    return "\n".join(lines)
