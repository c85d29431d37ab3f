"""One hardware backend for every robot made of servo arms: :class:`ServoArm`.

A robot's real backend is a small subclass that says how to open its buses
(:meth:`ServoArm.open_buses`: build each :class:`~lerobot_gym.hardware.bus.MotorBus`, connect
it, apply the robot's calibration and registers) and returns them with a :class:`JointConverter`
(SI radians <-> raw ticks through the robot's calibration) and a status watch. Everything else is
here, the same for one bus (the SO-101) or several (the ALOHA's two or four Dynamixel buses):

* the bounded-speed reset move and the settle wait;
* ``command``: goal ticks by SYNC_WRITE on each bus, clamped by the converter to the calibrated
  range;
* ``read``: positions and velocities by one SYNC_READ per bus, status flags through the watch;
  with ``read_currents`` (set by ``MotorCurrent``) the servos' current register in the same
  SYNC_READ (``current_register``: ``Present_Current`` on the Feetech SO-101);
* ``fail_safe``: an unacknowledged torque-off broadcast on every bus, surviving port failures
  (:meth:`MotorBus.emergency_torque_off`), after which ``command`` refuses until ``reset``
  re-enables torque holding the present pose;
* cameras (connected with the arm, frames checked against the observed size);
* ``close``: confirmed torque off (unless configured not to) and every port released, also when
  one was lost, so the next ``connect`` starts from scratch.

Design decisions:
    * The constructor does no I/O (``gym.make`` must not open a port or move an arm).
    * Joints are the robot's, in its order; each bus drives the joints named by its motors
      (motor names are joint names), so buses can split the joints any way.
    * The registers used are ``Goal_Position``, ``Present_Position`` and ``Present_Velocity``,
      names Feetech and Dynamixel control tables share (LeRobot's names).
    * ``reset`` moves at ``max_speed_deg_s`` by interpolating goals from the present pose at
      the control rate, then holds the goal until every joint is within
      ``settle_tolerance_deg`` or ``settle_timeout_s`` passes; an arm that cannot reach the pose
      (an obstacle, gravity) is logged, not raised. ``world_init`` is ignored: hardware has no
      props to place.

Sources: shared/reference/lerobot-interfaces.md §2.2-2.6 (LeRobot's follower: connect,
configure, sync read/write, disconnect).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import ConfigError, HardwareError, NotConnectedError
from lerobot_gym.hardware.bus import MotorBus
from lerobot_gym.hardware.camera_devices import FrameSource

__all__ = ["ArmConnection", "JointConverter", "MotionSettings", "ServoArm", "StatusPolicy"]

logger = logging.getLogger(__name__)

_POSITION = "Present_Position"
_VELOCITY = "Present_Velocity"
_GOAL = "Goal_Position"


class JointConverter(Protocol):
    """A robot's calibration as unit conversion, over all its joints in the robot's order."""

    rad_per_tick: np.ndarray

    def ticks_from_rad(self, q_rad: Any) -> np.ndarray:
        """SI joint coordinates -> raw ticks, clamped into the calibrated range."""
        ...

    def rad_from_ticks(self, ticks: Any) -> np.ndarray:
        """Raw ticks -> SI joint coordinates."""
        ...


class StatusPolicy(Protocol):
    """Decides which servo status flags stop the arm (e.g. ``feetech.StatusWatch``)."""

    def update(self, flags: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """Account for one read's flags; raise ``MotorStatusError`` when the arm must stop."""
        ...

    def reset(self) -> None:
        """Forget what was seen (torque was re-enabled)."""
        ...


@dataclass(frozen=True)
class MotionSettings:
    """How a servo arm moves and watches itself (the robot-independent settings).

    Attributes:
        max_speed_deg_s: Joint speed bound of the reset move.
        settle_tolerance_deg: A reset is done when every joint is this close to its goal.
        settle_timeout_s: Longest wait for the arm to settle after the reset move.
        camera_max_age_s: A camera frame older than this raises ``CameraError`` (stalled).
        disable_torque_on_close: Disable torque when the backend closes (LeRobot's default).
    """

    max_speed_deg_s: float = 60.0
    settle_tolerance_deg: float = 2.0
    settle_timeout_s: float = 1.0
    camera_max_age_s: float = 0.5
    disable_torque_on_close: bool = True

    @classmethod
    def of(cls, config: Any) -> MotionSettings:
        """The motion settings of a robot's hardware config (any object with these fields)."""
        return cls(
            max_speed_deg_s=config.max_speed_deg_s,
            settle_tolerance_deg=config.settle_tolerance_deg,
            settle_timeout_s=config.settle_timeout_s,
            camera_max_age_s=config.camera_max_age_s,
            disable_torque_on_close=config.disable_torque_on_close,
        )

    def __post_init__(self) -> None:
        if not self.max_speed_deg_s > 0:
            raise ConfigError(f"max_speed_deg_s must be positive, got {self.max_speed_deg_s}")
        if self.settle_tolerance_deg <= 0 or self.settle_timeout_s < 0:
            raise ConfigError("settle_tolerance_deg must be > 0 and settle_timeout_s >= 0")


