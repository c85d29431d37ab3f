"""The SO-101 calibration procedure, as pure logic over a bus-like object.

This module owns how a calibration is *made* and moved between file and servos:
:class:`CalibrationBus` (what the procedure needs of a bus), :func:`set_half_turn_homings`,
:func:`record_ranges_of_motion`, :func:`build_calibration`, :func:`write_calibration`,
:func:`read_calibration_from_bus`, :func:`is_calibrated` and :func:`reset_calibration`. What a
calibration *is* (:class:`~lerobot_gym.robots.so101.calibration.MotorCalibration`, the JSON
file and where it lives) is :mod:`lerobot_gym.robots.so101.calibration`. No prompts, prints or
sleeps on the user's behalf: the CLI drives these through the ``stop`` / ``on_update``
callbacks.

Sources: ``shared/reference/lerobot-interfaces.md`` §2.3 (the procedure) and
``servo-protocols.md`` §1.2 (Homing_Offset is sign-magnitude with the sign at bit 11,
``Present = Actual - Homing_Offset``) and §2 (LeRobot's ``FeetechMotorsBus``).

Design decisions:
    * The registers are written as LeRobot writes them, so an arm calibrated with either tool
      works with the other.
    * The homing offset is range-checked for *all* motors before *any* is written, so a bad pose
      leaves no half-written arm and the message says which joint to move (LeRobot fails later
      with "Magnitude 20xx exceeds 2047", see its issue #3193).
    * :func:`write_calibration` disables torque first: changing ``Homing_Offset`` under torque
      would shift the present position under a fixed goal and make the joint jump.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from lerobot_gym.errors import CalibrationError
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.robots.so101.calibration import (
    FULL_TURN_MOTORS,
    HALF_TURN_TICK,
    MAX_HOMING_OFFSET,
    Calibration,
    MotorCalibration,
    validate_calibration,
)
from lerobot_gym.robots.so101.motors import STS3215_MAX_TICK

__all__ = [
    "CalibrationBus",
    "build_calibration",
    "is_calibrated",
    "read_calibration_from_bus",
    "record_ranges_of_motion",
    "reset_calibration",
    "set_half_turn_homings",
    "write_calibration",
]

_REG_OFFSET = "Homing_Offset"
_REG_MIN = "Min_Position_Limit"
_REG_MAX = "Max_Position_Limit"
_REG_PRESENT = "Present_Position"


class CalibrationBus(Protocol):
    """The part of a servo bus the calibration procedure needs.

    Values are raw register integers with the sign already decoded (``Homing_Offset`` may be
    negative); nothing is normalised. ``lerobot_gym.hardware.feetech.FeetechBus`` provides it.
    """

    def read(self, register: str, motor: str) -> int:
        """Read one register of one motor."""

    def write(self, register: str, motor: str, value: int) -> None:
        """Write one register of one motor (acknowledged)."""

    def sync_read(self, register: str, motors: Iterable[str] | None = None) -> dict[str, int]:
        """Read one register of several motors."""

    def sync_write(self, register: str, values: Mapping[str, int]) -> None:
        """Write one register of several motors."""

    def disable_torque(self, motors: Iterable[str] | None = None) -> None:
        """Let the motors go limp (and unlock their EEPROM)."""

    def enable_torque(self, motors: Iterable[str] | None = None) -> None:
        """Make the motors hold position."""


def reset_calibration(bus: CalibrationBus, motors: Iterable[str]) -> None:
    """Write the factory calibration: ``Homing_Offset=0``, limits ``0..4095``."""
    for motor in motors:
        bus.write(_REG_OFFSET, motor, 0)
        bus.write(_REG_MIN, motor, 0)
        bus.write(_REG_MAX, motor, STS3215_MAX_TICK)


def set_half_turn_homings(bus: CalibrationBus, motors: Iterable[str]) -> dict[str, int]:
    """Make the current pose read 2047 on every motor (LeRobot's homing step).

    Disables torque, resets the calibration registers, reads the raw ``Present_Position`` and
    writes ``Homing_Offset = position - 2047`` (Feetech: ``Present = Actual - Homing_Offset``).
    Every offset is checked before any is written.

    Args:
        bus: A :class:`CalibrationBus`.
        motors: Motor names (a motor table works too). The arm should be at mid-range.

    Returns:
        ``name -> homing offset`` written.

    Raises:
        CalibrationError: A motor is so near the end of its encoder turn that its offset would
            not fit in ±2047; the message names it and says to move it nearer the middle.
    """
    names = list(motors)
    bus.disable_torque(names)
    reset_calibration(bus, names)
    positions = bus.sync_read(_REG_PRESENT, names)
    offsets = {m: int(positions[m]) - HALF_TURN_TICK for m in names}
    bad = {m: positions[m] for m in names if abs(offsets[m]) > MAX_HOMING_OFFSET}
    if bad:
        detail = ", ".join(f"{m} reads {pos} (offset {offsets[m]:+d})" for m, pos in bad.items())
        which = "that joint" if len(bad) == 1 else "those joints"
        raise CalibrationError(
            f"cannot home {', '.join(bad)}: {detail}, but the servo's Homing_Offset holds at "
            f"most ±{MAX_HOMING_OFFSET} ticks. Move {which} nearer the middle of its range of "
            "motion and start the calibration again."
        )
    for motor, offset in offsets.items():
        bus.write(_REG_OFFSET, motor, offset)
    return offsets


def record_ranges_of_motion(
    bus: CalibrationBus,
    motors: Iterable[str],
    stop: Callable[[], bool],
    on_update: Callable[[Mapping[str, int], Mapping[str, int], Mapping[str, int]], None]
    | None = None,
    *,
    full_turn_motors: Iterable[str] = FULL_TURN_MOTORS,
) -> tuple[dict[str, int], dict[str, int]]:
    """Track each motor's lowest and highest position while the operator moves the arm.

    Reads ``Present_Position`` in a loop, calls ``on_update(positions, mins, maxes)`` after
    each read, and returns once ``stop()`` is true (it is checked after each read, so at least
    one read happens). Motors in ``full_turn_motors`` are not swept: LeRobot sets them to the
    full turn 0..4095.

    Args:
        bus: A :class:`CalibrationBus` (call after :func:`set_half_turn_homings`).
        motors: Motor names (a motor table works too).
        stop: Returns True when the operator is done (e.g. Enter was pressed).
        on_update: Optional live display hook.
        full_turn_motors: Motors given the range 0..4095 without sweeping.

    Returns:
        ``(range_mins, range_maxes)``, each ``name -> ticks`` in ``motors`` order.

    Raises:
        CalibrationError: Some swept motor never moved (min == max).
    """
    names = list(motors)
    full_turn = set(full_turn_motors)
    swept = [m for m in names if m not in full_turn]
    mins: dict[str, int] = {}
    maxes: dict[str, int] = {}
    if swept:
        start = bus.sync_read(_REG_PRESENT, swept)
        mins = {m: int(start[m]) for m in swept}
        maxes = dict(mins)
        while True:
            positions = bus.sync_read(_REG_PRESENT, swept)
            for m in swept:
                mins[m] = min(mins[m], int(positions[m]))
                maxes[m] = max(maxes[m], int(positions[m]))
            if on_update is not None:
                on_update(positions, mins, maxes)
            if stop():
                break
    still = [m for m in swept if mins[m] == maxes[m]]
    if still:
        raise CalibrationError(
            f"{', '.join(still)} did not move while ranges were recorded; move every joint "
            "through its whole range of motion before finishing, then calibrate again."
        )
    range_mins = {m: (0 if m in full_turn else mins[m]) for m in names}
    range_maxes = {m: (STS3215_MAX_TICK if m in full_turn else maxes[m]) for m in names}
    return range_mins, range_maxes


def build_calibration(
    motors: Mapping[str, Motor],
    homing_offsets: Mapping[str, int],
    range_mins: Mapping[str, int],
    range_maxes: Mapping[str, int],
    drive_modes: Mapping[str, int] | None = None,
) -> dict[str, MotorCalibration]:
    """Assemble the results of the procedure into a calibration (drive_mode 0 by default)."""
    drive_modes = drive_modes or {}
    return {
        name: MotorCalibration(
            id=motor.id,
            drive_mode=int(drive_modes.get(name, 0)),
            homing_offset=int(homing_offsets[name]),
            range_min=int(range_mins[name]),
            range_max=int(range_maxes[name]),
        )
        for name, motor in motors.items()
    }


def write_calibration(bus: CalibrationBus, calibration: Calibration) -> None:
    """Write ``Homing_Offset`` and the position limits of every motor in ``calibration``.

    Torque is disabled first (and left disabled): the servo firmware then enforces the limits.
    The calibration is validated for well-formedness (not against a motor table) before any
    write.

    Raises:
        CalibrationError: The calibration is invalid; nothing is written.
    """
    validate_calibration(calibration, list(calibration), source="calibration to write")
    names = list(calibration)
    bus.disable_torque(names)
    for name, cal in calibration.items():
        bus.write(_REG_OFFSET, name, cal.homing_offset)
        bus.write(_REG_MIN, name, cal.range_min)
        bus.write(_REG_MAX, name, cal.range_max)


def read_calibration_from_bus(
    bus: CalibrationBus, motors: Mapping[str, Motor]
) -> dict[str, MotorCalibration]:
    """Read the calibration stored in the servos (``drive_mode`` is not stored: 0, as LeRobot)."""
    return {
        name: MotorCalibration(
            id=motor.id,
            drive_mode=0,
            homing_offset=int(bus.read(_REG_OFFSET, name)),
            range_min=int(bus.read(_REG_MIN, name)),
            range_max=int(bus.read(_REG_MAX, name)),
        )
        for name, motor in motors.items()
    }


def is_calibrated(bus: CalibrationBus, calibration: Calibration) -> bool:
    """True if the servos hold this calibration's offsets and limits (LeRobot's check)."""
    for name, cal in calibration.items():
        stored = (
            bus.read(_REG_OFFSET, name),
            bus.read(_REG_MIN, name),
            bus.read(_REG_MAX, name),
        )
        if stored != (cal.homing_offset, cal.range_min, cal.range_max):
            return False
    return True
