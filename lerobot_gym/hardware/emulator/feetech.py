"""A stateful Feetech STS servo bus on a pseudo-terminal, backed by a plant.

:class:`FeetechEmulator` opens a pty, hands out the slave's path as :attr:`FeetechEmulator.port`
and answers instruction packets from a thread exactly as a chain of STS3215 servos would, so the
unmodified ``scservo_sdk`` (and :class:`~lerobot_gym.hardware.feetech.FeetechBus`) runs end to
end against it. Registers live in :class:`~lerobot_gym.hardware.emulator.servo.EmulatedServo`;
joints move in a :class:`~lerobot_gym.hardware.emulator.plants.ServoPlant`.

Design decisions:
    * The pty is put in raw mode and the emulator keeps its own slave fd open for its lifetime:
      a fresh pty is cooked (it would eat 0x11/0x13 and translate CR), and without an open
      slave the master reports EIO in a busy loop whenever the client closes the port
      (servo-protocols.md §4.3, pitfalls 1-2).
    * Replies are written by the emulator thread from a time-ordered queue, so a late reply
      (Return_Delay_Time, injected latency) never blocks the emulator from hearing the next
      packet, and replies keep their wire order.
    * Only the addressed servo answers; a sync read is answered by each servo in the order of
      the request; broadcast packets other than PING and SYNC_READ get no answer;
      Response_Status_Level 0 silences everything but PING and READ.
    * Clock: with ``realtime=True`` the plant advances with the wall clock, every
      ``tick_period_s`` while idle and before a packet is answered (packets within
      ``min_step_s`` of the last update share it); with ``realtime=False`` only
      :meth:`FeetechEmulator.advance` moves it, for deterministic tests.
    * Faults (:class:`~lerobot_gym.hardware.emulator.faults.BusFaults`) can be replaced at any
      time; random ones use the emulator's seeded ``numpy.random.Generator``. Jitter,
      duplicated and split replies keep the wire order of a real bus (a servo's reply, and any
      copy of it, comes before the answer to a later request).
    * An exception while handling one packet (an emulator bug, or a state a test set by hand)
      is logged, counted in :attr:`EmulatorStats.handler_errors` and kept in
      :attr:`FeetechEmulator.last_handler_error`; the thread carries on with the next packet
      instead of dying silently and leaving every client to time out.
"""

from __future__ import annotations

import heapq
import logging
import os
import select
import threading
import time
import tty
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lerobot_gym.errors import ConfigError, HardwareError
from lerobot_gym.hardware.emulator.faults import BusFaults
from lerobot_gym.hardware.emulator.plants import FirstOrderPlant, ServoPlant
from lerobot_gym.hardware.emulator.servo import EmulatedServo
from lerobot_gym.hardware.feetech.packets import (
    BROADCAST_ID,
    INST_ACTION,
    INST_PING,
    INST_READ,
    INST_REG_WRITE,
    INST_RESET,
    INST_SYNC_READ,
    INST_SYNC_WRITE,
    INST_WRITE,
    Instruction,
    PacketParser,
    status_packet,
)
from lerobot_gym.hardware.feetech.table import MODEL_NUMBERS

logger = logging.getLogger(__name__)

_WRITES = frozenset({INST_WRITE, INST_SYNC_WRITE, INST_ACTION})

#: Default mounting offsets (ticks) cycled over the servos: a few degrees each, small enough
#: that every SO-101 joint range stays inside one encoder turn.
DEFAULT_MOUNTING_OFFSETS_TICKS = (137, -211, 64, -98, 152, -173)


