"""SO-101 calibration: LeRobot's file format and its location.

This module owns what a calibration is: :class:`MotorCalibration` and the JSON file LeRobot
writes for each arm (:func:`load_calibration`, :func:`save_calibration`,
:func:`validate_calibration`), found where LeRobot looks for it (:func:`calibration_path`),
and the wording of the fix in every calibration error (:func:`calibrate_command`). How a
calibration is made and written to the servos (homing, range recording, register writes) is
:mod:`lerobot_gym.robots.so101.calibration_procedure`.

The conversions raw ticks <-> LeRobot units that use a calibration live in
:mod:`lerobot_gym.robots.so101.normalization`, which imports this module (never the reverse).

Sources: ``shared/reference/lerobot-interfaces.md`` §2.1-2.3 (motors, JSON)
and ``servo-protocols.md`` §1.2 (Homing_Offset is sign-magnitude with the sign at bit 11,
``Present = Actual - Homing_Offset``) and §2 (LeRobot's ``FeetechMotorsBus``).

Design decisions:
    * Files follow LeRobot exactly, so an arm calibrated with either tool works with the
      other.
    * Files are validated on load and before save, and every failure is a
      :class:`~lerobot_gym.errors.CalibrationError` naming the file and the command to fix it.
    * Files are written in LeRobot's current directory (``robots/so_follower``,
      ``teleoperators/so_leader``); files in the pre-2026 directories (``so101_follower``,
      ``so101_leader``) are still found when no current file exists, but writers ask for
      ``calibration_path(..., for_write=True)``, which is always the current location, so
      saving an arm's calibration moves it out of the old folder instead of into it.
    * One helper, :func:`calibrate_command`, words the fix in every calibration error; it
      includes ``--robot.calibration_dir`` whenever the file is not in the default location.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.errors import CalibrationError, ConfigError
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.robots.so101.motors import STS3215_MAX_TICK, so101_motors

__all__ = [
    "FULL_TURN_MOTORS",
    "HALF_TURN_TICK",
    "MAX_HOMING_OFFSET",
    "MotorCalibration",
    "calibrate_command",
    "calibration_path",
    "calibration_root",
    "load_calibration",
    "save_calibration",
    "validate_calibration",
]

MAX_HOMING_OFFSET = 2047
"""Largest ``|Homing_Offset|``: the register is sign-magnitude with the sign at bit 11."""

HALF_TURN_TICK = 2047
"""Raw position a homed motor reads in its pose at homing (LeRobot's ``pos - 2047``)."""

FULL_TURN_MOTORS: tuple[str, ...] = ("wrist_roll",)
"""Motors LeRobot does not sweep: their range is set to the full turn 0..4095."""


@dataclass(frozen=True)
class MotorCalibration:
    """One motor's entry in a LeRobot calibration file (LeRobot's field names and order).

    Attributes:
        id: Bus id of the motor.
        drive_mode: 1 inverts the direction of RANGE_* normalisation, else 0.
        homing_offset: Value of the ``Homing_Offset`` register, in ticks (-2047..2047).
        range_min: Lowest raw position (homed frame), also ``Min_Position_Limit``.
        range_max: Highest raw position (homed frame), also ``Max_Position_Limit``.
    """

    id: int
    drive_mode: int
    homing_offset: int
    range_min: int
    range_max: int


_FIELDS = tuple(f.name for f in fields(MotorCalibration))
Calibration = Mapping[str, MotorCalibration]


# --------------------------------------------------------------------------------------------
# Where files live
# --------------------------------------------------------------------------------------------

_KINDS = {
    # kind -> (current sub-path, pre-2026 sub-path); LeRobot's names after PR #2763/#2780.
    "follower": (("robots", "so_follower"), ("robots", "so101_follower")),
    "leader": (("teleoperators", "so_leader"), ("teleoperators", "so101_leader")),
}
_KIND_ALIASES = {
    "follower": "follower",
    "so101_follower": "follower",
    "so100_follower": "follower",
    "so_follower": "follower",
    "leader": "leader",
    "so101_leader": "leader",
    "so100_leader": "leader",
    "so_leader": "leader",
}


def calibration_root() -> Path:
    """LeRobot's calibration root, resolved from the environment at call time.

    ``$HF_LEROBOT_CALIBRATION``, else ``$HF_LEROBOT_HOME/calibration``, else
    ``$HF_HOME/lerobot/calibration`` where ``HF_HOME`` defaults to
    ``$XDG_CACHE_HOME/huggingface`` or ``~/.cache/huggingface`` (as ``huggingface_hub`` does).
    """
    if env := os.environ.get("HF_LEROBOT_CALIBRATION"):
        return Path(env).expanduser()
    if env := os.environ.get("HF_LEROBOT_HOME"):
        return Path(env).expanduser() / "calibration"
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface"
    )
    return Path(os.path.expandvars(hf_home)).expanduser() / "lerobot" / "calibration"


