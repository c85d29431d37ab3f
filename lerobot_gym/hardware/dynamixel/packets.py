"""Dynamixel Protocol 2.0 packet framing, shared by the driver and the emulator.

CRC-16, byte stuffing, instruction and status packets, the emulator's instruction parser
(:class:`PacketParser`) and the driver's reply matcher (:func:`find_reply`).

Packet layout (servo-protocols.md §3.1)::

    instruction: FF FF FD 00 | ID | LEN_L LEN_H | INSTR | P1 .. Pn | CRC_L CRC_H
    status:      FF FF FD 00 | ID | LEN_L LEN_H | 0x55 | ERR | D1 .. Dn | CRC_L CRC_H
    LEN counts INSTR .. CRC after stuffing; CRC-16 (poly 0x8005, init 0) over FF .. Pn.

Design decisions:
    * Like a Feetech status packet, a Dynamixel one names only its servo and its length, so
      the driver matches replies by the ``(id, LEN)`` signature of the *unstuffed* packet
      (``LEN = data + 4``) with the Feetech bus's transport (its fences and unique read spans);
      :func:`find_reply` is this protocol's matcher and returns the Feetech
      :class:`~lerobot_gym.hardware.feetech.packets.Reply` record.
    * The parser drops packets with a wrong CRC and re-synchronises one byte later, as a servo
      does (it never answers those).

Sources: shared/reference/servo-protocols.md §3.1 (layout, CRC check value 0xFEE8, stuffing,
the official PING example).
"""

from __future__ import annotations

from lerobot_gym.hardware.feetech.packets import Instruction, Reply
from lerobot_gym.hardware.feetech.packets import PacketParser as _FeetechParser

__all__ = [
    "BROADCAST_ID",
    "INST_BULK_READ",
    "INST_BULK_WRITE",
    "INST_PING",
    "INST_READ",
    "INST_REBOOT",
    "INST_STATUS",
    "INST_SYNC_READ",
    "INST_SYNC_WRITE",
    "INST_WRITE",
    "Instruction",
    "PacketParser",
    "Reply",
    "crc16",
    "find_reply",
    "instruction_packet",
    "status_packet",
    "stuff",
    "unstuff",
]

INST_PING = 0x01
INST_READ = 0x02
INST_WRITE = 0x03
INST_REG_WRITE = 0x04
INST_ACTION = 0x05
INST_FACTORY_RESET = 0x06
INST_REBOOT = 0x08
INST_CLEAR = 0x10
INST_STATUS = 0x55
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83
INST_BULK_READ = 0x92
INST_BULK_WRITE = 0x93

BROADCAST_ID = 0xFE
HEADER = b"\xff\xff\xfd\x00"
_STUFF_PATTERN = b"\xff\xff\xfd"


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray) -> int:
    """CRC-16 of Protocol 2.0 (``crc16(b"123456789") == 0xFEE8``)."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]) & 0xFFFF
    return crc


def stuff(body: bytes) -> bytes:
    """Insert an ``FD`` after every ``FF FF FD`` (INSTR/ERR and parameters only)."""
    return body.replace(_STUFF_PATTERN, _STUFF_PATTERN + b"\xfd")


def unstuff(body: bytes) -> bytes:
    """Remove the ``FD`` that :func:`stuff` inserted."""
    return body.replace(_STUFF_PATTERN + b"\xfd", _STUFF_PATTERN)


def _packet(servo_id: int, body: bytes) -> bytes:
    stuffed = stuff(body)
    length = len(stuffed) + 2
    head = HEADER + bytes([servo_id, length & 0xFF, length >> 8]) + stuffed
    crc = crc16(head)
    return head + bytes([crc & 0xFF, crc >> 8])


def instruction_packet(servo_id: int, instruction: int, params: bytes = b"") -> bytes:
    """An instruction packet (stuffed, with its CRC)."""
    return _packet(servo_id, bytes([instruction]) + bytes(params))


def status_packet(servo_id: int, error: int, data: bytes = b"") -> bytes:
    """A status packet as a servo sends it."""
    return _packet(servo_id, bytes([INST_STATUS, error & 0xFF]) + bytes(data))


def _frame(buf: bytes | bytearray, i: int) -> tuple[int, int, int] | None:
    """``(id, LEN, end)`` of a header at ``i``, or None if not a header / not yet complete."""
    if len(buf) < i + 7:
        return None
    length = buf[i + 5] | buf[i + 6] << 8
    return buf[i + 4], length, i + 7 + length


class PacketParser(_FeetechParser):
    """Incremental parser of Protocol 2.0 instruction packets (the emulator's receiver).

    The stream handling is the Feetech parser's; the framing is Protocol 2.0's.

    Attributes:
        checksum_errors: Packets dropped because their CRC was wrong.
    """

    HEADER = HEADER

    def _frame_length(self, buf: bytearray) -> int | None:
        frame = _frame(buf, 0)
        if frame is None:
            return None
        length = frame[1]
        return frame[2] if 3 <= length <= 1000 else 0

    def _decode(self, packet: bytes) -> Instruction | None:
        if crc16(packet[:-2]) != packet[-2] | packet[-1] << 8:
            return None
        body = unstuff(packet[7:-2])
        return Instruction(packet[4], body[0], body[1:])


def find_reply(buf: bytes | bytearray, start: int, expected: set[tuple[int, int]]) -> Reply | None:
    """The first complete status packet at or after ``start`` with an expected ``(id, LEN)``.

    ``LEN`` is that of the unstuffed packet (data bytes + 4). Anything else is skipped. A packet
    with an expected id and wire length but a wrong CRC is returned with ``corrupt=True``.
    Returns None when no expected packet is complete yet.
    """
    ids = {servo_id for servo_id, _ in expected}
    i = start
    while True:
        i = buf.find(HEADER, i)
        if i < 0:
            return None
        frame = _frame(buf, i)
        if frame is None:
            return None
        servo_id, length, end = frame
        if servo_id not in ids or buf[i + 7] != INST_STATUS:
            i += 1
            continue
        if len(buf) < end:
            i += 1  # possibly ours, still arriving; or a false frame: look on (as Feetech)
            continue
        crc = buf[end - 2] | buf[end - 1] << 8
        if crc16(bytes(buf[i : end - 2])) != crc:
            if (servo_id, length) in expected:
                return Reply(servo_id, buf[i + 8], b"", i + 1, corrupt=True)
            i += 1
            continue
        body = unstuff(bytes(buf[i + 7 : end - 2]))
        if (servo_id, len(body) + 2) not in expected:
            i += 1
            continue
        return Reply(servo_id, body[1], body[2:], end)
