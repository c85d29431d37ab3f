"""Plain data of the Feetech bus API: :class:`BusStats`, the bus's traffic counters.

No SDK and no I/O here. The servos themselves are :class:`lerobot_gym.hardware.bus.Motor`
records, the one motor type of every bus.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["BusStats"]


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
