"""One emulated Dynamixel X-series servo: its control table and what the firmware does on a write.

Modelled behaviour (servo-protocols.md §3.2-3.3, §4.3 item 9):
    * EEPROM (addresses 0..63) is writable only while torque is off: otherwise the write is
      refused with Access error 7 in the status packet (nothing is applied). Read-only
      registers (model, firmware, the ``Present_*`` block, Hardware_Error_Status) ignore writes.
      EEPROM is saved at once (X-series have no Lock); :meth:`power_cycle` keeps it.
    * ``Present_Position = Actual + Homing_Offset`` (two's complement); Drive_Mode bit 0
      (reverse) mirrors the encoder about 2048 first, as the firmware does.
    * Operating modes: in position (3) and current-based position (5) the goal is clamped into
      ``[Min_Position_Limit, Max_Position_Limit]``; extended position (4) is not clamped; in
      current (0), velocity (1) and PWM (16) modes Goal_Position does not drive the joint (the
      plant sees the joint as not driven: a leader arm moved by hand). In current-based
      position, Present_Current is the load scaled to Goal_Current (bounded by Current_Limit).
      Current modes are refused (data range error) on XL430/XC430.
    * Secondary_ID: a servo whose Secondary_ID is set applies writes addressed to that id and
      never answers them (the ALOHA's shadow motors); :attr:`secondary_id` exposes it.
    * Enabling torque sets the goal to the present position, so a stale goal does not jump.
    * ``actual_ticks = 2048 + (q - unit_zero) * ticks_per_unit + mounting_offset_ticks`` for the
      joint coordinate ``q`` (radians by default; a gripper's finger in metres has its own
      scale, and a servo mounted against the joint's direction a negative one).
"""

from __future__ import annotations

import math

from lerobot_gym.hardware.dynamixel.table import (
    EEPROM_END,
    NO_CURRENT_MODE_MODELS,
    NO_SECONDARY_ID,
    POSITION_MODES,
    X_CONTROL_TABLE,
    X_MODEL_NUMBERS,
    X_RESOLUTION,
    OperatingMode,
    decode_register,
    encode_register,
)

MEMORY_SIZE = 256
TICKS_PER_RAD = X_RESOLUTION / (2 * math.pi)
ACCESS_ERROR = 7
DATA_RANGE_ERROR = 4
_READ_ONLY = frozenset(range(0, 7)) | frozenset({70}) | frozenset(range(120, 148))
_MODELS_BY_NUMBER = {number: name for name, number in X_MODEL_NUMBERS.items()}
_STALL_CURRENT_UNITS = 1193

#: Factory defaults (XM430/XM540 e-manual; Return_Delay_Time 250 = 500 us, 57600 baud).
_DEFAULTS: dict[str, int] = {
    "Firmware_Version": 45,
    "Baud_Rate": 1,
    "Return_Delay_Time": 250,
    "Drive_Mode": 0,
    "Operating_Mode": int(OperatingMode.POSITION),
    "Secondary_ID": NO_SECONDARY_ID,
    "Protocol_Type": 2,
    "Moving_Threshold": 10,
    "Temperature_Limit": 80,
    "Max_Voltage_Limit": 160,
    "Min_Voltage_Limit": 95,
    "PWM_Limit": 885,
    "Current_Limit": 1193,
    "Acceleration_Limit": 32767,
    "Velocity_Limit": 350,
    "Max_Position_Limit": 4095,
    "Min_Position_Limit": 0,
    "Shutdown": 52,
    "Status_Return_Level": 2,
    "Velocity_I_Gain": 1920,
    "Velocity_P_Gain": 100,
    "Position_P_Gain": 800,
    "Present_Input_Voltage": 120,
    "Present_Temperature": 35,
}


