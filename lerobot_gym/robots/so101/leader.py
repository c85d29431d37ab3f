"""The SO-101 leader arm as a :class:`~lerobot_gym.teleop.base.Teleop`.

The leader is an SO-101 with its torque off, moved by the operator's hand; its joint positions,
read over its own Feetech bus and normalised with its own calibration, are the action of the
follower (LeRobot's ``SOLeader``, lerobot-interfaces.md §2.2/2.5).

Design decisions:
    * Actions are in the follower's boundary units: LeRobot degrees for the arm joints and
      0..100 for the gripper, the values LeRobot records for ``so101_leader`` with
      ``use_degrees=True``. With ``use_degrees=False`` the readings go through -100..100 and are
      converted to degrees with the leader's calibration, so the env boundary never changes.
    * A leader arm has no buttons: :meth:`SO101Leader.get_teleop_events` reports no events
      unless an ``events`` callable (a keyboard or pedal listener) is passed in.
    * The bus defaults to LeRobot's forgiving timing (50 ms, two retries): a missed leader
      reading costs a late step, not a safety problem (the follower keeps its last goal).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import NotConnectedError
from lerobot_gym.robots.so101.hardware import load_arm_calibration
from lerobot_gym.robots.so101.spec import so101_spec
from lerobot_gym.robots.so101.ticks import TickConverter
from lerobot_gym.teleop.base import events_from

__all__ = ["SO101Leader"]


class SO101Leader:
    """An SO-101 leader arm on a Feetech bus (see the module docstring).

    Args:
        port: Serial device of the leader's bus, e.g. ``/dev/ttyACM1``.
        leader_id: The leader's id (LeRobot ``--teleop.id``), its calibration file's stem.
        calibration_dir: Folder holding ``<leader_id>.json``; default LeRobot's location
            (``calibration_path("leader", leader_id)``).
        use_degrees: Read through LeRobot degrees (True) or -100..100 (False).
        robot: The follower's spec, whose boundary units the actions use (default SO-101).
        bus_timeout_ms: Reply allowance of the bus beyond wire time.
        bus_retries: Retries of a failed bus transaction.
        events: Optional callable returning operator events (a subset of
            :data:`~lerobot_gym.teleop.base.TELEOP_EVENT_KEYS` mapped to bools).

    Example:
        leader = SO101Leader("/dev/ttyACM1", leader_id="my_leader")
        leader.connect()
        obs, *_ = env.step(leader.get_action())
        leader.disconnect()
    """

    def __init__(
        self,
        port: str,
        *,
        leader_id: str = "leader",
        calibration_dir: str | Path | None = None,
        use_degrees: bool = True,
        robot: RobotSpec | None = None,
        bus_timeout_ms: float = 50.0,
        bus_retries: int = 2,
        events: Callable[[], dict[str, bool]] | None = None,
    ) -> None:
        self.port, self.leader_id = port, leader_id
        self.calibration_dir = calibration_dir
        self.use_degrees = use_degrees
        self.robot = robot or so101_spec()
        self.bus_timeout_ms, self.bus_retries = bus_timeout_ms, bus_retries
        self._events = events
        self.bus: Any = None
        self.converter: TickConverter | None = None

    @property
    def is_connected(self) -> bool:
        """Whether the leader's bus is open."""
        return self.bus is not None and self.bus.is_connected

    def connect(self) -> None:
        """Open the bus, apply the calibration, configure the servos with torque off.

        Raises:
            PortNotFoundError, PortBusyError: The port is wrong or in use.
            MotorNotFoundError: A servo does not answer.
            CalibrationError: The leader's calibration file is missing or corrupt.
        """
        from lerobot_gym.hardware.bus import Motor
        from lerobot_gym.hardware.feetech import FeetechBus
        from lerobot_gym.robots.so101.calibration_procedure import is_calibrated, write_calibration
        from lerobot_gym.robots.so101.registers import configure_so101_leader

        if self.is_connected:
            return
        # Every SO-101 joint has a motor id (the spec's motor table).
        motors = {
            j.name: Motor(cast(int, j.motor_id), j.motor_model or "sts3215")
            for j in self.robot.joints
        }
        bus = FeetechBus(
            self.port, motors, timeout_ms=self.bus_timeout_ms, retries=self.bus_retries
        )
        bus.connect()
        try:
            calibration = load_arm_calibration(
                "leader", self.port, self.leader_id, self.calibration_dir
            )
            if not is_calibrated(bus, calibration):
                write_calibration(bus, calibration)
            configure_so101_leader(bus)  # torque stays off: the hand moves the arm
        except BaseException:
            bus.close(disable_torque=True)
            raise
        self.bus = bus
        self.converter = TickConverter(self.robot, calibration, self.use_degrees)

    def get_action(self) -> np.ndarray:
        """The leader's joint positions as a follower action (degrees, gripper 0..100)."""
        if not self.is_connected or self.converter is None:
            raise NotConnectedError(
                f"the SO-101 leader on {self.port} is not connected; call connect() first"
            )
        ticks = self.bus.sync_read("Present_Position")
        raw = np.array([ticks[n] for n in self.robot.joint_names], dtype=np.float64)
        return self.converter.user_from_ticks(raw).astype(np.float32)

    def get_teleop_events(self) -> dict[str, bool]:
        """Operator events: none from the arm itself, plus those of ``events`` if given."""
        return events_from(self._events)

    def disconnect(self) -> None:
        """Close the bus (torque is already off on a leader)."""
        if self.bus is not None:
            self.bus.close(disable_torque=True)
            self.bus = None
