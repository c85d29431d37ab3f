"""Which servo status flags stop a control loop: :class:`StatusWatch`.

A Feetech servo sets bits in the ERR byte of every status packet while a condition lasts
(voltage, angle sensor, overheat, overcurrent, overload). Some are normal in use: LeRobot
configures the SO-101 gripper with a low ``Overload_Torque`` precisely so that squeezing an
object trips overload instead of overheating the motor, and LeRobot's ``GroupSyncRead`` ignores
the ERR byte altogether. Raising on every flag would make one squeezed gripper stop the whole
arm (the env disables torque on any error during a step).

Design decisions:
    * The control loop reads with ``check_status=False`` and passes each read's flags to
      :meth:`StatusWatch.update`, which raises :class:`~lerobot_gym.errors.MotorStatusError`
      only for a *critical* flag (default: voltage and angle sensor, which make positions or
      torque unreliable), or when a motor reports the same other flags on ``patience``
      consecutive reads (a joint stuck against an obstacle, a motor cooking).
    * Flags a motor may report indefinitely (``tolerated``; the SO-101 passes overload on its
      gripper) are never counted, but are still reported and logged. The default tolerates
      nothing: which motor may squeeze is the robot's configuration, not the bus's.
    * A warning is logged when a motor's flags change, not on every read, so a held grasp does
      not flood the log.

Sources: shared/reference/servo-protocols.md §1.1 (ERR bits) and
lerobot-interfaces.md §2.5 (the gripper's overload settings).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from lerobot_gym.errors import ConfigError, MotorStatusError
from lerobot_gym.hardware.feetech.table import STATUS_ERROR_BITS

__all__ = ["DEFAULT_CRITICAL_FLAGS", "StatusWatch"]

logger = logging.getLogger(__name__)

#: Flags that stop the loop at once: the readings or the supply cannot be trusted.
DEFAULT_CRITICAL_FLAGS: frozenset[str] = frozenset({"voltage", "angle"})

_KNOWN_FLAGS = frozenset(STATUS_ERROR_BITS.values()) | {"unknown"}


class StatusWatch:
    """Decides, read by read, whether servo status flags must stop the control loop.

    Args:
        motor_ids: Motor name -> servo id (for the error's ``motor_id``).
        critical_flags: Flags that raise on the first read reporting them.
        patience: Consecutive reads with the same non-tolerated flags on one motor that raise
            (``0`` never raises for non-critical flags).
        tolerated: Motor -> flags never counted towards ``patience`` (default: none).

    Example:
        watch = StatusWatch({"elbow_flex": 3, "gripper": 6}, patience=30)
        values = bus.sync_read("Present_Position", check_status=False)
        flags = watch.update(bus.status_flags)  # raises MotorStatusError when it must
    """

    def __init__(
        self,
        motor_ids: Mapping[str, int],
        *,
        critical_flags: Iterable[str] = DEFAULT_CRITICAL_FLAGS,
        patience: int = 30,
        tolerated: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        tolerated = {} if tolerated is None else tolerated
        self.critical_flags = frozenset(critical_flags)
        self.tolerated = {name: frozenset(flags) for name, flags in tolerated.items()}
        unknown = self.critical_flags.union(*self.tolerated.values()) - _KNOWN_FLAGS
        if unknown:
            raise ConfigError(
                f"unknown servo status flags {sorted(unknown)}; use {sorted(_KNOWN_FLAGS)}"
            )
        if patience < 0:
            raise ConfigError(f"patience must be >= 0 reads, got {patience}")
        self.motor_ids = dict(motor_ids)
        self.patience = int(patience)
        self._last: dict[str, tuple[str, ...]] = {}
        self._streaks: dict[str, int] = {}

    def reset(self) -> None:
        """Forget streaks and the flags seen so far (after torque was re-enabled)."""
        self._last.clear()
        self._streaks.clear()

    def update(self, flags: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """Account for one read's flags; return those set (motor -> flags, clear motors left out).

        Args:
            flags: Motor name -> flags of its status packet in this read (``()`` when clear),
                e.g. :attr:`FeetechBus.status_flags` after a read with ``check_status=False``.

        Raises:
            MotorStatusError: A motor reported a critical flag, or the same other flags on
                ``patience`` consecutive reads.
        """
        active = {name: tuple(f) for name, f in flags.items() if f}
        for name in self.motor_ids:
            current = active.get(name, ())
            if current != self._last.get(name, ()):
                if current:
                    logger.warning("servo %s reports %s", name, ", ".join(current))
                else:
                    logger.info("servo %s no longer reports status errors", name)
            counted = tuple(f for f in current if f not in self.tolerated.get(name, ()))
            previous = tuple(
                f for f in self._last.get(name, ()) if f not in self.tolerated.get(name, ())
            )
            streak = self._streaks.get(name, 0) + 1 if counted and counted == previous else 1
            self._streaks[name] = streak if counted else 0
            self._last[name] = current
            critical = [f for f in current if f in self.critical_flags]
            if critical:
                raise self._error(name, current, "")
            if counted and self.patience and streak >= self.patience:
                raise self._error(name, current, f" on {streak} consecutive reads")
        return active

    def _error(self, name: str, flags: tuple[str, ...], how_long: str) -> MotorStatusError:
        motor_id = self.motor_ids.get(name)
        return MotorStatusError(
            f"servo id {motor_id} ({name}) reported {', '.join(flags)}{how_long}; the arm was "
            "stopped. Check the supply voltage, cabling, load and temperature, then reset the "
            "env (torque is re-enabled at reset)",
            motor_id=motor_id,
            flags=flags,
        )
