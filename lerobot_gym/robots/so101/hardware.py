"""The real SO-101 follower arm as a :class:`~lerobot_gym.core.backend.Backend`.

:class:`SO101Hardware` is the generic servo-arm backend
(:class:`~lerobot_gym.hardware.servo_arm.ServoArm`: bounded-speed reset, fail-safe torque off,
status watch, cameras) configured for the SO-101: one
:class:`~lerobot_gym.hardware.feetech.FeetechBus` (a USB serial port, or the pty of the bus
emulator) with the SO-101's motor table, calibration and registers, the way LeRobot's
``SOFollower`` does it.

Positions go SI radians <-> LeRobot units (degrees, gripper 0..100) <-> raw ticks through a
:class:`~lerobot_gym.robots.so101.ticks.TickConverter`; :mod:`lerobot_gym.robots.so101.ticks`
also owns LeRobot's older -100..100 convention (``m100_to_degrees``, ``degrees_to_m100``), used
when ``use_degrees=False`` and to replay datasets recorded in it.

Design decisions:
    * :meth:`SO101Hardware.open_buses` opens the port, checks every servo answers with its
      model (handshake), loads the calibration file (writing it to the servos when they hold
      another one, as LeRobot does) and writes LeRobot's follower registers
      (``robots/so101/registers.py``); the servo arm then enables torque holding the present
      position.
    * A missing or corrupt calibration file raises :class:`~lerobot_gym.errors.CalibrationError`
      naming the exact ``lerobot-gym calibrate`` command for this arm (port, id and
      calibration folder), once: the backend never starts an interactive calibration itself
      (prompts belong to the CLI).
    * Goal ticks are clamped into the calibrated ``range_min..range_max`` by the converter as
      a last line of defence (the env's safety filter clamps to the spec's limits before, and
      the servo firmware clamps to its limit registers after).
    * Status error bits do not stop the arm by themselves (LeRobot ignores them on reads; its
      gripper is configured to trip overload when it squeezes); a
      :class:`~lerobot_gym.hardware.feetech.StatusWatch` raises
      :class:`~lerobot_gym.errors.MotorStatusError` for critical flags (voltage, angle sensor)
      or flags that persist for ``status_error_patience`` reads.
    * The bus defaults to a 20 ms reply allowance and one retry, so a persistent fault is
      detected within ~40 ms plus one control period; LeRobot's ~50 ms and two retries would
      take 150 ms. Raise ``bus_timeout_ms`` for slow USB adapters.

Sources: shared/reference/lerobot-interfaces.md §2.2-2.6 (follower config, configure
registers, sync read/write, disconnect) and servo-protocols.md §4 (emulator behaviour).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import ConfigError
from lerobot_gym.hardware.camera_devices import FrameSource
from lerobot_gym.hardware.feetech.status import StatusWatch
from lerobot_gym.hardware.servo_arm import ArmConnection, MotionSettings, ServoArm
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
    "SO101Hardware",
    "SO101HardwareConfig",
]

logger = logging.getLogger(__name__)


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
        MotionSettings.of(self)  # checks the motion settings now rather than at construction
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


class SO101Hardware(ServoArm):
    """An SO-101 follower: one Feetech bus and its motor table on :class:`ServoArm`.

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

    #: STS3215 current, 6.5 mA per unit (LeRobot's raw ``Present_Current``); read on request.
    current_register = "Present_Current"

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
        motion = MotionSettings.of(config)
        super().__init__(robot, motion, cameras=cameras, fps=fps, image_size=image_size)
        self.config = config

    @property
    def bus(self) -> Any:
        """The arm's one :class:`~lerobot_gym.hardware.feetech.FeetechBus` (None when closed)."""
        return self.buses[0] if self.buses else None

    @property
    def calibration(self) -> dict[str, MotorCalibration]:
        """The calibration in use (after :meth:`connect`)."""
        return cast(TickConverter, self._require()).calibration

    def describe(self) -> str:
        """How errors name the arm."""
        return f"the SO-101 on {self.config.port}"

    def open_buses(self) -> ArmConnection:
        """Open the bus, check the servos, apply the calibration and LeRobot's registers.

        Raises:
            PortNotFoundError, PortBusyError: The port is wrong or in use.
            MotorNotFoundError: A servo does not answer (or is another model).
            CalibrationError: The calibration file is missing or corrupt (names the fix).
        """
        from lerobot_gym.hardware.feetech import FeetechBus
        from lerobot_gym.robots.so101.registers import configure_so101_follower

        cfg = self.config
        motors = so101_motors(use_degrees=cfg.use_degrees)
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
        except BaseException:
            bus.close(disable_torque=True)
            raise
        converter = TickConverter(self.robot, calibration, cfg.use_degrees)
        return ArmConnection([bus], converter, watch)
