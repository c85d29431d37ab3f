"""The real ALOHA followers as a :class:`~lerobot_gym.core.backend.Backend`.

:class:`AlohaHardware` is the generic servo-arm backend
(:class:`~lerobot_gym.hardware.servo_arm.ServoArm`) configured for the ALOHA: two
:class:`~lerobot_gym.hardware.dynamixel.DynamixelBus` (the left and right ViperX 300 S, each on
its own U2D2 adapter), their motor tables and shadows (``robots/aloha/motors.py``), their
calibration files (``robots/aloha/calibration.py``) and registers.

Design decisions:
    * :meth:`AlohaHardware.open_buses` opens both ports and handshakes every servo (shadows
      included) before anything is written, loads both calibration files (a missing or corrupt
      one raises :class:`~lerobot_gym.errors.CalibrationError` naming ``lerobot-gym calibrate
      --robot.type=aloha_follower``), then writes the registers with torque off; the servo arm
      enables torque holding the present pose. A failure closes every bus opened so far.
    * Status: Dynamixel servos report a hardware error with the alert bit, and the firmware
      has already shut the servo down (Shutdown register): :class:`AlertWatch` stops the arm
      on the first read that reports it; other flags are reported in ``info``.
    * The bus allowance is 20 ms with one retry, so a persistent fault raises within ~60 ms
      of the read that meets it (the env then broadcasts torque off on every bus).

Sources: shared/reference/servo-protocols.md §3.3 (ALOHA ports, motor map, modes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lerobot_gym.assets.aloha import ARMS
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import ConfigError, MotorStatusError
from lerobot_gym.hardware.camera_devices import FrameSource
from lerobot_gym.hardware.servo_arm import ArmConnection, MotionSettings, ServoArm
from lerobot_gym.robots.aloha.calibration import AlohaTickConverter, load_arm_calibration
from lerobot_gym.robots.aloha.motors import arm_motors, arm_shadows, configure_arm

__all__ = ["AlertWatch", "AlohaHardware", "AlohaHardwareConfig"]

_PORTS_EXAMPLE = "ports={'left': '/dev/ttyDXL_puppet_left', 'right': '/dev/ttyDXL_puppet_right'}"


@dataclass(frozen=True)
class AlohaHardwareConfig:
    """Settings of the real (or emulated) ALOHA followers.

    Attributes:
        ports: Arm (``left``, ``right``) -> serial device of its follower bus.
        robot_id: Stem of the calibration files (``<robot_id>_left.json`` ...).
        calibration_dir: Folder of the files; default LeRobot's ``robots/aloha_follower``.
        max_speed_deg_s, settle_tolerance_deg, settle_timeout_s: The reset move.
        bus_timeout_ms, bus_retries: Reply allowance and retries of each bus.
        camera_max_age_s: A camera frame older than this raises ``CameraError``.
        disable_torque_on_close: Disable torque when the env closes.
    """

    ports: Mapping[str, str]
    robot_id: str = "aloha"
    calibration_dir: str | Path | None = None
    max_speed_deg_s: float = 60.0
    settle_tolerance_deg: float = 2.0
    settle_timeout_s: float = 1.0
    bus_timeout_ms: float = 20.0
    bus_retries: int = 1
    camera_max_age_s: float = 0.5
    disable_torque_on_close: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.ports, Mapping) or set(self.ports) != set(ARMS):
            raise ConfigError(
                f"the ALOHA needs one serial port per follower arm, e.g. {_PORTS_EXAMPLE} "
                "(find them with `lerobot-gym find-port`)"
            )


class AlertWatch:
    """Stops the arm when a servo reports the alert bit (it has shut down on a hardware error).

    Args:
        motor_ids: Motor name -> servo id.
    """

    def __init__(self, motor_ids: Mapping[str, int]) -> None:
        self.motor_ids = dict(motor_ids)

    def update(self, flags: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """Raise on ``alert``; return the flags set (motor -> flags)."""
        active = {name: tuple(f) for name, f in flags.items() if f}
        for name, current in active.items():
            if "alert" in current:
                raise MotorStatusError(
                    f"servo id {self.motor_ids.get(name)} ({name}) reported a hardware error "
                    "and shut down; the ALOHA was stopped. Check power, load and temperature, "
                    "power-cycle the arm to clear it, then reset the env",
                    motor_id=self.motor_ids.get(name),
                    flags=current,
                )
        return active

    def reset(self) -> None:
        """Nothing is remembered between reads."""


class AlohaHardware(ServoArm):
    """The ALOHA's two ViperX 300 S followers on two Dynamixel buses (see the module doc).

    Args:
        robot: The ALOHA spec.
        config: Ports, calibration, motion and bus settings.
        cameras: Camera name -> frame source.
        fps: Control rate.
        image_size: (height, width) of observed images.
    """

    def __init__(
        self,
        robot: RobotSpec,
        config: AlohaHardwareConfig,
        *,
        cameras: Mapping[str, FrameSource] | None = None,
        fps: int = 50,
        image_size: tuple[int, int] = (480, 640),
    ) -> None:
        expected = [n for arm in ARMS for n in arm_motors("follower", arm)]
        if list(robot.joint_names) != expected:
            raise ConfigError(
                f"AlohaHardware drives the ALOHA joints {expected}; robot {robot.name!r} has "
                f"{list(robot.joint_names)}"
            )
        motion = MotionSettings.of(config)
        super().__init__(robot, motion, cameras=cameras, fps=fps, image_size=image_size)
        self.config = config

    def describe(self) -> str:
        """How errors name the robot."""
        return f"the ALOHA followers on {', '.join(self.config.ports.values())}"

    def open_buses(self) -> ArmConnection:
        """Open, handshake, calibrate and configure both follower buses."""
        from lerobot_gym.hardware.dynamixel import DynamixelBus

        cfg = self.config
        buses: list[Any] = []
        try:
            for arm in ARMS:
                bus = DynamixelBus(
                    cfg.ports[arm],
                    arm_motors("follower", arm),
                    shadows=arm_shadows("follower", arm),
                    timeout_ms=cfg.bus_timeout_ms,
                    retries=cfg.bus_retries,
                )
                bus.connect()
                buses.append(bus)
            calibration = {}
            for arm in ARMS:
                calibration.update(
                    load_arm_calibration("follower", cfg.robot_id, arm, cfg.calibration_dir)
                )
            for arm, bus in zip(ARMS, buses):
                limits = {
                    n: (c.homing_offset, c.range_min, c.range_max)
                    for n, c in calibration.items()
                    if n in bus.motors
                }
                configure_arm(bus, "follower", arm, limits)
        except BaseException:
            for bus in buses:
                bus.close(disable_torque=True)
            raise
        ids = {n: m.id for bus in buses for n, m in bus.motors.items()}
        return ArmConnection(buses, AlohaTickConverter(self.robot, calibration), AlertWatch(ids))
