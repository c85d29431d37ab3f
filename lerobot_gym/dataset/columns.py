"""Turning frames given to ``add_frame`` into typed arrays, and episodes into Arrow columns.

The checks here are LeRobot's ``validate_frame`` rules (reference
``shared/reference/lerobot-dataset-v3.md`` section 8), slightly more lenient: numeric
values are cast to the declared dtype when their shape matches, a scalar is accepted for a
``(1,)`` feature, and camera frames may be HWC or CHW, uint8 or float in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from lerobot_gym.dataset import layout
from lerobot_gym.dataset.images import encode_png
from lerobot_gym.errors import ConfigError


def convert_value(key: str, ft: Mapping[str, Any], value: Any, *, copy_images: bool = True) -> Any:
    """Check one frame value against its feature and return it in the stored form.

    ``copy_images=False`` skips the private copy of a camera frame that is already HWC uint8,
    for callers that hand over frames nobody else will write to.

    Raises:
        ConfigError: the shape does not match the feature.
    """
    dtype = ft["dtype"]
    if dtype in ("video", "image"):
        return to_hwc_uint8(key, value, layout.hwc_shape(ft), copy=copy_images)
    if dtype in ("string", "language"):
        return str(value)
    if hasattr(value, "detach"):  # a torch tensor; recognised without importing torch
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    shape = tuple(ft["shape"])
    if arr.shape != shape and not (shape == (1,) and arr.ndim == 0):
        raise ConfigError(f"{key!r} has shape {arr.shape}, the feature declares {shape}")
    return arr.astype(dtype, copy=False).reshape(shape)


def arrow_column(ft: Mapping[str, Any], values: Any) -> pa.Array:
    """One data-parquet column from an episode's values (reference section 3)."""
    if ft["dtype"] == "image":
        return pa.array(
            [{"bytes": encode_png(img), "path": None} for img in values],
            type=layout.arrow_type(ft),
        )
    if ft["dtype"] in ("string", "language"):
        return pa.array(values, type=pa.string())
    arr = np.asarray(values)
    if list(ft["shape"]) == [1]:
        return pa.array(arr.reshape(-1))
    return pa.FixedSizeListArray.from_arrays(pa.array(arr.reshape(-1)), ft["shape"][0])


def to_hwc_uint8(
    key: str, value: Any, hwc: tuple[int, int, int], *, copy: bool = True
) -> np.ndarray:
    """A private (H, W, 3) uint8 copy of a camera frame given as HWC/CHW, uint8/float.

    With ``copy=False`` a frame that is already C-contiguous HWC uint8 is returned as it is.
    """
    if hasattr(value, "detach"):  # a torch tensor; no torch import needed to recognise it
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    h, w, c = hwc
    if arr.shape == (c, h, w) and arr.shape != (h, w, c):
        arr = arr.transpose(1, 2, 0)
    if arr.shape != (h, w, c):
        raise ConfigError(f"camera {key!r} frame has shape {arr.shape}, expected {(h, w, c)}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            arr = np.clip(np.rint(arr * 255.0), 0, 255)
        arr = arr.astype(np.uint8)
        return np.ascontiguousarray(arr)
    if not copy:
        return np.ascontiguousarray(arr)
    return np.array(arr, dtype=np.uint8, order="C", copy=True)  # the caller may reuse its buffer
