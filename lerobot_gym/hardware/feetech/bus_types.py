"""Plain data of the Feetech bus API: :class:`Motor` (a servo on the bus) and :class:`BusStats`.

No SDK and no I/O here, so a motor table can be declared (and validated) without the ``real``
extra. :class:`~lerobot_gym.hardware.feetech.bus.FeetechBus` takes the one and reports the
other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lerobot_gym.errors import ConfigError
from lerobot_gym.hardware.feetech.table import MODEL_NUMBERS

__all__ = ["BusStats", "Motor"]


@dataclass(frozen=True)
class Motor:
    """One servo on the bus.

    Attributes:
        id: The servo's bus ID (0..252).
        model: Model name, a key of :data:`MODEL_NUMBERS`.
    """

    id: int
    model: str = "sts3215"

    def __post_init__(self) -> None:
        if not 0 <= self.id <= 252:
            raise ConfigError(f"servo id {self.id} is outside 0..252")
        if self.model not in MODEL_NUMBERS:
            raise ConfigError(
                f"unsupported Feetech model {self.model!r}; supported: {', '.join(MODEL_NUMBERS)}"
            )


@dataclass
class BusStats:
    """Counters of a bus's traffic; they only grow until :meth:`FeetechBus.reset_stats`.

    Attributes:
        transactions: Packets sent (including retries and unacknowledged sync writes).
        retries: Transactions repeated after a communication failure.
        timeouts: Status packets that did not arrive in time.
        corrupt_packets: Status packets with a wrong checksum, header or length.
        status_errors: Status packets with error bits set.
        failures: Operations that raised after exhausting their retries.
        stale_bytes: Received bytes discarded as not answering the request in flight (late or
            duplicated replies, cut packets, noise).
        fences: Extra short reads sent so that a reply cannot be confused with an earlier one.
        port_errors: OS-level errors of the serial port (each a ``PortIOError``).
        port_reopens: Times the port was closed and reopened after such an error.
    """

    transactions: int = 0
    retries: int = 0
    timeouts: int = 0
    corrupt_packets: int = 0
    status_errors: int = 0
    failures: int = 0
    stale_bytes: int = 0
    fences: int = 0
    port_errors: int = 0
    port_reopens: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (for logs and ``info``)."""
        return asdict(self)
