"""The Feetech bus's wire: one request, the replies that answer *it*, OS errors as typed errors.

:class:`Transport` owns the open serial port (the SDK's ``PortHandler``, see ``_port``) and
every byte that goes through it. :class:`~lerobot_gym.hardware.feetech.bus.FeetechBus` builds
packets and decides retries; this module sends them and matches replies.

Design decisions:
    * Matching. A Feetech status packet names only its servo and its length
      (``packets.find_reply``), so two requests to one servo with replies of the same length
      cannot be told apart: a late reply to a timed-out request, or a duplicate, would be taken
      as the answer to the next one (``scservo_sdk`` does exactly this, and its ping then fails
      with ``IndexError`` on a reply of the wrong length; servo-protocols.md §1.4). The transport
      remembers the ``(id, LEN)`` signatures whose replies may still arrive (:attr:`pending`),
      each with the *operation* that asked: the replies of the last request that was answered
      in full (a duplicate may follow) and of every request since that was not. Servos answer
      in the order they are asked on one half-duplex wire, so once a reply with a signature
      that no other operation may still receive arrives, everything sent for earlier requests
      has arrived before it and was skipped.
    * Retries of one operation send the same packet, so a late reply to an earlier attempt is
      a valid answer to the retry (the same register, read moments earlier) and is taken: a
      reply slower than the allowance but steady still gets through, as with the SDK.
    * The bus keeps signatures unique by choosing the read span: reads may cover a byte or two
      more than asked (:meth:`Transport.unique_span`), so consecutive reads of the same register
      alternate their length. Writes and pings (always ``LEN`` 2) that would collide are
      preceded by a *fence*: a short read of the same servo with a unique length, whose reply
      proves the older replies have passed (:attr:`BusStats.fences`).
    * Stale bytes are discarded: the input buffer is flushed before every request (and counted
      in :attr:`BusStats.stale_bytes`), and bytes between matched replies are skipped.
    * OS errors. Any ``OSError``, ``termios.error`` or ``serial.SerialException`` from the port
      (a USB adapter reset or unplugged) becomes :class:`~lerobot_gym.errors.PortIOError`; the
      port's in-use flag is released on every path, and the port is marked broken so the next
      transaction first closes and reopens it (a fresh file descriptor, an empty buffer). If it
      cannot be reopened the port is closed, releasing its exclusive lock, so a new connection
      can take it once the device is back.

Sources: shared/reference/servo-protocols.md §1.1 (packets), §1.4 (SDK quirks: ``clearPort``,
timeouts) and §4 (pty emulation).
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from lerobot_gym.errors import HardwareError, PortIOError
from lerobot_gym.hardware.feetech._port import FIND_PORT_HINT, open_port
from lerobot_gym.hardware.feetech.bus_types import BusStats
from lerobot_gym.hardware.feetech.packets import INST_READ, Reply, find_reply, instruction_packet

__all__ = ["Exchange", "Transport"]

#: Reads that make a signature unique may grow by up to this many bytes.
_MAX_EXTRA_BYTES = 8
_FIX = (
    "check the USB cable and the arm's power supply; the port is reopened on the next "
    "transaction (env.reset() reconnects)"
)


def _os_errors() -> tuple[type[BaseException], ...]:
    import serial  # pyserial comes with the ``real`` extra, like the SDK

    errors: list[type[BaseException]] = [OSError, serial.SerialException]
    try:
        import termios  # POSIX only
    except ImportError:  # pragma: no cover - Windows
        pass
    else:
        errors.append(termios.error)
    return tuple(errors)


@dataclass
class Exchange:
    """The outcome of one request.

    Attributes:
        replies: Servo id -> its matched reply.
        failed_id: The first servo whose reply is missing or corrupt (None when all arrived).
        corrupt: The failure is a corrupt reply (else a timeout).
    """

    replies: dict[int, Reply] = field(default_factory=dict)
    failed_id: int | None = None
    corrupt: bool = False

    @property
    def ok(self) -> bool:
        """Whether every expected reply arrived intact."""
        return self.failed_id is None


class Transport:
    """A Feetech bus's serial port: sends requests and matches their replies (module doc).

    Args:
        port: Serial device.
        baudrate: Bus baud rate.
        timeout_ms: Allowance for the replies of one request beyond their wire time.
        stats: The bus's counters (updated in place).
        memory_end: One past the highest register address reads may cover.
    """

    #: ``LEN`` of a status packet minus its data bytes (ERR + CHK on Feetech).
    STATUS_OVERHEAD = 2
    #: Bytes of a status packet on the wire beyond its ``LEN`` (header, id, LEN).
    WIRE_OVERHEAD = 4

    def __init__(
        self, port: str, baudrate: int, timeout_ms: float, stats: BusStats, memory_end: int
    ) -> None:
        self.port, self.baudrate, self.timeout_ms = port, baudrate, timeout_ms
        self.stats, self.memory_end = stats, memory_end
        #: ``(id, LEN)`` of replies that may still arrive -> the operation that asked (see the
        #: module docstring).
        self.pending: dict[tuple[int, int], int] = {}
        self._operations = 0
        self._handler: Any = None
        self._broken = False
        self._errors: tuple[type[BaseException], ...] = ()

    # ----------------------------------------------------------------- the port
    @property
    def is_open(self) -> bool:
        """Whether the port is open (a broken port still counts until it fails to reopen)."""
        return self._handler is not None and bool(self._handler.is_open)

    @property
    def serial(self) -> Any:
        """The live ``serial.Serial`` (for diagnostics and fault-injection tests)."""
        return None if self._handler is None else self._handler.ser

    def open(self) -> None:
        """Open the port (typed errors from ``_port.open_port``)."""
        self._errors = _os_errors()
        self._handler = self._open_handler()
        self._broken = False
        self.pending.clear()

    def close(self) -> None:
        """Close the port; never raises (the device may already be gone)."""
        handler, self._handler = self._handler, None
        if handler is not None:
            with contextlib.suppress(*self._errors, AttributeError):
                handler.is_using = False
                if handler.ser is not None:
                    handler.ser.close()
            handler.is_open = False
        self.pending.clear()

    # ----------------------------------------------------------------- protocol hooks
    # A protocol's transport (``hardware/dynamixel/transport.py``) overrides these four; the
    # matching, fencing, timeouts and OS-error handling below are the same for every protocol.
    def _open_handler(self) -> Any:
        """Open the port with the vendor SDK's port handler (typed errors)."""
        return open_port(self.port, self.baudrate)

    def read_packet(self, servo_id: int, start: int, length: int) -> bytes:
        """A READ of ``length`` bytes at ``start`` from one servo."""
        return instruction_packet(servo_id, INST_READ, bytes([start, length]))

    def _find_reply(self, buf: bytearray, expected: set[tuple[int, int]]) -> Reply | None:
        return find_reply(buf, 0, expected)

    def signature(self, servo_id: int, data_length: int) -> tuple[int, int]:
        """The ``(id, LEN)`` of a status packet carrying ``data_length`` data bytes."""
        return servo_id, data_length + self.STATUS_OVERHEAD

    def _reopen(self) -> None:
        self.stats.port_reopens += 1
        self.close()
        try:
            self.open()
        except HardwareError as exc:
            raise PortIOError(
                f"lost serial port {self.port} and could not reopen it ({exc}); {_FIX}; if the "
                f"device was renamed, {FIND_PORT_HINT}"
            ) from exc

    @contextlib.contextmanager
    def _port_io(self) -> Iterator[Any]:
        """The serial object for one transaction: reopened if broken, in use, errors typed."""
        if self._broken:
            self._reopen()
        handler = self._handler
        handler.is_using = True
        try:
            yield handler.ser
        except self._errors as exc:
            self._broken = True
            self.stats.port_errors += 1
            raise PortIOError(f"serial port {self.port} failed: {exc!r}; {_FIX}") from exc
        finally:
            handler.is_using = False

    # ----------------------------------------------------------------- signatures
    def new_operation(self) -> int:
        """A token for one operation; its retries pass the same token to :meth:`exchange`."""
        self._operations += 1
        return self._operations

    def _taken(self, signature: tuple[int, int], operation: int) -> bool:
        return self.pending.get(signature, operation) != operation

    def unique_span(
        self, ids: Sequence[int], address: int, size: int, operation: int
    ) -> tuple[int, int]:
        """A read span ``(start, length)`` covering ``address .. address + size``.

        The span's replies have signatures no other operation may still receive (the exact
        span when no such span exists within ``_MAX_EXTRA_BYTES``; :meth:`exchange` then
        fences).
        """
        for extra in range(_MAX_EXTRA_BYTES + 1):
            length = size + extra
            if any(self._taken(self.signature(i, length), operation) for i in ids):
                continue
            for shift in range(extra + 1):
                start = address - shift
                if start >= 0 and start + length <= self.memory_end:
                    return start, length
        return address, size

    def _fence(self, servo_id: int) -> Exchange:
        """Read a few bytes of ``servo_id`` with a unique length (see the module docstring)."""
        operation = self.new_operation()
        start, length = self.unique_span([servo_id], 0, 1, operation)
        self.stats.fences += 1
        return self._exchange(
            self.read_packet(servo_id, start, length),
            [self.signature(servo_id, length)],
            operation,
        )

    # ----------------------------------------------------------------- transactions
    def send(self, packet: bytes) -> None:
        """Send a packet nobody answers (SYNC_WRITE, broadcasts).

        Raises:
            PortIOError: The port failed (it is reopened on the next transaction).
        """
        with self._port_io() as ser:
            self._write(ser, packet)

    def exchange(
        self, packet: bytes, expected: Sequence[tuple[int, int]], operation: int
    ) -> Exchange:
        """Send ``packet`` and wait for one reply per expected ``(id, LEN)`` signature.

        Replies may come in any order; anything else is skipped. When a signature may still be
        answered by another operation's request, a fence read goes first. ``operation`` is a
        token from :meth:`new_operation`, the same for every attempt of one operation.

        Raises:
            PortIOError: The port failed (it is reopened on the next transaction).
        """
        collision = [s for s in expected if self._taken(s, operation)]
        if collision:
            fence = self._fence(collision[0][0])
            if not fence.ok:
                return fence
        return self._exchange(packet, expected, operation)

    def _exchange(
        self, packet: bytes, expected: Sequence[tuple[int, int]], operation: int
    ) -> Exchange:
        outcome = Exchange()
        with self._port_io() as ser:
            self._discard_input(ser)
            self._write(ser, packet)
            reply_bytes = sum(length + self.WIRE_OVERHEAD for _, length in expected)
            budget_s = (len(packet) + reply_bytes) * 10.0 / self.baudrate + self.timeout_ms / 1000.0
            deadline = time.monotonic() + budget_s
            waiting = set(expected)
            buf = bytearray()
            while waiting:
                reply = self._find_reply(buf, waiting)
                if reply is not None and reply.corrupt:
                    outcome.failed_id, outcome.corrupt = reply.servo_id, True
                    break
                if reply is not None:
                    signature = self.signature(reply.servo_id, len(reply.data))
                    self.stats.stale_bytes += reply.end - signature[1] - self.WIRE_OVERHEAD
                    del buf[: reply.end]
                    outcome.replies[reply.servo_id] = reply
                    waiting.discard(signature)
                    continue
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0:
                    outcome.failed_id = next(i for i, n in expected if (i, n) in waiting)
                    break
                ready, _, _ = select.select([ser.fileno()], [], [], remaining_s)
                if ready:
                    buf += ser.read(max(1, ser.in_waiting))
            if not outcome.corrupt:  # what no signature matched (a late reply, a duplicate)
                self.stats.stale_bytes += len(buf)
        if outcome.ok:
            self.pending = dict.fromkeys(expected, operation)
        else:
            self.pending.update(dict.fromkeys(expected, operation))
        return outcome

    def _discard_input(self, ser: Any) -> None:
        # Late replies of earlier requests are dropped here (and skipped by signature if they
        # arrive later still); pyserial's flush raises termios.error if the device vanished.
        self.stats.stale_bytes += ser.in_waiting
        ser.reset_input_buffer()

    def _write(self, ser: Any, packet: bytes) -> None:
        self.stats.transactions += 1
        written = ser.write(packet)
        if written != len(packet):
            raise OSError(f"wrote {written} of {len(packet)} bytes")
