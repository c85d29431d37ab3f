"""Fault injection settings for the servo-bus emulators.

:class:`BusFaults` is a frozen dataclass: change faults at runtime by assigning a new value,
``emu.faults = dataclasses.replace(emu.faults, no_reply_ids=frozenset({3}))``; the emulator
thread reads the attribute once per packet, so a change applies from the next packet on.

Random faults (loss, corruption) draw from the emulator's own seeded
:class:`numpy.random.Generator`, so a faulty run is reproducible given the same traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lerobot_gym.errors import ConfigError


def _frozen_map(value: Mapping[int, float] | Mapping[int, int]) -> Mapping:
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class BusFaults:
    """What goes wrong on the emulated bus.

    Attributes:
        no_reply_ids: Servos that hear packets (writes still apply) but never answer.
        absent_ids: Servos that are not on the bus at all (no reply, writes ignored).
        corrupt_ids: Servos whose every status packet has a wrong checksum.
        late_reply_s: Servo id -> extra delay before its status packets, in seconds.
        error_bits: Servo id -> ERR bits set in its status packets and Status register
            (0x01 voltage, 0x02 angle, 0x04 overheat, 0x08 overcurrent, 0x20 overload).
        loss_rate: Probability that any packet (instruction or status) is lost on the wire.
        corruption_rate: Probability that a status packet has one byte flipped.
        wire_latency_s: Delay added before every status packet (USB latency, transceiver).
        jitter_s: Each status packet is delayed by a further uniform random 0..``jitter_s``
            (a loaded host, a USB adapter's latency timer); replies keep their order.
        duplicate_rate: Probability that a status packet is sent twice (the copy follows it,
            before any later reply).
        split_rate: Probability that a status packet reaches the port in two or three pieces
            written at different times.
    """

    no_reply_ids: frozenset[int] = frozenset()
    absent_ids: frozenset[int] = frozenset()
    corrupt_ids: frozenset[int] = frozenset()
    late_reply_s: Mapping[int, float] = field(default_factory=dict)
    error_bits: Mapping[int, int] = field(default_factory=dict)
    loss_rate: float = 0.0
    corruption_rate: float = 0.0
    wire_latency_s: float = 0.0
    jitter_s: float = 0.0
    duplicate_rate: float = 0.0
    split_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("no_reply_ids", "absent_ids", "corrupt_ids"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        object.__setattr__(self, "late_reply_s", _frozen_map(self.late_reply_s))
        object.__setattr__(self, "error_bits", _frozen_map(self.error_bits))
        for name in ("loss_rate", "corruption_rate", "duplicate_rate", "split_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"BusFaults.{name} must be in [0, 1]")
        delays = (self.wire_latency_s, self.jitter_s, *self.late_reply_s.values())
        if any(v < 0 for v in delays):
            raise ConfigError("BusFaults delays must be >= 0 seconds")
        if any(not 0 <= bits <= 0x7F for bits in self.error_bits.values()):
            # The SDK discards status packets whose ERR byte has bit 7 set.
            raise ConfigError("BusFaults.error_bits values must be in 0..0x7F")

    @property
    def random(self) -> bool:
        """Whether any random fault is enabled (the emulator then consumes its RNG)."""
        return any(
            (
                self.loss_rate,
                self.corruption_rate,
                self.jitter_s,
                self.duplicate_rate,
                self.split_rate,
            )
        )
