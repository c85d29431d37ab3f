"""Calibrating one ALOHA arm (a ViperX follower or a WidowX leader) over its Dynamixel bus.

This module owns how an ALOHA arm's calibration is *made*: homing at Interbotix's zero pose
(:func:`home_at_zero_pose`), the range sweep (LeRobot's, shared with the SO-101:
:func:`~lerobot_gym.robots.so101.calibration_procedure.record_ranges_of_motion`), and writing the
result to the servos (:func:`write_arm_calibration`). What the file *is* and where it lives is
:mod:`lerobot_gym.robots.aloha.calibration`; the prompts are ``lerobot-gym calibrate``'s.

Design decisions:
    * The arm is homed at its zero pose, not at mid-range as the SO-101 is: the ALOHA's joint
      angles follow Interbotix's convention, ``rad = (present - 2048) * 2 pi / 4096`` (what the
      twin, gym-aloha and the ``aloha_sim_*`` datasets mean by a joint angle), so the zero pose
      (waist centred, upper arm vertical, forearm and wrist level pointing forward, no roll)
      must read 2048. Dynamixel firmware adds the offset (``Present = Actual + Homing_Offset``,
      after the Drive_Mode reverse), so ``Homing_Offset = 2048 - present`` read with offset 0.
    * The gripper is homed closed: the closed horn reads ACT's closed angle
      (:func:`~lerobot_gym.robots.aloha.motors.gripper_joint_rad`), so the leader's gripper
      normalisation (ACT's ``MASTER_GRIPPER_JOINT_NORMALIZE_FN``) means what ACT means, and the
      follower's recorded closed..open range is the finger's CLOSE..OPEN.
    * Every register goes through :func:`~lerobot_gym.robots.aloha.motors.configure_arm`, the
      code path the robot uses at connect (shadows detached for EEPROM writes, modes, limits):
      a calibration is written exactly as it will later be applied. The file records each
      motor's Interbotix Drive_Mode (the firmware applies it; LeRobot's Dynamixel bus reads it
      into ``drive_mode`` the same way).
    * Every offset is checked before any register is written, so a pose far from the zero pose
      leaves the arm as it was and the message names the joint.

Sources: shared/reference/servo-protocols.md §3.2 (Homing_Offset, two's complement,
``Present = Actual + Homing_Offset``) and §3.3 (the ALOHA arms, gripper constants).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from lerobot_gym.errors import CalibrationError
from lerobot_gym.robots.aloha.motors import (
    arm_motors,
    configure_arm,
    drive_modes,
    gripper_joint_rad,
)
from lerobot_gym.robots.so101.calibration import MotorCalibration
from lerobot_gym.robots.so101.calibration_procedure import (
    CalibrationBus,
    build_calibration,
    record_ranges_of_motion,
)

__all__ = [
    "ZERO_POSE",
    "calibrate_arm",
    "home_at_zero_pose",
    "write_arm_calibration",
]

TICKS_PER_RAD = 4096 / (2 * math.pi)
ZERO_TICK = 2048
#: A joint further than this from the zero pose when homing is a mistake, not a calibration.
MAX_ZERO_POSE_ERROR_RAD = math.radians(45.0)
#: What the operator is asked to do before homing.
ZERO_POSE = (
    "its zero pose (waist centred, upper arm straight up, forearm and wrist level and pointing "
    "forward, wrist not rotated) with the gripper fully closed"
)


def _factory_limits(motors: Mapping[str, object]) -> dict[str, tuple[int, int, int]]:
    return dict.fromkeys(motors, (0, 0, 4095))


def home_at_zero_pose(bus: object, kind: str, arm: str) -> dict[str, int]:
    """Make the present pose read Interbotix's zero (the gripper: ACT's closed angle).

    Writes the factory registers first (offset 0, limits 0..4095, the arm's modes, torque off),
    reads the present positions, then writes the homing offsets that home them (limits still
    0..4095, for the range sweep).

    Args:
        bus: The arm's connected :class:`~lerobot_gym.hardware.dynamixel.DynamixelBus`.
        kind: ``"follower"`` or ``"leader"``.
        arm: ``"left"`` or ``"right"``.

    Returns:
        Motor name -> ``Homing_Offset``.

    Raises:
        CalibrationError: A joint is more than 45 degrees from the zero pose (names it).
    """
    motors = arm_motors(kind, arm)
    configure_arm(bus, kind, arm, _factory_limits(motors))
    present = bus.sync_read("Present_Position", list(motors))  # type: ignore[attr-defined]
    gripper = f"{arm}_gripper"
    targets = {n: ZERO_TICK for n in motors}
    targets[gripper] = round(ZERO_TICK + gripper_joint_rad(kind)[0] * TICKS_PER_RAD)
    offsets = {n: targets[n] - int(present[n]) for n in motors}
    far = {
        n: -offsets[n] / TICKS_PER_RAD  # how far the joint is from zero
        for n in motors
        if n != gripper and abs(offsets[n]) / TICKS_PER_RAD > MAX_ZERO_POSE_ERROR_RAD
    }
    if far:
        detail = ", ".join(f"{n} is {math.degrees(e):+.0f} deg away" for n, e in far.items())
        raise CalibrationError(
            f"the {arm} {kind} is not at its zero pose ({detail}); move it to {ZERO_POSE}, "
            "then calibrate again"
        )
    configure_arm(bus, kind, arm, {n: (offsets[n], 0, 4095) for n in motors})
    return offsets


def write_arm_calibration(
    bus: object, kind: str, arm: str, calibration: Mapping[str, MotorCalibration]
) -> None:
    """Write an arm's calibration to its servos (torque off, as at connect)."""
    limits = {n: (c.homing_offset, c.range_min, c.range_max) for n, c in calibration.items()}
    configure_arm(bus, kind, arm, limits)


def calibrate_arm(
    bus: object,
    kind: str,
    arm: str,
    stop: Callable[[], bool],
    on_update: Callable[[Mapping[str, int], Mapping[str, int], Mapping[str, int]], None]
    | None = None,
) -> dict[str, MotorCalibration]:
    """Sweep the ranges of an arm homed by :func:`home_at_zero_pose`, write and return them.

    Args:
        bus: The arm's connected Dynamixel bus.
        kind: ``"follower"`` or ``"leader"``.
        arm: ``"left"`` or ``"right"``.
        stop: True when the operator is done sweeping (polled after each read).
        on_update: Optional live display hook ``(positions, mins, maxes)``.

    Raises:
        CalibrationError: A joint did not move during the sweep (names it).
    """
    motors = arm_motors(kind, arm)
    offsets = {n: int(bus.read("Homing_Offset", n)) for n in motors}  # type: ignore[attr-defined]
    sweep: CalibrationBus = bus  # type: ignore[assignment]
    mins, maxes = record_ranges_of_motion(sweep, motors, stop, on_update, full_turn_motors=())
    modes = drive_modes(kind, arm)
    calibration = build_calibration(motors, offsets, mins, maxes, modes)
    write_arm_calibration(bus, kind, arm, calibration)
    return calibration
