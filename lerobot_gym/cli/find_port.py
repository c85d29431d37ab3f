"""Find an arm's serial port: unplug its USB cable and see which port goes.

``lerobot-gym find-port`` follows LeRobot's ``lerobot-find-port``: list the serial ports, ask the
operator to unplug the arm's USB cable and press Enter, list them again and print the port that
disappeared. ``--timeout_s=S`` detects the unplug by polling instead (no Enter needed, useful
over SSH or in scripts). The logic lives in :mod:`lerobot_gym.hardware.ports`; this module only
prompts and prints.

This module also holds :func:`ask`, the one prompt the hardware commands (``find-port``,
``calibrate``) share: it turns a closed stdin into a readable error instead of an ``EOFError``
traceback.

Design decisions:

* After Enter the ports are listed for up to a second until the listing changes, rather than
  after LeRobot's fixed 0.5 s sleep: the OS may take a moment to remove the device node, and a
  fast machine need not wait.
* With no serial port present at the start, the operator is asked to *plug in* the arm instead
  (:func:`~lerobot_gym.hardware.ports.find_port` accepts a port that appears).
* Pseudo-terminals are ignored unless ``--include_pty`` (every shell owns one; emulated buses
  live there).
* ``--robot.type=aloha`` finds the ALOHA's four U2D2 adapters in one run: each is unplugged in
  turn and *left* unplugged until all four are found, so a replugged adapter cannot take another
  one's device name mid-run. The four ports are printed as the flags that name them, with a
  ``/dev/serial/by-id`` path when the system has one (a USB adapter's device number can change
  between boots; the by-id name, or a udev rule as the ALOHA's own set-up uses, does not).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from lerobot_gym.cli.args import CommandParser, Flag, UsageError
from lerobot_gym.errors import PortNotFoundError
from lerobot_gym.hardware import ports

PARSER = CommandParser(
    prog="lerobot-gym find-port",
    description="""
        Find the serial port of an arm's controller board: the ports are listed, you unplug
        the arm's USB cable (leave its power on) and press Enter, and the port that disappeared
        is printed. With --timeout_s the unplug is detected by polling, without Enter.
    """,
    flags=(
        Flag(
            "timeout_s",
            None,
            "detect the unplug by polling for up to this many seconds instead of waiting for "
            "Enter (null: wait for Enter)",
            float,
            True,
        ),
        Flag("include_pty", False, "also list pseudo-terminals (/dev/pts/N, emulated buses)", bool),
        Flag(
            "robot.type",
            None,
            "aloha: find the four adapters of an ALOHA station, one unplug each (null: one arm)",
            str,
            True,
        ),
    ),
    examples=(
        "lerobot-gym find-port",
        "lerobot-gym find-port --timeout_s=20",
        "lerobot-gym find-port --robot.type=aloha",
    ),
)

#: The ALOHA's adapters in the order they are unplugged: (what to unplug, the flag it sets).
ALOHA_ADAPTERS = (
    ("the left follower (puppet)", "--robot.left_port"),
    ("the right follower (puppet)", "--robot.right_port"),
    ("the left leader (master)", "--teleop.left_port"),
    ("the right leader (master)", "--teleop.right_port"),
)
_BY_ID = "/dev/serial/by-id"

# After Enter, how long the port listing may take to change (device node removal).
_SETTLE_S = 1.0
_SETTLE_POLL_S = 0.1


def ask(prompt: str) -> str:
    """Print ``prompt``, read one line from stdin and return it without its newline.

    Raises:
        UsageError: stdin is closed (no terminal, e.g. run from a script without input), so the
            command cannot wait for the operator.
    """
    try:
        answer = input(prompt)
    except EOFError:
        print()
        raise UsageError(
            "stdin closed while waiting for Enter: run this command in a terminal (or pipe the "
            "answers in)"
        ) from None
    if prompt and not _is_tty(sys.stdin):
        print()  # piped answers are not echoed: end the prompt's line ourselves
    return answer


def _is_tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def run(argv: list[str]) -> int:
    """Parse the flags, run the unplug flow, print the arm's port."""
    cfg = PARSER.parse(argv)
    timeout_s, include_pty = cfg["timeout_s"], cfg["include_pty"]
    if timeout_s is not None and not timeout_s > 0:
        raise UsageError(f"--timeout_s must be positive, got {timeout_s}")
    if cfg["robot"]["type"] not in (None, "aloha"):
        raise UsageError(
            f"--robot.type must be aloha (or absent, for one arm), got {cfg['robot']['type']!r}"
        )

    def listing() -> list[str]:
        return ports.list_serial_ports(include_pty=include_pty)

    if cfg["robot"]["type"] == "aloha":
        return _find_aloha_ports(listing, timeout_s)

    print("Finding the serial port of your arm's controller board.")
    before = listing()
    print(f"Ports now: {', '.join(before) if before else 'none'}")
    action = "Unplug the arm's USB cable (leave its power on)"
    if not before:
        action = "No serial port is present: plug in the arm's USB cable"
    if timeout_s is None:
        ask(f"{action} and press Enter when done.")
    else:
        print(f"{action}; waiting up to {timeout_s:g} s ...", flush=True)
    port = _unplugged_port(listing, before, timeout_s)
    unplugged = port in before
    print(f"The port of this arm is {port}")
    if unplugged:
        print("Reconnect the USB cable.")
    print(f"Use it as --robot.port={port} (a follower arm) or --teleop.port={port} (a leader arm).")
    return 0


