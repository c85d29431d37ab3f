"""Calibrate an SO-101 follower or leader arm and save LeRobot's calibration file.

``lerobot-gym calibrate --robot.type=so101_follower --robot.port=PORT --robot.id=NAME`` (or
``--teleop.type=so101_leader --teleop.port=PORT --teleop.id=NAME`` for a leader arm, as
LeRobot's ``lerobot-calibrate`` accepts) runs LeRobot's procedure (lerobot-interfaces.md §2.3):

1. connect to the servo bus (every servo must answer with its model);
2. if the arm already has a calibration file: Enter writes the file's values to the servos and
   stops, ``c`` then Enter recalibrates;
3. torque off, position mode; the operator moves the arm to the middle of its range and presses
   Enter: every servo is homed so that pose reads 2047;
4. the operator moves every joint but the wrist roll through its whole range while a live table
   shows MIN / POS / MAX per joint; Enter stops;
5. the offsets and ranges are written to the servos (the firmware then enforces the limits) and
   saved as JSON where LeRobot keeps it (``robots/so_follower/<id>.json`` or
   ``teleoperators/so_leader/<id>.json`` under the calibration root, or
   ``--robot.calibration_dir``), so LeRobot and lerobot_gym share one file per arm.

The procedure itself is :mod:`lerobot_gym.robots.so101.calibration_procedure`; this module
prompts, draws the table and reports.

Design decisions:

* Enter is read on a daemon thread while the main thread records positions; the recording loop
  polls that thread's event with a 20 ms wait, so it reads the bus at up to 50 Hz without
  spinning a CPU core and stops within one read of the key press.
* The table is redrawn in place (ANSI cursor-up) only when stdout is a terminal, at most ten
  times a second; otherwise (a log file, a pipe) it is printed once, with the final values.
* A calibration file that cannot be read is reported and replaced by recalibrating, never used.
* Errors keep their library type: a pose too near the end of a servo's turn is the
  :class:`~lerobot_gym.errors.CalibrationError` of ``set_half_turn_homings``, which names the
  joint; a joint that never moved names the joint too. Nothing is saved in either case.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lerobot_gym.cli.args import CommandParser, Flag, UsageError
from lerobot_gym.cli.find_port import ask
from lerobot_gym.errors import CalibrationError

PARSER = CommandParser(
    prog="lerobot-gym calibrate",
    description="""
        Calibrate an SO-101 arm as LeRobot does and save its calibration file where LeRobot
        keeps it. Give the arm with --robot.* (a follower, or a leader with
        --robot.type=so101_leader) or with --teleop.* (a leader). If the arm has a calibration
        file, Enter writes it to the servos and 'c' recalibrates. Otherwise you move the arm to
        the middle of its range (Enter), then every joint but the wrist roll through its whole
        range (Enter), and the result is written to the servos and saved.
    """,
    flags=(
        Flag(
            "robot.type",
            None,
            "so101_follower, so101_leader, aloha_follower or aloha_leader",
            str,
            True,
        ),
        Flag("robot.port", None, "serial port of the arm (see `lerobot-gym find-port`)", str, True),
        Flag("robot.left_port", None, "ALOHA: serial port of the left arm", str, True),
        Flag("robot.right_port", None, "ALOHA: serial port of the right arm", str, True),
        Flag("robot.id", None, "the arm's name, its calibration file's stem", str, True),
        Flag("robot.calibration_dir", None, "folder of <id>.json (default: LeRobot's)", str, True),
        Flag("teleop.type", None, "so101_leader or aloha_leader", str, True),
        Flag("teleop.port", None, "serial port of the leader arm", str, True),
        Flag("teleop.left_port", None, "ALOHA: serial port of the left leader", str, True),
        Flag("teleop.right_port", None, "ALOHA: serial port of the right leader", str, True),
        Flag("teleop.id", None, "the leader's name, its calibration file's stem", str, True),
        Flag("teleop.calibration_dir", None, "folder of <id>.json (default: LeRobot's)", str, True),
    ),
    examples=(
        "lerobot-gym calibrate --robot.type=so101_follower --robot.port=/dev/ttyACM0 "
        "--robot.id=my_follower",
        "lerobot-gym calibrate --teleop.type=so101_leader --teleop.port=/dev/ttyACM1 "
        "--teleop.id=my_leader",
        "lerobot-gym calibrate --robot.type=aloha_follower "
        "--robot.left_port=/dev/ttyDXL_puppet_left --robot.right_port=/dev/ttyDXL_puppet_right "
        "--robot.id=aloha",
    ),
)

# Arm types -> kind of arm (the SO-100 carries the same servos with the same ids).
ARM_TYPES = {
    "so101_follower": "follower",
    "so100_follower": "follower",
    "so101_leader": "leader",
    "so100_leader": "leader",
}
#: ALOHA arm types -> kind (each names a pair of arms, one port per arm).
ALOHA_TYPES = {"aloha_follower": "follower", "aloha_leader": "leader"}
_GROUP_TYPES = {
    "robot": (*ARM_TYPES, *ALOHA_TYPES),
    "teleop": ("so101_leader", "so100_leader", "aloha_leader"),
}

T = TypeVar("T")

POLL_S = 0.02  # the recording loop's wait for Enter: bus reads at up to 50 Hz
_REDRAW_S = 0.1  # live table refresh period on a terminal


@dataclass(frozen=True)
class ArmTarget:
    """The arm a command line names.

    Attributes:
        kind: ``"follower"`` or ``"leader"``.
        port: Serial port of its bus.
        arm_id: Its id, the calibration file's stem.
        calibration_dir: Folder of the file, or None for LeRobot's location.
        flag: The flag group it came from (``"robot"`` or ``"teleop"``), for messages.
    """

    kind: str
    port: str
    arm_id: str
    calibration_dir: str | None
    flag: str


def _given_group(cfg: Mapping[str, Any]) -> str:
    """``"robot"`` or ``"teleop"``: the one flag group given, with a known type.

    Raises:
        UsageError: neither or both groups given, or an unknown type.
    """
    given = [g for g in ("robot", "teleop") if any(v is not None for v in cfg[g].values())]
    if len(given) != 1:
        what = "both" if given else "neither"
        raise UsageError(
            f"give one arm, with --robot.type/--robot.port/--robot.id or --teleop.type/"
            f"--teleop.port/--teleop.id ({what} given)"
        )
    group = given[0]
    arm_type = cfg[group]["type"]
    if arm_type not in _GROUP_TYPES[group]:
        raise UsageError(
            f"--{group}.type must be one of {', '.join(_GROUP_TYPES[group])}, got {arm_type!r}"
        )
    return group


def arm_from_flags(cfg: Mapping[str, Any]) -> ArmTarget:
    """The one arm given with ``--robot.*`` or ``--teleop.*``.

    Raises:
        UsageError: neither or both groups given, an unknown type, or no port.
    """
    group = _given_group(cfg)
    args = cfg[group]
    arm_type = args["type"]
    if arm_type not in ARM_TYPES:
        raise UsageError(f"--{group}.type={arm_type} is calibrated per arm pair, not here")
    if not args["port"]:
        raise UsageError(f"--{group}.port is required; find it with `lerobot-gym find-port`")
    kind = ARM_TYPES[arm_type]
    return ArmTarget(kind, args["port"], args["id"] or kind, args["calibration_dir"], group)


def run(argv: list[str]) -> int:
    """Parse the flags and calibrate the arm (see the module docstring)."""
    from lerobot_gym.hardware.feetech import FeetechBus
    from lerobot_gym.robots.so101.calibration import calibration_path
    from lerobot_gym.robots.so101.motors import so101_motors

    cfg = PARSER.parse(argv)
    group = _given_group(cfg)
    if cfg[group]["type"] in ALOHA_TYPES:
        from lerobot_gym.cli._calibrate_aloha import calibrate_aloha

        return calibrate_aloha(cfg[group], group, ALOHA_TYPES[cfg[group]["type"]])
    arm = arm_from_flags(cfg)
    path = calibration_path(arm.kind, arm.arm_id, arm.calibration_dir)
    # Saved where LeRobot looks today, even when the file read was in the pre-2026 folder.
    save_path = calibration_path(arm.kind, arm.arm_id, arm.calibration_dir, for_write=True)
    motors = so101_motors()
    bus = FeetechBus(arm.port, motors)
    print(f"Connecting to the {arm.kind} {arm.arm_id!r} on {arm.port} ...")
    bus.connect()
    try:
        if path.exists() and _use_existing_file(bus, arm, path, motors):
            return 0
        saved = calibrate_arm(bus, arm, save_path, motors)
    finally:
        bus.close(disable_torque=True)
    print(f"Calibration saved to {saved}")
    return 0


def _use_existing_file(bus: Any, arm: ArmTarget, path: Path, motors: Mapping[str, Any]) -> bool:
    """Offer the existing file; True if it was written to the servos (nothing more to do)."""
    from lerobot_gym.robots.so101.calibration import load_calibration
    from lerobot_gym.robots.so101.calibration_procedure import write_calibration

    return offer_existing_file(
        repr(arm.arm_id),
        path,
        load=lambda: load_calibration(path, motors),
        write=lambda calibration: write_calibration(bus, calibration),
    )


def offer_existing_file(
    what: str, path: Path, load: Callable[[], Any], write: Callable[[Any], None]
) -> bool:
    """Offer an arm's existing calibration file: Enter writes it to the servos, 'c' declines.

    Args:
        what: The arm, as the prompts name it.
        path: The file.
        load: Reads the file (raises :class:`CalibrationError` if it cannot be used).
        write: Writes a loaded calibration to the servos.

    Returns:
        True if the file was written (nothing more to do); False to recalibrate.
    """
    try:
        calibration = load()
    except CalibrationError as exc:
        print(f"The calibration file cannot be used, so the arm is recalibrated: {exc}")
        return False
    answer = ask(
        f"Press ENTER to use the calibration file of {what} ({path}), or type 'c' and "
        "press ENTER to recalibrate: "
    )
    if answer.strip().lower() == "c":
        return False
    write(calibration)
    print(f"Wrote the calibration of {what} from {path} to the servos.")
    return True


def record_until_enter(record: Callable[[Callable[[], bool], Callable[..., None]], T]) -> T:
    """Run a range recording under the live table until the operator presses Enter.

    ``record(stop, on_update)`` is the procedure's recording call; a closed stdin is re-raised
    as the :class:`UsageError` of :func:`ask`, not as the recording's own error.
    """
    table = LiveTable(sys.stdout)
    enter = EnterWatcher().start()
    try:
        result = record(lambda: enter.pressed.wait(POLL_S), table.update)
    except CalibrationError:
        enter.raise_if_failed()  # a closed stdin, not the operator, ended the recording
        raise
    finally:
        table.finish(echoed_lines=1 if enter.pressed.is_set() and enter.ok else 0)
    enter.raise_if_failed()
    return result


def calibrate_arm(bus: Any, arm: ArmTarget, path: Path, motors: Mapping[str, Any]) -> Path:
    """Home, record ranges, write and save; returns the file written (prompts on stdin)."""
    from lerobot_gym.robots.so101.calibration import FULL_TURN_MOTORS, save_calibration
    from lerobot_gym.robots.so101.calibration_procedure import (
        build_calibration,
        record_ranges_of_motion,
        set_half_turn_homings,
        write_calibration,
    )

    names = list(motors)
    print(f"\nRunning the calibration of the {arm.kind} {arm.arm_id!r}")
    bus.disable_torque(names)
    for name in names:
        bus.write("Operating_Mode", name, 0)  # position mode
    ask(f"Move the {arm.kind} to the middle of its range of motion and press ENTER...")
    homing_offsets = set_half_turn_homings(bus, names)

    full_turn = [n for n in names if n in FULL_TURN_MOTORS]
    print(
        f"Move all joints except {', '.join(repr(n) for n in full_turn)} one by one through "
        "their entire ranges of motion.\nRecording positions. Press ENTER to stop..."
    )
    range_mins, range_maxes = record_until_enter(
        lambda stop, on_update: record_ranges_of_motion(bus, names, stop, on_update)
    )
    calibration = build_calibration(motors, homing_offsets, range_mins, range_maxes)
    write_calibration(bus, calibration)
    return save_calibration(path, calibration, motors)


class LiveTable:
    """The MIN / POS / MAX table of the range recording, redrawn in place on a terminal.

    Args:
        stream: Where to draw (a text stream; redrawing needs ``isatty()``).
        period_s: Shortest time between redraws on a terminal.
    """

    def __init__(self, stream: Any, period_s: float = _REDRAW_S) -> None:
        self.stream = stream
        self.period_s = period_s
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self._last: tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]] | None = None
        self._drawn_lines = 0
        self._drawn_at = 0.0

    @staticmethod
    def format(
        positions: Mapping[str, int], mins: Mapping[str, int], maxes: Mapping[str, int]
    ) -> list[str]:
        """The table's lines (LeRobot's layout).

        Example:
            >>> lines = LiveTable.format({"gripper": 2100}, {"gripper": 1990}, {"gripper": 3400})
            >>> for line in lines[1:]:
            ...     print(line)
            NAME            |    MIN |    POS |    MAX
            gripper         |   1990 |   2100 |   3400
        """
        lines = ["-" * 43, f"{'NAME':<15} | {'MIN':>6} | {'POS':>6} | {'MAX':>6}"]
        for name in positions:
            lines.append(f"{name:<15} | {mins[name]:>6} | {positions[name]:>6} | {maxes[name]:>6}")
        return lines

    def update(
        self, positions: Mapping[str, int], mins: Mapping[str, int], maxes: Mapping[str, int]
    ) -> None:
        """Record the latest values; redraw if on a terminal and the period has passed."""
        self._last = (dict(positions), dict(mins), dict(maxes))
        now = time.monotonic()
        if self.interactive and now - self._drawn_at >= self.period_s:
            self._draw()
            self._drawn_at = now

    def finish(self, echoed_lines: int = 0) -> None:
        """Draw the final values (the only drawing when not on a terminal).

        Args:
            echoed_lines: Lines the terminal echoed below the table since the last redraw (the
                Enter that stopped the recording), so the final table overwrites the old one.
        """
        if self._last is not None:
            self._drawn_lines += echoed_lines if self._drawn_lines else 0
            self._draw()

    def _draw(self) -> None:
        assert self._last is not None
        lines = self.format(*self._last)
        if self.interactive:
            # Back to the table's first line (\x1b[nF), and \x1b[K clears what a longer
            # previous line left behind.
            up = f"\x1b[{self._drawn_lines}F" if self._drawn_lines else ""
            text = up + "".join(f"{line}\x1b[K\n" for line in lines)
        else:
            text = "".join(f"{line}\n" for line in lines)
        self.stream.write(text)
        self.stream.flush()
        self._drawn_lines = len(lines)


class EnterWatcher:
    """Waits for one Enter on a daemon thread; ``pressed`` is set when it comes (or stdin ends)."""

    def __init__(self) -> None:
        self.pressed = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> EnterWatcher:
        threading.Thread(target=self._wait, name="calibrate-enter", daemon=True).start()
        return self

    def _wait(self) -> None:
        try:
            ask("")
        except BaseException as exc:  # re-raised on the main thread
            self._error = exc
        finally:
            self.pressed.set()

    @property
    def ok(self) -> bool:
        """False if stdin failed instead of delivering an Enter."""
        return self._error is None

    def raise_if_failed(self) -> None:
        """Re-raise what stopped the wait other than Enter (a closed stdin)."""
        if self._error is not None:
            raise self._error
