"""SI radians <-> raw ticks of a calibrated SO-101 arm, and LeRobot's two unit conventions.

Owns :class:`TickConverter` (the per-arm unit chain the follower backend and the leader arm
use) and the conversions between LeRobot's -100..100 convention and degrees. The unit path,
every step and both directions::

    SI radians  <->  LeRobot units  <->  raw ticks
           spec.to_user / from_user    calibration normalize / unnormalize

LeRobot units are degrees for the arm joints (zero at mid-range) and 0..100 for the gripper
(``use_degrees=True``, LeRobot's default and the env boundary of the SO-101 spec). With
``use_degrees=False`` the arm joints pass through LeRobot's older -100..100 convention
(``RANGE_M100_100``) on the way to ticks; the env boundary stays in degrees either way.
Datasets recorded in -100..100 are replayed by converting their values with
:func:`m100_to_degrees` (and back with :func:`degrees_to_m100`), which need the arm's
calibration because the scale is the calibrated range::

    cal = load_calibration(calibration_path("follower", "my_arm"))
    actions_deg = m100_to_degrees(dataset_actions, cal)   # (N, 6) array, gripper unchanged

Pure numpy, no I/O. Sources: shared/reference/lerobot-interfaces.md §2.1 (SO-101 motors)
and §2.4 (normalisation modes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import ConfigError
from lerobot_gym.hardware.bus import NormMode
from lerobot_gym.robots.so101.calibration import MotorCalibration
from lerobot_gym.robots.so101.motors import STS3215_MAX_TICK, so101_motors
from lerobot_gym.robots.so101.normalization import normalize, unnormalize

__all__ = ["TickConverter", "degrees_to_m100", "m100_to_degrees"]


def _m100_scale(calibration: Mapping[str, MotorCalibration]) -> tuple[np.ndarray, np.ndarray]:
    """Degrees per -100..100 unit of each motor, and which motors use -100..100 at all."""
    m100_motors = so101_motors(use_degrees=False)
    names = list(calibration)
    scale = np.array(
        [
            (calibration[n].range_max - calibration[n].range_min)
            * 360.0
            / (200.0 * STS3215_MAX_TICK)
            * (-1.0 if calibration[n].drive_mode else 1.0)
            for n in names
        ]
    )
    is_arm = np.array(
        [n in m100_motors and m100_motors[n].norm_mode is NormMode.RANGE_M100_100 for n in names]
    )
    return scale, is_arm


def m100_to_degrees(values: Any, calibration: Mapping[str, MotorCalibration]) -> np.ndarray:
    """LeRobot -100..100 arm values -> LeRobot degrees, for replaying older SO-101 datasets.

    ``deg = x * (range_max - range_min) * 360 / (200 * 4095)`` (negated when ``drive_mode`` is
    1, which the -100..100 convention honours and the degrees one ignores); mid-range is 0 in
    both. The gripper is 0..100 in both conventions and passes through unchanged.

    Args:
        values: An array whose last axis follows the calibration's motor order (a batch of
            dataset rows works).
        calibration: The calibration of the arm the data was recorded on.

    Returns:
        A float64 array of the same shape, arm joints in degrees.
    """
    x = np.asarray(values, dtype=np.float64)
    scale, is_arm = _m100_scale(calibration)
    if x.ndim == 0 or x.shape[-1] != len(scale):
        raise ConfigError(f"expected {len(scale)} values per row, got shape {x.shape}")
    return np.where(is_arm, x * scale, x)


def degrees_to_m100(values: Any, calibration: Mapping[str, MotorCalibration]) -> np.ndarray:
    """Inverse of :func:`m100_to_degrees` (not clipped to ±100; LeRobot clips when writing)."""
    x = np.asarray(values, dtype=np.float64)
    scale, is_arm = _m100_scale(calibration)
    if x.ndim == 0 or x.shape[-1] != len(scale):
        raise ConfigError(f"expected {len(scale)} values per row, got shape {x.shape}")
    return np.where(is_arm, x / scale, x)


class TickConverter:
    """SI radians <-> raw ticks for one calibrated arm, through LeRobot's units.

    Args:
        robot: The spec; its joints' ``to_user``/``from_user`` give LeRobot degrees / 0..100.
        calibration: The arm's calibration, in the spec's joint order.
        use_degrees: Pass arm joints through degrees (True) or -100..100 (False).
    """

    def __init__(
        self,
        robot: RobotSpec,
        calibration: Mapping[str, MotorCalibration],
        use_degrees: bool = True,
    ) -> None:
        if list(calibration) != list(robot.joint_names):
            calibration = {name: calibration[name] for name in robot.joint_names}
        self.robot, self.calibration, self.use_degrees = robot, dict(calibration), use_degrees
        self.modes = {n: m.norm_mode for n, m in so101_motors(use_degrees=use_degrees).items()}
        self.range_min = np.array([c.range_min for c in self.calibration.values()])
        self.range_max = np.array([c.range_max for c in self.calibration.values()])
        # Radians per tick of each joint, through the whole chain (the gripper's percent scale
        # depends on its calibrated range), measured around mid-range.
        mid = (self.range_min + self.range_max) / 2
        self.rad_per_tick = (self.rad_from_ticks(mid + 1) - self.rad_from_ticks(mid - 1)) / 2

    def user_from_ticks(self, ticks: Any) -> np.ndarray:
        """Raw ticks -> the env boundary units (degrees, gripper 0..100)."""
        values = cast(
            np.ndarray,
            normalize(np.asarray(ticks, dtype=np.float64), self.calibration, self.modes),
        )
        return values if self.use_degrees else m100_to_degrees(values, self.calibration)

    def ticks_from_user(self, user: Any) -> np.ndarray:
        """Boundary units -> raw ticks, clamped into the calibrated range."""
        values = np.asarray(user, dtype=np.float64)
        if not self.use_degrees:
            values = degrees_to_m100(values, self.calibration)
        ticks = cast(np.ndarray, unnormalize(values, self.calibration, self.modes))
        return np.clip(ticks, self.range_min, self.range_max)

    def rad_from_ticks(self, ticks: Any) -> np.ndarray:
        """Raw ticks -> SI joint coordinates."""
        return self.robot.from_user(self.user_from_ticks(ticks))

    def ticks_from_rad(self, q_rad: Any) -> np.ndarray:
        """SI joint coordinates -> raw ticks, clamped into the calibrated range."""
        return self.ticks_from_user(self.robot.to_user(np.asarray(q_rad, dtype=np.float64)))
