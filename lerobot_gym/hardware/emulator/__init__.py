"""Servo-bus emulators on pseudo-terminals, for running the real drivers without hardware.

:class:`FeetechEmulator` answers the Feetech STS protocol the way a chain of STS3215 servos
does; its joints are moved by a plant (:class:`FirstOrderPlant`, :class:`ScriptedPlant`, or the
MuJoCo twin via :class:`MujocoPlant`), and :class:`BusFaults` injects the failures a real bus
has (missing servo, corrupt or late replies, error bits, packet loss).

:class:`DynamixelEmulator` does the same for Dynamixel Protocol 2.0 X-series servos, with
shadow motors (Secondary_ID) and operating modes.

POSIX only (``os.openpty``). Nothing here prints; the CLI wires an emulator to a shell command.
"""

from lerobot_gym.hardware.emulator.dynamixel import DynamixelEmulator
from lerobot_gym.hardware.emulator.faults import BusFaults
from lerobot_gym.hardware.emulator.feetech import (
    DEFAULT_MOUNTING_OFFSETS_TICKS,
    EmulatorStats,
    FeetechEmulator,
)
from lerobot_gym.hardware.emulator.plants import (
    FirstOrderPlant,
    MujocoPlant,
    ScriptedPlant,
    ServoPlant,
)
from lerobot_gym.hardware.emulator.servo import EmulatedServo

__all__ = [
    "DEFAULT_MOUNTING_OFFSETS_TICKS",
    "BusFaults",
    "DynamixelEmulator",
    "EmulatedServo",
    "EmulatorStats",
    "FeetechEmulator",
    "FirstOrderPlant",
    "MujocoPlant",
    "ScriptedPlant",
    "ServoPlant",
]
