"""Serial-port discovery: listing (real and emulated ports) and the find-port diff logic."""

from __future__ import annotations

import os
import pty
import sys
from types import SimpleNamespace

import pytest

from lerobot_gym.errors import HardwareError, PortNotFoundError
from lerobot_gym.hardware import ports
from lerobot_gym.hardware.ports import find_port, list_serial_ports, wait_for_port_change


def test_find_port_returns_the_removed_port() -> None:
    assert find_port(["/dev/ttyACM1", "/dev/ttyACM0"], ["/dev/ttyACM0"]) == "/dev/ttyACM1"


def test_find_port_accepts_a_plugged_in_port() -> None:
    assert find_port(["/dev/ttyACM0"], ["/dev/ttyACM0", "/dev/ttyUSB0"]) == "/dev/ttyUSB0"


def test_find_port_without_change_says_what_to_do() -> None:
    with pytest.raises(PortNotFoundError, match=r"unplug the arm's USB cable.*find-port"):
        find_port(["/dev/ttyACM0"], ["/dev/ttyACM0"])


def test_find_port_with_several_changes_is_ambiguous() -> None:
    with pytest.raises(HardwareError, match=r"/dev/ttyACM0, /dev/ttyACM1"):
        find_port(["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyUSB0"], ["/dev/ttyUSB0"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /dev/pts layout")
def test_list_includes_an_emulated_pty_only_on_request() -> None:
    master, slave = pty.openpty()
    try:
        name = os.ttyname(slave)
        assert name in list_serial_ports(include_pty=True)
        assert name not in list_serial_ports()
    finally:
        os.close(master)
        os.close(slave)


def test_list_merges_pyserial_and_globs_sorted_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    import serial.tools.list_ports as list_ports

    fake = [SimpleNamespace(device=d) for d in ("/dev/ttyUSB3", "/dev/ttyACM0", "/dev/pts/7")]
    monkeypatch.setattr(list_ports, "comports", lambda: fake)
    monkeypatch.setattr(ports.sys, "platform", "linux")
    globbed = {"/dev/ttyACM*": ["/dev/ttyACM0", "/dev/ttyACM2"], "/dev/ttyUSB*": []}
    monkeypatch.setattr(ports.glob, "glob", lambda pattern: globbed.get(pattern, ["/dev/pts/1"]))
    assert list_serial_ports() == ["/dev/ttyACM0", "/dev/ttyACM2", "/dev/ttyUSB3"]
    assert list_serial_ports(include_pty=True) == [
        "/dev/pts/1",
        "/dev/pts/7",
        "/dev/ttyACM0",
        "/dev/ttyACM2",
        "/dev/ttyUSB3",
    ]


def test_list_works_without_pyserial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "serial.tools", None)  # makes the import fail
    monkeypatch.setattr(ports.sys, "platform", "linux")
    monkeypatch.setattr(
        ports.glob, "glob", lambda p: ["/dev/ttyUSB0"] if p == "/dev/ttyUSB*" else []
    )
    assert list_serial_ports() == ["/dev/ttyUSB0"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_for_port_change_polls_until_the_arm_is_unplugged() -> None:
    clock = FakeClock()
    listings = iter([["/dev/ttyACM0", "/dev/ttyACM1"]] * 3 + [["/dev/ttyACM0"]])
    port = wait_for_port_change(
        ["/dev/ttyACM0", "/dev/ttyACM1"],
        list_ports=lambda: next(listings),
        clock=clock,
        sleep=clock.sleep,
        poll_interval_s=0.5,
    )
    assert port == "/dev/ttyACM1"
    assert clock.now == pytest.approx(1.5)


def test_wait_for_port_change_times_out() -> None:
    clock = FakeClock()
    with pytest.raises(PortNotFoundError, match="within 2 s"):
        wait_for_port_change(
            ["/dev/ttyACM0"],
            timeout_s=2.0,
            list_ports=lambda: ["/dev/ttyACM0"],
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.now == pytest.approx(2.0)
