"""TerminalKeyboard through a pseudo-terminal, and the KeyDecoder's escape handling."""

from __future__ import annotations

import os
import termios
import time

import pytest

from lerobot_gym.teleop.keyboard import (
    KeyDecoder,
    TerminalKeyboard,
    no_record_events,
)


def _wait_for(predicate, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    yield master, slave
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


# -- decoder ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "keys"),
    [
        (b"\x1b[C", ["right"]),
        (b"\x1b[D", ["left"]),
        (b"\x1bOC\x1bOD", ["right", "left"]),  # application cursor mode
        (b"\x1b[A\x1b[B", ["up", "down"]),
        (b" nq\r", ["space", "n", "q", "enter"]),
        (b"\x1b[1;5C", []),  # Ctrl+right: a modified arrow is not a recording control
        (b"\x1b[15~a", ["a"]),  # F5 dropped, the next key kept
        (b"\x1b\x1b[C", ["esc", "right"]),  # Esc then an arrow in one read
        (b"\x1bx", ["esc", "x"]),  # Alt+x
        (b"\xc3\xa9z", ["z"]),  # non-ASCII dropped
    ],
)
def test_decoder_sequences(data, keys):
    assert KeyDecoder().feed(data, now=0.0) == keys


def test_sequence_split_across_reads_is_one_key():
    decoder = KeyDecoder(escape_timeout_s=0.05)
    assert decoder.feed(b"\x1b", now=0.0) == []
    assert decoder.deadline == pytest.approx(0.05)
    assert decoder.feed(b"[", now=0.01) == []
    assert decoder.feed(b"C", now=0.02) == ["right"]
    assert decoder.deadline is None


def test_lone_escape_becomes_esc_only_after_the_timeout():
    decoder = KeyDecoder(escape_timeout_s=0.05)
    assert decoder.feed(b"\x1b", now=1.0) == []
    assert decoder.flush(now=1.04) == []
    assert decoder.flush(now=1.05) == ["esc"]
    assert decoder.flush(now=2.0) == []  # resolved once


def test_bytes_after_the_timeout_do_not_join_the_escape():
    decoder = KeyDecoder(escape_timeout_s=0.05)
    decoder.feed(b"\x1b", now=0.0)
    assert decoder.feed(b"[C", now=0.2) == ["esc", "[", "C"]


def test_truncated_sequence_is_dropped_not_read_as_esc():
    decoder = KeyDecoder(escape_timeout_s=0.05)
    assert decoder.feed(b"\x1b[1", now=0.0) == []
    assert decoder.flush(now=0.1) == []


# -- the reader on a pty ------------------------------------------------------------------------
def test_arrows_and_escape_through_a_pty(pty_pair):
    master, slave = pty_pair
    seen = []
    keyboard = TerminalKeyboard(slave, on_key=seen.append)
    with keyboard:
        assert keyboard.active
        os.write(master, b"\x1b[C")
        assert _wait_for(lambda: keyboard.events()["exit_early"])
        assert keyboard.poll() == {
            "exit_early": True,
            "rerecord_episode": False,
            "stop_recording": False,
        }
        assert keyboard.poll() == no_record_events()  # poll clears

        os.write(master, b"\x1b[D")
        assert _wait_for(lambda: keyboard.events()["rerecord_episode"])
        assert keyboard.poll() == {
            "exit_early": True,
            "rerecord_episode": True,
            "stop_recording": False,
        }

        os.write(master, b"\x1b")
        start = time.monotonic()
        assert _wait_for(lambda: keyboard.events()["stop_recording"])
        waited = time.monotonic() - start
        assert keyboard.poll()["exit_early"]
        os.write(master, b" ")
        assert _wait_for(lambda: "space" in seen)
    assert not keyboard.active
    assert seen == ["right", "left", "esc", "space"]
    assert 0.045 <= waited < 1.0  # Esc waited out the escape timeout, no longer than needed


def test_letter_bindings_and_teleop_events(pty_pair):
    master, slave = pty_pair
    with TerminalKeyboard(slave) as keyboard:
        os.write(master, b"r")
        assert _wait_for(lambda: keyboard.events()["rerecord_episode"])
        assert keyboard.teleop_events() == {"terminate_episode": False, "rerecord_episode": True}
        os.write(master, b"q")
        assert _wait_for(lambda: keyboard.events()["stop_recording"])
        assert keyboard.teleop_events() == {"terminate_episode": True, "rerecord_episode": False}
        os.write(master, b"n")
        assert _wait_for(lambda: keyboard.events()["exit_early"])
        assert not keyboard.events()["stop_recording"]


def test_cbreak_while_reading_and_terminal_restored_after(pty_pair):
    _master, slave = pty_pair
    before = termios.tcgetattr(slave)
    assert before[3] & termios.ICANON and before[3] & termios.ECHO
    with TerminalKeyboard(slave):
        during = termios.tcgetattr(slave)
        assert not during[3] & termios.ICANON and not during[3] & termios.ECHO
        assert during[3] & termios.ISIG  # Ctrl-C still interrupts the recording
    assert termios.tcgetattr(slave) == before


def test_terminal_restored_when_the_body_raises(pty_pair):
    _master, slave = pty_pair
    before = termios.tcgetattr(slave)
    keyboard = TerminalKeyboard(slave)
    with pytest.raises(RuntimeError, match="boom"), keyboard:
        raise RuntimeError("boom")
    assert termios.tcgetattr(slave) == before
    assert not keyboard.active
    keyboard.stop()  # idempotent


def test_reader_stops_when_the_terminal_hangs_up(pty_pair):
    master, slave = pty_pair
    keyboard = TerminalKeyboard(slave).start()
    try:
        os.close(master)
        assert _wait_for(lambda: not keyboard.active)
    finally:
        keyboard.stop()


def test_not_a_tty_is_a_silent_no_op():
    read_end, write_end = os.pipe()
    try:
        keyboard = TerminalKeyboard(read_end)
        assert not keyboard.is_tty
        with keyboard:
            os.write(write_end, b"\x1b[C")
            time.sleep(0.05)
            assert not keyboard.active
            assert keyboard.poll() == no_record_events()
    finally:
        os.close(read_end)
        os.close(write_end)


def test_no_usable_stdin_is_a_no_op(monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # fileno() raises UnsupportedOperation
    keyboard = TerminalKeyboard()
    assert keyboard.fd is None and not keyboard.is_tty
    with keyboard:
        assert not keyboard.active


def test_press_simulates_a_key_for_callers_without_a_terminal():
    keyboard = TerminalKeyboard(fd=None)
    keyboard.press("esc")
    events = keyboard.poll()
    assert events == {"exit_early": True, "rerecord_episode": False, "stop_recording": True}
    keyboard.press("x")  # unbound keys raise nothing
    assert keyboard.poll() == no_record_events()
