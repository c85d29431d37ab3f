"""Feetech STS servos: the control table as data and a bus over ``scservo_sdk``.

Importing this package does not import ``scservo_sdk``; :class:`FeetechBus` loads it when it
connects and raises :class:`~lerobot_gym.errors.MissingExtraError` (extra ``real``) if absent.
"""

from lerobot_gym.hardware.feetech.bus import FeetechBus
from lerobot_gym.hardware.feetech.bus_types import BusStats
from lerobot_gym.hardware.feetech.status import StatusWatch
from lerobot_gym.hardware.feetech.table import (
    DEFAULT_BAUDRATE,
    MODEL_NUMBERS,
    STATUS_ERROR_BITS,
    STS_CONTROL_TABLE,
    STS_RESOLUTION,
    STS_SIGN_BITS,
    decode_register,
    decode_sign_magnitude,
    encode_register,
    encode_sign_magnitude,
    from_bytes_le,
    register_address,
    status_flags,
    to_bytes_le,
)

__all__ = [
    "DEFAULT_BAUDRATE",
    "MODEL_NUMBERS",
    "STATUS_ERROR_BITS",
    "STS_CONTROL_TABLE",
    "STS_RESOLUTION",
    "STS_SIGN_BITS",
    "BusStats",
    "FeetechBus",
    "StatusWatch",
    "decode_register",
    "decode_sign_magnitude",
    "encode_register",
    "encode_sign_magnitude",
    "from_bytes_le",
    "register_address",
    "status_flags",
    "to_bytes_le",
]