class DynamixelServo:
    """The control table of one X-series servo and its write semantics.

    Args:
        servo_id: Bus id.
        mounting_offset_ticks: Encoder reading at the joint's zero, relative to 2048.
        model: Model name (``"xm540-w270"``).
        ticks_per_unit: Encoder ticks per unit of the joint coordinate (negative: reversed).
        unit_zero: Joint coordinate at which the encoder reads ``2048 + mounting_offset_ticks``.
    """

    def __init__(
        self,
        servo_id: int,
        *,
        mounting_offset_ticks: int = 0,
        model: str,
        ticks_per_unit: float = TICKS_PER_RAD,
        unit_zero: float = 0.0,
    ) -> None:
        self.model = model
        self.ticks_per_unit, self.unit_zero = float(ticks_per_unit), float(unit_zero)
        self.mounting_offset_ticks = int(mounting_offset_ticks)
        self.table = bytearray(MEMORY_SIZE)
        for name, value in _DEFAULTS.items():
            self.set(name, value)
        self.set("Model_Number", X_MODEL_NUMBERS[model])
        self.set("ID", servo_id)
        self.actual_ticks = 2048 + self.mounting_offset_ticks
        self.set("Present_Position", self.present_ticks())
        self.set("Goal_Position", self.present_ticks())
        #: The instruction error of the latest write (0 when it was applied).
        self.instruction_error = 0
        self.refused_writes = 0

    # ----------------------------------------------------------------- raw access
    @property
    def id(self) -> int:
        """Current bus id (the ID register)."""
        return self.table[X_CONTROL_TABLE["ID"][0]]

    @property
    def secondary_id(self) -> int | None:
        """The id this servo also listens to (writes only), or None."""
        value = self.get("Secondary_ID")
        return None if value >= 253 else value

    def get(self, register: str) -> int:
        """Signed value of a register."""
        addr, size = X_CONTROL_TABLE[register]
        return decode_register(register, int.from_bytes(self.table[addr : addr + size], "little"))

    def set(self, register: str, value: int) -> None:
        """Set a register directly, as the firmware does (no access rules)."""
        addr, size = X_CONTROL_TABLE[register]
        self.table[addr : addr + size] = encode_register(register, value).to_bytes(size, "little")

    def read(self, addr: int, length: int) -> bytes:
        """Bytes of a READ; addresses past the table read as 0."""
        data = bytes(self.table[addr : addr + length])
        return data + bytes(length - len(data))

    # ----------------------------------------------------------------- bus writes
    def write(self, addr: int, data: bytes) -> None:
        """Apply a WRITE / SYNC_WRITE from the bus; sets :attr:`instruction_error`."""
        self.instruction_error = 0
        if self.torque_enabled and addr < EEPROM_END:
            self.instruction_error = ACCESS_ERROR
            self.refused_writes += 1
            return
        mode_addr = X_CONTROL_TABLE["Operating_Mode"][0]
        if addr <= mode_addr < addr + len(data) and self.model in NO_CURRENT_MODE_MODELS:
            if data[mode_addr - addr] in (
                OperatingMode.CURRENT,
                OperatingMode.CURRENT_BASED_POSITION,
            ):
                self.instruction_error = DATA_RANGE_ERROR
                self.refused_writes += 1
                return
        torque_was_on = self.torque_enabled
        touched = set()
        for offset, byte in enumerate(data):
            a = addr + offset
            if a >= MEMORY_SIZE or a in _READ_ONLY:
                continue
            self.table[a] = byte
            touched.add(a)
        if X_CONTROL_TABLE["Torque_Enable"][0] in touched and self.torque_enabled:
            if not torque_was_on:
                self.set("Goal_Position", self.present_ticks())
        goal_addr = X_CONTROL_TABLE["Goal_Position"][0]
        if touched & set(range(goal_addr, goal_addr + 4)):
            self._clamp_goal()

    def _clamp_goal(self) -> None:
        if self.operating_mode in (OperatingMode.POSITION, OperatingMode.CURRENT_BASED_POSITION):
            low, high = self.get("Min_Position_Limit"), self.get("Max_Position_Limit")
            if high > low:
                self.set("Goal_Position", min(max(self.get("Goal_Position"), low), high))

    def power_cycle(self) -> None:
        """Reboot: torque off, hardware error cleared, goal at the present position."""
        self.set("Torque_Enable", 0)
        self.set("Hardware_Error_Status", 0)
        self.set("Goal_Position", self.present_ticks())

    # ----------------------------------------------------------------- plant coupling
    @property
    def operating_mode(self) -> int:
        """Operating_Mode."""
        return self.get("Operating_Mode")

    @property
    def torque_enabled(self) -> bool:
        """Whether torque is on."""
        return self.get("Torque_Enable") != 0

    @property
    def drives_position(self) -> bool:
        """Whether the servo drives its joint to Goal_Position (torque on, a position mode)."""
        return self.torque_enabled and self.operating_mode in POSITION_MODES

    @property
    def replies(self) -> bool:
        """Status_Return_Level 2: answer every instruction addressed to this id."""
        return self.get("Status_Return_Level") >= 2

    @property
    def return_delay_s(self) -> float:
        """Return_Delay_Time in seconds (2 us per unit)."""
        return self.get("Return_Delay_Time") * 2e-6

    @property
    def reversed(self) -> bool:
        """Drive_Mode bit 0."""
        return bool(self.get("Drive_Mode") & 1)

    def present_ticks(self) -> int:
        """Present_Position as the firmware computes it from the encoder."""
        encoder = 2 * 2048 - self.actual_ticks if self.reversed else self.actual_ticks
        return encoder + self.get("Homing_Offset")

    def goal_rad(self) -> float:
        """The goal as a joint angle (radians), through offset, drive mode and mounting."""
        encoder = self.get("Goal_Position") - self.get("Homing_Offset")
        actual = 2 * 2048 - encoder if self.reversed else encoder
        return (actual - 2048 - self.mounting_offset_ticks) / self.ticks_per_unit + self.unit_zero

    def ticks_from_rad(self, position_rad: float) -> int:
        """Encoder reading for a joint angle (no wrap: the joints stay within a turn)."""
        offset = (position_rad - self.unit_zero) * self.ticks_per_unit
        return round(2048 + offset + self.mounting_offset_ticks)

    def update_from_plant(
        self, position_rad: float, velocity_rad_s: float, load_fraction: float, error_bits: int
    ) -> None:
        """Refresh the Present_* registers and Hardware_Error_Status from the joint's state."""
        self.actual_ticks = self.ticks_from_rad(float(position_rad))
        sign = -1 if self.reversed else 1
        # Encoder ticks/s, then 0.229 rpm per unit.
        ticks_s = sign * float(velocity_rad_s) * self.ticks_per_unit
        velocity = round(ticks_s / TICKS_PER_RAD * 60 / (2 * math.pi) / 0.229)
        if self.operating_mode == OperatingMode.CURRENT_BASED_POSITION:
            scale = min(abs(self.get("Goal_Current")) or 1193, self.get("Current_Limit"))
        else:
            scale = _STALL_CURRENT_UNITS
        current = round(sign * max(-1.0, min(1.0, float(load_fraction))) * scale)
        self.set("Present_Position", self.present_ticks())
        self.set("Present_Velocity", velocity)
        self.set("Present_Current", current)
        self.set("Moving", int(abs(velocity) > self.get("Moving_Threshold")))
        self.set("Hardware_Error_Status", error_bits)
        if error_bits & self.get("Shutdown"):
            self.set("Torque_Enable", 0)  # the firmware's shutdown on a hardware error


def model_name(model_number: int) -> str:
    """Model name for a Model_Number (``"xm540-w270"`` for 1120)."""
    return _MODELS_BY_NUMBER[model_number]
