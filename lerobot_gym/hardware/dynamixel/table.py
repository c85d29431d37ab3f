"""Dynamixel X-series control table, encodings, status bits and operating modes, as data.

Pure Python, no SDK: the driver (:mod:`lerobot_gym.hardware.dynamixel.bus`) and the emulator
(:mod:`lerobot_gym.hardware.emulator.dynamixel`) share these definitions.

Design decisions:
    * One table for every supported X-series model: XM430, XM540, XL430 and XC430 share the
      addresses (servo-protocols.md §3.2). Address 126 is ``Present_Current`` on XM models and
      a load in 0.1 % on XL430/XC430 (no current sensor); LeRobot calls it ``Present_Current``
      on all, and so does this table.
    * Signed registers are two's complement (LeRobot's ``encode_twos_complement``), not the
      Feetech sign-magnitude.

Sources: shared/reference/servo-protocols.md §3.1-3.3 (X-series table, ERR byte, Hardware
Error Status, operating modes, model numbers).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from lerobot_gym.errors import ConfigError

#: register name -> (address, size in bytes); LeRobot's ``X_SERIES_CONTROL_TABLE`` names.
X_CONTROL_TABLE: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "Model_Number": (0, 2),
        "Model_Information": (2, 4),
        "Firmware_Version": (6, 1),
        "ID": (7, 1),
        "Baud_Rate": (8, 1),
        "Return_Delay_Time": (9, 1),
        "Drive_Mode": (10, 1),
        "Operating_Mode": (11, 1),
        "Secondary_ID": (12, 1),
        "Protocol_Type": (13, 1),
        "Homing_Offset": (20, 4),
        "Moving_Threshold": (24, 4),
        "Temperature_Limit": (31, 1),
        "Max_Voltage_Limit": (32, 2),
        "Min_Voltage_Limit": (34, 2),
        "PWM_Limit": (36, 2),
        "Current_Limit": (38, 2),
        "Acceleration_Limit": (40, 4),
        "Velocity_Limit": (44, 4),
        "Max_Position_Limit": (48, 4),
        "Min_Position_Limit": (52, 4),
        "Shutdown": (63, 1),
        "Torque_Enable": (64, 1),
        "LED": (65, 1),
        "Status_Return_Level": (68, 1),
        "Registered_Instruction": (69, 1),
        "Hardware_Error_Status": (70, 1),
        "Velocity_I_Gain": (76, 2),
        "Velocity_P_Gain": (78, 2),
        "Position_D_Gain": (80, 2),
        "Position_I_Gain": (82, 2),
        "Position_P_Gain": (84, 2),
        "Feedforward_2nd_Gain": (88, 2),
        "Feedforward_1st_Gain": (90, 2),
        "Bus_Watchdog": (98, 1),
        "Goal_PWM": (100, 2),
        "Goal_Current": (102, 2),
        "Goal_Velocity": (104, 4),
        "Profile_Acceleration": (108, 4),
        "Profile_Velocity": (112, 4),
        "Goal_Position": (116, 4),
        "Realtime_Tick": (120, 2),
        "Moving": (122, 1),
        "Moving_Status": (123, 1),
        "Present_PWM": (124, 2),
        "Present_Current": (126, 2),
        "Present_Velocity": (128, 4),
        "Present_Position": (132, 4),
        "Velocity_Trajectory": (136, 4),
        "Position_Trajectory": (140, 4),
        "Present_Input_Voltage": (144, 2),
        "Present_Temperature": (146, 1),
    }
)

#: Registers holding two's-complement values (LeRobot's Dynamixel encodings).
X_SIGNED_REGISTERS = frozenset(
    {
        "Homing_Offset",
        "Goal_PWM",
        "Present_PWM",
        "Goal_Current",
        "Present_Current",
        "Goal_Velocity",
        "Present_Velocity",
        "Goal_Position",
        "Present_Position",
        "Velocity_Trajectory",
        "Position_Trajectory",
    }
)

#: EEPROM area: writable only while torque is off (else the servo answers Access error 7).
EEPROM_END = 64

#: Model name (as LeRobot spells it) -> Model_Number.
X_MODEL_NUMBERS: Mapping[str, int] = MappingProxyType(
    {
        "xm430-w350": 1020,
        "xm540-w270": 1120,
        "xl430-w250": 1060,
        "xc430-w150": 1070,
        "xl330-m288": 1200,
    }
)

#: Models without a current sensor: no current-based modes (servo-protocols.md §3.2).
NO_CURRENT_MODE_MODELS = frozenset({"xl430-w250", "xc430-w150"})

X_RESOLUTION = 4096
DEFAULT_BAUDRATE = 1_000_000
#: Baud_Rate register value -> bits/s.
BAUD_RATES: Mapping[int, int] = MappingProxyType(
    {0: 9600, 1: 57600, 2: 115200, 3: 1_000_000, 4: 2_000_000, 5: 3_000_000, 6: 4_000_000}
)
#: Secondary_ID value meaning "no shadow".
NO_SECONDARY_ID = 255

#: Bit 7 of the status ERR byte: read Hardware_Error_Status for the reason.
ALERT_BIT = 0x80
#: Low 7 bits of the ERR byte: why an instruction failed (a number, not bits).
INSTRUCTION_ERRORS: Mapping[int, str] = MappingProxyType(
    {
        1: "result_fail",
        2: "instruction_error",
        3: "crc_error",
        4: "data_range_error",
        5: "data_length_error",
        6: "data_limit_error",
        7: "access_error",
    }
)
#: Hardware_Error_Status (address 70) bit -> flag name.
HARDWARE_ERROR_BITS: Mapping[int, str] = MappingProxyType(
    {
        0x01: "voltage",
        0x04: "overheat",
        0x08: "encoder",
        0x10: "electrical_shock",
        0x20: "overload",
    }
)


class OperatingMode(enum.IntEnum):
    """Operating_Mode (address 11) values of X-series servos."""

    CURRENT = 0
    VELOCITY = 1
    POSITION = 3
    EXTENDED_POSITION = 4
    CURRENT_BASED_POSITION = 5
    PWM = 16


#: Modes in which Goal_Position drives the joint.
POSITION_MODES = frozenset(
    {OperatingMode.POSITION, OperatingMode.EXTENDED_POSITION, OperatingMode.CURRENT_BASED_POSITION}
)


def register_address(register: str) -> tuple[int, int]:
    """``(address, size)`` of a register, or ConfigError naming the known ones."""
    try:
        return X_CONTROL_TABLE[register]
    except KeyError:
        raise ConfigError(
            f"unknown Dynamixel register {register!r}; known: {', '.join(X_CONTROL_TABLE)}"
        ) from None


def encode_register(register: str, value: int) -> int:
    """Signed value -> unsigned register bits (two's complement for signed registers)."""
    _, size = register_address(register)
    bits = 8 * size
    value = int(value)
    if register in X_SIGNED_REGISTERS:
        if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
            raise ConfigError(f"{register}={value} does not fit {size} signed byte(s)")
        return value & ((1 << bits) - 1)
    if not 0 <= value < 1 << bits:
        raise ConfigError(f"{register}={value} does not fit {size} unsigned byte(s)")
    return value


def decode_register(register: str, raw: int) -> int:
    """Unsigned register bits -> signed value."""
    _, size = register_address(register)
    bits = 8 * size
    if register in X_SIGNED_REGISTERS and raw >> (bits - 1) & 1:
        return raw - (1 << bits)
    return raw


def status_flags(error: int) -> tuple[str, ...]:
    """Names of a status ERR byte: the instruction error, and ``alert`` for bit 7."""
    flags: list[str] = []
    code = error & 0x7F
    if code:
        flags.append(INSTRUCTION_ERRORS.get(code, f"error_{code}"))
    if error & ALERT_BIT:
        flags.append("alert")
    return tuple(flags)


def hardware_error_flags(bits: int) -> tuple[str, ...]:
    """Names of the bits set in Hardware_Error_Status."""
    flags = [name for bit, name in HARDWARE_ERROR_BITS.items() if bits & bit]
    unknown = bits & ~sum(HARDWARE_ERROR_BITS)
    return (*flags, f"hardware_0x{unknown:02x}") if unknown else tuple(flags)
