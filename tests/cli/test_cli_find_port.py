"""`lerobot-gym find-port`: the unplug flow with Enter or by polling, and its typed errors."""

from __future__ import annotations

import io

import pytest

from lerobot_gym.cli import find_port
from lerobot_gym.cli.main import main
from lerobot_gym.hardware import ports


def _listings(monkeypatch, *listings: list[str]) -> list[bool]:
    """Make list_serial_ports return each listing in turn (the last one for ever after)."""
    queue = list(listings)
    pty_flags: list[bool] = []

    def fake(*, include_pty: bool = False) -> list[str]:
        pty_flags.append(include_pty)
        return list(queue.pop(0) if len(queue) > 1 else queue[0])

    monkeypatch.setattr(ports, "list_serial_ports", fake)
    return pty_flags


def test_enter_flow_prints_the_port_that_disappeared(monkeypatch, capsys):
    _listings(monkeypatch, ["/dev/ttyACM0", "/dev/ttyACM1"], ["/dev/ttyACM0"])
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["find-port"]) == 0
    out = capsys.readouterr().out
    assert "Ports now: /dev/ttyACM0, /dev/ttyACM1" in out
    assert "Unplug the arm's USB cable" in out and "press Enter" in out
    assert "The port of this arm is /dev/ttyACM1" in out
    assert "Reconnect the USB cable." in out
    assert "--robot.port=/dev/ttyACM1" in out


def test_enter_flow_waits_for_the_device_node_to_go(monkeypatch, capsys):
    # The OS removes the node a little after the unplug: the first listing after Enter is
    # unchanged, the next one shows it gone.
    _listings(monkeypatch, ["/dev/ttyUSB0"], ["/dev/ttyUSB0"], ["/dev/ttyUSB0"], [])
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["find-port"]) == 0
    assert "The port of this arm is /dev/ttyUSB0" in capsys.readouterr().out


def test_no_port_at_first_asks_to_plug_in(monkeypatch, capsys):
    _listings(monkeypatch, [], ["/dev/ttyACM3"])
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["find-port"]) == 0
    out = capsys.readouterr().out
    assert "Ports now: none" in out and "plug in the arm's USB cable" in out
    assert "The port of this arm is /dev/ttyACM3" in out
    assert "Reconnect" not in out


def test_poll_mode_needs_no_enter(monkeypatch, capsys):
    flags = _listings(
        monkeypatch, ["/dev/ttyACM0", "/dev/pts/7"], ["/dev/ttyACM0", "/dev/pts/7"], ["/dev/pts/7"]
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # reading it would fail
    monkeypatch.setattr(ports.time, "sleep", lambda s: None)
    assert main(["find-port", "--timeout_s=5", "--include_pty"]) == 0
    assert "The port of this arm is /dev/ttyACM0" in capsys.readouterr().out
    assert flags and all(flags)


def test_nothing_changed_is_a_readable_error(monkeypatch, capsys):
    monkeypatch.setattr(find_port, "_SETTLE_S", 0.05)
    _listings(monkeypatch, ["/dev/ttyACM0"])
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["find-port"]) == 1
    err = capsys.readouterr().err
    assert "lerobot-gym find-port: error: no serial port appeared or disappeared" in err
    assert "Traceback" not in err


def test_several_ports_changed_is_a_readable_error(monkeypatch, capsys):
    _listings(monkeypatch, ["/dev/ttyACM0", "/dev/ttyACM1"], [])
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["find-port"]) == 1
    assert "several ports changed (/dev/ttyACM0, /dev/ttyACM1)" in capsys.readouterr().err


def test_poll_mode_times_out(monkeypatch, capsys):
    _listings(monkeypatch, ["/dev/ttyACM0"])
    assert main(["find-port", "--timeout_s=0.2"]) == 1
    assert "no serial port changed within 0.2 s" in capsys.readouterr().err


def test_closed_stdin_and_bad_flags_are_usage_errors(monkeypatch, capsys):
    _listings(monkeypatch, ["/dev/ttyACM0"])
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["find-port"]) == 2
    assert "stdin closed while waiting for Enter" in capsys.readouterr().err
    assert main(["find-port", "--timeout_s=-1"]) == 2
    assert main(["find-port", "--timeout_s=soon"]) == 2


@pytest.mark.parametrize("answer", ["\n", "c\n"])
def test_ask_returns_the_line(monkeypatch, answer):
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    assert find_port.ask("? ") == answer.rstrip("\n")
