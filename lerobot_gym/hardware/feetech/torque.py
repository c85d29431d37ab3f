"""Torque and register set-up of a Feetech bus: :class:`TorqueMixin`, a base of ``FeetechBus``.

It owns enabling and disabling torque (with the Lock register that decides whether EEPROM
writes are saved), the fail-safe ``emergency_torque_off`` broadcast, the ``torque_disabled``
block, and lerobot's ``configure_motors`` registers.
It is built on the bus's register API (``read``/``write``/``sync_read``/``sync_write``, and the
transport for the emergency broadcast),
which :class:`~lerobot_gym.hardware.feetech.bus.FeetechBus` provides; the methods are typed
against :class:`_RegisterBus` (mypy's self-type protocol for mixins).

Design decisions:
    * Torque off must reach every servo even when one of them fails: :meth:`disable_torque`
      first broadcasts it with two SYNC_WRITEs (unacknowledged, so a silent servo cannot
      block the others), then writes it to each motor, carrying on past failures and raising
      the collected errors at the end. Status bits do not fail a torque-off write: the servo
      answered, so it heard it. A write that fails on an OS error of the port
      (:class:`~lerobot_gym.errors.PortIOError`) is tried again on the reopened port; the
      broadcasts' own failures are not reported, since the confirmed writes decide.
    * :meth:`enable_torque` can first set Goal_Position to the present position
      (``hold_position``): firmware that keeps a stale goal would otherwise jump to it.
      :meth:`torque_disabled` re-enables torque that way, and only when its body succeeded.

Sources: shared/reference/lerobot-interfaces.md §2.5 (registers written at configure)
and servo-protocols.md §1-2 (lerobot's ``FeetechMotorsBus``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from lerobot_gym.errors import HardwareError, MotorError, NotConnectedError, PortIOError
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.feetech.table import PHASE_MULTI_TURN_BIT
from lerobot_gym.hardware.feetech.transport import Transport

__all__ = ["TorqueMixin"]

#: Tries of each servo's torque-off write when the port fails (each try reopens it).
_PORT_ATTEMPTS = 3


class _RegisterBus(Protocol):
    """What :class:`TorqueMixin` needs of the class it is mixed into."""

    @property
    def port(self) -> str: ...

    @property
    def LOCK_REGISTER(self) -> str | None: ...

    @property
    def VENDOR(self) -> str: ...

    @property
    def motors(self) -> Mapping[str, Motor]: ...

    @property
    def _lock(self) -> contextlib.AbstractContextManager[Any]: ...

    def read(self, register: str, motor: str, *, check_status: bool = True) -> int: ...

    def write(
        self, register: str, motor: str, value: int, *, check_status: bool = True
    ) -> None: ...

    def sync_read(
        self, register: str, motors: Iterable[str] | None = None, *, check_status: bool = True
    ) -> dict[str, int]: ...

    def sync_write(self, register: str, values: Mapping[str, int]) -> None: ...

    def _sync_write_packet(self, register: str, values: Mapping[str, int]) -> bytes: ...

    @property
    def _transport(self) -> Transport | None: ...

    def enable_torque(
        self, motors: Iterable[str] | None = None, *, hold_position: bool = False
    ) -> None: ...

    def disable_torque(self, motors: Iterable[str] | None = None) -> None: ...


class TorqueMixin:
    """Torque on/off and ``configure_motors`` for a bus with a register API (see module doc)."""

    #: The register that decides whether EEPROM writes are saved (None: the servos have none,
    #: as Dynamixel X-series, whose EEPROM is writable whenever torque is off).
    LOCK_REGISTER: str | None = "Lock"

    def enable_torque(
        self: _RegisterBus, motors: Iterable[str] | None = None, *, hold_position: bool = False
    ) -> None:
        """Enable torque, then set Lock=1 (EEPROM writes no longer saved), as lerobot does.

        Args:
            motors: Motor names (default all).
            hold_position: First write Goal_Position = Present_Position (acknowledged), so a
                servo whose firmware kept an old goal holds still instead of jumping to it.
        """
        names = _names(self, motors)
        if hold_position:
            with self._lock:
                # Status bits are left to the acknowledged Torque_Enable writes below.
                present = self.sync_read("Present_Position", names, check_status=False)
                for name in names:
                    self.write("Goal_Position", name, present[name], check_status=False)
        # Register by register across the motors: consecutive writes go to different servos,
        # so their acknowledgements need no fence read in between (see ``transport``).
        lock = self.LOCK_REGISTER
        for register in ["Torque_Enable"] + ([lock] if lock else []):
            for name in names:
                self.write(register, name, 1)

    def disable_torque(self: _RegisterBus, motors: Iterable[str] | None = None) -> None:
        """Disable torque, then set Lock=0 so EEPROM writes (calibration) are saved.

        Torque off is broadcast first (two SYNC_WRITEs), then written to each motor; a motor
        that fails does not stop the others (see the module docstring).

        Raises:
            MotorError: After trying every motor, if any did not confirm; the error of the
                only failing motor, or one naming all of them.
            PortIOError: The only failure was the port's, on every attempt.
        """
        names = _names(self, motors)
        errors: list[HardwareError] = []
        with self._lock:
            for _ in range(2):  # unacknowledged: the second covers one lost packet
                with contextlib.suppress(HardwareError):  # the writes below confirm it
                    self.sync_write("Torque_Enable", dict.fromkeys(names, 0))
            # Torque off on every motor first, then Lock=0 on those that confirmed it: the arm
            # goes limp as early as possible, and consecutive writes go to different servos.
            confirmed = [n for n in names if _write_retrying(self, "Torque_Enable", n, errors)]
            lock = self.LOCK_REGISTER
            if lock is not None:
                for name in confirmed:
                    _write_retrying(self, lock, name, errors)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            ids = sorted({i for e in errors if (i := getattr(e, "motor_id", None)) is not None})
            details = "; ".join(dict.fromkeys(str(e) for e in errors))
            raise MotorError(
                f"torque off was not confirmed by {len(errors)} transaction(s) on {self.port} "
                f"(servo ids {ids}): {details}",
                motor_id=ids[0] if len(ids) == 1 else None,
            ) from errors[0]

    def emergency_torque_off(self: _RegisterBus, attempts: int = 3) -> None:
        """Broadcast torque off to every motor (two SYNC_WRITEs), surviving port failures.

        Each attempt is a fresh transaction; after an OS error the next attempt reopens the
        port. Nothing is acknowledged (one silent servo cannot hold up the others); confirm
        with :meth:`disable_torque` when the bus is healthy.

        Raises:
            NotConnectedError: The bus was never connected or was closed.
            PortIOError: Every attempt failed; the port is then released (closed).
        """
        packet = self._sync_write_packet("Torque_Enable", dict.fromkeys(self.motors, 0))
        with self._lock:
            transport = self._transport
            if transport is None:
                raise NotConnectedError(f"{self.VENDOR} bus on {self.port} is not connected")
            error: PortIOError | None = None
            for _ in range(max(1, attempts)):
                try:
                    for _ in range(2):  # unacknowledged: the second covers one lost packet
                        transport.send(packet)
                    return
                except PortIOError as exc:
                    error = exc
            transport.close()
            assert error is not None
            raise error

    @contextlib.contextmanager
    def torque_disabled(self: _RegisterBus, motors: Iterable[str] | None = None) -> Iterator[None]:
        """Disable torque for the body of a ``with`` block and enable it again afterwards.

        Torque is enabled again (holding the present position) only when the body succeeded:
        after an error the arm stays limp, and the body's error is what propagates.
        """
        names = _names(self, motors)
        self.disable_torque(names)
        yield
        self.enable_torque(names, hold_position=True)

    def configure_motors(
        self: _RegisterBus,
        return_delay_time: int = 0,
        maximum_acceleration: int = 254,
        acceleration: int = 254,
    ) -> None:
        """Write the registers lerobot's ``configure_motors`` writes on every motor.

        Return_Delay_Time (the default 250 costs 0.5 ms per reply), Maximum_Acceleration,
        Acceleration, and on sts3215 clear Phase bit 4 so positions stay in 0..4095.
        """
        for name, motor in self.motors.items():
            self.write("Return_Delay_Time", name, return_delay_time)
            self.write("Maximum_Acceleration", name, maximum_acceleration)
            self.write("Acceleration", name, acceleration)
            if motor.model == "sts3215":
                phase = self.read("Phase", name)
                if phase & PHASE_MULTI_TURN_BIT:
                    self.write("Phase", name, phase & ~PHASE_MULTI_TURN_BIT)


def _write_retrying(
    bus: _RegisterBus, register: str, motor: str, errors: list[HardwareError]
) -> bool:
    """Write 0, status bits ignored; retry on a reopened port after an OS error.

    Returns whether the servo confirmed it; the failure is appended to ``errors``.
    """
    for attempt in range(_PORT_ATTEMPTS):
        try:
            bus.write(register, motor, 0, check_status=False)
            return True
        except PortIOError as exc:  # the next attempt reopens the port
            if attempt == _PORT_ATTEMPTS - 1:
                errors.append(exc)
        except MotorError as exc:
            errors.append(exc)
            return False
    return False


def _names(bus: _RegisterBus, motors: Iterable[str] | None) -> list[str]:
    return list(bus.motors) if motors is None else list(motors)
