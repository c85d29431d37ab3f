"""Every unit conversion at the env boundary lives here.

Inside lerobot_gym everything is SI: joint angles in radians, gripper openings as the gripper
joint's own coordinate (radians for the SO-101 jaw, metres for a slide finger). At the env boundary
values are in the units of the community's LeRobot datasets for that robot:

- ``"deg"``: arm joints in degrees, zero at mid-range (LeRobot ``use_degrees=True``, SO-101).
- ``"rad"``: radians unchanged (ALOHA arm joints, as in the gym-aloha / ACT datasets).
- ``"percent"``: a gripper normalised 0 (closed) .. 100 (open) over its joint range (SO-101,
  LeRobot ``RANGE_0_100``).
- ``"fraction"``: a gripper normalised 0 (closed) .. 1 (open) over its joint range (ALOHA).

The normalised grippers map *linearly* from ``closed_rad`` to ``open_rad``; which end of the joint
range is closed is part of the joint's spec, so a gripper whose joint closes at its upper limit
works the same way.

Example:
    >>> import numpy as np
    >>> to_user(np.pi / 2, "deg")
    90.0
    >>> to_user(0.0, "percent", closed=-0.5, opened=1.5)
    25.0
    >>> from_user(25.0, "percent", closed=-0.5, opened=1.5)
    0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

import numpy as np

Unit = Literal["deg", "rad", "percent", "fraction"]
UNITS: tuple[Unit, ...] = ("deg", "rad", "percent", "fraction")

# Full scale of each normalised gripper unit.
_GRIPPER_SCALE = {"percent": 100.0, "fraction": 1.0}


@overload
def to_user(value_rad: float, unit: Unit, *, closed: float = ..., opened: float = ...) -> float: ...
@overload
def to_user(
    value_rad: np.ndarray | Sequence[float], unit: Unit, *, closed: float = ..., opened: float = ...
) -> np.ndarray: ...
def to_user(
    value_rad: float | np.ndarray | Sequence[float],
    unit: Unit,
    *,
    closed: float = 0.0,
    opened: float = 1.0,
) -> float | np.ndarray:
    """Convert an SI joint value to the user-facing unit.

    Args:
        value_rad: joint coordinate(s) in SI (radians for hinges, metres for slides).
        unit: the unit at the env boundary.
        closed: joint coordinate of a fully closed gripper (normalised units only).
        opened: joint coordinate of a fully open gripper (normalised units only).

    Returns:
        The value(s) in ``unit``; a Python float for scalar input.
    """
    value = np.asarray(value_rad, dtype=np.float64)
    if unit == "deg":
        out = np.rad2deg(value)
    elif unit == "rad":
        out = value
    elif unit in _GRIPPER_SCALE:
        out = (value - closed) / (opened - closed) * _GRIPPER_SCALE[unit]
    else:
        raise ValueError(f"unknown unit {unit!r}; expected one of {UNITS}")
    return float(out) if out.ndim == 0 else out


@overload
def from_user(value: float, unit: Unit, *, closed: float = ..., opened: float = ...) -> float: ...
@overload
def from_user(
    value: np.ndarray | Sequence[float], unit: Unit, *, closed: float = ..., opened: float = ...
) -> np.ndarray: ...
def from_user(
    value: float | np.ndarray | Sequence[float],
    unit: Unit,
    *,
    closed: float = 0.0,
    opened: float = 1.0,
) -> float | np.ndarray:
    """Inverse of :func:`to_user`: a user-facing value back to SI."""
    value = np.asarray(value, dtype=np.float64)
    if unit == "deg":
        out = np.deg2rad(value)
    elif unit == "rad":
        out = value
    elif unit in _GRIPPER_SCALE:
        out = closed + value / _GRIPPER_SCALE[unit] * (opened - closed)
    else:
        raise ValueError(f"unknown unit {unit!r}; expected one of {UNITS}")
    return float(out) if out.ndim == 0 else out