@dataclass
class ArmConnection:
    """What a robot's :meth:`ServoArm.open_buses` hands back: connected, configured buses.

    Attributes:
        buses: The robot's buses, connected, calibrated and configured (torque not yet on).
        converter: Radians <-> ticks through the robot's calibration, in the robot's joint order.
        status_watch: The status-flag policy (None: flags are reported, never stop the arm).
    """

    buses: list[MotorBus]
    converter: JointConverter
    status_watch: StatusPolicy | None = None


class ServoArm:
    """A robot of servo arms on one or more motor buses (see the module docstring).

    Args:
        robot: The robot's spec (joint order, limits, boundary units).
        motion: Reset speed, settling, camera staleness, torque at close.
        cameras: Camera name -> frame source, connected at :meth:`connect`.
        fps: Control rate; the reset move is interpolated at this rate.
        image_size: (height, width) of observed images (frames are checked against it).
    """

    #: Readings vary by encoder ticks between runs: seeding cannot reproduce a trajectory.
    deterministic = False
    #: The servos' current register, read when :attr:`read_currents` is set (None: the
    #: robot's servos have none this backend reads).
    current_register: str | None = None

    def __init__(
        self,
        robot: RobotSpec,
        motion: MotionSettings,
        *,
        cameras: Mapping[str, FrameSource] | None = None,
        fps: int = 30,
        image_size: tuple[int, int] = (480, 640),
    ) -> None:
        self.robot, self.motion = robot, motion
        self.cameras: dict[str, FrameSource] = dict(cameras or {})
        self.fps = int(fps)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.buses: list[MotorBus] = []
        self.converter: Any = None
        self.status_watch: StatusPolicy | None = None
        self.last_goal_ticks: np.ndarray | None = None
        #: True after fail_safe() released torque; reset() re-enables it.
        self.torque_released = False
        #: Add the servos' raw currents to every read (``extras["present_current"]``); set by
        #: the ``MotorCurrent`` wrapper. Off by default: the wider SYNC_READ costs wire time.
        self.read_currents = False
        self._bus_joints: list[tuple[MotorBus, list[str], np.ndarray]] = []

    # -- what a robot provides ----------------------------------------------------------------
    def open_buses(self) -> ArmConnection:
        """Build, connect and configure the robot's buses (a subclass's job)."""
        raise NotImplementedError(f"{type(self).__name__} must implement open_buses()")

    def describe(self) -> str:
        """How errors name the arm, e.g. ``"the SO-101 on /dev/ttyACM0"``."""
        ports = ", ".join(b.port for b in self.buses) or "its ports"
        return f"the {self.robot.name} on {ports}"

    # -- Backend protocol -------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        """Whether every bus is open (False once a lost port could not be reopened)."""
        return bool(self.buses) and all(b.is_connected for b in self.buses)

    @property
    def world(self) -> None:
        """Hardware has no privileged scene state."""
        return None

    def connect(self) -> None:
        """Open and configure the buses (:meth:`open_buses`), enable torque, start the cameras.

        Torque is enabled holding the present position, so firmware that kept a stale goal
        cannot make the arm jump. On any failure every bus is closed (torque off) and the
        cameras released.
        """
        if self.is_connected:
            return
        self._release_lost_buses()
        connection = self.open_buses()
        try:
            self._attach(connection)
            for bus in connection.buses:
                bus.enable_torque(hold_position=True)
            for camera in self.cameras.values():
                camera.connect()
        except BaseException:
            self.buses, self._bus_joints, self.converter = [], [], None
            self._disconnect_cameras()
            for bus in connection.buses:
                bus.close(disable_torque=True)
            raise

    def _attach(self, connection: ArmConnection) -> None:
        names = list(self.robot.joint_names)
        driven = [n for bus in connection.buses for n in bus.motors]
        if sorted(driven) != sorted(names):
            raise ConfigError(
                f"the buses of {self.robot.name!r} drive {driven}, but its joints are {names}; "
                "each joint needs exactly one motor of the same name"
            )
        self.buses = list(connection.buses)
        self._bus_joints = [
            (bus, list(bus.motors), np.array([names.index(n) for n in bus.motors]))
            for bus in self.buses
        ]
        self.converter = connection.converter
        self.status_watch = connection.status_watch
        self.torque_released = False

    def reset(self, joint_positions_rad: np.ndarray, world_init: Any | None = None) -> None:
        """Move to a pose at bounded speed and wait for the arm to settle (props ignored).

        After :meth:`fail_safe` torque is first re-enabled, holding the present pose.
        """
        del world_init  # the real arm has no props to place
        self._require()
        if self.torque_released:
            self._reenable_torque()
        motion = self.motion
        target = np.clip(
            np.asarray(joint_positions_rad, dtype=np.float64),
            self.robot.lower_rad,
            self.robot.upper_rad,
        )
        start = self._read_positions()[0]
        distance = float(np.max(np.abs(target - start)))
        duration = distance / math.radians(motion.max_speed_deg_s)
        steps = max(1, math.ceil(duration * self.fps))
        t0 = time.perf_counter()
        for k in range(1, steps + 1):
            self.command(start + (target - start) * (k / steps))
            _sleep_until(t0 + k * duration / steps)
        tolerance = math.radians(motion.settle_tolerance_deg)
        deadline = time.perf_counter() + motion.settle_timeout_s
        while True:
            error = np.abs(self._read_positions()[0] - target)
            if np.all(error <= tolerance):
                return
            if time.perf_counter() >= deadline:
                worst = self.robot.joint_names[int(np.argmax(error))]
                logger.warning(
                    "reset: the arm did not settle within %.1f s (%s is %.1f deg off)",
                    motion.settle_timeout_s,
                    worst,
                    math.degrees(float(error.max())),
                )
                return
            self.command(target)
            time.sleep(1.0 / max(self.fps, 1))

    def command(self, joint_targets_rad: np.ndarray) -> None:
        """Write goal positions with one SYNC_WRITE per bus (ticks clamped by the converter).

        Raises:
            HardwareError: Torque was released by :meth:`fail_safe`; call ``env.reset()``.
        """
        converter = self._require()
        if self.torque_released:
            raise HardwareError(
                f"torque on {self.describe()} was released after an error; fix the cause, "
                "then call env.reset(), which re-enables torque"
            )
        ticks = converter.ticks_from_rad(joint_targets_rad)
        self.last_goal_ticks = ticks
        for bus, names, index in self._bus_joints:
            bus.sync_write(_GOAL, {n: int(t) for n, t in zip(names, ticks[index])})

    def read(self, cameras: tuple[str, ...] = ()) -> RobotState:
        """Present positions and velocities (one SYNC_READ per bus) and the cameras' frames.

        ``extras`` holds ``present_ticks`` (raw positions) and ``status_flags`` (servo -> the
        status flags it reported in this read; servos without any are left out), and with
        :attr:`read_currents` ``present_current`` (raw register values, one per joint, read in
        the same SYNC_READ).
        """
        positions, velocities, ticks, flags, currents = self._read_positions()
        images = {name: self._frame(name) for name in cameras}
        extras: dict[str, Any] = {"present_ticks": ticks, "status_flags": flags}
        if currents is not None:
            extras["present_current"] = currents
        return RobotState(
            joint_positions_rad=positions,
            joint_velocities_rad_s=velocities,
            images=images,
            timestamp_s=time.monotonic(),
            extras=extras,
        )

    def render(self, camera: str, height: int, width: int) -> np.ndarray:
        """The camera's latest frame, resized (nearest neighbour) to ``height x width``."""
        frame = self._frame(camera, check_size=False)
        if frame.shape[:2] == (height, width):
            return frame
        rows = np.arange(height) * frame.shape[0] // height
        cols = np.arange(width) * frame.shape[1] // width
        return frame[rows][:, cols]

    def fail_safe(self) -> None:
        """Disable torque on every servo of every bus, best effort; never raises.

        Each bus broadcasts torque off (unacknowledged, so one dead servo cannot keep the others
        powered), retrying on a reopened port after an OS error; a port that cannot be reopened
        is released. :meth:`command` then raises until :meth:`reset` re-enables torque.
        """
        self.torque_released = True
        for bus in self.buses:
            try:
                bus.emergency_torque_off()
            except Exception as exc:  # best effort: this runs while another error propagates
                logger.error("could not disable torque on %s: %s", bus.port, exc)

    def close(self) -> None:
        """Disable torque (unless configured not to), close every port and the cameras."""
        buses, self.buses, self._bus_joints = self.buses, [], []
        try:
            for bus in buses:
                # Torque off is broadcast, then confirmed servo by servo (a bus whose port was
                # lost only releases it).
                try:
                    bus.close(disable_torque=self.motion.disable_torque_on_close)
                except Exception as exc:
                    logger.error("closing the bus on %s failed: %s", bus.port, exc)
        finally:
            self._disconnect_cameras()

    # -- helpers ----------------------------------------------------------------------------
    @property
    def bus_stats(self) -> dict[str, int]:
        """The buses' traffic counters (timeouts, corrupt packets, retries ...), summed."""
        if not self.buses:
            raise NotConnectedError(f"{self.describe()} is not connected; call env.reset()")
        total: dict[str, int] = {}
        for bus in self.buses:
            for key, value in bus.stats.as_dict().items():
                total[key] = total.get(key, 0) + value
        return total

    def _require(self) -> JointConverter:
        if not self.is_connected or self.converter is None:
            raise NotConnectedError(f"{self.describe()} is not connected; call env.reset() first")
        return self.converter

    def _read_positions(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, tuple[str, ...]], np.ndarray | None]:
        converter = self._require()
        n = len(self.robot.joint_names)
        ticks = np.zeros(n, dtype=np.int64)
        velocity_ticks = np.zeros(n, dtype=np.float64)
        current = self.current_register if self.read_currents else None
        currents = np.zeros(n, dtype=np.float32) if current is not None else None
        registers = [_POSITION, _VELOCITY] + ([current] if current is not None else [])
        reported: dict[str, tuple[str, ...]] = {}
        for bus, names, index in self._bus_joints:
            # Status bits do not raise here: the watch decides which ones stop the arm.
            values = bus.sync_read_registers(registers, check_status=False)
            ticks[index] = [values[_POSITION][m] for m in names]
            velocity_ticks[index] = [values[_VELOCITY][m] for m in names]
            if currents is not None and current is not None:
                currents[index] = [values[current][m] for m in names]
            reported.update({m: bus.status_flags.get(m, ()) for m in names})
        if self.status_watch is not None:
            flags = self.status_watch.update(reported)
        else:
            flags = {m: f for m, f in reported.items() if f}
        positions = converter.rad_from_ticks(ticks)
        return positions, velocity_ticks * converter.rad_per_tick, ticks, flags, currents

    def _reenable_torque(self) -> None:
        """Torque back on after :meth:`fail_safe`, holding the present pose (no jump)."""
        logger.info("re-enabling torque on %s after a fail-safe stop", self.describe())
        if self.status_watch is not None:
            self.status_watch.reset()
        for bus in self.buses:
            bus.enable_torque(hold_position=True)
        self.torque_released = False

    def _frame(self, name: str, check_size: bool = True) -> np.ndarray:
        camera = self.cameras.get(name)
        if camera is None:
            raise ConfigError(
                f"no device for camera {name!r}; pass cameras={{{name!r}: 0, ...}} (a device "
                "index or path) to gym.make"
            )
        frame, _ = camera.read_latest(max_age_s=self.motion.camera_max_age_s)
        if check_size and frame.shape[:2] != self.image_size:
            raise ConfigError(
                f"camera {name!r} delivers {frame.shape[1]}x{frame.shape[0]} frames but the env "
                f"observes {self.image_size[1]}x{self.image_size[0]}; pass a matching image_size"
            )
        return frame

    def _release_lost_buses(self) -> None:
        """Before reconnecting: let go of buses whose port was lost, and of the cameras."""
        if self.buses:
            buses, self.buses, self._bus_joints = self.buses, [], []
            for bus in buses:
                bus.close(disable_torque=False)
            self._disconnect_cameras()

    def _disconnect_cameras(self) -> None:
        for name, camera in self.cameras.items():
            try:
                camera.disconnect()
            except Exception as exc:
                logger.warning("camera %r did not disconnect cleanly: %s", name, exc)


def _sleep_until(deadline: float) -> None:
    remaining = deadline - time.perf_counter()
    if remaining > 0:
        time.sleep(remaining)
