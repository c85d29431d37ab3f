"""STS3215 control table, sign-magnitude encodings and status-error bits, as data.

Pure Python, no SDK: the driver (:mod:`lerobot_gym.hardware.feetech.bus`) and the bus emulator
(:mod:`lerobot_gym.hardware.emulator`) share these definitions, so they cannot disagree.

Sources: shared/reference/servo-protocols.md §1.1-1.2 (control table, ERR bits, encodings;
lerobot ``STS_SMS_SERIES_CONTROL_TABLE`` / ``STS_SMS_SERIES_ENCODINGS_TABLE``, ftservo wiki).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from lerobot_gym.errors import ConfigError

#: STS/SMS control table: register name -> (address, size in bytes). Names follow lerobot's
#: ``STS_SMS_SERIES_CONTROL_TABLE`` where it names a register.
STS_CONTROL_TABLE: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "Firmware_Major_Version": (0, 1),
        "Firmware_Minor_Version": (1, 1),
        "Model_Number": (3, 2),
        "ID": (5, 1),
        "Baud_Rate": (6, 1),
        "Return_Delay_Time": (7, 1),
        "Response_Status_Level": (8, 1),
        "Min_Position_Limit": (9, 2),
        "Max_Position_Limit": (11, 2),
        "Max_Temperature_Limit": (13, 1),
        "Max_Voltage_Limit": (14, 1),
        "Min_Voltage_Limit": (15, 1),
        "Max_Torque_Limit": (16, 2),
        "Phase": (18, 1),
        "Unloading_Condition": (19, 1),
        "LED_Alarm_Condition": (20, 1),
        "P_Coefficient": (21, 1),
        "D_Coefficient": (22, 1),
        "I_Coefficient": (23, 1),
        "Minimum_Startup_Force": (24, 2),
        "CW_Dead_Zone": (26, 1),
        "CCW_Dead_Zone": (27, 1),
        "Protection_Current": (28, 2),
        "Angular_Resolution": (30, 1),
        "Homing_Offset": (31, 2),
        "Operating_Mode": (33, 1),
        "Protective_Torque": (34, 1),
        "Protection_Time": (35, 1),
        "Overload_Torque": (36, 1),
        "Velocity_P_Coefficient": (37, 1),
        "Over_Current_Protection_Time": (38, 1),
        "Velocity_I_Coefficient": (39, 1),
        "Torque_Enable": (40, 1),
        "Acceleration": (41, 1),
        "Goal_Position": (42, 2),
        "Goal_Time": (44, 2),
        "Goal_Velocity": (46, 2),
        "Torque_Limit": (48, 2),
        "Lock": (55, 1),
        "Present_Position": (56, 2),
        "Present_Velocity": (58, 2),
        "Present_Load": (60, 2),
        "Present_Voltage": (62, 1),
        "Present_Temperature": (63, 1),
        "Status": (65, 1),
        "Moving": (66, 1),
        "Present_Current": (69, 2),
        "Goal_Position_2": (71, 2),
        "Moving_Velocity_Threshold": (80, 1),
        "DTs": (81, 1),
        "Velocity_Unit_Factor": (82, 1),
        "Hts": (83, 1),
        "Maximum_Velocity_Limit": (84, 1),
        "Maximum_Acceleration": (85, 1),
        "Acceleration_Multiplier": (86, 1),
    }
)

#: Sign-magnitude registers: register name -> index of the sign bit (lerobot
#: ``STS_SMS_SERIES_ENCODINGS_TABLE``; the Feetech C++ library agrees).
STS_SIGN_BITS: Mapping[str, int] = MappingProxyType(
    {
        "Homing_Offset": 11,
        "Goal_Position": 15,
        "Goal_Velocity": 15,
        "Present_Position": 15,
        "Present_Velocity": 15,
        "Present_Load": 10,
    }
)

#: Model name -> value of the Model_Number register (address 3).
MODEL_NUMBERS: Mapping[str, int] = MappingProxyType(
    {"sts3215": 777, "sts3250": 2825, "sm8512bl": 11272}
)

#: Status-packet ERR bits (``scservo_sdk`` ``ERRBIT_*``); the same bits are in register 65.
STATUS_ERROR_BITS: Mapping[int, str] = MappingProxyType(
    {0x01: "voltage", 0x02: "angle", 0x04: "overheat", 0x08: "overcurrent", 0x20: "overload"}
)

STS_RESOLUTION = 4096  # ticks per revolution
DEFAULT_BAUDRATE = 1_000_000
PHASE_MULTI_TURN_BIT = 0x10  # Phase (18) bit 4: multi-turn angle feedback


def encode_sign_magnitude(value: int, sign_bit: int) -> int:
    """Encode a signed integer as sign-magnitude with the sign at ``sign_bit``.

    Args:
        value: The signed value.
        sign_bit: Index of the sign bit (11, 15 or 10 on STS servos).

    Returns:
        ``abs(value)`` with bit ``sign_bit`` set when ``value`` is negative.

    Raises:
        ConfigError: ``abs(value)`` does not fit below the sign bit.
    """
    magnitude = abs(int(value))
    if magnitude >= 1 << sign_bit:
        raise ConfigError(
            f"magnitude {magnitude} exceeds {(1 << sign_bit) - 1}, the largest value a "
            f"sign-magnitude register with its sign at bit {sign_bit} can hold"
        )
    return magnitude | ((1 << sign_bit) if value < 0 else 0)


def decode_sign_magnitude(raw: int, sign_bit: int) -> int:
    """Decode a sign-magnitude register value (inverse of :func:`encode_sign_magnitude`)."""
    magnitude = raw & ((1 << sign_bit) - 1)
    return -magnitude if raw & (1 << sign_bit) else magnitude


def encode_register(register: str, value: int) -> int:
    """Convert a signed register value to the unsigned raw value sent on the wire."""
    addr_size = register_address(register)
    sign_bit = STS_SIGN_BITS.get(register)
    raw = encode_sign_magnitude(value, sign_bit) if sign_bit is not None else int(value)
    if not 0 <= raw < 1 << (8 * addr_size[1]):
        raise ConfigError(
            f"value {value} does not fit register {register!r} ({addr_size[1]} byte(s), unsigned)"
        )
    return raw


def decode_register(register: str, raw: int) -> int:
    """Convert a raw register value read from the wire to a signed value."""
    sign_bit = STS_SIGN_BITS.get(register)
    return decode_sign_magnitude(raw, sign_bit) if sign_bit is not None else raw


def register_address(register: str) -> tuple[int, int]:
    """Return ``(address, size)`` of an STS register, or raise :class:`ConfigError`."""
    try:
        return STS_CONTROL_TABLE[register]
    except KeyError:
        raise ConfigError(
            f"unknown STS register {register!r}; known registers: {', '.join(STS_CONTROL_TABLE)}"
        ) from None


def status_flags(error: int) -> tuple[str, ...]:
    """Names of the error bits set in a status packet's ERR byte (``'unknown'`` for others)."""
    flags = tuple(name for bit, name in STATUS_ERROR_BITS.items() if error & bit)
    known = sum(STATUS_ERROR_BITS)
    return flags + (("unknown",) if error & ~known & 0xFF else ())


def to_bytes_le(value: int, size: int) -> list[int]:
    """Split an unsigned value into ``size`` little-endian bytes (STS byte order)."""
    return [(value >> (8 * i)) & 0xFF for i in range(size)]


def from_bytes_le(data: Iterable[int]) -> int:
    """Join little-endian bytes into an unsigned value."""
    return sum(int(b) << (8 * i) for i, b in enumerate(data))
