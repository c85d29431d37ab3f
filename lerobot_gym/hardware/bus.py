"""What a servo bus is to the rest of the package: :class:`Motor` and :class:`MotorBus`.

A robot's servo arms talk to their servos through a :class:`MotorBus`: registers by name for a
set of named motors, one at a time or all at once (sync read/write), torque on and off, and the
typed errors of :mod:`lerobot_gym.errors`. :class:`~lerobot_gym.hardware.feetech.FeetechBus`
implements it for Feetech STS servos (the SO-101); a Dynamixel Protocol 2.0 bus (the ALOHA's
ViperX arms) would implement the same protocol, so one servo-arm backend
(:mod:`lerobot_gym.hardware.servo_arm`) drives either.

Design decisions:
    * One :class:`Motor` type for buses, calibration files and robots' motor tables: its bus id,
      its model (as LeRobot spells it: ``"sts3215"``, ``"xm430-w350"``) and how its position is
      normalised (:class:`NormMode`, LeRobot's ``MotorNormMode``). Its name is the key of the
      mapping that holds it, so the same record can serve under any name.
    * Which models a bus supports is the bus's business: :class:`Motor` only checks the id, and
      a bus refuses models it cannot drive when it is built.
    * Register values at this API are signed integers; each bus applies its servos' encodings.

Errors (all :class:`~lerobot_gym.errors.HardwareError`): ``PortNotFoundError`` /
``PortBusyError`` at connect, ``PortIOError`` when the OS fails the port, ``MotorTimeoutError``,
``CorruptPacketError``, ``MotorNotFoundError``, ``MotorStatusError`` (servo error flags) and
``NotConnectedError`` before connect.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from lerobot_gym.errors import ConfigError

__all__ = ["Motor", "MotorBus", "NormMode"]


class NormMode(str, enum.Enum):
    """How raw servo ticks map to the values a policy sees (LeRobot ``MotorNormMode``).

    The string values are LeRobot's enum member names, so they round-trip through configs.
    """

    DEGREES = "DEGREES"
    """Degrees, zero at the middle of the calibrated range (LeRobot's default today)."""

    RANGE_M100_100 = "RANGE_M100_100"
    """-100..100 across the calibrated range (LeRobot ``use_degrees=False``)."""

    RANGE_0_100 = "RANGE_0_100"
    """0..100 across the calibrated range (a gripper: 0 closed, 100 open)."""


@dataclass(frozen=True)
class Motor:
    """One servo on a bus.

    Attributes:
        id: The servo's bus id (0..252 on Feetech and Dynamixel buses).
        model: Model name as LeRobot spells it (``"sts3215"``); the bus checks it supports it.
        norm_mode: How its position is normalised for policies.
    """

    id: int
    model: str = "sts3215"
    norm_mode: NormMode = NormMode.DEGREES

    def __post_init__(self) -> None:
        if not 0 <= self.id <= 252:
            raise ConfigError(f"servo id {self.id} is outside 0..252")
        if not self.model:
            raise ConfigError("a Motor needs a model name, e.g. Motor(1, 'sts3215')")
        object.__setattr__(self, "norm_mode", NormMode(self.norm_mode))


@runtime_checkable
class MotorBus(Protocol):
    """A bus of named servos, addressed by register name (see the module docstring).

    Attributes:
        port: The device the bus talks through (``/dev/ttyACM0``, an emulator's pty).
        motors: Motor name -> :class:`Motor`, in the order reads are returned.
        status_flags: Motor name -> the error flags of its latest status (``()`` when clear).
        stats: Traffic counters with an ``as_dict()`` method.
    """

    @property
    def port(self) -> str:
        """The device the bus talks through."""
        ...

    @property
    def motors(self) -> Mapping[str, Motor]:
        """Motor name -> :class:`Motor`."""
        ...

    @property
    def status_flags(self) -> Mapping[str, tuple[str, ...]]:
        """Motor name -> the error flags of its latest status."""
        ...

    @property
    def stats(self) -> Any:
        """Traffic counters (``as_dict()``)."""
        ...

    @property
    def is_connected(self) -> bool:
        """Whether the port is open."""
        ...

    def connect(self, handshake: bool = True) -> None:
        """Open the port; with ``handshake``, check every motor answers as its model."""
        ...

    def close(self, disable_torque: bool = True) -> None:
        """Disable torque (unless told not to), then close the port; a lost port is released."""
        ...

    def read(self, register: str, motor: str, *, check_status: bool = True) -> int:
        """One register of one motor."""
        ...

    def write(self, register: str, motor: str, value: int, *, check_status: bool = True) -> None:
        """Write one register of one motor, acknowledged."""
        ...

    def sync_read(
        self, register: str, motors: Iterable[str] | None = None, *, check_status: bool = True
    ) -> dict[str, int]:
        """One register of several motors in one round trip."""
        ...

    def sync_read_registers(
        self,
        registers: Iterable[str],
        motors: Iterable[str] | None = None,
        *,
        check_status: bool = True,
    ) -> dict[str, dict[str, int]]:
        """Several adjacent registers of several motors in one round trip."""
        ...

    def sync_write(self, register: str, values: Mapping[str, int]) -> None:
        """Write one register of several motors in one packet (unacknowledged)."""
        ...

    def enable_torque(
        self, motors: Iterable[str] | None = None, *, hold_position: bool = False
    ) -> None:
        """Torque on (first holding the present position when asked)."""
        ...

    def disable_torque(self, motors: Iterable[str] | None = None) -> None:
        """Torque off, confirmed by every motor; raises after trying them all."""
        ...

    def emergency_torque_off(self, attempts: int = 3) -> None:
        """Broadcast torque off to every motor, unacknowledged, surviving port failures."""
        ...
