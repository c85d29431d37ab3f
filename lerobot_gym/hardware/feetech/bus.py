"""Feetech STS servo bus on the vendor SDK ``scservo_sdk`` and pyserial.

:class:`FeetechBus` implements :class:`lerobot_gym.hardware.bus.MotorBus`: it turns every failure
into a typed error (:mod:`lerobot_gym.errors`), with retries and counters (:class:`BusStats`, in
``bus_types``). Torque on/off and ``configure_motors`` are inherited from
:class:`~lerobot_gym.hardware.feetech.torque.TorqueMixin`; motors are
:class:`lerobot_gym.hardware.bus.Motor`; the serial port is ``_port`` and ``transport``; each
robot's register set-up lives with the robot (``robots/so101/registers.py``).

Design decisions:
    * ``scservo_sdk`` and ``serial`` are imported when a bus connects, so importing this
      module, or :mod:`lerobot_gym`, never needs the ``real`` extra.
    * The SDK opens the port (``_port``); packets are framed here (``packets``) and their
      replies matched by :class:`~lerobot_gym.hardware.feetech.transport.Transport`, not by the
      SDK's ``PacketHandler``: it takes any reply of the right servo, so a late reply to a
      retried request answered the next one (a wrong value, or ``IndexError`` in its ping;
      servo-protocols.md §1.4). Every reply is matched to its request by servo id and length,
      and the read span is chosen so that no earlier reply can match (see ``transport``).
    * OS errors of the port are :class:`~lerobot_gym.errors.PortIOError`; the port is reopened
      on the next transaction. :meth:`FeetechBus.emergency_torque_off` retries its broadcast on a
      reopened port, and releases the port if it cannot be reopened.
    * The port is opened with an exclusive lock, so a second process (or bus) on the same port
      gets :class:`~lerobot_gym.errors.PortBusyError` instead of interleaved packets.
    * The timeout is ``wire time + timeout_ms`` per transaction (lerobot patches the SDK's
      ~34 ms to ~50 ms for the same reason: USB latency); a sync read shares one budget. While
      waiting, the transport sleeps in ``select`` instead of spinning a core as the SDK does.
    * Bytes are little-endian here, never through the SDK's ``SCS_LOBYTE`` macros, whose
      endianness is a module global another bus could flip (§1.4); values at this API are
      signed integers (the sign-magnitude encodings are applied here).
    * Communication failures (timeout, corrupt packet) are retried ``retries`` times; status
      error bits are conditions of the servo (overload, voltage ...) and raise at once, with
      :attr:`MotorStatusError.flags` naming them. ``ping`` ignores status bits: a servo that
      reports overload is still present. Every status error is counted, and the latest flags
      of every motor are kept in :attr:`FeetechBus.status_flags`. Reads and writes can be told
      not to raise on them (``check_status=False``), as LeRobot's ``GroupSyncRead`` ignores
      them: a control loop decides itself which conditions stop the arm
      (:mod:`lerobot_gym.hardware.feetech.status`).

Sources: shared/reference/servo-protocols.md §1-2 (packet format, SDK quirks, lerobot's
``FeetechMotorsBus``) and lerobot-interfaces.md §2 (SO-101 motors, registers written at
configure).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping

from lerobot_gym.errors import (
    ConfigError,
    CorruptPacketError,
    HardwareError,
    MotorError,
    MotorNotFoundError,
    MotorStatusError,
    MotorTimeoutError,
    NotConnectedError,
    PortIOError,
)
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.feetech._port import FIND_PORT_HINT, import_sdk
from lerobot_gym.hardware.feetech.bus_types import BusStats
from lerobot_gym.hardware.feetech.packets import (
    BROADCAST_ID,
    INST_PING,
    INST_READ,
    INST_SYNC_READ,
    INST_SYNC_WRITE,
    INST_WRITE,
    instruction_packet,
)
from lerobot_gym.hardware.feetech.table import (
    DEFAULT_BAUDRATE,
    MODEL_NUMBERS,
    STS_CONTROL_TABLE,
    decode_register,
    encode_register,
    from_bytes_le,
    register_address,
    status_flags,
    to_bytes_le,
)
from lerobot_gym.hardware.feetech.torque import TorqueMixin
from lerobot_gym.hardware.feetech.transport import Exchange, Transport

__all__ = ["FeetechBus"]

logger = logging.getLogger(__name__)

#: One past the highest address of the control table: reads never span beyond it.
_MEMORY_END = max(addr + size for addr, size in STS_CONTROL_TABLE.values())


class FeetechBus(TorqueMixin):
    """A Feetech STS servo bus (for example the six STS3215 servos of an SO-101 arm).

    Values at this API are raw register values as signed integers (ticks for positions); the
    sign-magnitude encodings are applied here. Unit conversion and calibration live with the
    robot (``robots/so101``). The bus is thread-safe: one transaction at a time.

    Args:
        port: Serial device, e.g. ``/dev/ttyACM0`` (or an emulator's pty).
        motors: Motor name -> :class:`Motor`, in the order reads are returned.
        baudrate: Bus baud rate (1 Mbps is the STS default).
        timeout_ms: Time allowed for a status packet beyond its wire time.
        retries: How many times a failed transaction is repeated before raising.
        raise_on_status_error: Raise :class:`MotorStatusError` when a servo reports error bits.

    Example:
        bus = FeetechBus("/dev/ttyACM0", {"shoulder_pan": Motor(1), "gripper": Motor(6)})
        bus.connect()
        ticks = bus.sync_read("Present_Position")  # {"shoulder_pan": 2047, "gripper": 1800}
        bus.close()
    """

    #: Vendor name in messages; model name -> Model_Number the handshake expects.
    VENDOR = "Feetech"
    MODEL_NUMBERS: Mapping[str, int] = MODEL_NUMBERS

    def __init__(
        self,
        port: str,
        motors: Mapping[str, Motor],
        *,
        baudrate: int = DEFAULT_BAUDRATE,
        timeout_ms: float = 50.0,
        retries: int = 2,
        raise_on_status_error: bool = True,
    ) -> None:
        if not motors:
            raise ConfigError(f"a {type(self).__name__} needs at least one motor")
        ids = [m.id for m in motors.values()]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"motor ids must be unique, got {ids}")
        unsupported = {m.model for m in motors.values()} - set(self.MODEL_NUMBERS)
        if unsupported:
            raise ConfigError(
                f"unsupported {self.VENDOR} model(s) {sorted(unsupported)}; supported: "
                f"{', '.join(self.MODEL_NUMBERS)}"
            )
        if retries < 0 or timeout_ms <= 0:
            raise ConfigError("retries must be >= 0 and timeout_ms > 0")
        self.port = port
        self.motors: dict[str, Motor] = dict(motors)
        self._names_by_id: dict[int | None, str] = {m.id: n for n, m in self.motors.items()}
        self.baudrate = baudrate
        self.timeout_ms = float(timeout_ms)
        self.retries = int(retries)
        self.raise_on_status_error = raise_on_status_error
        self.stats = BusStats()
        #: Motor name -> the status flags in its latest status packet (``()`` when clear);
        #: motors not heard from since connect are absent.
        self.status_flags: dict[str, tuple[str, ...]] = {}
        self._lock = threading.RLock()
        self._transport: Transport | None = None

    # ----------------------------------------------------------------- lifecycle
    @property
    def is_connected(self) -> bool:
        """Whether the port is open (False once a lost port could not be reopened)."""
        return self._transport is not None and self._transport.is_open

    def connect(self, handshake: bool = True) -> None:
        """Open the port and (with ``handshake``) check every motor answers with its model.

        Raises:
            PortNotFoundError: The port does not exist.
            PortBusyError: Another process (or bus) holds the port.
            MotorNotFoundError: A motor did not answer, or answered with another model.
        """
        with self._lock:
            if self.is_connected:
                return
            transport = self._new_transport()  # MissingExtraError naming the ``real`` extra
            transport.open()
            self._transport = transport
            if handshake:
                try:
                    self._handshake()
                except BaseException:
                    self._close_port()
                    raise

    def _new_transport(self) -> Transport:
        import_sdk()
        return Transport(self.port, self.baudrate, self.timeout_ms, self.stats, _MEMORY_END)

    # Protocol hooks: the register table, encodings and packets of this vendor's servos (a
    # Dynamixel bus overrides them and inherits the transactions, retries and typed errors).
    _register = staticmethod(register_address)  # register -> (address, size)
    _decode = staticmethod(decode_register)  # (register, raw) -> signed value
    _encode = staticmethod(encode_register)  # (register, signed value) -> raw
    _flags = staticmethod(status_flags)  # status ERR byte -> flag names

    def _read_request(self, ids: list[int], start: int, length: int) -> bytes:
        if len(ids) == 1:
            return instruction_packet(ids[0], INST_READ, bytes([start, length]))
        return instruction_packet(BROADCAST_ID, INST_SYNC_READ, bytes([start, length, *ids]))

    def _write_request(self, motor_id: int, address: int, payload: bytes) -> bytes:
        return instruction_packet(motor_id, INST_WRITE, bytes([address]) + payload)

    def _handshake(self) -> None:
        firmware: dict[str, tuple[int, int]] = {}
        for name, motor in self.motors.items():
            model_number = self.ping(name)
            expected = MODEL_NUMBERS[motor.model]
            if model_number != expected:
                raise MotorNotFoundError(
                    f"servo id {motor.id} ({name}) on {self.port} reports model number "
                    f"{model_number}, expected {expected} ({motor.model}); check the motor ids "
                    "(`lerobot-gym setup-motors`) or the motors passed to the bus",
                    motor_id=motor.id,
                )
            firmware[name] = (
                self.read("Firmware_Major_Version", name),
                self.read("Firmware_Minor_Version", name),
            )
        if len(set(firmware.values())) > 1:
            raise MotorError(
                f"servos on {self.port} run different firmware versions {firmware}; update them "
                "with Feetech's FD software so they behave alike"
            )

    def close(self, disable_torque: bool = True) -> None:
        """Close the port, first disabling torque on every motor it can reach (unless told not).

        Servos that did not confirm torque off are logged; the port is closed regardless
        (also when it was lost: closing releases it).
        """
        with self._lock:
            try:
                if disable_torque and self.is_connected:
                    self.disable_torque()
            except HardwareError as exc:
                logger.warning("could not disable torque before closing %s: %s", self.port, exc)
            finally:
                self._close_port()

    disconnect = close

    def _close_port(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = None

    def __enter__(self) -> FeetechBus:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset_stats(self) -> None:
        """Zero the traffic counters (in place: the transport shares them)."""
        for name in self.stats.as_dict():
            setattr(self.stats, name, 0)

    # ----------------------------------------------------------------- transactions
    def _require_connected(self) -> Transport:
        if self._transport is None or not self.is_connected:
            raise NotConnectedError(
                f"{self.VENDOR} bus on {self.port} is not connected; call connect() "
                "(or env.reset())"
            )
        return self._transport

    def _motor_id(self, motor: str) -> int:
        try:
            return self.motors[motor].id
        except KeyError:
            raise ConfigError(
                f"unknown motor {motor!r}; this bus has {', '.join(self.motors)}"
            ) from None

    def _name_of(self, motor_id: int | None) -> str:
        name = self._names_by_id.get(motor_id)
        return f"id {motor_id} ({name})" if name else f"id {motor_id}"

    def _record_status(self, motor_id: int, error: int) -> None:
        name = self._names_by_id.get(motor_id)
        if name:
            self.status_flags[name] = self._flags(error) if error else ()

    def _status_error(self, motor_id: int | None, error: int, what: str) -> MotorStatusError:
        flags = self._flags(error)
        return MotorStatusError(
            f"servo {self._name_of(motor_id)} reported {', '.join(flags)} "
            f"(status 0x{error:02x}) during {what}; check power, load and "
            "temperature; the servo may have released torque",
            motor_id=motor_id,
            flags=flags,
        )

    def _transact(
        self,
        what: str,
        call: Callable[[Transport, int], Exchange],
        check_status: bool = True,
        count_status: bool = True,
    ) -> Exchange:
        """Run ``call`` with retries on communication failures; map failures to typed errors.

        Every servo's status byte is recorded; the first servo (in the request's order) that
        reports error bits raises :class:`MotorStatusError` when ``check_status`` (and the bus
        raises on status errors at all); ``count_status=False`` neither records nor counts
        them (a second packet of one operation). OS errors of the port raise at once.
        """
        outcome = Exchange()
        operation = self._require_connected().new_operation()
        for attempt in range(self.retries + 1):
            transport = self._require_connected()
            if attempt:
                self.stats.retries += 1
            try:
                outcome = call(transport, operation)
            except PortIOError:
                self.stats.failures += 1
                raise
            if outcome.ok and not count_status:
                return outcome
            if outcome.ok:
                failing = []
                for motor_id, reply in outcome.replies.items():
                    self._record_status(motor_id, reply.error)
                    if reply.error:
                        failing.append(motor_id)
                self.stats.status_errors += len(failing)
                if failing and check_status and self.raise_on_status_error:
                    motor_id = failing[0]
                    raise self._status_error(motor_id, outcome.replies[motor_id].error, what)
                return outcome
            if outcome.corrupt:
                self.stats.corrupt_packets += 1
            else:
                self.stats.timeouts += 1
        self.stats.failures += 1
        tries = f"after {self.retries + 1} attempt(s)"
        failed_id = outcome.failed_id
        who = self._name_of(failed_id)
        if outcome.corrupt:
            raise CorruptPacketError(
                f"corrupt status packet from servo {who} on {self.port} during {what} {tries}; "
                "check the cable and that no other program uses the port",
                motor_id=failed_id,
            )
        raise MotorTimeoutError(
            f"no status packet from servo {who} on {self.port} during {what} {tries}; check "
            "its power and cable",
            motor_id=failed_id,
        )

    def _read_span(
        self,
        what: str,
        ids: list[int],
        address: int,
        size: int,
        check_status: bool,
        count_status: bool = True,
    ) -> dict[int, bytes]:
        """Read ``size`` bytes at ``address`` of each servo (READ for one, SYNC_READ for more).

        Each attempt picks a span whose replies cannot be confused with earlier ones
        (:meth:`Transport.unique_span`); the bytes asked for are cut out of it.
        """
        starts: list[int] = []  # the span each attempt read

        def call(transport: Transport, operation: int) -> Exchange:
            start, length = transport.unique_span(ids, address, size, operation)
            starts.append(start)
            packet = self._read_request(ids, start, length)
            expected = [transport.signature(i, length) for i in ids]
            return transport.exchange(packet, expected, operation)

        with self._lock:
            outcome = self._transact(what, call, check_status, count_status)
        lo = address - starts[-1]
        return {i: outcome.replies[i].data[lo : lo + size] for i in ids}

    def ping(self, motor: str | int) -> int:
        """Ping a motor (by name or raw id) and return its model number.

        Raises:
            MotorNotFoundError: No servo answered at that id.
        """
        self._require_connected()
        motor_id = motor if isinstance(motor, int) else self._motor_id(motor)

        def call(transport: Transport, operation: int) -> Exchange:
            packet = instruction_packet(motor_id, INST_PING)
            return transport.exchange(packet, [(motor_id, 2)], operation)

        # A PING, then a READ of Model_Number, as the SDK's ping; the status flags are the PING's.
        model_address, model_size = self._register("Model_Number")
        what = f"ping of id {motor_id}"
        with self._lock:
            try:
                self._transact(what, call, check_status=False)
                data = self._read_span(
                    what, [motor_id], model_address, model_size, False, count_status=False
                )
            except MotorTimeoutError as exc:
                raise MotorNotFoundError(
                    f"no servo answered a ping at {self._name_of(motor_id)} on {self.port}; "
                    "check its power and daisy-chain cable, and that its id was set "
                    f"(`lerobot-gym setup-motors`); if the port is wrong, {FIND_PORT_HINT}",
                    motor_id=motor_id,
                ) from exc
        return from_bytes_le(data[motor_id])

    def read(self, register: str, motor: str, *, check_status: bool = True) -> int:
        """Read one register of one motor (a READ with its status packet).

        Args:
            register: Register name (a key of ``STS_CONTROL_TABLE``).
            motor: Motor name.
            check_status: Raise :class:`MotorStatusError` when the servo reports error bits
                (if the bus raises on them at all); else only record them.
        """
        addr, size = self._register(register)
        motor_id = self._motor_id(motor)
        self._require_connected()
        data = self._read_span(f"read of {register}", [motor_id], addr, size, check_status)
        return self._decode(register, from_bytes_le(data[motor_id]))

    def write(self, register: str, motor: str, value: int, *, check_status: bool = True) -> None:
        """Write one register of one motor and wait for its status packet.

        Args:
            register: Register name.
            motor: Motor name.
            value: Signed value (encoded here).
            check_status: Raise :class:`MotorStatusError` when the status packet carries error
                bits; else only record them (the write was heard and applied either way).
        """
        addr, size = self._register(register)
        motor_id = self._motor_id(motor)
        payload = bytes(to_bytes_le(self._encode(register, value), size))
        packet = self._write_request(motor_id, addr, payload)
        self._require_connected()

        def call(transport: Transport, operation: int) -> Exchange:
            return transport.exchange(packet, [transport.signature(motor_id, 0)], operation)

        with self._lock:
            self._transact(f"write of {register}={value}", call, check_status)

    def sync_read(
        self, register: str, motors: Iterable[str] | None = None, *, check_status: bool = True
    ) -> dict[str, int]:
        """Read one register of several motors with one SYNC_READ packet."""
        return self.sync_read_registers([register], motors, check_status=check_status)[register]

    def sync_read_registers(
        self,
        registers: Iterable[str],
        motors: Iterable[str] | None = None,
        *,
        check_status: bool = True,
    ) -> dict[str, dict[str, int]]:
        """Read several registers of several motors with one SYNC_READ of the span covering them.

        For example ``["Present_Position", "Present_Velocity", "Present_Load"]`` reads
        addresses 56..61 in one round trip.

        Args:
            registers: Register names; the read spans from the first to the last.
            motors: Motor names (default all, in the bus's order).
            check_status: Raise :class:`MotorStatusError` for the first servo reporting error
                bits; with False the values are returned and every servo's flags are left in
                :attr:`status_flags` (LeRobot's ``GroupSyncRead`` ignores them).

        Returns:
            register -> motor name -> signed value.
        """
        registers = list(registers)
        if not registers:
            raise ConfigError("sync_read_registers needs at least one register")
        names = list(self.motors) if motors is None else list(motors)
        ids = [self._motor_id(n) for n in names]
        spans = {r: self._register(r) for r in registers}
        start = min(a for a, _ in spans.values())
        length = max(a + s for a, s in spans.values()) - start
        self._require_connected()
        what = f"sync read of {', '.join(registers)}"
        replies = self._read_span(what, ids, start, length, check_status)
        out: dict[str, dict[str, int]] = {}
        for register, (addr, size) in spans.items():
            lo = addr - start
            out[register] = {
                name: self._decode(register, from_bytes_le(replies[i][lo : lo + size]))
                for name, i in zip(names, ids)
            }
        return out

    def _sync_write_packet(self, register: str, values: Mapping[str, int]) -> bytes:
        addr, size = self._register(register)
        params = [addr, size]
        for name, value in values.items():
            params += [self._motor_id(name), *to_bytes_le(self._encode(register, value), size)]
        return instruction_packet(BROADCAST_ID, INST_SYNC_WRITE, bytes(params))

    def sync_write(self, register: str, values: Mapping[str, int]) -> None:
        """Write one register of several motors with one SYNC_WRITE packet (no status packets).

        Unacknowledged by design: a lost packet is not detected, so control loops resend goals
        every step.

        Raises:
            PortIOError: The port failed (it is reopened on the next transaction).
        """
        if not values:
            return
        packet = self._sync_write_packet(register, values)
        with self._lock:
            transport = self._require_connected()
            try:
                transport.send(packet)
            except PortIOError:
                self.stats.failures += 1
                raise
