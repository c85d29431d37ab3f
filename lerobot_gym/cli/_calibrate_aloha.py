"""``lerobot-gym calibrate --robot.type=aloha_follower`` (or ``aloha_leader``): both arms of a pair.

Each arm given a port (``--robot.left_port``, ``--robot.right_port``; the leaders with
``--teleop.*``) is calibrated in turn, left first, and saved where the ALOHA robot reads it
(``robots/aloha_follower/<id>_<arm>.json`` or ``teleoperators/aloha_leader/<id>_<arm>.json``
under LeRobot's calibration root, or ``--robot.calibration_dir``):

1. connect to the arm's bus (every servo must answer with its model);
2. if the arm has a calibration file: Enter writes it to the servos, ``c`` recalibrates;
3. the operator puts the arm in its zero pose with the gripper closed and presses Enter: the
   arm is homed there (:func:`~lerobot_gym.robots.aloha.calibration_procedure.home_at_zero_pose`);
4. the operator moves every joint, the gripper too, through its whole range while the live
   table shows MIN / POS / MAX; Enter stops; the result is written to the servos and saved.

The procedure is :mod:`lerobot_gym.robots.aloha.calibration_procedure`; prompts, the live table
and the Enter watcher are the SO-101's (:mod:`lerobot_gym.cli.calibrate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lerobot_gym.cli.args import UsageError
from lerobot_gym.cli.find_port import ask

__all__ = ["calibrate_aloha"]


def calibrate_aloha(args: Mapping[str, Any], group: str, kind: str) -> int:
    """Calibrate the ALOHA arms named by one flag group (see the module docstring).

    Raises:
        UsageError: No arm port given, or ``--<group>.port`` given (ALOHA arms have one each).
    """
    from lerobot_gym.assets.aloha import ARMS

    if args.get("port"):
        raise UsageError(
            f"an ALOHA pair has one port per arm: give --{group}.left_port and/or "
            f"--{group}.right_port instead of --{group}.port"
        )
    ports: dict[str, str] = {arm: args[f"{arm}_port"] for arm in ARMS if args.get(f"{arm}_port")}
    if not ports:
        raise UsageError(
            f"give --{group}.left_port and/or --{group}.right_port (the arms' serial ports; "
            "`lerobot-gym find-port` lists them)"
        )
    robot_id = args.get("id") or "aloha"
    for arm, port in ports.items():
        saved = _calibrate_one(kind, arm, port, robot_id, args.get("calibration_dir"))
        if saved is not None:
            print(f"Calibration of the {arm} {kind} saved to {saved}")
    return 0


def _calibrate_one(
    kind: str, arm: str, port: str, robot_id: str, calibration_dir: str | None
) -> Path | None:
    """One arm; returns the file saved, or None when the existing file was written instead."""
    from lerobot_gym.hardware.dynamixel import DynamixelBus
    from lerobot_gym.robots.aloha.calibration import aloha_calibration_path, save_arm_calibration
    from lerobot_gym.robots.aloha.motors import arm_motors, arm_shadows

    path = aloha_calibration_path(kind, robot_id, arm, calibration_dir)
    bus = DynamixelBus(port, arm_motors(kind, arm), shadows=arm_shadows(kind, arm))
    print(f"Connecting to the {arm} {kind} {robot_id!r} on {port} ...")
    bus.connect()
    try:
        if path.exists() and _use_existing_file(bus, kind, arm, robot_id, calibration_dir):
            return None
        calibration = _run_procedure(bus, kind, arm)
    finally:
        bus.close(disable_torque=True)
    return save_arm_calibration(kind, robot_id, arm, calibration, calibration_dir)


def _use_existing_file(
    bus: Any, kind: str, arm: str, robot_id: str, calibration_dir: str | None
) -> bool:
    """Offer the existing file; True if it was written to the servos (nothing more to do)."""
    from lerobot_gym.cli.calibrate import offer_existing_file
    from lerobot_gym.robots.aloha.calibration import aloha_calibration_path, load_arm_calibration
    from lerobot_gym.robots.aloha.calibration_procedure import write_arm_calibration

    return offer_existing_file(
        f"the {arm} {kind}",
        aloha_calibration_path(kind, robot_id, arm, calibration_dir),
        load=lambda: load_arm_calibration(kind, robot_id, arm, calibration_dir),
        write=lambda calibration: write_arm_calibration(bus, kind, arm, calibration),
    )


def _run_procedure(bus: Any, kind: str, arm: str) -> dict[str, Any]:
    from lerobot_gym.cli.calibrate import record_until_enter
    from lerobot_gym.robots.aloha.calibration_procedure import (
        ZERO_POSE,
        calibrate_arm,
        home_at_zero_pose,
    )

    print(f"\nRunning the calibration of the {arm} {kind}")
    ask(f"Move the {arm} {kind} to {ZERO_POSE}, and press ENTER...")
    home_at_zero_pose(bus, kind, arm)
    print(
        "Move every joint, the gripper too (fully open and closed), one by one through its "
        "entire range of motion.\nRecording positions. Press ENTER to stop..."
    )
    return record_until_enter(
        lambda stop, on_update: calibrate_arm(bus, kind, arm, stop, on_update)
    )
