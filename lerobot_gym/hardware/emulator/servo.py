"""One emulated STS3215: its register memory and what the firmware does on a write.

Modelled behaviour (servo-protocols.md §1.2, §4.3 item 9):
    * EEPROM (addresses 0..39 and the factory block 80..86) and RAM share one table. An EEPROM
      write takes effect at once; it is also *saved* (survives :meth:`EmulatedServo.power_cycle`)
      only while ``Lock`` (55) is 0, the STS Lock semantics lerobot relies on.
    * Read-only registers (firmware, model number, the ``Present_*`` block) ignore writes; the
      servo still acknowledges the packet, as the firmware does.
    * ``Present_Position = Actual - Homing_Offset`` (sign-magnitude, sign bit 11), wrapped into
      0..4095 unless Phase bit 4 (multi-turn feedback) is set.
    * ``Goal_Position`` is clamped into ``[Min_Position_Limit, Max_Position_Limit]`` when the
      limits form a range (both 0 means "no limits"); the clamped value is what reads back.
    * Enabling torque sets the goal to the present position, so a stale goal does not make the
      joint jump; ``Torque_Enable = 128`` re-centres (``Homing_Offset`` so that present = 2048).
    * ``actual_ticks = 2048 + rad * 4096 / (2 pi) + mounting_offset_ticks``: each servo is mounted
      a few degrees off centre, as on a real arm, so calibration has real work to do.
"""

from __future__ import annotations

import builtins
import math

from lerobot_gym.hardware.feetech.table import (
    MODEL_NUMBERS,
    PHASE_MULTI_TURN_BIT,
    STS_CONTROL_TABLE,
    STS_RESOLUTION,
    STS_SIGN_BITS,
    encode_register,
    encode_sign_magnitude,
)

MEMORY_SIZE = 128
EEPROM_ADDRESSES = frozenset(range(40)) | frozenset(range(80, 87))
READ_ONLY_ADDRESSES = frozenset({0, 1, 2, 3, 4}) | frozenset(range(56, 71))
TICKS_PER_RAD = STS_RESOLUTION / (2 * math.pi)
_MOVING_THRESHOLD_TICKS_S = 20.0
_STALL_CURRENT_UNITS = 415  # ~2.7 A stall current at 6.5 mA per unit
# register -> (address, size, sign bit or 0): the hot path avoids the validating helpers.
_LAYOUT = {
    name: (addr, size, STS_SIGN_BITS.get(name, 0))
    for name, (addr, size) in STS_CONTROL_TABLE.items()
}

#: Factory defaults (ftservo memory table; Return_Delay_Time 250 = 500 us, Lock 1).
_DEFAULTS: dict[str, int] = {
    "Firmware_Major_Version": 3,
    "Firmware_Minor_Version": 10,
    "Model_Number": MODEL_NUMBERS["sts3215"],
    "Baud_Rate": 0,
    "Return_Delay_Time": 250,
    "Response_Status_Level": 1,
    "Min_Position_Limit": 0,
    "Max_Position_Limit": 4095,
    "Max_Temperature_Limit": 70,
    "Max_Voltage_Limit": 140,
    "Min_Voltage_Limit": 40,
    "Max_Torque_Limit": 1000,
    "Phase": 0x0C,
    "Unloading_Condition": 44,
    "LED_Alarm_Condition": 47,
    "P_Coefficient": 32,
    "D_Coefficient": 32,
    "I_Coefficient": 0,
    "Minimum_Startup_Force": 16,
    "CW_Dead_Zone": 1,
    "CCW_Dead_Zone": 1,
    "Protection_Current": 500,
    "Angular_Resolution": 1,
    "Protective_Torque": 20,
    "Protection_Time": 200,
    "Overload_Torque": 80,
    "Torque_Limit": 1000,
    "Lock": 1,
    "Present_Voltage": 120,
    "Present_Temperature": 35,
    "Moving_Velocity_Threshold": 1,
    "Maximum_Velocity_Limit": 254,
    "Maximum_Acceleration": 254,
}