def _unplugged_port(
    listing: Callable[[], list[str]], before: list[str], timeout_s: float | None
) -> str:
    """The port that leaves ``before`` after the operator's Enter (or within ``timeout_s``)."""
    if timeout_s is not None:
        return ports.wait_for_port_change(before, timeout_s=timeout_s, list_ports=listing)
    try:
        return ports.wait_for_port_change(
            before, timeout_s=_SETTLE_S, poll_interval_s=_SETTLE_POLL_S, list_ports=listing
        )
    except PortNotFoundError:
        return ports.find_port(before, listing())  # raises, with the full explanation


def _find_aloha_ports(listing: Callable[[], list[str]], timeout_s: float | None) -> int:
    """Unplug the four adapters one by one; print the flags naming each (module docstring)."""
    before = listing()
    print("Finding the serial ports of the ALOHA's four U2D2 adapters.")
    print(f"Ports now: {', '.join(before) if before else 'none'}")
    if len(before) < len(ALOHA_ADAPTERS):
        raise PortNotFoundError(
            f"{len(before)} serial port(s) present, the ALOHA has {len(ALOHA_ADAPTERS)} adapters: "
            "plug in all four U2D2 USB cables (arms powered) and run this again"
        )
    found: list[tuple[str, str]] = []
    for what, flag in ALOHA_ADAPTERS:
        action = f"Unplug the USB cable of {what}'s adapter and leave it unplugged"
        if timeout_s is None:
            ask(f"{action}; press Enter when done.")
        else:
            print(f"{action}; waiting up to {timeout_s:g} s ...", flush=True)
        port = _unplugged_port(listing, before, timeout_s)
        if port not in before:
            raise PortNotFoundError(
                f"a new port {port} appeared while looking for {what}'s adapter; plug in all "
                "four adapters and run this again"
            )
        print(f"{what}: {port}")
        found.append((flag, port))
        before = [p for p in before if p != port]
    print("Reconnect all four USB cables.")
    aliases = _by_id_aliases()
    print("Use:")
    for flag, port in found:
        alias = aliases.get(port)
        print(f"  {flag}={alias or port}" + (f"   (now {port})" if alias else ""))
    if not aliases:
        print(
            f"(No {_BY_ID} names here: device numbers may change after a reboot or replug; "
            "the ALOHA's udev rules pin them by serial number.)"
        )
    return 0


def _by_id_aliases() -> dict[str, str]:
    """Device path -> its stable ``/dev/serial/by-id`` name, where the system provides one."""
    folder = Path(_BY_ID)
    if not folder.is_dir():
        return {}
    return {str(link.resolve()): str(link) for link in sorted(folder.iterdir())}
