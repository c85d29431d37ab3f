"""STS control table, sign-magnitude encodings and packet framing (no serial port)."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lerobot_gym.errors import ConfigError
from lerobot_gym.hardware.feetech import (
    STS_CONTROL_TABLE,
    STS_SIGN_BITS,
    decode_register,
    decode_sign_magnitude,
    encode_register,
    encode_sign_magnitude,
    from_bytes_le,
    status_flags,
    to_bytes_le,
)
from lerobot_gym.hardware.feetech.packets import (
    INST_PING,
    INST_READ,
    INST_SYNC_READ,
    PacketParser,
    instruction_packet,
    status_packet,
)


@pytest.mark.parametrize("sign_bit", [10, 11, 15])
@given(data=st.data())
def test_sign_magnitude_round_trip(sign_bit, data):
    limit = (1 << sign_bit) - 1
    value = data.draw(st.integers(-limit, limit))
    raw = encode_sign_magnitude(value, sign_bit)
    assert 0 <= raw < 1 << (sign_bit + 1)
    assert decode_sign_magnitude(raw, sign_bit) == value


def test_sign_magnitude_known_values_and_overflow():
    # servo-protocols.md §1.2: homing -759 is register 0x0AF7.
    assert encode_sign_magnitude(-759, 11) == 0x0AF7
    assert decode_register("Homing_Offset", 0x0AF7) == -759
    assert encode_register("Present_Load", -5) == (1 << 10) | 5
    assert encode_register("Goal_Position", -1) == 0x8001
    with pytest.raises(ConfigError, match="2047"):
        encode_sign_magnitude(2048, 11)  # half-turn homing of a servo sitting at 4095


def test_unsigned_registers_are_range_checked():
    assert encode_register("Max_Torque_Limit", 500) == 500
    with pytest.raises(ConfigError, match="does not fit"):
        encode_register("Acceleration", 256)
    with pytest.raises(ConfigError, match="unknown STS register"):
        encode_register("Goal_Pos", 1)


def test_control_table_matches_the_reference():
    expected = {
        "Model_Number": (3, 2),
        "Return_Delay_Time": (7, 1),
        "Min_Position_Limit": (9, 2),
        "Max_Position_Limit": (11, 2),
        "Phase": (18, 1),
        "Homing_Offset": (31, 2),
        "Operating_Mode": (33, 1),
        "Torque_Enable": (40, 1),
        "Acceleration": (41, 1),
        "Goal_Position": (42, 2),
        "Lock": (55, 1),
        "Present_Position": (56, 2),
        "Present_Velocity": (58, 2),
        "Present_Load": (60, 2),
        "Present_Current": (69, 2),
        "Maximum_Acceleration": (85, 1),
    }
    for name, addr_size in expected.items():
        assert STS_CONTROL_TABLE[name] == addr_size
    assert set(STS_SIGN_BITS) <= set(STS_CONTROL_TABLE)
    spans = sorted(STS_CONTROL_TABLE.values())
    for (a, s), (b, _) in itertools.pairwise(spans):
        assert a + s <= b, "registers overlap"


def test_status_flags_name_each_bit():
    assert status_flags(0) == ()
    assert status_flags(0x20) == ("overload",)
    assert status_flags(0x01 | 0x02 | 0x04) == ("voltage", "angle", "overheat")
    assert status_flags(0x40) == ("unknown",)


@given(st.integers(0, 0xFFFF))
def test_little_endian_bytes_round_trip(value):
    assert to_bytes_le(value, 2) == [value & 0xFF, value >> 8]
    assert from_bytes_le(to_bytes_le(value, 2)) == value


def test_packets_match_the_sdk_byte_examples():
    # Byte examples from servo-protocols.md §1.1 (accepted by scservo_sdk).
    assert instruction_packet(1, INST_PING).hex(" ") == "ff ff 01 02 01 fb"
    assert instruction_packet(1, INST_READ, bytes([56, 2])).hex(" ") == "ff ff 01 04 02 38 02 be"
    assert status_packet(1, 0, bytes([0x00, 0x08])).hex(" ") == "ff ff 01 04 00 00 08 f2"
    sync = instruction_packet(0xFE, INST_SYNC_READ, bytes([56, 2, 1, 2, 3, 4, 5, 6]))
    assert sync.hex(" ") == "ff ff fe 0a 82 38 02 01 02 03 04 05 06 26"


def test_parser_resynchronises_after_noise_and_bad_checksums():
    parser = PacketParser()
    good = instruction_packet(3, INST_READ, bytes([56, 2]))
    bad = bytearray(instruction_packet(4, INST_PING))
    bad[-1] ^= 0xFF
    stream = b"\x00\xff\x12" + bytes(bad) + good
    # Feed one byte at a time: packets split across reads must still parse.
    packets = [p for b in stream for p in parser.feed(bytes([b]))]
    assert [(p.servo_id, p.instruction, p.params) for p in packets] == [(3, 2, bytes([56, 2]))]
    assert parser.checksum_errors == 1


def test_importing_the_bus_does_not_import_the_sdk():
    code = (
        "import sys, lerobot_gym.hardware.feetech, lerobot_gym.hardware.emulator;"
        "assert 'scservo_sdk' not in sys.modules, 'scservo_sdk imported';"
        "assert 'serial' not in sys.modules, 'serial imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
