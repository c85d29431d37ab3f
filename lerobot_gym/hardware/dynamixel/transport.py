"""The Dynamixel bus's wire: the Feetech bus's :class:`Transport` with Protocol 2.0 packets.

Reply matching by ``(id, LEN)`` signature, fences, unique read spans, the stale-byte discard
before every request, timeouts that sleep in ``select`` and OS errors as
:class:`~lerobot_gym.errors.PortIOError` (with reopen) are protocol-independent and inherited
(:mod:`lerobot_gym.hardware.feetech.transport` documents them). This subclass supplies the
framing: READ packets with 2-byte address and length, the Protocol 2.0 reply matcher, and
the port opened with ``dynamixel_sdk``'s ``PortHandler`` (the project's subclass, with an
exclusive lock).

Sources: shared/reference/servo-protocols.md §3.1 (packets, ``dynamixel_sdk`` API).
"""

from __future__ import annotations

from typing import Any

from lerobot_gym.errors import MissingExtraError
from lerobot_gym.hardware.dynamixel.packets import INST_READ, find_reply, instruction_packet
from lerobot_gym.hardware.feetech._port import open_port
from lerobot_gym.hardware.feetech.packets import Reply
from lerobot_gym.hardware.feetech.transport import Transport

__all__ = ["DynamixelTransport", "import_sdk"]


def import_sdk() -> Any:
    """Import dynamixel_sdk, or raise MissingExtraError naming the ``real`` extra."""
    try:
        import dynamixel_sdk
    except ImportError as exc:
        raise MissingExtraError("dynamixel_sdk", "real", "Dynamixel servo buses") from exc
    return dynamixel_sdk


def le(value: int, size: int) -> bytes:
    """``value`` as ``size`` little-endian bytes."""
    return int(value).to_bytes(size, "little")


class DynamixelTransport(Transport):
    """A Dynamixel Protocol 2.0 bus's serial port (see the module docstring)."""

    #: Status ``LEN`` minus data bytes: INSTR (0x55) + ERR + CRC (2).
    STATUS_OVERHEAD = 4
    #: Header (4) + id + LEN (2).
    WIRE_OVERHEAD = 7

    def _open_handler(self) -> Any:
        return open_port(self.port, self.baudrate, import_sdk().PortHandler)

    def read_packet(self, servo_id: int, start: int, length: int) -> bytes:
        return instruction_packet(servo_id, INST_READ, le(start, 2) + le(length, 2))

    def _find_reply(self, buf: bytearray, expected: set[tuple[int, int]]) -> Reply | None:
        return find_reply(buf, 0, expected)
