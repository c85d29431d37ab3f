"""The ALOHA's two WidowX 250 S leader arms as one :class:`~lerobot_gym.teleop.base.Teleop`.

The leaders hang with torque off and are moved by the operator's hands; their joint positions,
read over their own Dynamixel buses through their own calibration, are the 14-D action of the
ALOHA followers: ``[left 6 joints, left gripper, right 6 joints, right gripper]``.

Design decisions:
    * The ALOHA's leader-to-follower mapping (tonyzhaozh/aloha, ACT ``constants.py``): arm joints
      are copied (both arms use Interbotix's ``(ticks - 2048) * 2 pi / 4096`` radians), and the
      gripper action is ``MASTER_GRIPPER_JOINT_NORMALIZE_FN`` of the leader's gripper joint,
      0 closed .. 1 open, clipped to that range, which is exactly the env's normalised gripper
      (the follower unnormalises it to its finger position).
    * Registers are the ALOHA master's (``robots/aloha/motors.py``): arm joints in PWM mode,
      gripper in position mode, torque off.
    * A leader has no buttons: no teleop events unless an ``events`` callable is passed.

Sources: shared/reference/servo-protocols.md §3.3 (gripper constants, real_env actions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.assets.aloha import ARMS
from lerobot_gym.errors import ConfigError, NotConnectedError
from lerobot_gym.robots.aloha.calibration import TICKS_PER_RAD, load_arm_calibration
from lerobot_gym.robots.aloha.motors import LEADER_GRIPPER_JOINT_RAD, arm_motors, arm_shadows
from lerobot_gym.teleop.base import events_from

__all__ = ["AlohaLeaders", "leader_gripper_action"]


def leader_gripper_action(joint_rad: Any) -> np.ndarray:
    """ACT's ``MASTER_GRIPPER_JOINT_NORMALIZE_FN``, clipped to 0 closed .. 1 open."""
    closed, opened = LEADER_GRIPPER_JOINT_RAD
    return np.clip((np.asarray(joint_rad, float) - closed) / (opened - closed), 0.0, 1.0)


class AlohaLeaders:
    """Two WidowX leader arms on two Dynamixel buses (see the module docstring).

    Args:
        ports: Arm (``left``, ``right``) -> serial device of its leader bus.
        robot_id: Stem of the leaders' calibration files (``<robot_id>_left.json`` ...).
        calibration_dir: Folder of those files; default LeRobot's ``teleoperators/aloha_leader``.
        bus_timeout_ms, bus_retries: Bus timing (LeRobot's forgiving defaults).
        events: Optional callable returning operator events.
    """

    #: ``get_action`` returns absolute joint targets in the ALOHA's boundary units.
    action_kind = "joint"

    def __init__(
        self,
        ports: Mapping[str, str],
        *,
        robot_id: str = "aloha",
        calibration_dir: str | Path | None = None,
        bus_timeout_ms: float = 50.0,
        bus_retries: int = 2,
        events: Callable[[], dict[str, bool]] | None = None,
    ) -> None:
        if set(ports) != set(ARMS):
            raise ConfigError(
                "the ALOHA leaders need one port per arm: --teleop.left_port=... "
                "--teleop.right_port=... (find them with `lerobot-gym find-port`)"
            )
        self.ports, self.robot_id = dict(ports), robot_id
        self.calibration_dir = calibration_dir
        self.bus_timeout_ms, self.bus_retries = bus_timeout_ms, bus_retries
        self._events = events
        self.buses: dict[str, Any] = {}

    @property
    def is_connected(self) -> bool:
        """Whether both leader buses are open."""
        return len(self.buses) == len(ARMS) and all(b.is_connected for b in self.buses.values())

    def connect(self) -> None:
        """Open both buses, check the servos, write calibration and registers, torque off.

        Raises:
            PortNotFoundError, PortBusyError, MotorNotFoundError: As any Dynamixel bus.
            CalibrationError: A leader's calibration file is missing or corrupt.
        """
        from lerobot_gym.hardware.dynamixel import DynamixelBus
        from lerobot_gym.robots.aloha.motors import configure_arm

        if self.is_connected:
            return
        buses: dict[str, Any] = {}
        try:
            for arm in ARMS:
                bus = DynamixelBus(
                    self.ports[arm],
                    arm_motors("leader", arm),
                    shadows=arm_shadows("leader", arm),
                    timeout_ms=self.bus_timeout_ms,
                    retries=self.bus_retries,
                )
                bus.connect()
                buses[arm] = bus
            for arm, bus in buses.items():
                calibration = load_arm_calibration(
                    "leader", self.robot_id, arm, self.calibration_dir
                )
                limits = {
                    n: (c.homing_offset, c.range_min, c.range_max) for n, c in calibration.items()
                }
                configure_arm(bus, "leader", arm, limits)
        except BaseException:
            for bus in buses.values():
                bus.close(disable_torque=True)
            raise
        self.buses = buses

    def get_action(self) -> np.ndarray:
        """The leaders' pose as the followers' action (radians, grippers 0..1)."""
        if not self.is_connected:
            raise NotConnectedError("the ALOHA leaders are not connected; call connect() first")
        parts = []
        for arm in ARMS:
            bus = self.buses[arm]
            ticks = bus.sync_read("Present_Position")
            rad = (np.array([ticks[n] for n in bus.motors], float) - 2048.0) / TICKS_PER_RAD
            rad[-1] = leader_gripper_action(rad[-1])
            parts.append(rad)
        return np.concatenate(parts).astype(np.float32)

    def events(self) -> dict[str, bool]:
        """Operator events: none from the arms, plus those of ``events`` if given."""
        return events_from(self._events)

    get_teleop_events = events  # LeRobot's HasTeleopEvents name

    def reset(self) -> None:
        """A new episode: the leaders keep no per-episode state."""

    def disconnect(self) -> None:
        """Close both buses (torque is already off on leaders)."""
        buses, self.buses = self.buses, {}
        for bus in buses.values():
            bus.close(disable_torque=True)
