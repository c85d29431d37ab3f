"""Dynamixel Protocol 2.0 servo bus (X-series) on the vendor SDK ``dynamixel_sdk`` and pyserial.

:class:`DynamixelBus` implements :class:`lerobot_gym.hardware.bus.MotorBus` for X-series servos
(the ALOHA's ViperX followers and WidowX leaders).

Design decisions:
    * Shared engine. Retries, typed errors (timeout, corrupt packet, status), stats, status
      flags, unique read spans against stale replies, torque on/off with confirmation and the
      emergency broadcast are the Feetech bus's (:class:`~lerobot_gym.hardware.feetech.FeetechBus`
      and its ``TorqueMixin``): they do not depend on the protocol. This class supplies the
      protocol through the bus's hooks: the X-series table, two's-complement encodings,
      Protocol 2.0 packets (:mod:`~lerobot_gym.hardware.dynamixel.packets`) and the transport
      (:class:`~lerobot_gym.hardware.dynamixel.transport.DynamixelTransport`). X-series servos
      have no Lock register (``LOCK_REGISTER = None``): EEPROM is writable whenever torque is off.
    * Shadow motors (the ALOHA's doubled shoulder and elbow) are not in :attr:`motors`: reads and
      sync reads never address them. Each listens to its primary's id through Secondary_ID
      (:meth:`DynamixelBus.configure_shadows`), so every write, sync write and torque change sent
      to the primary reaches it, and it never replies to them. The handshake pings shadows by
      their own id (model check) and checks their Secondary_ID.
    * Status byte. Its low 7 bits say why an *instruction* failed (the write was not applied);
      bit 7 (alert) says the servo has a hardware error: :meth:`_status_error` then reads
      Hardware_Error_Status and names its bits (``overload``, ``overheat`` ...). Every error
      names its fix; an access error says to disable torque first (EEPROM registers).
    * Sync reads of motors of different models are sent as BULK_READ (LeRobot reads the X
      series with one table, but a bulk read lets each servo be read at its own address);
      :meth:`DynamixelBus.bulk_read` reads a different register of each motor in one round trip.

Sources: shared/reference/servo-protocols.md §3 (packets, X-series table, shadows, modes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lerobot_gym.errors import (
    ConfigError,
    MotorNotFoundError,
    MotorStatusError,
    MotorTimeoutError,
)
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.dynamixel.packets import (
    BROADCAST_ID,
    INST_BULK_READ,
    INST_PING,
    INST_READ,
    INST_SYNC_READ,
    INST_SYNC_WRITE,
    INST_WRITE,
    instruction_packet,
)
from lerobot_gym.hardware.dynamixel.table import (
    ALERT_BIT,
    DEFAULT_BAUDRATE,
    NO_CURRENT_MODE_MODELS,
    X_CONTROL_TABLE,
    X_MODEL_NUMBERS,
    OperatingMode,
    decode_register,
    encode_register,
    hardware_error_flags,
    register_address,
    status_flags,
)
from lerobot_gym.hardware.dynamixel.transport import DynamixelTransport, import_sdk, le
from lerobot_gym.hardware.feetech.bus import FeetechBus
from lerobot_gym.hardware.feetech.transport import Exchange, Transport

__all__ = ["DynamixelBus", "Shadow"]

_MEMORY_END = max(addr + size for addr, size in X_CONTROL_TABLE.values())
_FIX_BY_ERROR = {
    "access_error": "EEPROM registers (Operating_Mode, Drive_Mode, Homing_Offset, limits, "
    "Secondary_ID) can only be written with torque off: call disable_torque() first",
    "data_range_error": "the value is outside the register's range or the servo's limits",
    "data_limit_error": "the value exceeds a limit register (Current_Limit, Velocity_Limit)",
    "crc_error": "the packet was corrupted on the wire; check the cable",
}


@dataclass(frozen=True)
class Shadow:
    """A shadow motor: a second servo on the same joint that follows its primary's writes.

    Attributes:
        primary: Name of the motor (in the bus's ``motors``) whose id it listens to.
        motor: The shadow servo itself (its own id and model).
    """

    primary: str
    motor: Motor


class DynamixelBus(FeetechBus):
    """A Dynamixel Protocol 2.0 bus of X-series servos (see the module docstring).

    Args:
        port: Serial device (``/dev/ttyDXL_puppet_left``, an emulator's pty).
        motors: Motor name -> :class:`Motor` (``model`` as LeRobot spells it, ``"xm540-w270"``).
        shadows: Shadow name -> :class:`Shadow`; never read, reached through their primary.
        baudrate, timeout_ms, retries, raise_on_status_error: As :class:`FeetechBus`.

    Example:
        bus = DynamixelBus(port, {"shoulder": Motor(2, "xm540-w270")},
                           shadows={"shoulder_shadow": Shadow("shoulder", Motor(3, "xm540-w270"))})
        bus.connect(); bus.configure_shadows()
        bus.sync_write("Goal_Position", {"shoulder": 2100})  # both servos move
    """

    VENDOR = "Dynamixel"
    MODEL_NUMBERS = X_MODEL_NUMBERS
    LOCK_REGISTER = None

    def __init__(
        self,
        port: str,
        motors: Mapping[str, Motor],
        *,
        shadows: Mapping[str, Shadow] | None = None,
        baudrate: int = DEFAULT_BAUDRATE,
        timeout_ms: float = 50.0,
        retries: int = 2,
        raise_on_status_error: bool = True,
    ) -> None:
        super().__init__(
            port,
            motors,
            baudrate=baudrate,
            timeout_ms=timeout_ms,
            retries=retries,
            raise_on_status_error=raise_on_status_error,
        )
        self.shadows: dict[str, Shadow] = dict(shadows or {})
        ids = [m.id for m in self.motors.values()]
        for name, shadow in self.shadows.items():
            if shadow.primary not in self.motors:
                raise ConfigError(
                    f"shadow {name!r} follows unknown motor {shadow.primary!r}; motors: "
                    f"{', '.join(self.motors)}"
                )
            if shadow.motor.id in ids or name in self.motors:
                raise ConfigError(f"shadow {name!r} (id {shadow.motor.id}) duplicates a motor")
            if shadow.motor.model not in X_MODEL_NUMBERS:
                raise ConfigError(f"unsupported Dynamixel model {shadow.motor.model!r}")
            ids.append(shadow.motor.id)
            self._names_by_id[shadow.motor.id] = name

    # ----------------------------------------------------------------- protocol hooks
    def _new_transport(self) -> Transport:
        import_sdk()
        return DynamixelTransport(
            self.port, self.baudrate, self.timeout_ms, self.stats, _MEMORY_END
        )

    _register = staticmethod(register_address)  # register -> (address, size)
    _decode = staticmethod(decode_register)  # (register, raw) -> signed value
    _encode = staticmethod(encode_register)  # (register, signed value) -> raw
    _flags = staticmethod(status_flags)  # status ERR byte -> flag names

    def _read_request(self, ids: list[int], start: int, length: int) -> bytes:
        span = le(start, 2) + le(length, 2)
        if len(ids) == 1:
            return instruction_packet(ids[0], INST_READ, span)
        models = {m.model for m in self.motors.values() if m.id in ids}
        if len(models) > 1:
            return instruction_packet(
                BROADCAST_ID, INST_BULK_READ, b"".join(bytes([i]) + span for i in ids)
            )
        return instruction_packet(BROADCAST_ID, INST_SYNC_READ, span + bytes(ids))

    def _write_request(self, motor_id: int, address: int, payload: bytes) -> bytes:
        return instruction_packet(motor_id, INST_WRITE, le(address, 2) + payload)

    def _sync_write_packet(self, register: str, values: Mapping[str, int]) -> bytes:
        addr, size = self._register(register)
        params = bytearray(le(addr, 2) + le(size, 2))
        for name, value in values.items():
            params += bytes([self._motor_id(name)]) + le(self._encode(register, value), size)
        return instruction_packet(BROADCAST_ID, INST_SYNC_WRITE, bytes(params))

    def _status_error(self, motor_id: int | None, error: int, what: str) -> MotorStatusError:
        flags = list(self._flags(error))
        if error & ALERT_BIT and motor_id is not None:
            try:  # the alert's reason; check_status=False cannot recurse into here
                data = self._read_span(
                    "read of Hardware_Error_Status", [motor_id], 70, 1, False, count_status=False
                )
                flags += hardware_error_flags(data[motor_id][0])
            except Exception:
                flags.append("hardware_error_unread")
        fixes = [_FIX_BY_ERROR[f] for f in flags if f in _FIX_BY_ERROR]
        if error & ALERT_BIT:
            fixes.append(
                "the servo shut down on a hardware error: check power, load and temperature, "
                "then reboot it (power cycle) to clear Hardware_Error_Status"
            )
        return MotorStatusError(
            f"servo {self._name_of(motor_id)} on {self.port} reported {', '.join(flags)} "
            f"(status 0x{error:02x}) during {what}; {'; '.join(fixes)}",
            motor_id=motor_id,
            flags=tuple(flags),
        )

    # ----------------------------------------------------------------- handshake, ping
    def ping(self, motor: str | int) -> int:
        """Ping a motor or shadow (by name or raw id); return its model number.

        Raises:
            MotorNotFoundError: No servo answered at that id.
        """
        self._require_connected()
        if isinstance(motor, int):
            motor_id = motor
        elif motor in self.shadows:
            motor_id = self.shadows[motor].motor.id
        else:
            motor_id = self._motor_id(motor)

        def call(transport: Transport, operation: int) -> Exchange:
            packet = instruction_packet(motor_id, INST_PING)
            return transport.exchange(packet, [transport.signature(motor_id, 3)], operation)

        try:
            with self._lock:
                outcome = self._transact(f"ping of id {motor_id}", call, check_status=False)
        except MotorTimeoutError as exc:
            raise MotorNotFoundError(
                f"no servo answered a ping at {self._name_of(motor_id)} on {self.port}; check "
                "its power and cable, its id and baud rate (Dynamixel Wizard), and that this is "
                "the arm's port (`lerobot-gym find-port`)",
                motor_id=motor_id,
            ) from exc
        data = outcome.replies[motor_id].data
        return data[0] | data[1] << 8

    def _handshake(self) -> None:
        everyone = {**self.motors, **{n: s.motor for n, s in self.shadows.items()}}
        for name, motor in everyone.items():
            model_number = self.ping(name)
            expected = X_MODEL_NUMBERS[motor.model]
            if model_number != expected:
                raise MotorNotFoundError(
                    f"servo id {motor.id} ({name}) on {self.port} reports model number "
                    f"{model_number}, expected {expected} ({motor.model}); check the motor ids "
                    "or the motor table passed to the bus",
                    motor_id=motor.id,
                )

    # ----------------------------------------------------------------- configuration
    def configure_shadows(self) -> None:
        """Make every shadow listen to its primary's id (Secondary_ID), with torque off.

        Addressed to the shadow's own id: the only writes that are. Torque must be off
        (Secondary_ID is EEPROM).
        """
        for shadow in self.shadows.values():
            primary_id = self.motors[shadow.primary].id
            self._write_id(shadow.motor.id, "Torque_Enable", 0)
            self._write_id(shadow.motor.id, "Secondary_ID", primary_id)

    def _write_id(self, motor_id: int, register: str, value: int) -> None:
        addr, size = self._register(register)
        packet = self._write_request(motor_id, addr, le(self._encode(register, value), size))

        def call(transport: Transport, operation: int) -> Exchange:
            return transport.exchange(packet, [transport.signature(motor_id, 0)], operation)

        with self._lock:
            self._transact(f"write of {register}={value}", call)

    def set_operating_mode(
        self, mode: OperatingMode | int, motors: Iterable[str] | None = None
    ) -> None:
        """Write Operating_Mode (torque must be off; shadows follow their primary).

        Raises:
            ConfigError: A current-based mode on a model without a current sensor.
            MotorStatusError: Torque is on (access error, naming the fix).
        """
        mode = OperatingMode(mode)
        names = list(self.motors) if motors is None else list(motors)
        for name in names:
            model = self.motors[name].model
            if model in NO_CURRENT_MODE_MODELS and mode in (
                OperatingMode.CURRENT,
                OperatingMode.CURRENT_BASED_POSITION,
            ):
                raise ConfigError(
                    f"{name} is an {model}, which has no current sensor and no {mode.name} "
                    "mode; use POSITION, EXTENDED_POSITION or PWM"
                )
        for name in names:
            self.write("Operating_Mode", name, int(mode))

    def set_drive_mode(self, reverse: Mapping[str, bool]) -> None:
        """Write Drive_Mode bit 0 (reverse direction, applied by the firmware); torque off."""
        for name, rev in reverse.items():
            value = self.read("Drive_Mode", name)
            self.write("Drive_Mode", name, (value & ~1) | int(rev))

    def configure_motors(self, return_delay_time: int = 0) -> None:  # type: ignore[override]
        """Return_Delay_Time 0 on every motor and shadow, as ALOHA and LeRobot set it."""
        for name in self.motors:
            self.write("Return_Delay_Time", name, return_delay_time)
        for shadow in self.shadows.values():
            self._write_id(shadow.motor.id, "Return_Delay_Time", return_delay_time)

    # ----------------------------------------------------------------- bulk read
    def bulk_read(
        self, registers: Mapping[str, str], *, check_status: bool = True
    ) -> dict[str, int]:
        """Read a (possibly different) register of each motor with one BULK_READ.

        Args:
            registers: Motor name -> register name.
            check_status: Raise :class:`MotorStatusError` for status errors (else record them).

        Returns:
            Motor name -> signed value.
        """
        if not registers:
            raise ConfigError("bulk_read needs at least one motor")
        items = [(n, self._motor_id(n), r, *self._register(r)) for n, r in registers.items()]
        params = b"".join(bytes([i]) + le(a, 2) + le(s, 2) for _, i, _, a, s in items)
        packet = instruction_packet(BROADCAST_ID, INST_BULK_READ, params)
        self._require_connected()

        def call(transport: Transport, operation: int) -> Exchange:
            expected = [transport.signature(i, s) for _, i, _, _, s in items]
            return transport.exchange(packet, expected, operation)

        with self._lock:
            outcome = self._transact(f"bulk read of {dict(registers)}", call, check_status)
        return {
            n: self._decode(r, int.from_bytes(outcome.replies[i].data, "little"))
            for n, i, r, _, _ in items
        }
