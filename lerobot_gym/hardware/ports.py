"""Serial-port discovery for ``lerobot-gym find-port``.

This module owns listing the serial ports an arm's controller board may appear on, and the
pure logic that identifies the arm's port from two listings (the unplug/replug flow, as
LeRobot's ``lerobot-find-port``). Prompting the user belongs to the CLI.

Design decisions:
    * pyserial's ``list_ports`` is the primary source (it sees USB CDC-ACM and USB-serial
      devices on Linux, macOS and Windows); the Linux ``/dev/ttyACM*`` / ``/dev/ttyUSB*`` globs
      are added so a port shows up even when udev metadata is missing (containers), and so the
      module works without pyserial installed.
    * Pseudo-terminals (``/dev/pts/N``, used by ``hardware/emulator``) are listed only on
      request: every open shell owns one, so they would drown the real ports.
    * :func:`find_port` accepts the arm being plugged in instead of unplugged (a port added
      rather than removed) because operators do it both ways.
"""

from __future__ import annotations

import glob
import sys
import time
from collections.abc import Callable, Iterable

from lerobot_gym.errors import HardwareError, PortNotFoundError

__all__ = ["find_port", "list_serial_ports", "wait_for_port_change"]

_LINUX_GLOBS = ("/dev/ttyACM*", "/dev/ttyUSB*")
_MACOS_GLOBS = ("/dev/tty.usbmodem*", "/dev/tty.usbserial*", "/dev/cu.usbmodem*")
_PTY_GLOB = "/dev/pts/[0-9]*"


def _pyserial_ports() -> list[str]:
    try:
        from serial.tools import list_ports
    except ImportError:  # pyserial is in the `real` extra; fall back to the globs
        return []
    return [port.device for port in list_ports.comports()]


def list_serial_ports(*, include_pty: bool = False) -> list[str]:
    """The serial ports present now, sorted and without duplicates.

    Args:
        include_pty: Also list pseudo-terminals (``/dev/pts/N``), e.g. an emulated servo bus.

    Returns:
        Device paths such as ``["/dev/ttyACM0", "/dev/ttyUSB0"]`` (``COM3`` on Windows).
    """
    ports = set(_pyserial_ports())
    patterns: tuple[str, ...] = ()
    if sys.platform.startswith("linux"):
        patterns = _LINUX_GLOBS
    elif sys.platform == "darwin":
        patterns = _MACOS_GLOBS
    for pattern in patterns + ((_PTY_GLOB,) if include_pty else ()):
        ports.update(glob.glob(pattern))
    if not include_pty:
        ports = {p for p in ports if not p.startswith("/dev/pts/")}
    return sorted(ports)


def find_port(before: Iterable[str], after: Iterable[str]) -> str:
    """The arm's port, from listings taken with the arm connected and disconnected.

    Args:
        before: Ports listed before the operator unplugged (or plugged in) the arm.
        after: Ports listed after.

    Returns:
        The one port that disappeared; if none disappeared, the one port that appeared.

    Raises:
        PortNotFoundError: No port changed (the cable was not moved, or the board is not
            seen by the OS).
        HardwareError: Several ports changed, so the arm's cannot be told apart.

    Example:
        >>> find_port(["/dev/ttyACM0", "/dev/ttyACM1"], ["/dev/ttyACM0"])
        '/dev/ttyACM1'
    """
    before_set, after_set = set(before), set(after)
    removed = sorted(before_set - after_set)
    added = sorted(after_set - before_set)
    changed = removed or added
    if len(changed) == 1:
        return changed[0]
    if not changed:
        raise PortNotFoundError(
            "no serial port appeared or disappeared; unplug the arm's USB cable (not its power) "
            "when asked, check the cable carries data, then run `lerobot-gym find-port` again. "
            f"Ports seen: {sorted(before_set) or 'none'}."
        )
    raise HardwareError(
        f"several ports changed ({', '.join(changed)}); disconnect only the arm's controller "
        "board and run `lerobot-gym find-port` again."
    )


def wait_for_port_change(
    before: Iterable[str],
    *,
    timeout_s: float = 10.0,
    poll_interval_s: float = 0.25,
    list_ports: Callable[[], list[str]] = list_serial_ports,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Poll until one port disappears (or appears) compared with ``before``, then return it.

    Lets the CLI detect the unplug without a second Enter press. Several changes at once are
    reported at once; a listing identical to ``before`` keeps polling.

    Args:
        before: The listing taken with the arm connected.
        timeout_s: Give up after this long.
        poll_interval_s: Time between listings.
        list_ports: Listing function (injectable for tests).
        clock: Monotonic clock (injectable for tests).
        sleep: Sleep function (injectable for tests).

    Returns:
        The port that changed.

    Raises:
        PortNotFoundError: Nothing changed within ``timeout_s``.
        HardwareError: Several ports changed at once.
    """
    before = list(before)
    deadline = clock() + timeout_s
    while True:
        after = list_ports()
        if set(after) != set(before):
            return find_port(before, after)
        if clock() >= deadline:
            raise PortNotFoundError(
                f"no serial port changed within {timeout_s:g} s; unplug the arm's USB cable "
                "and run `lerobot-gym find-port` again."
            )
        sleep(poll_interval_s)