class EmulatedServo:
    """The control table of one STS servo and its write semantics.

    Args:
        servo_id: Bus id.
        mounting_offset_ticks: Encoder reading at the joint's zero, relative to 2048.
        model_number: Value of the Model_Number register.
    """

    def __init__(
        self, servo_id: int, *, mounting_offset_ticks: int = 0, model_number: int = 777
    ) -> None:
        self.mounting_offset_ticks = int(mounting_offset_ticks)
        self.table = bytearray(MEMORY_SIZE)
        for name, value in _DEFAULTS.items():
            self.set(name, value)
        self.set("Model_Number", model_number)
        self.set("ID", servo_id)
        self._flash = bytes(self.table)  # the saved EEPROM image
        self.actual_ticks = 2048 + self.mounting_offset_ticks
        self.set("Present_Position", self.present_ticks())
        self.set("Goal_Position", self.present_ticks())
        self.pending_write: tuple[int, bytes] | None = None  # REG_WRITE waiting for ACTION
        self.ignored_writes = 0

    # ----------------------------------------------------------------- raw access
    @property
    def id(self) -> int:
        """Current bus id (the ID register)."""
        return self.table[STS_CONTROL_TABLE["ID"][0]]

    def get(self, register: str) -> int:
        """Signed value of a register (sign-magnitude decoded)."""
        addr, size, sign_bit = _LAYOUT[register]
        raw = int.from_bytes(self.table[addr : addr + size], "little")
        if sign_bit and raw >> sign_bit & 1:
            return -(raw & ((1 << sign_bit) - 1))
        return raw

    def set(self, register: str, value: int) -> None:
        """Set a register directly, as the firmware does (no read-only or Lock rules)."""
        addr, size, sign_bit = _LAYOUT[register]
        raw = encode_register(register, value) if sign_bit or value < 0 else value
        self.table[addr : addr + size] = raw.to_bytes(size, "little")

    def read(self, addr: int, length: int) -> bytes:
        """Bytes of a READ; addresses past the table read as 0."""
        data = bytes(self.table[addr : addr + length])
        return data + bytes(length - len(data))

    # ----------------------------------------------------------------- bus writes
    def write(self, addr: int, data: bytes) -> None:
        """Apply a WRITE (or SYNC_WRITE / ACTION) from the bus with the firmware's rules."""
        touched: set[int] = set()
        torque_was_on = self.torque_enabled
        save = self.get("Lock") == 0
        flash = bytearray(self._flash)
        for offset, byte in enumerate(data):
            a = addr + offset
            if a >= MEMORY_SIZE or a in READ_ONLY_ADDRESSES:
                self.ignored_writes += 1
                continue
            self.table[a] = byte
            touched.add(a)
            if save and a in EEPROM_ADDRESSES:
                flash[a] = byte
        self._flash = bytes(flash)
        if self._touches(touched, "Torque_Enable"):
            self._on_torque_write(torque_was_on, save)
        if self._touches(touched, "Goal_Position"):
            self._clamp_goal()

    @staticmethod
    def _touches(touched: builtins.set[int], register: str) -> bool:
        addr, size = STS_CONTROL_TABLE[register]
        return any(a in touched for a in range(addr, addr + size))

    def _on_torque_write(self, torque_was_on: bool, save: bool) -> None:
        value = self.get("Torque_Enable")
        if value == 128:
            # "Calibrate middle": the current position becomes 2048 (ftservo wiki). The offset
            # register holds ±2047 (sign bit 11), so an encoder at 0 gets the nearest offset.
            limit = (1 << STS_SIGN_BITS["Homing_Offset"]) - 1
            self.set("Homing_Offset", max(-limit, min(limit, self.actual_ticks - 2048)))
            if save:
                self._save("Homing_Offset")
            self.set("Torque_Enable", int(torque_was_on))
            value = self.get("Torque_Enable")
        if value and not torque_was_on:
            self.set("Goal_Position", self.present_ticks())

    def _save(self, register: str) -> None:
        addr, size = STS_CONTROL_TABLE[register]
        flash = bytearray(self._flash)
        flash[addr : addr + size] = self.table[addr : addr + size]
        self._flash = bytes(flash)

    def _clamp_goal(self) -> None:
        low, high = self.get("Min_Position_Limit"), self.get("Max_Position_Limit")
        if high > low:
            goal = self.get("Goal_Position")
            self.set("Goal_Position", min(max(goal, low), high))

    def power_cycle(self) -> None:
        """Reboot: EEPROM comes back from the saved image, RAM from the defaults."""
        self.table[:] = self._flash
        for name in ("Torque_Enable", "Acceleration", "Goal_Velocity", "Status", "Moving"):
            self.set(name, 0)
        self.set("Lock", 1)
        self.set("Torque_Limit", self.get("Max_Torque_Limit"))
        self.pending_write = None
        self.set("Goal_Position", self.present_ticks())

    # ----------------------------------------------------------------- plant coupling
    @property
    def torque_enabled(self) -> bool:
        """Whether the servo drives its joint."""
        return self.get("Torque_Enable") != 0

    @property
    def response_status_level(self) -> int:
        """0: answer only PING and READ; 1: answer everything addressed to this id."""
        return self.get("Response_Status_Level")

    @property
    def return_delay_s(self) -> float:
        """Return_Delay_Time in seconds (2 us per unit)."""
        return self.get("Return_Delay_Time") * 2e-6

    def present_ticks(self) -> int:
        """Present_Position as the firmware computes it from the encoder."""
        present = self.actual_ticks - self.get("Homing_Offset")
        if self.get("Phase") & PHASE_MULTI_TURN_BIT:
            return max(-32767, min(32767, present))
        return present % STS_RESOLUTION

    def goal_rad(self) -> float:
        """The goal position as a joint angle (radians), through offset and mounting."""
        actual = self.get("Goal_Position") + self.get("Homing_Offset")
        centred = (actual - 2048 - self.mounting_offset_ticks + 2048) % STS_RESOLUTION - 2048
        return centred / TICKS_PER_RAD

    def ticks_from_rad(self, position_rad: float) -> int:
        """Encoder reading (0..4095) for a joint angle."""
        raw = 2048 + position_rad * TICKS_PER_RAD + self.mounting_offset_ticks
        return round(raw) % STS_RESOLUTION

    def update_from_plant(
        self, position_rad: float, velocity_rad_s: float, load_fraction: float, error_bits: int
    ) -> None:
        """Refresh the Present_* registers from the joint's state (runs on every plant step)."""
        self.actual_ticks = self.ticks_from_rad(float(position_rad))
        table = self.table
        velocity = max(-32767, min(32767, round(float(velocity_rad_s) * TICKS_PER_RAD)))
        load = max(-1000, min(1000, round(float(load_fraction) * 1000)))
        table[56:62] = (
            _sign_magnitude(self.present_ticks(), 15)
            + _sign_magnitude(velocity, 15)
            + _sign_magnitude(load, 10)
        )
        table[65] = error_bits
        table[66] = int(abs(velocity) > _MOVING_THRESHOLD_TICKS_S)
        current = round(abs(float(load_fraction)) * _STALL_CURRENT_UNITS)
        table[69:71] = current.to_bytes(2, "little")


def _sign_magnitude(value: int, sign_bit: int) -> bytes:
    """Two little-endian bytes of a sign-magnitude value (already range-checked)."""
    return encode_sign_magnitude(value, sign_bit).to_bytes(2, "little")