def _canonical_kind(kind: str) -> str:
    canonical = _KIND_ALIASES.get(kind)
    if canonical is None:
        raise ConfigError(
            f"unknown arm kind {kind!r}; use one of {sorted(_KIND_ALIASES)} (e.g. 'follower')."
        )
    return canonical


def calibration_path(
    kind: str,
    arm_id: str,
    calibration_dir: str | Path | None = None,
    *,
    for_write: bool = False,
) -> Path:
    """Path of an arm's calibration file, where LeRobot reads and writes it.

    Args:
        kind: ``"follower"`` or ``"leader"`` (LeRobot's type names such as
            ``"so101_follower"`` are accepted too).
        arm_id: The arm's id (LeRobot ``--robot.id``), the file's stem.
        calibration_dir: Folder holding ``<arm_id>.json`` directly, like LeRobot's
            ``--robot.calibration_dir``; the default is the LeRobot location.
        for_write: The path to save to: always the current LeRobot location, never the
            pre-2026 folder.

    Returns:
        ``<root>/robots/so_follower/<arm_id>.json`` (or ``teleoperators/so_leader``). For
        reading (``for_write=False``), if that file does not exist but one in the older
        ``so101_follower`` / ``so101_leader`` folder does, the older one is returned so
        existing calibrations keep working; save to ``calibration_path(..., for_write=True)``
        after loading to migrate it.

    Raises:
        ConfigError: Unknown ``kind`` or an ``arm_id`` that is not a plain file name.
    """
    canonical = _canonical_kind(kind)
    if not arm_id or arm_id in {".", ".."} or any(sep in arm_id for sep in ("/", "\\")):
        raise ConfigError(
            f"arm id {arm_id!r} must be a plain name such as 'my_follower' (it names a file)."
        )
    filename = f"{arm_id}.json"
    if calibration_dir is not None:
        return Path(calibration_dir).expanduser() / filename
    current, legacy = _KINDS[canonical]
    root = calibration_root()
    path = root.joinpath(*current, filename)
    legacy_path = root.joinpath(*legacy, filename)
    if not for_write and not path.exists() and legacy_path.exists():
        return legacy_path
    return path


# --------------------------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------------------------


def calibrate_command(
    kind: str,
    arm_id: str,
    *,
    port: str | None = None,
    calibration_dir: str | Path | None = None,
) -> str:
    """The shell command that (re)creates an arm's calibration file, for error messages.

    Args:
        kind: ``"follower"`` or ``"leader"`` (or a LeRobot type name, as for
            :func:`calibration_path`).
        arm_id: The arm's id.
        port: The arm's serial port; ``PORT`` is shown when unknown.
        calibration_dir: The arm's calibration folder when not the default (adds
            ``--robot.calibration_dir``).

    Example:
        >>> calibrate_command("leader", "l1")
        '`lerobot-gym calibrate --teleop.type=so101_leader --teleop.port=PORT --teleop.id=l1`'
    """
    leader = _canonical_kind(kind) == "leader"
    flag, arm_type = ("teleop", "so101_leader") if leader else ("robot", "so101_follower")
    command = (
        f"lerobot-gym calibrate --{flag}.type={arm_type} --{flag}.port={port or 'PORT'} "
        f"--{flag}.id={arm_id}"
    )
    if calibration_dir is not None:
        command += f" --{flag}.calibration_dir={calibration_dir}"
    return f"`{command}`"


def _calibrate_command(path: Path) -> str:
    """:func:`calibrate_command` for the file at ``path``, its kind and folder read off the path."""
    leader = "teleoperators" in path.parts or "leader" in path.parent.name
    kind = "leader" if leader else "follower"
    root = calibration_root()
    default_dirs = {root.joinpath(*sub) for sub in _KINDS[kind]}
    folder = None if path.parent in default_dirs else path.parent
    return calibrate_command(kind, path.stem, calibration_dir=folder)


