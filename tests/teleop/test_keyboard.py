"""TerminalKeyboard through a pseudo-terminal (events, intervention, jogging), and the
KeyDecoder's escape handling."""

from __future__ import annotations

import os
import termios
import time

import numpy as np
import pytest

from lerobot_gym.core.info import EVENT_KEYS, no_events
from lerobot_gym.teleop import Teleop
from lerobot_gym.teleop.keyboard import KeyDecoder, TerminalKeyboard


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
def _only(*names: str) -> dict[str, bool]:
    return {**no_events(), **dict.fromkeys(names, True)}


def test_arrows_and_escape_through_a_pty(pty_pair):
    master, slave = pty_pair
    seen = []
    keyboard = TerminalKeyboard(slave, on_key=seen.append)
    assert isinstance(keyboard, Teleop) and keyboard.action_kind == "ee_delta"
    with keyboard:
        assert keyboard.active and keyboard.is_connected
        os.write(master, b"\x1b[C")
        assert _wait_for(lambda: keyboard.peek()["success"])
        assert keyboard.events() == _only("success")
        assert keyboard.events() == no_events()  # events() clears the one-shot presses

        os.write(master, b"\x1b[D")
        assert _wait_for(lambda: keyboard.peek()["rerecord_episode"])
        assert keyboard.events() == _only("rerecord_episode")

        os.write(master, b"\x1b")
        start = time.monotonic()
        assert _wait_for(lambda: keyboard.peek()["terminate_episode"])
        waited = time.monotonic() - start
        assert keyboard.events() == _only("terminate_episode")
        os.write(master, b"x")
        assert _wait_for(lambda: "x" in seen)
    assert not keyboard.active and not keyboard.is_connected
    assert seen == ["right", "left", "esc", "x"]
    assert 0.045 <= waited < 1.0  # Esc waited out the escape timeout, no longer than needed


def test_letter_bindings_cover_the_whole_vocabulary(pty_pair):
    master, slave = pty_pair
    with TerminalKeyboard(slave) as keyboard:
        raised = set()
        for key, event in [
            (b"s", "success"),
            (b"f", "failure"),
            (b"r", "rerecord_episode"),
            (b"q", "terminate_episode"),
            (b"n", "success"),
        ]:
            os.write(master, key)
            assert _wait_for(lambda event=event: keyboard.peek()[event])
            assert keyboard.events() == _only(event)
            raised.add(event)
        os.write(master, b" ")
        assert _wait_for(lambda: keyboard.peek()["is_intervention"])
        raised.add("is_intervention")
    assert raised == set(EVENT_KEYS)


def test_space_toggles_intervention_until_pressed_again_or_reset(pty_pair):
    master, slave = pty_pair
    with TerminalKeyboard(slave) as keyboard:
        os.write(master, b" ")
        assert _wait_for(lambda: keyboard.peek()["is_intervention"])
        assert keyboard.events()["is_intervention"]
        assert keyboard.events()["is_intervention"]  # a state, not a one-shot press
        os.write(master, b" ")
        assert _wait_for(lambda: not keyboard.peek()["is_intervention"])
        os.write(master, b" ")
        assert _wait_for(lambda: keyboard.peek()["is_intervention"])
        keyboard.reset()  # a new episode hands control back to the agent
        assert keyboard.events() == no_events()


def test_jog_keys_through_a_pty_give_end_effector_deltas(pty_pair):
    master, slave = pty_pair
    with TerminalKeyboard(slave) as keyboard:
        assert keyboard.get_action().tolist() == [0.0, 0.0, 0.0, 0.0]  # no key: hold
        os.write(master, b"ijuc")
        assert _wait_for(lambda: keyboard.peek()["is_intervention"])
        assert _wait_for(lambda: keyboard._jog[3] != 0)  # all four bytes read
        # Jogging is intervening (LeRobot's keyboard_ee), for the step that reads it.
        assert keyboard.events()["is_intervention"]
        assert keyboard.events()["is_intervention"] is False
        np.testing.assert_array_equal(keyboard.get_action(), [1, 1, 1, -1])
        np.testing.assert_array_equal(keyboard.get_action(), [0, 0, 0, 0])  # read clears
        os.write(master, b"kkkklov")  # held k auto-repeats: clipped to one unit per step
        assert _wait_for(lambda: keyboard._jog[3] != 0)
        action = keyboard.get_action()
        assert action.dtype == np.float32
        np.testing.assert_array_equal(action, [-1, -1, -1, 1])


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
            assert keyboard.events() == no_events()
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
    assert keyboard.events() == _only("terminate_episode")
    keyboard.press("x")  # unbound keys raise nothing
    assert keyboard.events() == no_events()
