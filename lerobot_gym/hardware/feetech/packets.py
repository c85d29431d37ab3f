"""Feetech SCS/STS packet framing, shared by the driver and the emulator.

Checksum, instruction and status packets, the emulator's instruction-stream parser
(:class:`PacketParser`) and the driver's reply matcher (:func:`find_reply`).

Packet layout (servo-protocols.md §1.1)::

    instruction: FF FF | ID | LEN | INSTR | P1 .. Pn | CHK     LEN = n + 2
    status:      FF FF | ID | LEN | ERR   | D1 .. Dn | CHK     LEN = n + 2
    CHK = ~(ID + LEN + INSTR/ERR + sum(P)) & 0xFF

The parser behaves like a servo's receiver: it hunts for the ``FF FF`` header, waits for the
whole packet, and silently drops packets whose checksum is wrong (a servo never answers those),
re-synchronising one byte after the bad header.

Design decision (driver side): a status packet carries no instruction, address or sequence
number, only the servo id and its length (``LEN`` = data bytes + 2). :func:`find_reply` therefore
looks for a complete packet with an *expected* ``(id, LEN)`` signature anywhere in the received
bytes and skips everything else (late or duplicated replies to earlier requests, the tail of a
packet cut by an input flush, noise) without needing to stay in frame with it; the bus makes the
signature of every request unique among the replies that may still be in flight
(:mod:`lerobot_gym.hardware.feetech.transport`). A false frame inside other bytes would need the
expected id, the expected length *and* a valid checksum to be taken.

Sources: shared/reference/servo-protocols.md §1.1 (packet layout, byte examples).
"""

from __future__ import annotations

from dataclasses import dataclass

INST_PING = 0x01
INST_READ = 0x02
INST_WRITE = 0x03
INST_REG_WRITE = 0x04
INST_ACTION = 0x05
INST_RESET = 0x0A
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83

BROADCAST_ID = 0xFE
_HEADER = b"\xff\xff"


def checksum(body: bytes | bytearray) -> int:
    """Checksum of a packet body (ID, LEN, INSTR/ERR and parameters; no header)."""
    return ~sum(body) & 0xFF


def instruction_packet(servo_id: int, instruction: int, params: bytes = b"") -> bytes:
    """Build an instruction packet (used by tests and to document the format)."""
    body = bytes([servo_id, len(params) + 2, instruction]) + bytes(params)
    return _HEADER + body + bytes([checksum(body)])


def status_packet(servo_id: int, error: int, data: bytes = b"") -> bytes:
    """Build a status packet as a servo sends it."""
    body = bytes([servo_id, len(data) + 2, error & 0x7F]) + bytes(data)
    return _HEADER + body + bytes([checksum(body)])


@dataclass(frozen=True)
class Instruction:
    """One parsed instruction packet.

    Attributes:
        servo_id: Addressed id (0xFE for broadcast).
        instruction: Instruction code (``INST_*``).
        params: Parameter bytes.
    """

    servo_id: int
    instruction: int
    params: bytes


class PacketParser:
    """Incremental parser of instruction packets from a byte stream.

    The stream handling (header hunt, waiting for whole packets, dropping bad ones and
    re-synchronising one byte later) is shared with the Dynamixel parser, which overrides
    ``HEADER``, :meth:`_frame_length` and :meth:`_decode`.

    Attributes:
        checksum_errors: Packets dropped because their checksum was wrong.
    """

    HEADER = _HEADER

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.checksum_errors = 0

    def _frame_length(self, buf: bytearray) -> int | None:
        """Total length of the packet at the start of ``buf``; None: need more; 0: invalid."""
        if len(buf) < 4:
            return None
        length = buf[3]
        if buf[2] == 0xFF or length < 2:  # "FF FF FF ..." or an impossible LEN
            return 0
        return length + 4

    def _decode(self, packet: bytes) -> Instruction | None:
        """The instruction in a whole packet, or None when its checksum is wrong."""
        body = packet[2:-1]
        if checksum(body) != packet[-1]:
            return None
        return Instruction(body[0], body[2], body[3:])

    def feed(self, data: bytes) -> list[Instruction]:
        """Add received bytes; return every complete, valid instruction packet."""
        self._buffer += data
        packets: list[Instruction] = []
        buf = self._buffer
        while True:
            start = buf.find(self.HEADER)
            if start < 0:
                # Keep a trailing partial header: the rest of it may come next.
                del buf[: max(0, len(buf) - len(self.HEADER) + 1)]
                break
            del buf[:start]
            total = self._frame_length(buf)
            if total is None:
                break
            if total == 0:
                del buf[:1]  # re-sync one byte later
                continue
            if len(buf) < total:
                break
            instruction = self._decode(bytes(buf[:total]))
            if instruction is not None:
                packets.append(instruction)
                del buf[:total]
            else:
                self.checksum_errors += 1
                del buf[:1]
        return packets


#: Largest LEN byte ``scservo_sdk`` accepts in a status packet (``RXPACKET_MAX_LEN``).
MAX_STATUS_LENGTH = 250


@dataclass(frozen=True)
class Reply:
    """What :func:`find_reply` found in the received bytes.

    Attributes:
        servo_id: Id of the servo that sent it.
        error: The ERR byte (status flags); 0 when clear.
        data: The data bytes (``LEN - 2`` of them).
        end: Index just past the packet in the scanned buffer.
        corrupt: The packet had an expected id and length but a wrong checksum.
    """

    servo_id: int
    error: int
    data: bytes
    end: int
    corrupt: bool = False


def find_reply(buf: bytes | bytearray, start: int, expected: set[tuple[int, int]]) -> Reply | None:
    """The first complete status packet at or after ``start`` whose ``(id, LEN)`` is expected.

    Bytes that do not begin such a packet are skipped, whatever they are. A packet with an
    expected signature and a wrong checksum is returned with ``corrupt=True``. Returns None when
    no expected packet is complete yet (more bytes may complete one).
    """
    i = start
    while True:
        i = buf.find(_HEADER, i)
        if i < 0 or len(buf) < i + 5:
            return None
        servo_id, length = buf[i + 2], buf[i + 3]
        if (servo_id, length) not in expected or buf[i + 4] > 0x7F:
            i += 1
            continue
        end = i + length + 4
        if len(buf) < end:
            # Possibly our reply, still arriving (the caller scans again when more bytes come);
            # but it may also be a false frame covering the start of the real reply: look on.
            i += 1
            continue
        body = bytes(buf[i + 2 : end - 1])
        if checksum(body) != buf[end - 1]:
            return Reply(servo_id, buf[i + 4], b"", i + 1, corrupt=True)
        return Reply(servo_id, body[2], body[3:], end)
