"""The real SO-101 follower arm as a :class:`~lerobot_gym.core.backend.Backend`.

:class:`SO101Hardware` drives the six STS3215 servos of an SO-101 over a
:class:`~lerobot_gym.hardware.feetech.FeetechBus` (a USB serial port, or the pty of the bus
emulator), the way LeRobot's ``SOFollower`` does, behind the env's SI interface.

Positions go SI radians <-> LeRobot units (degrees, gripper 0..100) <-> raw ticks through a
:class:`~lerobot_gym.robots.so101.ticks.TickConverter`; :mod:`lerobot_gym.robots.so101.ticks`
also owns LeRobot's older -100..100 convention (``m100_to_degrees``, ``degrees_to_m100``),
used when ``use_degrees=False`` and to replay datasets recorded in it.

Design decisions:
    * The constructor does no I/O; :meth:`SO101Hardware.connect` opens the port, checks every
      servo answers with its model (handshake), loads the calibration file (writing it to the
      servos when they hold another one, as LeRobot does), writes LeRobot's follower
      registers (``configure_so101_follower``) and enables torque.
    * A missing or corrupt calibration file raises :class:`~lerobot_gym.errors.CalibrationError`
      naming the exact ``lerobot-gym calibrate`` command for this arm (port, id and
      calibration folder), once: the backend never starts an interactive calibration itself
      (prompts belong to the CLI).
    * Torque is enabled holding the present position (Goal_Position = Present_Position
      first), so firmware that kept a stale goal cannot make the arm jump at connect.
    * ``command`` clamps raw goal ticks into the calibrated ``range_min..range_max`` as a last
      line of defence (the env's safety filter clamps to the spec's limits before, and the
      servo firmware clamps to its limit registers after).
    * ``reset`` moves at a bounded joint speed (``max_speed_deg_s``, 60 deg/s by default) by
      interpolating goals from the present pose, then holds the goal until the arm settles
      (within ``settle_tolerance_deg``) or ``settle_timeout_s`` passes; an arm that cannot reach
      the pose (an obstacle, gravity) is logged, not raised. ``world_init`` is ignored: the
      hardware has no props to place.
    * ``fail_safe`` disables torque with a SYNC_WRITE (unacknowledged, one packet for all
      servos), so one dead servo cannot keep the others powered while its acknowledged write
      times out; it never raises. ``close`` lets :meth:`FeetechBus.disable_torque` do the
      same and then confirm servo by servo.
    * After ``fail_safe`` the arm is limp and :meth:`SO101Hardware.command` raises until the
      next :meth:`SO101Hardware.reset`, which re-enables torque holding the present pose
      before moving: once the fault is fixed, resetting the env is all it takes.
    * Status error bits do not stop the arm by themselves (LeRobot ignores them on reads; its
      gripper is configured to trip overload when it squeezes). Each read reports them in
      ``RobotState.extras["status_flags"]``; a :class:`~lerobot_gym.hardware.feetech.StatusWatch`
      raises :class:`~lerobot_gym.errors.MotorStatusError` for critical flags (voltage, angle
      sensor) or flags that persist for ``status_error_patience`` reads.
    * The bus defaults to a 20 ms reply allowance and one retry, so a persistent fault is
      detected within ~40 ms plus one control period; LeRobot's ~50 ms and two retries would
      take 150 ms. Raise ``bus_timeout_ms`` for slow USB adapters.

Sources: shared/reference/lerobot-interfaces.md §2.2-2.6 (follower config, configure
registers, sync read/write, disconnect) and servo-protocols.md §4 (emulator behaviour).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import ConfigError, HardwareError, NotConnectedError
from lerobot_gym.hardware.feetech.status import StatusWatch
from lerobot_gym.robots.so101.calibration import (
    MotorCalibration,
    calibrate_command,
    calibration_path,
    load_calibration,
)
from lerobot_gym.robots.so101.calibration_procedure import is_calibrated, write_calibration
from lerobot_gym.robots.so101.motors import so101_motors
from lerobot_gym.robots.so101.ticks import TickConverter

__all__ = [
    "FrameSource",
    "SO101Hardware",
    "SO101HardwareConfig",
]

logger = logging.getLogger(__name__)

_POSITION = "Present_Position"
_VELOCITY = "Present_Velocity"


class FrameSource(Protocol):
    """A camera as the backend uses it (``OpenCVCamera``, ``SyntheticCamera``, a twin render)."""

    def connect(self) -> None:
        """Start delivering frames."""

    def disconnect(self) -> None:
        """Stop and release the device."""

    def read_latest(self, max_age_s: float | None = None) -> tuple[np.ndarray, float]:
        """The newest HxWx3 uint8 frame and its ``time.monotonic()`` capture time."""


@dataclass(frozen=True)
class SO101HardwareConfig:
    """Settings of a real (or emulated) SO-101 follower.

    Attributes:
        port: Serial device of the arm's bus, e.g. ``/dev/ttyACM0``.
        robot_id: The arm's id (LeRobot ``--robot.id``), the stem of its calibration file.
        calibration_dir: Folder holding ``<robot_id>.json``; default LeRobot's location.
        use_degrees: Convert through LeRobot degrees (True) or -100..100 (False).
        disable_torque_on_close: Disable torque when the env closes (LeRobot's default).
        max_speed_deg_s: Joint speed bound of the reset move.
        settle_tolerance_deg: A reset is done when every joint is this close to its goal.
        settle_timeout_s: Longest wait for the arm to settle after the reset move.
        bus_timeout_ms: Allowance for a status packet beyond its wire time.
        bus_retries: Retries of a failed bus transaction before raising.
        camera_max_age_s: A camera frame older than this raises ``CameraError`` (stalled).
        p_coefficient: Position loop P gain written at connect (LeRobot: 16).
        i_coefficient: Position loop I gain (LeRobot: 0).
        d_coefficient: Position loop D gain (LeRobot: 32).
        critical_status_flags: Servo status flags that stop the arm on the first read
            reporting them (names as in ``STATUS_ERROR_BITS``).
        status_error_patience: Consecutive reads with the same other flags on one servo that
            stop the arm (0: never).
        tolerated_status_flags: Servo -> flags it may report indefinitely (reported, never
            counted); by default overload on the gripper, which trips it when squeezing.
    """

    port: str
    robot_id: str = "follower"
    calibration_dir: str | Path | None = None
    use_degrees: bool = True
    disable_torque_on_close: bool = True
    max_speed_deg_s: float = 60.0
    settle_tolerance_deg: float = 2.0
    settle_timeout_s: float = 1.0
    bus_timeout_ms: float = 20.0
    bus_retries: int = 1
    camera_max_age_s: float = 0.5
    p_coefficient: int = 16
    i_coefficient: int = 0
    d_coefficient: int = 32
    critical_status_flags: tuple[str, ...] = ("voltage", "angle")
    status_error_patience: int = 30
    tolerated_status_flags: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"gripper": ("overload",)}
    )

    def __post_init__(self) -> None:
        if not self.port:
            raise ConfigError("pass port=..., find it with `lerobot-gym find-port`")
        if not self.max_speed_deg_s > 0:
            raise ConfigError(f"max_speed_deg_s must be positive, got {self.max_speed_deg_s}")
        if self.settle_tolerance_deg <= 0 or self.settle_timeout_s < 0:
            raise ConfigError("settle_tolerance_deg must be > 0 and settle_timeout_s >= 0")
        self.status_watch({})  # checks the status-flag settings now rather than at connect

    def status_watch(self, motor_ids: Mapping[str, int]) -> StatusWatch:
        """The :class:`StatusWatch` these settings describe, for the given motors."""
        return StatusWatch(
            motor_ids,
            critical_flags=self.critical_status_flags,
            patience=self.status_error_patience,
            tolerated=self.tolerated_status_flags,
        )


def load_arm_calibration(
    kind: str, port: str, arm_id: str, calibration_dir: str | Path | None
) -> dict[str, MotorCalibration]:
    """Load an arm's calibration file; any failure names the command that recreates it.

    Raises:
        CalibrationError: The file is missing or corrupt; the message gives the
            ``lerobot-gym calibrate`` command with this arm's port, id and folder.
    """
    path = calibration_path(kind, arm_id, calibration_dir)
    fix = calibrate_command(kind, arm_id, port=port, calibration_dir=calibration_dir)
    return load_calibration(path, so101_motors(), fix=fix)


# ---------------------------------------------------------------------------------------------
# The backend
# ---------------------------------------------------------------------------------------------


class SO101Hardware:
    """An SO-101 follower on a Feetech bus (see the module docstring).

    Args:
        robot: The SO-101 spec (joint order, limits, boundary units).
        config: Port, arm id, calibration location, speeds and bus settings.
        cameras: Camera name -> frame source, connected at :meth:`connect`.
        fps: Control rate; the reset move is interpolated at this rate.
        image_size: (height, width) of observed images (frames are checked against it).

    Example:
        backend = SO101Hardware(so101_spec(), SO101HardwareConfig(port="/dev/ttyACM0"))
        backend.connect()           # handshake, calibration, registers, torque on
        backend.reset(so101_spec().home_rad)
        state = backend.read()
        backend.close()             # torque off
    """

    #: Readings vary by encoder ticks between runs: seeding cannot reproduce a trajectory.
    deterministic = False

    def __init__(
        self,
        robot: RobotSpec,
        config: SO101HardwareConfig,
        *,
        cameras: Mapping[str, FrameSource] | None = None,
        fps: int = 30,
        image_size: tuple[int, int] = (480, 640),
    ) -> None:
        if tuple(robot.joint_names) != tuple(so101_motors()):
            raise ConfigError(
                f"SO101Hardware drives the SO-101 joints {list(so101_motors())}; robot "
                f"{robot.name!r} has {list(robot.joint_names)}"
            )
        self.robot, self.config = robot, config
        self.cameras: dict[str, FrameSource] = dict(cameras or {})
        self.fps = int(fps)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.bus: Any = None
        self.converter: TickConverter | None = None
        self.last_goal_ticks: np.ndarray | None = None
        self.status_watch: StatusWatch | None = None  # made at connect
        #: True after fail_safe() released torque; reset() re-enables it.
        self.torque_released = False

    # -- Backend protocol -------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        """Whether the bus is open."""
        return self.bus is not None and self.bus.is_connected

    @property
    def world(self) -> None:
        """Hardware has no privileged scene state."""
        return None

    @property
    def calibration(self) -> dict[str, MotorCalibration]:
        """The calibration in use (after :meth:`connect`)."""
        return self._require().calibration

    def connect(self) -> None:
        """Open the bus, check the servos, apply the calibration and registers, enable torque.

        Raises:
            PortNotFoundError, PortBusyError: The port is wrong or in use.
            MotorNotFoundError: A servo does not answer (or is another model).
            CalibrationError: The calibration file is missing or corrupt (names the fix).
        """
        from lerobot_gym.hardware.feetech import FeetechBus, Motor, configure_so101_follower

        if self.is_connected:
            return
        cfg = self.config
        # Every SO-101 joint has a motor id (the spec's motor table).
        motors = {
            j.name: Motor(cast(int, j.motor_id), j.motor_model or "sts3215")
            for j in self.robot.joints
        }
        watch = cfg.status_watch({name: motor.id for name, motor in motors.items()})
        bus = FeetechBus(cfg.port, motors, timeout_ms=cfg.bus_timeout_ms, retries=cfg.bus_retries)
        bus.connect()  # port errors first: calibrating needs the right port anyway
        try:
            calibration = load_arm_calibration(
                "follower", cfg.port, cfg.robot_id, cfg.calibration_dir
            )
            if not is_calibrated(bus, calibration):
                logger.info("writing the calibration of %r to the servos", cfg.robot_id)
                write_calibration(bus, calibration)
            configure_so101_follower(
                bus,
                p_coefficient=cfg.p_coefficient,
                i_coefficient=cfg.i_coefficient,
                d_coefficient=cfg.d_coefficient,
            )
            bus.enable_torque(hold_position=True)
            for camera in self.cameras.values():
                camera.connect()
        except BaseException:
            self._disconnect_cameras()
            bus.close(disable_torque=True)
            raise
        self.bus = bus
        self.converter = TickConverter(self.robot, calibration, cfg.use_degrees)
        self.status_watch = watch
        self.torque_released = False

    def reset(self, joint_positions_rad: np.ndarray, world_init: Any | None = None) -> None:
        """Move to a pose at bounded speed and wait for the arm to settle (props ignored).

        After :meth:`fail_safe` torque is first re-enabled, holding the present pose.
        """
        del world_init  # the real arm has no props to place
        self._require()
        if self.torque_released:
            self._reenable_torque()
        cfg = self.config
        target = np.clip(
            np.asarray(joint_positions_rad, dtype=np.float64),
            self.robot.lower_rad,
            self.robot.upper_rad,
        )
        start = self._read_positions()[0]
        distance = float(np.max(np.abs(target - start)))
        duration = distance / math.radians(cfg.max_speed_deg_s)
        steps = max(1, math.ceil(duration * self.fps))
        t0 = time.perf_counter()
        for k in range(1, steps + 1):
            self.command(start + (target - start) * (k / steps))
            _sleep_until(t0 + k * duration / steps)
        tolerance = math.radians(cfg.settle_tolerance_deg)
        deadline = time.perf_counter() + cfg.settle_timeout_s
        while True:
            error = np.abs(self._read_positions()[0] - target)
            if np.all(error <= tolerance):
                return
            if time.perf_counter() >= deadline:
                worst = self.robot.joint_names[int(np.argmax(error))]
                logger.warning(
                    "reset: the arm did not settle within %.1f s (%s is %.1f deg off)",
                    cfg.settle_timeout_s,
                    worst,
                    math.degrees(float(error.max())),
                )
                return
            self.command(target)
            time.sleep(1.0 / max(self.fps, 1))

    def command(self, joint_targets_rad: np.ndarray) -> None:
        """Write goal positions with one SYNC_WRITE (ticks clamped to the calibrated range).

        Raises:
            HardwareError: Torque was released by :meth:`fail_safe`; call ``env.reset()``.
        """
        converter = self._require()
        if self.torque_released:
            raise HardwareError(
                f"torque on the SO-101 on {self.config.port} was released after an error; fix "
                "the cause, then call env.reset(), which re-enables torque"
            )
        ticks = converter.ticks_from_rad(joint_targets_rad)
        self.last_goal_ticks = ticks
        names = self.robot.joint_names
        self.bus.sync_write("Goal_Position", {n: int(t) for n, t in zip(names, ticks)})

    def read(self, cameras: tuple[str, ...] = ()) -> RobotState:
        """Present positions and velocities with one SYNC_READ, plus the cameras' latest frames.

        ``extras`` holds ``present_ticks`` (raw positions) and ``status_flags`` (servo -> the
        status flags it reported in this read; servos without any are left out).
        """
        positions, velocities, ticks, flags = self._read_positions()
        images = {name: self._frame(name) for name in cameras}
        return RobotState(
            joint_positions_rad=positions,
            joint_velocities_rad_s=velocities,
            images=images,
            timestamp_s=time.monotonic(),
            extras={"present_ticks": ticks, "status_flags": flags},
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
        """Disable torque on every servo, best effort; never raises.

        :meth:`command` then raises until :meth:`reset` re-enables torque.
        """
        self.torque_released = True
        self._broadcast_torque_off()

    def close(self) -> None:
        """Disable torque (unless configured not to), close the port and the cameras."""
        bus = self.bus
        try:
            if bus is not None and bus.is_connected:
                # The bus broadcasts torque off, then confirms it servo by servo.
                bus.close(disable_torque=self.config.disable_torque_on_close)
        finally:
            self.bus = None
            self._disconnect_cameras()

    # -- helpers ----------------------------------------------------------------------------
    @property
    def bus_stats(self) -> dict[str, int]:
        """The bus's traffic counters (timeouts, corrupt packets, retries ...)."""
        if self.bus is None:
            raise NotConnectedError("the arm is not connected; call env.reset() first")
        return self.bus.stats.as_dict()

    def _require(self) -> TickConverter:
        if not self.is_connected or self.converter is None:
            raise NotConnectedError(
                f"the SO-101 on {self.config.port} is not connected; call env.reset() first"
            )
        return self.converter

    def _read_positions(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, tuple[str, ...]]]:
        converter = self._require()
        names = self.robot.joint_names
        # Status bits do not raise here: the watch decides which ones stop the arm.
        values = self.bus.sync_read_registers([_POSITION, _VELOCITY], check_status=False)
        assert self.status_watch is not None  # made with the converter at connect
        flags = self.status_watch.update({n: self.bus.status_flags.get(n, ()) for n in names})
        ticks = np.array([values[_POSITION][n] for n in names], dtype=np.int64)
        velocity_ticks = np.array([values[_VELOCITY][n] for n in names], dtype=np.float64)
        positions = converter.rad_from_ticks(ticks)
        return positions, velocity_ticks * converter.rad_per_tick, ticks, flags

    def _reenable_torque(self) -> None:
        """Torque back on after :meth:`fail_safe`, holding the present pose (no jump)."""
        logger.info("re-enabling torque on %s after a fail-safe stop", self.config.port)
        if self.status_watch is not None:
            self.status_watch.reset()
        self.bus.enable_torque(hold_position=True)
        self.torque_released = False

    def _frame(self, name: str, check_size: bool = True) -> np.ndarray:
        camera = self.cameras.get(name)
        if camera is None:
            raise ConfigError(
                f"no device for camera {name!r}; pass cameras={{{name!r}: 0, ...}} (a device "
                "index or path) to gym.make"
            )
        frame, _ = camera.read_latest(max_age_s=self.config.camera_max_age_s)
        if check_size and frame.shape[:2] != self.image_size:
            raise ConfigError(
                f"camera {name!r} delivers {frame.shape[1]}x{frame.shape[0]} frames but the env "
                f"observes {self.image_size[1]}x{self.image_size[0]}; pass a matching image_size"
            )
        return frame

    def _broadcast_torque_off(self) -> None:
        bus = self.bus
        if bus is None:
            return
        try:
            if bus.is_connected:
                # Twice: a SYNC_WRITE is unacknowledged, and one lost packet must not leave
                # the arm powered.
                for _ in range(2):
                    bus.sync_write("Torque_Enable", dict.fromkeys(bus.motors, 0))
        except Exception as exc:  # best effort: this runs while another error propagates
            logger.error("could not disable torque on %s: %s", self.config.port, exc)

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