@dataclass
class EmulatorStats:
    """What the emulator saw and did.

    Attributes:
        packets: Valid instruction packets received (not counting those lost on the wire).
        replies: Status packets written.
        dropped: Packets lost to ``BusFaults.loss_rate`` (either direction).
        corrupted: Status packets corrupted on purpose.
        checksum_errors: Instruction packets dropped for a bad checksum.
        handler_errors: Packets whose handling raised (the packet got no answer).
        instructions: Instruction code -> count.
    """

    packets: int = 0
    replies: int = 0
    dropped: int = 0
    corrupted: int = 0
    checksum_errors: int = 0
    handler_errors: int = 0
    instructions: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict."""
        return asdict(self)


class FeetechEmulator:
    """A chain of emulated STS3215 servos on a pty.

    The pty, thread, clock, plant coupling and fault injection are protocol-independent; a
    protocol's emulator (``emulator/dynamixel.py``) overrides the hooks ``_make_servo``,
    ``_new_parser``, ``_dispatch``, ``_status_packet`` and ``_status_byte``.

    Args:
        motors: Motor name -> servo id (or any object with an ``id``, e.g. ``Motor``), in the
            plant's joint order.
        plant: What moves the joints; a :class:`FirstOrderPlant` by default.
        faults: Initial faults (none by default).
        mounting_offsets_ticks: Motor name -> encoder offset of the joint's zero from 2048;
            :data:`DEFAULT_MOUNTING_OFFSETS_TICKS` by default.
        model: Model name reported by servos whose motor does not name its own (a
            :class:`~lerobot_gym.hardware.bus.Motor` in ``motors`` does).
        rng: Generator for random faults (``np.random.default_rng(0)`` by default).
        realtime: Advance the plant with the wall clock (else only :meth:`advance` does).
        max_catch_up_s: Longest single plant advance in realtime mode (if the thread was
            starved, simulated time falls behind rather than stalling on a long simulation).
        tick_period_s: Plant update period while no packets arrive (realtime mode).
        min_step_s: Packets closer together than this share one plant update, which bounds
            the emulator's work per packet (present values are then at most this stale).

    Example:
        with FeetechEmulator({"shoulder_pan": 1, "gripper": 6}) as emu:
            bus = FeetechBus(emu.port, {"shoulder_pan": Motor(1), "gripper": Motor(6)})
            bus.connect()
    """

    def __init__(
        self,
        motors: Mapping[str, Any],
        *,
        plant: ServoPlant | None = None,
        faults: BusFaults | None = None,
        mounting_offsets_ticks: Mapping[str, int] | None = None,
        model: str = "sts3215",
        rng: np.random.Generator | None = None,
        realtime: bool = True,
        max_catch_up_s: float = 0.25,
        tick_period_s: float = 0.01,
        min_step_s: float = 0.001,
    ) -> None:
        if not motors:
            raise ConfigError("the emulator needs at least one motor")
        self.motor_names = tuple(motors)
        ids = [int(getattr(m, "id", m)) for m in motors.values()]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"servo ids must be unique, got {ids}")
        self.plant: ServoPlant = plant if plant is not None else FirstOrderPlant(len(ids))
        if self.plant.num_joints != len(ids):
            raise ConfigError(f"plant has {self.plant.num_joints} joints for {len(ids)} servos")
        offsets = mounting_offsets_ticks or {
            name: DEFAULT_MOUNTING_OFFSETS_TICKS[i % len(DEFAULT_MOUNTING_OFFSETS_TICKS)]
            for i, name in enumerate(self.motor_names)
        }
        models = [str(getattr(motor, "model", model)) for motor in motors.values()]
        unknown = sorted(set(models) - set(self.MODEL_NUMBERS))
        if unknown:
            raise ConfigError(
                f"the {self.VENDOR} emulator cannot emulate {unknown}; it knows "
                f"{list(self.MODEL_NUMBERS)}"
            )
        self.servos: list[Any] = [
            self._make_servo(servo_id, offsets.get(name, 0), servo_model)
            for name, servo_id, servo_model in zip(self.motor_names, ids, models)
        ]
        self._faults = faults if faults is not None else BusFaults()
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.realtime = realtime
        self.max_catch_up_s = max_catch_up_s
        self.tick_period_s = tick_period_s
        self.min_step_s = min_step_s
        self._dirty = False
        self.stats = EmulatorStats()
        self._lock = threading.RLock()
        self._parser = self._new_parser()
        # (due time, sequence number, bytes, whether they end a status packet)
        self._outbox: list[tuple[float, int, bytes, bool]] = []
        self._seq = 0
        self._last_due = 0.0
        self._last_step = time.monotonic()
        self._state = self.plant.step(0.0, self._goals(), self._torques())
        self._refresh()
        self._thread: threading.Thread | None = None
        #: The latest exception raised while handling a packet (see the module docstring).
        self.last_handler_error: Exception | None = None
        self._stop = threading.Event()
        self._master = self._slave = self._wake_r = self._wake_w = -1
        self.port = ""

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FeetechEmulator:
        """Open the pty and start answering packets; returns ``self``."""
        if self._thread is not None:
            return self
        if not hasattr(os, "openpty"):
            raise HardwareError("the servo-bus emulator needs a POSIX pty (Linux or macOS)")
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # fresh ptys are cooked; keep the slave open (see module doc)
        os.set_blocking(self._master, False)  # a client that never reads must not block us
        self._wake_r, self._wake_w = os.pipe()
        self.port = os.ttyname(self._slave)
        self._stop.clear()
        self._last_step = time.monotonic()
        self._thread = threading.Thread(
            target=self._serve, name=f"{self.VENDOR.lower()}-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the pty."""
        if self._thread is None:
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=2.0)
        self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            os.close(fd)
        self._master = self._slave = self._wake_r = self._wake_w = -1

    @property
    def is_running(self) -> bool:
        """Whether the emulator thread is serving the pty."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> FeetechEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- protocol hooks
    VENDOR = "Feetech"
    MODEL_NUMBERS: Mapping[str, int] = MODEL_NUMBERS
    #: Instructions after which registers may need a refresh (offsets, modes).
    WRITE_INSTRUCTIONS: frozenset[int] = _WRITES
    #: Corruption flips a bit at or after this index (past the header, id, length, ERR).
    CORRUPT_FROM = 5

    def _make_servo(self, servo_id: int, mounting_offset_ticks: int, model: str) -> Any:
        return EmulatedServo(
            servo_id,
            mounting_offset_ticks=mounting_offset_ticks,
            model_number=self.MODEL_NUMBERS[model],
        )

    def _new_parser(self) -> Any:
        return PacketParser()

    def _status_packet(self, servo_id: int, error: int, data: bytes) -> bytes:
        return status_packet(servo_id, error, data)

    def _status_byte(self, servo_id: int, servo: Any, faults: BusFaults) -> int:
        return faults.error_bits.get(servo_id, 0)

    # ----------------------------------------------------------------- test-facing state
    @property
    def faults(self) -> BusFaults:
        """The faults in force; assign a new :class:`BusFaults` to change them at runtime."""
        return self._faults

    @faults.setter
    def faults(self, faults: BusFaults) -> None:
        if not isinstance(faults, BusFaults):
            raise ConfigError(f"faults must be a BusFaults, got {type(faults).__name__}")
        with self._lock:
            self._faults = faults
            self._refresh()  # the Status register mirrors the injected error bits

    def servo(self, motor: str | int) -> EmulatedServo:
        """The emulated servo for a motor name or a (current) servo id."""
        if isinstance(motor, str):
            if motor not in self.motor_names:
                raise ConfigError(f"unknown motor {motor!r}; emulated: {self.motor_names}")
            return self.servos[self.motor_names.index(motor)]
        for servo in self.servos:
            if servo.id == motor:
                return servo
        raise ConfigError(f"no emulated servo has id {motor}")

    def register(self, register: str, motor: str | int) -> int:
        """Signed value of a register, read directly (no bus traffic)."""
        with self._lock:
            return self.servo(motor).get(register)

    def actual_positions_rad(self) -> np.ndarray:
        """Joint angles of the plant at the last update, in motor order."""
        with self._lock:
            return self._state[0].copy()

    def goal_positions_rad(self) -> np.ndarray:
        """The servos' goals as joint angles, in motor order."""
        with self._lock:
            return self._goals()

    def set_actual_positions_rad(self, positions: Mapping[str, float] | Sequence[float]) -> None:
        """Move joints by hand (a leader arm): a mapping by motor name, or all in order."""
        with self._lock:
            current = self._state[0].copy()
            if isinstance(positions, Mapping):
                for name, value in positions.items():
                    current[self.motor_names.index(name)] = value
            else:
                current = np.asarray(positions, float).reshape(len(self.servos))
            self.plant.set_positions_rad(current)
            self._state = self.plant.step(0.0, self._goals(), self._torques())
            self._refresh()

    def advance(self, dt_s: float) -> None:
        """Advance the plant by ``dt_s`` seconds (the clock of ``realtime=False``)."""
        with self._lock:
            self._step(dt_s)

    def power_cycle(self) -> None:
        """Reboot every servo: unsaved EEPROM writes are lost, torque is off."""
        with self._lock:
            for servo in self.servos:
                servo.power_cycle()
            self._refresh()

    # ----------------------------------------------------------------- plant coupling
    def _goals(self) -> np.ndarray:
        return np.array([s.goal_rad() for s in self.servos])

    def _torques(self) -> np.ndarray:
        return np.array([s.torque_enabled for s in self.servos])

    def _step(self, dt_s: float) -> None:
        self._state = self.plant.step(dt_s, self._goals(), self._torques())
        self._refresh()

    def _refresh(self) -> None:
        pos, vel, load = self._state
        error_bits = self.faults.error_bits
        for i, servo in enumerate(self.servos):
            servo.update_from_plant(pos[i], vel[i], load[i], error_bits.get(servo.id, 0))

    def _tick(self) -> None:
        """Bring registers up to date before a packet is handled (call with the lock held)."""
        now = time.monotonic()
        elapsed = now - self._last_step
        if self.realtime and elapsed >= self.min_step_s:
            self._last_step = now
            self._step(min(elapsed, self.max_catch_up_s))
        elif self._dirty:  # a write may have changed Homing_Offset or Phase
            self._refresh()
        self._dirty = False

    # ----------------------------------------------------------------- serving
    def _serve(self) -> None:
        while not self._stop.is_set():
            deadlines = [self._outbox[0][0]] if self._outbox else []
            if self.realtime:
                deadlines.append(self._last_step + self.tick_period_s)
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            readable, _, _ = select.select([self._master, self._wake_r], [], [], timeout)
            if self._master in readable:
                try:
                    data = os.read(self._master, 4096)
                except OSError:  # pragma: no cover - EIO cannot happen while we hold the slave
                    time.sleep(0.001)
                    continue
                for packet in self._parser.feed(data):
                    try:
                        self._handle(packet)
                    except Exception as exc:  # keep serving; see the module docstring
                        self.stats.handler_errors += 1
                        self.last_handler_error = exc
                        logger.exception("emulator: handling %r failed", packet)
                self.stats.checksum_errors = self._parser.checksum_errors
            elif self.realtime and time.monotonic() - self._last_step >= self.tick_period_s:
                with self._lock:  # idle: keep the plant moving with the wall clock
                    self._tick()
            self._flush_outbox()

    def _lost(self, faults: BusFaults) -> bool:
        if faults.loss_rate and self.rng.random() < faults.loss_rate:
            self.stats.dropped += 1
            return True
        return False

    def _handle(self, packet: Instruction) -> None:
        faults = self.faults
        if self._lost(faults):  # lost on the wire: no servo hears it
            return
        self.stats.packets += 1
        self.stats.instructions[packet.instruction] += 1
        with self._lock:
            self._tick()
            replies = self._dispatch(packet, faults)
            self._dirty |= packet.instruction in self.WRITE_INSTRUCTIONS
            errors = [self._status_byte(i, servo, faults) for i, servo, _ in replies]
        delay = faults.wire_latency_s
        for (servo_id, servo, data), error in zip(replies, errors):
            delay += servo.return_delay_s + faults.late_reply_s.get(servo_id, 0.0)
            self._reply(servo_id, data, error, delay, faults)

    def _present(self, faults: BusFaults) -> dict[int, EmulatedServo]:
        return {s.id: s for s in self.servos if s.id not in faults.absent_ids}

    def _dispatch(self, packet: Instruction, faults: BusFaults) -> list[tuple[int, Any, bytes]]:
        """Apply one instruction; return the (id, servo, data) status packets to send, in order.

        A servo whose ID register was just written answers under the id it was addressed by.
        """
        servos = self._present(faults)
        code, params = packet.instruction, packet.params
        broadcast = packet.servo_id == BROADCAST_ID
        targets = list(servos.values()) if broadcast else [servos.get(packet.servo_id)]
        targets = [s for s in targets if s is not None]
        if code == INST_SYNC_READ and broadcast and len(params) >= 2:
            addr, length = params[0], params[1]
            return [(i, servos[i], servos[i].read(addr, length)) for i in params[2:] if i in servos]
        if code == INST_SYNC_WRITE and broadcast and len(params) >= 2:
            addr, length = params[0], params[1]
            for k in range(2, len(params) - length, length + 1):
                if params[k] in servos:
                    servos[params[k]].write(addr, params[k + 1 : k + 1 + length])
            return []
        if code == INST_PING:
            return [(s.id, s, b"") for s in sorted(targets, key=lambda s: s.id)]
        if code == INST_READ and not broadcast and len(params) == 2:
            return [(s.id, s, s.read(params[0], params[1])) for s in targets]
        addressed = [s.id for s in targets]
        if code in (INST_WRITE, INST_REG_WRITE) and len(params) >= 1:
            for s in targets:
                if code == INST_WRITE:
                    s.write(params[0], params[1:])
                else:
                    s.pending_write = (params[0], params[1:])
        elif code == INST_ACTION:
            for s in targets:
                if s.pending_write is not None:
                    s.write(*s.pending_write)
                    s.pending_write = None
        elif code != INST_RESET:  # RESET only clears the turn count: nothing to model
            return []
        if broadcast:
            return []
        return [(i, s, b"") for i, s in zip(addressed, targets) if s.response_status_level >= 1]

    def _reply(
        self, servo_id: int, data: bytes, error: int, delay: float, faults: BusFaults
    ) -> None:
        if servo_id in faults.no_reply_ids or self._lost(faults):
            return
        packet = bytearray(self._status_packet(servo_id, error, data))
        corrupt = servo_id in faults.corrupt_ids
        if not corrupt and faults.corruption_rate:
            corrupt = self.rng.random() < faults.corruption_rate
        if corrupt:
            # Flip a bit of a data byte or the checksum, never the header, id, length or ERR
            # byte, so the client sees a checksum error rather than a framing timeout.
            index = int(self.rng.integers(self.CORRUPT_FROM, len(packet)))
            packet[index] ^= 1 << int(self.rng.integers(0, 8))
            self.stats.corrupted += 1
        if faults.jitter_s:
            delay += float(self.rng.uniform(0.0, faults.jitter_s))
        copies = [bytes(packet)]
        if faults.duplicate_rate and self.rng.random() < faults.duplicate_rate:
            copies.append(bytes(packet))
        due = time.monotonic() + delay
        for copy in copies:
            pieces = [copy]
            if faults.split_rate and self.rng.random() < faults.split_rate:
                cuts = sorted(self.rng.choice(np.arange(1, len(copy)), 2, replace=False))
                pieces = [copy[: cuts[0]], copy[cuts[0] : cuts[1]], copy[cuts[1] :]]
            for k, piece in enumerate(pieces):
                # Pieces after the first trail by up to 2 ms, so they reach the port in
                # separate writes; wire order is kept (``_last_due`` only grows).
                gap = float(self.rng.uniform(0.0, 0.002)) if k else 0.0
                self._queue(piece, due + gap, last=k == len(pieces) - 1)
                due += gap

    def _queue(self, data: bytes, due: float, *, last: bool) -> None:
        due = max(due, self._last_due)
        self._last_due = due
        self._seq += 1
        heapq.heappush(self._outbox, (due, self._seq, data, last))

    def _flush_outbox(self) -> None:
        now = time.monotonic()
        chunk = bytearray()
        while self._outbox and self._outbox[0][0] <= now:
            _, _, data, last = heapq.heappop(self._outbox)
            chunk += data
            self.stats.replies += last
        if chunk:
            try:
                written = os.write(self._master, chunk)
            except BlockingIOError:  # nobody reads the port and its buffer is full: lost
                written = 0
            if written < len(chunk):  # the rest is lost, as on a bus nobody listens to
                self.stats.dropped += 1
