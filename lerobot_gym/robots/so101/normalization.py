"""SO-101 normalisation: raw Feetech ticks <-> the values LeRobot datasets and policies hold.

This module owns the per-motor conversions :func:`normalize` and :func:`unnormalize` in all
three of LeRobot's conventions (:class:`~lerobot_gym.robots.so101.motors.NormMode`), given a
calibration (``motor name -> MotorCalibration``, see
:mod:`lerobot_gym.robots.so101.calibration`, which owns the file format).

Source: ``shared/reference/lerobot-interfaces.md`` §2.4 (LeRobot's
``SerialMotorsBus._normalize`` / ``_unnormalize`` in ``motors/motors_bus.py``).

Design decisions:
    * Numbers follow LeRobot exactly, quirks included, so data recorded here and there agree:
      DEGREES divides by 4095 (not 4096), does not clip and ignores ``drive_mode``; the inverses
      truncate with ``int()``. A round trip is therefore exact to within one tick.
    * Both directions are vectorised over motors and over a batch (an array whose last axis
      follows the calibration's motor order), and also accept ``name -> value`` dicts, so the
      control loop converts a whole arm with one call.
    * This module depends on :mod:`~lerobot_gym.robots.so101.calibration` (for
      :class:`MotorCalibration`), never the reverse, so the two form no import circle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lerobot_gym.errors import CalibrationError, ConfigError
from lerobot_gym.hardware.bus import Motor, NormMode
from lerobot_gym.robots.so101.calibration import MotorCalibration
from lerobot_gym.robots.so101.motors import STS3215_MAX_TICK

__all__ = ["Modes", "normalize", "unnormalize"]

_MODE_CODES = {NormMode.DEGREES: 0, NormMode.RANGE_M100_100: 1, NormMode.RANGE_0_100: 2}
Modes = NormMode | str | Mapping[str, NormMode | str | Motor]
"""One norm mode for every motor, or ``motor name -> NormMode`` (a motor table works too)."""


def _as_mode(value: NormMode | str | Motor) -> NormMode:
    return value.norm_mode if isinstance(value, Motor) else NormMode(value)


def _per_motor(calibration: Mapping[str, MotorCalibration], names: Sequence[str], modes: Modes):
    unknown = [n for n in names if n not in calibration]
    if unknown:
        raise CalibrationError(
            f"no calibration for motor(s) {unknown}; the calibration covers {list(calibration)}."
        )
    cals = [calibration[n] for n in names]
    mins = np.array([c.range_min for c in cals], dtype=np.float64)
    maxs = np.array([c.range_max for c in cals], dtype=np.float64)
    if np.any(maxs <= mins):
        bad = [n for n, c in zip(names, cals) if c.range_max <= c.range_min]
        raise CalibrationError(
            f"range_min must be below range_max for {bad}; "
            "recalibrate with `lerobot-gym calibrate`."
        )
    inverted = np.array([bool(c.drive_mode) for c in cals])
    if isinstance(modes, Mapping):
        codes = [_MODE_CODES[_as_mode(modes[n])] for n in names]
    else:
        codes = [_MODE_CODES[_as_mode(modes)]] * len(names)
    return mins, maxs, inverted, np.array(codes)


def _split(values: Mapping[str, float] | Any, calibration: Mapping[str, MotorCalibration]):
    if isinstance(values, Mapping):
        names = list(values)
        return names, np.array([values[n] for n in names], dtype=np.float64), True
    array = np.asarray(values, dtype=np.float64)
    names = list(calibration)
    if array.ndim == 0 or array.shape[-1] != len(names):
        raise ConfigError(
            f"expected an array whose last axis has {len(names)} values ({names}), "
            f"got shape {array.shape}."
        )
    return names, array, False


def normalize(
    raw: Mapping[str, float] | Any, calibration: Mapping[str, MotorCalibration], modes: Modes
) -> dict[str, float] | np.ndarray:
    """Raw ticks -> LeRobot units, exactly as LeRobot's ``MotorsBus._normalize``.

    * DEGREES: ``(raw - (min+max)/2) * 360 / 4095`` (not clipped, ``drive_mode`` ignored).
    * RANGE_M100_100: ``clip(raw) -> (raw-min)/(max-min) * 200 - 100``, negated if drive_mode.
    * RANGE_0_100: ``clip(raw) -> (raw-min)/(max-min) * 100``, ``100 - x`` if drive_mode.

    Args:
        raw: ``name -> ticks`` for any subset of the calibrated motors, or an array whose last
            axis follows the calibration's motor order (batches allowed).
        calibration: ``name -> MotorCalibration``.
        modes: One mode for every motor, or ``name -> NormMode`` (a motor table works too).

    Returns:
        The same container kind as ``raw``: a dict of floats or a float64 array.

    Example:
        >>> from lerobot_gym.robots.so101.calibration import MotorCalibration
        >>> cal = {"elbow_flex": MotorCalibration(3, 0, 0, 1000, 3000)}
        >>> normalize({"elbow_flex": 2000}, cal, NormMode.DEGREES)
        {'elbow_flex': 0.0}
        >>> normalize([3000], cal, NormMode.RANGE_M100_100)
        array([100.])
    """
    names, x, as_dict = _split(raw, calibration)
    mins, maxs, inverted, codes = _per_motor(calibration, names, modes)
    span = maxs - mins
    frac = (np.clip(x, mins, maxs) - mins) / span
    degrees = (x - (mins + maxs) / 2) * 360.0 / STS3215_MAX_TICK
    m100 = frac * 200.0 - 100.0
    m100 = np.where(inverted, -m100, m100)
    r100 = frac * 100.0
    r100 = np.where(inverted, 100.0 - r100, r100)
    out = np.select([codes == 0, codes == 1], [degrees, m100], r100)
    return {n: float(v) for n, v in zip(names, out)} if as_dict else out


def unnormalize(
    values: Mapping[str, float] | Any, calibration: Mapping[str, MotorCalibration], modes: Modes
) -> dict[str, int] | np.ndarray:
    """LeRobot units -> raw ticks, exactly as LeRobot's ``MotorsBus._unnormalize``.

    * DEGREES: ``int(deg * 4095 / 360 + (min+max)/2)`` (no clipping).
    * RANGE_M100_100: negate if drive_mode, clip to ±100, then
      ``int((x+100)/200 * (max-min) + min)``.
    * RANGE_0_100: ``100 - x`` if drive_mode, clip to 0..100, then
      ``int(x/100 * (max-min) + min)``.

    ``int()`` truncates toward zero as in LeRobot, so ``unnormalize(normalize(raw))`` is within
    one tick of ``raw`` (inside the calibrated range).

    Args:
        values: ``name -> value`` or an array ordered like the calibration.
        calibration: ``name -> MotorCalibration``.
        modes: As in :func:`normalize`.

    Returns:
        A dict of ints or an int64 array, like ``values``.
    """
    names, x, as_dict = _split(values, calibration)
    if not np.all(np.isfinite(x)):
        raise ConfigError(f"cannot convert non-finite values to ticks: {values!r}.")
    mins, maxs, inverted, codes = _per_motor(calibration, names, modes)
    span = maxs - mins
    degrees = x * STS3215_MAX_TICK / 360.0 + (mins + maxs) / 2
    m100 = np.clip(np.where(inverted, -x, x), -100.0, 100.0)
    m100 = (m100 + 100.0) / 200.0 * span + mins
    r100 = np.clip(np.where(inverted, 100.0 - x, x), 0.0, 100.0)
    r100 = r100 / 100.0 * span + mins
    out = np.trunc(np.select([codes == 0, codes == 1], [degrees, m100], r100)).astype(np.int64)
    return {n: int(v) for n, v in zip(names, out)} if as_dict else out
