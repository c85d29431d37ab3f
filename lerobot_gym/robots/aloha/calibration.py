"""ALOHA calibration: LeRobot's JSON files per arm, and ticks <-> SI units for all 14 joints.

Owns where an ALOHA arm's calibration lives (LeRobot's location for the robot and teleoperator
types ``aloha_follower`` / ``aloha_leader``: ``<root>/robots/aloha_follower/<id>_<arm>.json`` and
``<root>/teleoperators/aloha_leader/<id>_<arm>.json``), the converter the servo-arm backend uses
(:class:`AlohaTickConverter`) and the calibration an emulated arm ships with
(:func:`factory_calibration`).

Design decisions:
    * The file format, validation and atomic save are the SO-101's
      (:mod:`lerobot_gym.robots.so101.calibration`: LeRobot's ``MotorCalibration`` fields, ranges
      within one turn, ``|homing_offset| <= 2047``, which LeRobot's Dynamixel half-turn homing
      ``2047 - pos`` satisfies). Motor names in a file are the arm's own (``waist`` ..
      ``gripper``, as LeRobot's ALOHA motor map), the robot prefixes them with ``left_`` /
      ``right_``.
    * Arm joints follow Interbotix's convention, ``rad = (present - 2048) * 2 pi / 4096`` after
      the homing offset (drive mode is applied by the firmware); the gripper maps
      ``range_min .. range_max`` linearly onto the finger's ``CLOSE .. OPEN`` metres (module
      docstring of :mod:`lerobot_gym.robots.aloha.motors`). Commands are clamped into the
      calibrated range.

Sources: shared/reference/servo-protocols.md §3.2-3.3, lerobot-interfaces.md §2.3 (JSON).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.assets.aloha import ARMS, GRIPPER_POSITION_CLOSE, GRIPPER_POSITION_OPEN
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import ConfigError
from lerobot_gym.robots.aloha.motors import KINDS, arm_motors
from lerobot_gym.robots.so101.calibration import (
    MotorCalibration,
    calibration_root,
    load_calibration,
    save_calibration,
)

__all__ = [
    "AlohaTickConverter",
    "aloha_calibrate_command",
    "aloha_calibration_path",
    "load_arm_calibration",
    "save_arm_calibration",
]

TICKS_PER_RAD = 4096 / (2 * math.pi)
_DIRS = {"follower": ("robots", "aloha_follower"), "leader": ("teleoperators", "aloha_leader")}


def aloha_calibration_path(
    kind: str, robot_id: str, arm: str, calibration_dir: str | Path | None = None
) -> Path:
    """``<root>/robots/aloha_follower/<robot_id>_<arm>.json`` (or the leader's folder)."""
    if kind not in KINDS or arm not in ARMS:
        raise ConfigError(f"an ALOHA arm is {KINDS} x {ARMS}, got {kind!r} {arm!r}")
    if not robot_id or "/" in robot_id or "\\" in robot_id:
        raise ConfigError(f"robot id {robot_id!r} must be a plain name such as 'aloha'")
    folder = Path(calibration_dir) if calibration_dir is not None else None
    if folder is None:
        folder = calibration_root().joinpath(*_DIRS[kind])
    return folder / f"{robot_id}_{arm}.json"


def aloha_calibrate_command(kind: str, robot_id: str, calibration_dir: Any = None) -> str:
    """The command that (re)creates the calibration files of one kind of ALOHA arm."""
    flag = "robot" if kind == "follower" else "teleop"
    command = f"lerobot-gym calibrate --{flag}.type=aloha_{kind} --{flag}.id={robot_id}"
    if calibration_dir is not None:
        command += f" --{flag}.calibration_dir={calibration_dir}"
    return f"`{command}`"


def _unprefixed(kind: str, arm: str) -> dict[str, Any]:
    return {name.removeprefix(f"{arm}_"): m for name, m in arm_motors(kind, arm).items()}


def load_arm_calibration(
    kind: str, robot_id: str, arm: str, calibration_dir: str | Path | None = None
) -> dict[str, MotorCalibration]:
    """One arm's calibration, keyed by the robot's motor names (``left_waist`` ...).

    Raises:
        CalibrationError: Missing or corrupt file; names the ``lerobot-gym calibrate`` command.
    """
    path = aloha_calibration_path(kind, robot_id, arm, calibration_dir)
    fix = aloha_calibrate_command(kind, robot_id, calibration_dir)
    calibration = load_calibration(path, _unprefixed(kind, arm), fix=fix)
    return {f"{arm}_{name}": cal for name, cal in calibration.items()}


def save_arm_calibration(
    kind: str,
    robot_id: str,
    arm: str,
    calibration: Mapping[str, MotorCalibration],
    calibration_dir: str | Path | None = None,
) -> Path:
    """Write one arm's calibration (robot motor names in, the arm's own names in the file)."""
    path = aloha_calibration_path(kind, robot_id, arm, calibration_dir)
    own = {name.removeprefix(f"{arm}_"): cal for name, cal in calibration.items()}
    return save_calibration(path, own, _unprefixed(kind, arm))


class AlohaTickConverter:
    """SI joint coordinates <-> raw ticks of all the robot's joints through a calibration.

    Args:
        robot: The ALOHA spec (joint order).
        calibration: Motor name (= joint name) -> :class:`MotorCalibration`, all joints.
    """

    def __init__(self, robot: RobotSpec, calibration: Mapping[str, MotorCalibration]) -> None:
        names = list(robot.joint_names)
        missing = [n for n in names if n not in calibration]
        if missing:
            raise ConfigError(f"the calibration has no entry for {missing}")
        self.calibration = {n: calibration[n] for n in names}
        self.range_min = np.array([calibration[n].range_min for n in names], float)
        self.range_max = np.array([calibration[n].range_max for n in names], float)
        gripper = np.array([j.is_gripper for j in robot.joints])
        span = GRIPPER_POSITION_OPEN - GRIPPER_POSITION_CLOSE
        # SI = offset + scale * ticks
        self.scale = np.where(
            gripper, span / (self.range_max - self.range_min), 1.0 / TICKS_PER_RAD
        )
        self.offset = np.where(
            gripper,
            GRIPPER_POSITION_CLOSE - self.range_min * self.scale,
            -2048.0 / TICKS_PER_RAD,
        )
        self.rad_per_tick = self.scale

    def rad_from_ticks(self, ticks: Any) -> np.ndarray:
        """Raw ticks -> SI joint coordinates (radians; the grippers' finger metres)."""
        return self.offset + self.scale * np.asarray(ticks, float)

    def ticks_from_rad(self, q_rad: Any) -> np.ndarray:
        """SI joint coordinates -> raw ticks, clamped into the calibrated range."""
        ticks = np.rint((np.asarray(q_rad, float) - self.offset) / self.scale)
        return np.clip(ticks, self.range_min, self.range_max).astype(np.int64)


def factory_calibration(
    robot: RobotSpec,
    mounting: Mapping[str, int],
    reversed_motors: frozenset[str],
    gripper_ticks: tuple[float, float],
) -> dict[str, MotorCalibration]:
    """The calibration an operator would record on an emulated follower (see emulated.py).

    Homing cancels each motor's mounting offset (its sign flips for a motor the firmware
    reverses); arm ranges are the spec's limits, the gripper's the finger's CLOSE..OPEN ticks.
    """
    motors = {**arm_motors("follower", "left"), **arm_motors("follower", "right")}
    out = {}
    for joint in robot.joints:
        mount = mounting.get(joint.name, 0)
        homing = mount if joint.name in reversed_motors else -mount
        if joint.is_gripper:
            lo, hi = round(gripper_ticks[0]), round(gripper_ticks[1])
        else:
            lo = max(0, round(2048 + joint.lower_rad * TICKS_PER_RAD))
            hi = min(4095, round(2048 + joint.upper_rad * TICKS_PER_RAD))
        out[joint.name] = MotorCalibration(motors[joint.name].id, 0, homing, lo, hi)
    return out
