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


def test_aloha_finds_its_four_adapters_one_unplug_each(monkeypatch, capsys, tmp_path):
    four = ["/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2", "/dev/ttyUSB3"]
    # Unplugged in the order left/right follower, left/right leader; each stays unplugged.
    _listings(
        monkeypatch,
        four,
        ["/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB3"],
        ["/dev/ttyUSB1", "/dev/ttyUSB3"],
        ["/dev/ttyUSB1"],
        [],
    )
    monkeypatch.setattr(find_port, "_BY_ID", str(tmp_path / "by-id"))  # none on this system
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\n\n\n"))
    assert main(["find-port", "--robot.type=aloha"]) == 0
    out = capsys.readouterr().out
    for flag, port in [
        ("--robot.left_port", "/dev/ttyUSB2"),
        ("--robot.right_port", "/dev/ttyUSB0"),
        ("--teleop.left_port", "/dev/ttyUSB3"),
        ("--teleop.right_port", "/dev/ttyUSB1"),
    ]:
        assert f"  {flag}={port}\n" in out
    assert "Reconnect all four USB cables." in out and "udev" in out


def test_aloha_prefers_the_stable_by_id_names(monkeypatch, capsys, tmp_path):
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    devices = [tmp_path / f"ttyUSB{i}" for i in range(4)]
    for i, dev in enumerate(devices):
        dev.touch()
        (by_id / f"usb-FTDI_USB__-__Serial_Converter_FT{i}-if00-port0").symlink_to(dev)
    four = [str(d) for d in devices]
    _listings(monkeypatch, four, four[1:], four[2:], four[3:], [])
    monkeypatch.setattr(find_port, "_BY_ID", str(by_id))
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\n\n\n"))
    assert main(["find-port", "--robot.type=aloha"]) == 0
    out = capsys.readouterr().out
    assert f"--robot.left_port={by_id}/usb-FTDI_USB__-__Serial_Converter_FT0-if00-port0" in out
    assert f"(now {devices[0]})" in out and "udev" not in out


def test_aloha_with_fewer_than_four_ports_says_to_plug_them_in(monkeypatch, capsys):
    _listings(monkeypatch, ["/dev/ttyUSB0", "/dev/ttyUSB1"])
    assert main(["find-port", "--robot.type=aloha"]) != 0
    assert "plug in all four U2D2 USB cables" in capsys.readouterr().err


def test_an_unknown_robot_type_is_a_usage_error(capsys):
    assert main(["find-port", "--robot.type=koch"]) == 2
    assert "--robot.type must be aloha" in capsys.readouterr().err
