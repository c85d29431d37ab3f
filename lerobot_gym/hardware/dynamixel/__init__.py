"""Dynamixel X-series servos (Protocol 2.0): the control table as data, a bus on the SDK.

Importing this package does not import ``dynamixel_sdk``; :class:`DynamixelBus` loads it when
it connects and raises :class:`~lerobot_gym.errors.MissingExtraError` (extra ``real``) if absent.
"""

from lerobot_gym.hardware.dynamixel.bus import DynamixelBus, Shadow
from lerobot_gym.hardware.dynamixel.table import (
    DEFAULT_BAUDRATE,
    HARDWARE_ERROR_BITS,
    X_CONTROL_TABLE,
    X_MODEL_NUMBERS,
    X_RESOLUTION,
    OperatingMode,
    decode_register,
    encode_register,
    hardware_error_flags,
    register_address,
    status_flags,
)

__all__ = [
    "DEFAULT_BAUDRATE",
    "HARDWARE_ERROR_BITS",
    "X_CONTROL_TABLE",
    "X_MODEL_NUMBERS",
    "X_RESOLUTION",
    "DynamixelBus",
    "OperatingMode",
    "Shadow",
    "decode_register",
    "encode_register",
    "hardware_error_flags",
    "register_address",
    "status_flags",
]