def _fix_hint(path: Path, fix: str | None = None) -> str:
    command = fix or _calibrate_command(path)
    return f"recalibrate the arm with {command} (or correct the file by hand)"


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def validate_calibration(
    calibration: Calibration,
    motors: Mapping[str, Motor] | Iterable[str] | None = None,
    *,
    source: str | Path = "calibration",
    fix: str | None = None,
) -> None:
    """Check a calibration is well formed and fits the arm.

    Args:
        calibration: ``motor name -> MotorCalibration``.
        motors: The arm's motor table (names and ids are checked) or just its motor names;
            ``None`` means the SO-101 table.
        source: Where the calibration came from, for the error message.
        fix: The command that recalibrates the arm (:func:`calibrate_command`), for the error
            message; by default derived from ``source``.

    Raises:
        CalibrationError: Naming the first problem found and how to fix it.
    """
    motors = so101_motors() if motors is None else motors
    hint = _fix_hint(Path(source), fix)

    def fail(what: str) -> CalibrationError:
        return CalibrationError(f"{source} is not a valid calibration: {what}; {hint}.")

    expected = list(motors)
    if set(calibration) != set(expected):
        missing = [m for m in expected if m not in calibration]
        extra = [m for m in calibration if m not in expected]
        raise fail(f"motor names do not match the arm (missing {missing}, unexpected {extra})")
    for name, cal in calibration.items():
        for field in _FIELDS:
            value = getattr(cal, field)
            if not _is_int(value):
                raise fail(f"{name}.{field} must be an integer, got {value!r}")
        if isinstance(motors, Mapping) and cal.id != motors[name].id:
            raise fail(f"{name} has id {cal.id} but the arm's {name} is id {motors[name].id}")
        if cal.drive_mode not in (0, 1):
            raise fail(f"{name}.drive_mode must be 0 or 1, got {cal.drive_mode}")
        if abs(cal.homing_offset) > MAX_HOMING_OFFSET:
            raise fail(
                f"{name}.homing_offset {cal.homing_offset} is outside ±{MAX_HOMING_OFFSET} "
                "(the servo register cannot hold it)"
            )
        if not 0 <= cal.range_min < cal.range_max <= STS3215_MAX_TICK:
            raise fail(
                f"{name} range [{cal.range_min}, {cal.range_max}] must satisfy "
                f"0 <= range_min < range_max <= {STS3215_MAX_TICK}"
            )


def load_calibration(
    path: str | Path,
    motors: Mapping[str, Motor] | Iterable[str] | None = None,
    *,
    fix: str | None = None,
) -> dict[str, MotorCalibration]:
    """Read a LeRobot calibration JSON file (LeRobot's own files load unchanged).

    Args:
        path: The file, usually from :func:`calibration_path`.
        motors: The arm's motor table or names to check the file against; ``None`` means the
            SO-101 table.
        fix: The command that recalibrates the arm (:func:`calibrate_command` with its port),
            for error messages; by default derived from ``path`` with ``PORT`` as the port.

    Returns:
        ``motor name -> MotorCalibration`` in the file's order.

    Raises:
        CalibrationError: The file is missing, is not JSON, lacks keys, has wrong types or
            values, or does not match the arm. The message names the file and the fix.
    """
    path = Path(path)
    hint = _fix_hint(path, fix)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(
            f"no calibration file at {path}; calibrate the arm first with "
            f"{fix or _calibrate_command(path)}."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"cannot read {path} ({exc}); {hint}.") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{path} is not valid JSON ({exc}); {hint}.") from exc
    if not isinstance(data, dict):
        raise CalibrationError(
            f"{path} must hold a JSON object of motors, got {type(data).__name__}; {hint}."
        )
    calibration: dict[str, MotorCalibration] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or set(entry) != set(_FIELDS):
            keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise CalibrationError(
                f"{path}: motor {name!r} must have exactly the keys {list(_FIELDS)}, got {keys}; "
                f"{hint}."
            )
        calibration[name] = MotorCalibration(**entry)
    validate_calibration(calibration, motors, source=path, fix=fix)
    return calibration


def save_calibration(
    path: str | Path,
    calibration: Calibration,
    motors: Mapping[str, Motor] | Iterable[str] | None = None,
) -> Path:
    """Write a calibration in LeRobot's JSON format, atomically.

    The data goes to a temporary file in the same folder, is fsynced, and replaces ``path``
    with :func:`os.replace`, so a crash leaves either the old file or the new one.

    Args:
        path: Destination; parent folders are created.
        calibration: ``motor name -> MotorCalibration``.
        motors: Checked as in :func:`load_calibration`; ``None`` means the SO-101 table.

    Returns:
        The path written.

    Raises:
        CalibrationError: The calibration is invalid (nothing is written).
    """
    path = Path(path)
    validate_calibration(calibration, motors, source=path)
    payload = {name: {k: int(v) for k, v in asdict(c).items()} for name, c in calibration.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=4)  # LeRobot (draccus) writes indent=4
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    try:  # make the rename itself durable; not supported on every platform/filesystem
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path
