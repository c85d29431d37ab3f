"""The SO-101 leader arm as a :class:`~lerobot_gym.teleop.base.Teleop`.

The leader is an SO-101 with its torque off, moved by the operator's hand; its joint positions,
read over its own Feetech bus and normalised with its own calibration, are the action of the
follower (LeRobot's ``SOLeader``, lerobot-interfaces.md §2.2/2.5).

Design decisions:
    * Actions are in the follower's boundary units: LeRobot degrees for the arm joints and
      0..100 for the gripper, the values LeRobot records for ``so101_leader`` with
      ``use_degrees=True``. With ``use_degrees=False`` the readings go through -100..100 and are
      converted to degrees with the leader's calibration, so the env boundary never changes.
    * A leader arm has no buttons: its operator events come from an ``events`` callable passed
      in (a keyboard's ``events``, a pedal listener), in the one vocabulary of
      :mod:`lerobot_gym.core.info`. Two ways to intervene, usable together: a key that toggles
      ``is_intervention`` (the keyboard's space bar), or moving the leader by more than
      ``intervention_threshold_deg`` (any arm joint) away from a reference: the follower's
      present pose when a ``follower`` callable is given (the leader was resting on the
      follower's pose), else the leader's own pose at the start of the episode (``reset()``),
      which is robust to the agent moving the follower away from a resting leader. A motion-
      triggered intervention lasts until the next ``reset()``: the hand on the leader arm keeps
      control for the rest of the episode (hand back with the key-toggled mode).
    * ``get_teleop_events`` is kept as an alias of ``events`` so LeRobot's ``HasTeleopEvents``
      check (its issue #2952) accepts this leader.
    * The bus defaults to LeRobot's forgiving timing (50 ms, two retries): a missed leader
      reading costs a late step, not a safety problem (the follower keeps its last goal).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from lerobot_gym.core.info import IS_INTERVENTION, check_events
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import ConfigError, NotConnectedError
from lerobot_gym.robots.so101.hardware import load_arm_calibration
from lerobot_gym.robots.so101.spec import so101_spec
from lerobot_gym.robots.so101.ticks import TickConverter

__all__ = ["SO101Leader"]


class SO101Leader:
    """An SO-101 leader arm on a Feetech bus (see the module docstring).

    A :class:`~lerobot_gym.teleop.base.Teleop` with ``action_kind = "joint"``.

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
            :data:`~lerobot_gym.core.info.EVENT_KEYS` mapped to bools).
        intervention_threshold_deg: Moving the leader this far (degrees, any arm joint) from
            the reference starts an intervention (None: only the ``events`` key does).
        follower: Optional callable returning the follower's present joint positions in
            boundary units: the reference for ``intervention_threshold_deg``.

    Example:
        leader = SO101Leader("/dev/ttyACM1", leader_id="my_leader")
        leader.connect()
        obs, *_ = env.step(leader.get_action())
        leader.disconnect()
    """

    action_kind = "joint"

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
        intervention_threshold_deg: float | None = None,
        follower: Callable[[], np.ndarray] | None = None,
    ) -> None:
        if intervention_threshold_deg is not None and not intervention_threshold_deg > 0:
            raise ConfigError(
                f"intervention_threshold_deg must be > 0 degrees, got {intervention_threshold_deg}"
            )
        self.port, self.leader_id = port, leader_id
        self.calibration_dir = calibration_dir
        self.use_degrees = use_degrees
        self.robot = robot or so101_spec()
        self.bus_timeout_ms, self.bus_retries = bus_timeout_ms, bus_retries
        self._events = events
        self.intervention_threshold_deg = intervention_threshold_deg
        self._follower = follower
        self._reference: np.ndarray | None = None  # leader pose at reset (no follower given)
        self._moved = False  # a motion-triggered intervention is on
        self._last_action: np.ndarray | None = None
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
        action = self.converter.user_from_ticks(raw).astype(np.float32)
        self._last_action = action
        return action

    def reset(self) -> None:
        """A new episode: end a motion-triggered intervention, re-take the reference pose."""
        self._moved = False
        self._reference = None

    def events(self) -> dict[str, bool]:
        """Operator events: those of ``events`` if given, plus the motion-triggered intervention.

        The motion check reads the leader (one bus read) when no action was read since the
        last call.
        """
        events = check_events(self._events() if self._events is not None else {}, "events=")
        if self.intervention_threshold_deg is not None:
            events[IS_INTERVENTION] = events[IS_INTERVENTION] or self._motion_intervention()
        return events

    get_teleop_events = events  # LeRobot's HasTeleopEvents name (module docstring)

    def _motion_intervention(self) -> bool:
        if self._moved:
            return True
        pose = self._last_action if self._last_action is not None else self.get_action()
        self._last_action = None
        if self._follower is not None:
            reference = np.asarray(self._follower(), dtype=np.float64)
        else:
            if self._reference is None:
                self._reference = pose.astype(np.float64)
            reference = self._reference
        arm = [i for i, j in enumerate(self.robot.joints) if not j.is_gripper]
        assert self.intervention_threshold_deg is not None  # checked by the caller
        distance = float(np.max(np.abs(pose[arm] - reference[arm])))
        self._moved = distance > self.intervention_threshold_deg
        return self._moved

    def disconnect(self) -> None:
        """Close the bus (torque is already off on a leader)."""
        if self.bus is not None:
            self.bus.close(disable_torque=True)
            self.bus = None
