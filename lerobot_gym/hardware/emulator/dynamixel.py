"""A stateful Dynamixel Protocol 2.0 bus of X-series servos on a pty, backed by a plant.

:class:`DynamixelEmulator` is the Feetech emulator's pty, thread, clock, plant coupling and
fault injection (:class:`~lerobot_gym.hardware.emulator.feetech.FeetechEmulator`, whose hooks
it overrides) with Protocol 2.0 packets and X-series servos
(:class:`~lerobot_gym.hardware.emulator.dynamixel_servo.DynamixelServo`), so the unmodified
``dynamixel_sdk`` and :class:`~lerobot_gym.hardware.dynamixel.DynamixelBus` run against it.

Design decisions:
    * Shadow servos (``shadows``: name -> ``(id, primary name)``) are servos on the bus but not
      joints of the plant: each mirrors its primary's joint (with its own mounting offset and
      Drive_Mode). A write, sync write or bulk write addressed to id X is applied by the servo
      with id X (which answers) and by every servo whose Secondary_ID is X (which never
      answers), as X-series firmware does. :attr:`DynamixelEmulator.addressed` counts every
      ``(instruction, id)`` a packet addressed, so tests can prove reads never address a shadow.
    * Faults are :class:`~lerobot_gym.hardware.emulator.faults.BusFaults`; ``error_bits`` are
      Hardware_Error_Status bits here (0x01 voltage, 0x04 overheat, 0x08 encoder, 0x10
      electrical shock, 0x20 overload): the servo sets them in address 70, sets the alert bit
      (0x80) in every status packet, and (for bits in its Shutdown register) turns torque off.
    * Instruction errors come from the servo: a refused write (EEPROM with torque on, a
      current mode on an XL430) answers Access / Data range error.
    * A joint is driven by the plant only while its servo has torque on in a position mode.

Sources: shared/reference/servo-protocols.md §3 and §4 (emulator design, pitfalls).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

from lerobot_gym.errors import ConfigError
from lerobot_gym.hardware.dynamixel.packets import (
    BROADCAST_ID,
    INST_ACTION,
    INST_BULK_READ,
    INST_BULK_WRITE,
    INST_PING,
    INST_READ,
    INST_REBOOT,
    INST_SYNC_READ,
    INST_SYNC_WRITE,
    INST_WRITE,
    Instruction,
    PacketParser,
    status_packet,
)
from lerobot_gym.hardware.dynamixel.table import ALERT_BIT, X_MODEL_NUMBERS
from lerobot_gym.hardware.emulator.dynamixel_servo import TICKS_PER_RAD, DynamixelServo
from lerobot_gym.hardware.emulator.faults import BusFaults
from lerobot_gym.hardware.emulator.feetech import FeetechEmulator

__all__ = ["DynamixelEmulator"]

_READS = frozenset({INST_READ, INST_SYNC_READ, INST_BULK_READ})


def _u16(data: bytes, i: int) -> int:
    return data[i] | data[i + 1] << 8


class DynamixelEmulator(FeetechEmulator):
    """A chain of emulated X-series servos on a pty.

    Args:
        motors: Motor name -> :class:`~lerobot_gym.hardware.bus.Motor` (id and model), in the
            plant's joint order.
        shadows: Shadow name -> ``(servo id, primary motor name)``; modelled as the primary's.
        scales: Motor or shadow name -> ``(ticks_per_unit, unit_zero)`` of its joint coordinate
            (default radians, ``4096 / 2 pi``, zero 0); a negative scale mounts the servo against
            the joint (a shadow's mounting offset then mirrors its primary's).
        plant, faults, mounting_offsets_ticks, rng, realtime, ...: As :class:`FeetechEmulator`.
        model: Model of motors given as bare ids.

    Example:
        with DynamixelEmulator({"shoulder": Motor(2, "xm540-w270")},
                               shadows={"shoulder_shadow": (3, "shoulder")}) as emu:
            bus = DynamixelBus(emu.port, ...)
    """

    VENDOR = "Dynamixel"
    MODEL_NUMBERS = X_MODEL_NUMBERS
    WRITE_INSTRUCTIONS = frozenset({INST_WRITE, INST_SYNC_WRITE, INST_BULK_WRITE, INST_ACTION})
    CORRUPT_FROM = 9  # past header, id, LEN, 0x55 and ERR

    def __init__(
        self,
        motors: Mapping[str, Any],
        *,
        shadows: Mapping[str, tuple[int, str]] | None = None,
        scales: Mapping[str, tuple[float, float]] | None = None,
        model: str = "xm430-w350",
        **kwargs: Any,
    ) -> None:
        self._scales = dict(scales or {})
        self._scale_by_id = {
            int(getattr(m, "id", m)): self._scales[n]
            for n, m in motors.items()
            if n in self._scales
        }
        super().__init__(motors, model=model, **kwargs)
        #: ``(instruction, id)`` -> how many packets addressed that id with that instruction.
        self.addressed: Counter[tuple[int, int]] = Counter()
        self.shadow_names: tuple[str, ...] = ()
        self.shadow_servos: list[DynamixelServo] = []
        self._shadow_of: list[int] = []  # index of each shadow's primary in self.servos
        for name, (servo_id, primary) in (shadows or {}).items():
            if primary not in self.motor_names:
                raise ConfigError(f"shadow {name!r} follows unknown motor {primary!r}")
            index = self.motor_names.index(primary)
            main = self.servos[index]
            per_unit, zero = self._scales.get(name, (main.ticks_per_unit, main.unit_zero))
            mirrored = (per_unit < 0) != (main.ticks_per_unit < 0)
            self.shadow_names += (name,)
            self.shadow_servos.append(
                DynamixelServo(
                    servo_id,
                    mounting_offset_ticks=-main.mounting_offset_ticks
                    if mirrored
                    else main.mounting_offset_ticks,
                    model=main.model,
                    ticks_per_unit=per_unit,
                    unit_zero=zero,
                )
            )
            self._shadow_of.append(index)
        ids = [s.id for s in self.all_servos]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"servo ids must be unique, got {ids}")
        self._refresh()

    # ----------------------------------------------------------------- hooks
    def _make_servo(self, servo_id: int, mounting_offset_ticks: int, model: str) -> Any:
        per_unit, zero = self._scale_by_id.get(servo_id, (TICKS_PER_RAD, 0.0))
        return DynamixelServo(
            servo_id,
            mounting_offset_ticks=mounting_offset_ticks,
            model=model,
            ticks_per_unit=per_unit,
            unit_zero=zero,
        )

    def _new_parser(self) -> Any:
        return PacketParser()

    def _status_packet(self, servo_id: int, error: int, data: bytes) -> bytes:
        return status_packet(servo_id, error, data)

    def _status_byte(self, servo_id: int, servo: Any, faults: BusFaults) -> int:
        error = servo.instruction_error
        servo.instruction_error = 0
        if servo.get("Hardware_Error_Status"):
            error |= ALERT_BIT
        return error

    def _torques(self) -> np.ndarray:
        return np.array([s.drives_position for s in self.servos])

    def _refresh(self) -> None:
        super()._refresh()
        pos, vel, load = self._state
        error_bits = self.faults.error_bits
        # Called by the base constructor before the shadows exist.
        shadows = zip(getattr(self, "shadow_servos", ()), getattr(self, "_shadow_of", ()))
        for servo, index in shadows:
            servo.update_from_plant(
                pos[index], vel[index], load[index], error_bits.get(servo.id, 0)
            )

    # ----------------------------------------------------------------- test-facing state
    @property
    def all_servos(self) -> list[DynamixelServo]:
        """Every servo on the bus: the plant's, then the shadows."""
        return [*self.servos, *getattr(self, "shadow_servos", [])]

    def servo(self, motor: str | int) -> Any:
        """The emulated servo for a motor or shadow name, or a (current) servo id."""
        if isinstance(motor, str) and motor in self.shadow_names:
            return self.shadow_servos[self.shadow_names.index(motor)]
        if isinstance(motor, int):
            for servo in self.all_servos:
                if servo.id == motor:
                    return servo
        return super().servo(motor)

    def power_cycle(self) -> None:
        """Reboot every servo: torque off, hardware errors cleared."""
        with self._lock:
            for servo in self.all_servos:
                servo.power_cycle()
            self._refresh()

    # ----------------------------------------------------------------- dispatch
    def _present(self, faults: BusFaults) -> dict[int, Any]:
        return {s.id: s for s in self.all_servos if s.id not in faults.absent_ids}

    def _listeners(self, servo_id: int, faults: BusFaults) -> list[Any]:
        """Servos that apply a write addressed to ``servo_id`` (by id or Secondary_ID)."""
        return [
            s
            for s in self.all_servos
            if s.id not in faults.absent_ids and (s.id == servo_id or s.secondary_id == servo_id)
        ]

    def _dispatch(self, packet: Instruction, faults: BusFaults) -> list[tuple[int, Any, bytes]]:
        servos = self._present(faults)
        code, params, target = packet.instruction, packet.params, packet.servo_id
        broadcast = target == BROADCAST_ID
        if code == INST_SYNC_READ and broadcast and len(params) >= 4:
            addr, length = _u16(params, 0), _u16(params, 2)
            ids = list(params[4:])
            self.addressed.update((code, i) for i in ids)
            return [(i, servos[i], servos[i].read(addr, length)) for i in ids if i in servos]
        if code == INST_BULK_READ and broadcast:
            out = []
            for k in range(0, len(params) - 4, 5):
                i, addr, length = params[k], _u16(params, k + 1), _u16(params, k + 3)
                self.addressed[(code, i)] += 1
                if i in servos:
                    out.append((i, servos[i], servos[i].read(addr, length)))
            return out
        if code == INST_SYNC_WRITE and broadcast and len(params) >= 4:
            addr, length = _u16(params, 0), _u16(params, 2)
            for k in range(4, len(params) - length, length + 1):
                self.addressed[(code, params[k])] += 1
                for servo in self._listeners(params[k], faults):
                    servo.write(addr, params[k + 1 : k + 1 + length])
                    servo.instruction_error = 0  # nobody answers a sync write
            return []
        if code == INST_BULK_WRITE and broadcast:
            k = 0
            while k + 5 <= len(params):
                i, addr, length = params[k], _u16(params, k + 1), _u16(params, k + 3)
                for servo in self._listeners(i, faults):
                    servo.write(addr, params[k + 5 : k + 5 + length])
                    servo.instruction_error = 0
                k += 5 + length
            return []
        self.addressed[(code, target)] += 1
        if code == INST_PING:
            targets = sorted(servos.values(), key=lambda s: s.id) if broadcast else []
            if not broadcast and target in servos:
                targets = [servos[target]]
            return [(s.id, s, s.read(0, 2) + s.read(6, 1)) for s in targets]
        if broadcast:
            for servo in self._listeners(target, faults) if code == INST_WRITE else ():
                servo.write(_u16(params, 0), params[2:])
            return []
        main = servos.get(target)
        if code == INST_READ and len(params) == 4 and main is not None:
            return [(target, main, main.read(_u16(params, 0), _u16(params, 2)))]
        if code == INST_WRITE and len(params) >= 2:
            for servo in self._listeners(target, faults):
                servo.write(_u16(params, 0), params[2:])
                if servo is not main:
                    servo.instruction_error = 0  # a shadow never answers
        elif code == INST_REBOOT and main is not None:
            main.power_cycle()
        else:
            return []
        if main is None or not main.replies:
            return []
        return [(target, main, b"")]
