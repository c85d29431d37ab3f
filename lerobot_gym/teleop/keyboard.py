"""The terminal keyboard as a teleop device: operator events and end-effector jogging.

While ``lerobot-gym record`` runs, or inside ``HumanIntervention``, the operator steers the
session from the keyboard, over SSH and without a display. Keys raise the events of the one
vocabulary (:data:`lerobot_gym.core.info.EVENT_KEYS`):

=====================  ===================================================================
key                    event / action
=====================  ===================================================================
right arrow, ``n``,    ``success``: end the episode now, as a success (LeRobot's
``s``                  "exit early" key, lerobot-interfaces.md section 3.4)
``f``                  ``failure``: end the episode now, as a failure
left arrow, ``r``      ``rerecord_episode``: discard the episode, record it again
Esc, ``q``             ``terminate_episode``: save what is done and stop
space                  toggle ``is_intervention`` (take over from the agent / hand back)
``i`` / ``k``          jog the end effector +x / -x (forward / back)
``j`` / ``l``          jog +y / -y (left / right)
``u`` / ``o``          jog +z / -z (up / down)
``c`` / ``v``          close / open the gripper
=====================  ===================================================================

:class:`TerminalKeyboard` reads those keys from a terminal file descriptor on a background
thread; :class:`KeyDecoder` turns the bytes into key names.

Design decisions:

* The terminal, not the window system. pynput (LeRobot's listener) cannot even be imported
  without an X display, and a robot is usually driven over SSH or from a headless box. The
  terminal is put in cbreak mode (no line buffering, no echo; Ctrl-C still interrupts) and
  restored by :meth:`TerminalKeyboard.stop`, which the context manager calls on any exit,
  exceptions included; an ``atexit`` hook is the backstop for a forgotten ``stop()``.
* Esc is ambiguous: it also starts every arrow's escape sequence (``ESC [ C``). A lone ``ESC``
  counts as Esc only when nothing follows within ``escape_timeout_s`` (50 ms, far longer than
  a terminal takes to send a whole sequence, far shorter than a human's next key press).
* Any file descriptor works, so tests drive the reader through a pseudo-terminal
  (``os.openpty``). When the descriptor is not a TTY (CI, a pipe, ``nohup``) the reader is
  a no-op whose events stay False: recording still works, without keyboard control.
* A terminal reports presses, never releases, so jogging is per press: each jog key press
  (and each auto-repeat of a held key, ~30 per second) adds one unit step on its axis to the
  action that the next :meth:`TerminalKeyboard.get_action` returns (each axis clipped to
  [-1, 1]; no press: zeros, the arm holds). A jog press also counts as an intervention for the
  next :meth:`TerminalKeyboard.events` (as LeRobot's ``keyboard_ee``: moving = intervening);
  space makes the intervention stick until pressed again.
* Events latch until read: :meth:`TerminalKeyboard.events` returns and clears the one-shot
  events (the control loop acts once per press); :meth:`TerminalKeyboard.peek` only looks.
* Nothing here prints; the CLI tells the operator which keys do what.
"""

from __future__ import annotations

import atexit
import os
import select
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from lerobot_gym.core.info import (
    FAILURE,
    IS_INTERVENTION,
    RERECORD_EPISODE,
    SUCCESS,
    TERMINATE_EPISODE,
    no_events,
)

__all__ = ["JOG_KEYS", "KEY_EVENTS", "KeyDecoder", "TerminalKeyboard"]

#: key name -> the one-shot event it raises.
KEY_EVENTS: dict[str, str] = {
    "right": SUCCESS,
    "n": SUCCESS,
    "s": SUCCESS,
    "f": FAILURE,
    "left": RERECORD_EPISODE,
    "r": RERECORD_EPISODE,
    "esc": TERMINATE_EPISODE,
    "q": TERMINATE_EPISODE,
}
#: Toggles ``is_intervention``.
TOGGLE_INTERVENTION_KEY = "space"
#: key name -> (axis of the (dx, dy, dz, gripper) action, unit step).
JOG_KEYS: dict[str, tuple[int, float]] = {
    "i": (0, 1.0),
    "k": (0, -1.0),
    "j": (1, 1.0),
    "l": (1, -1.0),
    "u": (2, 1.0),
    "o": (2, -1.0),
    "c": (3, -1.0),
    "v": (3, 1.0),
}

_ESC = 0x1B
# Final byte of a CSI (ESC [ ... X) or SS3 (ESC O X) sequence -> key name. Terminals send SS3
# arrows in "application cursor" mode (some shells and editors leave it on).
_ARROWS = {ord("A"): "up", ord("B"): "down", ord("C"): "right", ord("D"): "left"}
_NAMED = {0x20: "space", 0x0D: "enter", 0x0A: "enter", 0x09: "tab", 0x7F: "backspace"}


class KeyDecoder:
    r"""Turn bytes from a cbreak-mode terminal into key names.

    Names: ``"right"``, ``"left"``, ``"up"``, ``"down"``, ``"esc"``, ``"space"``,
    ``"enter"``, ``"tab"``, ``"backspace"``, or the printable ASCII character itself. Other
    escape sequences (function keys, Home/End, mouse reports) are consumed and dropped.

    Args:
        escape_timeout_s: a lone ESC followed by nothing for this long is the Esc key.

    Example:
        >>> decoder = KeyDecoder()
        >>> decoder.feed(b"\x1b[Cq \x1bOD", now=0.0)
        ['right', 'q', 'space', 'left']
        >>> decoder.feed(b"\x1b", now=1.0), decoder.flush(now=1.01), decoder.flush(now=1.06)
        ([], [], ['esc'])
    """

    def __init__(self, escape_timeout_s: float = 0.05) -> None:
        self.escape_timeout_s = float(escape_timeout_s)
        self._buffer = bytearray()
        self._pending_since: float | None = None

    @property
    def deadline(self) -> float | None:
        """When :meth:`flush` must be called to resolve a pending ESC (None: nothing pending)."""
        if self._pending_since is None:
            return None
        return self._pending_since + self.escape_timeout_s

    def feed(self, data: bytes, now: float) -> list[str]:
        """Decode ``data`` read at time ``now`` (seconds, any monotonic clock)."""
        keys = self.flush(now)  # a pending ESC that timed out came before these bytes
        self._buffer += data
        keys += self._drain()
        self._pending_since = now if self._buffer else None
        return keys

    def flush(self, now: float) -> list[str]:
        """Resolve an incomplete sequence once it has waited ``escape_timeout_s``."""
        deadline = self.deadline
        if deadline is None or now < deadline:
            return []
        # A lone ESC is the Esc key; a truncated sequence (ESC [ 1) is noise, dropped.
        keys = ["esc"] if bytes(self._buffer) == b"\x1b" else []
        self._buffer.clear()
        self._pending_since = None
        return keys

    def _drain(self) -> list[str]:
        """Decode every complete key at the front of the buffer; keep an incomplete tail."""
        buf, keys, i = self._buffer, [], 0
        while i < len(buf):
            byte = buf[i]
            if byte != _ESC:
                name = _NAMED.get(byte) or (chr(byte) if 0x21 <= byte <= 0x7E else None)
                if name is not None:
                    keys.append(name)
                i += 1
                continue
            if i + 1 >= len(buf):
                break  # ESC alone so far: wait for more bytes or the timeout
            intro = buf[i + 1]
            if intro == ord("O"):
                if i + 2 >= len(buf):
                    break
                name = _ARROWS.get(buf[i + 2])
                keys += [name] if name else []
                i += 3
            elif intro == ord("["):
                # CSI: parameter/intermediate bytes 0x20-0x3F, then one final byte 0x40-0x7E.
                j = i + 2
                while j < len(buf) and 0x20 <= buf[j] <= 0x3F:
                    j += 1
                if j >= len(buf):
                    break
                name = _ARROWS.get(buf[j]) if j == i + 2 else None  # modified arrows dropped
                keys += [name] if name else []
                i = j + 1
            else:
                keys.append("esc")  # ESC then another key (ESC ESC, or Alt+key): Esc first
                i += 1
        del buf[:i]
        return keys


class TerminalKeyboard:
    """Operator events and end-effector jogging read from a terminal (a ``Teleop``).

    Args:
        fd: terminal file descriptor to read; default standard input. A descriptor that is
            not a TTY (or no usable stdin at all) makes a no-op reader.
        escape_timeout_s: see :class:`KeyDecoder`.
        on_key: called on the reader thread with each key name (e.g. to log it); must not
            block.

    Example:
        >>> import os
        >>> read_end, write_end = os.pipe()  # not a TTY: the no-op reader
        >>> with TerminalKeyboard(read_end) as keyboard:
        ...     keyboard.active, keyboard.events()["success"], keyboard.get_action().tolist()
        (False, False, [0.0, 0.0, 0.0, 0.0])
        >>> os.close(read_end), os.close(write_end)
        (None, None)

        On a terminal: ``with TerminalKeyboard() as kb:`` then ``kb.events()`` each step.
    """

    action_kind = "ee_delta"

    def __init__(
        self,
        fd: int | None = None,
        *,
        escape_timeout_s: float = 0.05,
        on_key: Callable[[str], None] | None = None,
    ) -> None:
        self.fd = _stdin_fd() if fd is None else fd
        self.escape_timeout_s = escape_timeout_s
        self.on_key = on_key
        self._events = no_events()
        self._intervening = False  # space toggles it
        self._jogged = False  # a jog key since the last events()
        self._jog = np.zeros(4)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._saved_attrs: list | None = None
        self._wake: tuple[int, int] | None = None
        self._started = False

    @property
    def is_tty(self) -> bool:
        """Whether the descriptor is a terminal this platform can put in cbreak mode."""
        if self.fd is None or not _HAVE_TERMIOS:
            return False
        try:
            return os.isatty(self.fd)
        except OSError:
            return False

    @property
    def active(self) -> bool:
        """Whether keys are being read (started on a TTY and not stopped)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def is_connected(self) -> bool:
        """Whether :meth:`start` ran and :meth:`stop` has not (the no-op reader included)."""
        return self._started

    def start(self) -> TerminalKeyboard:
        """Put the terminal in cbreak mode and start reading (no-op when not a TTY)."""
        self._started = True
        if self._thread is not None or not self.is_tty:
            return self
        import termios
        import tty

        assert self.fd is not None  # is_tty checked it
        self._saved_attrs = termios.tcgetattr(self.fd)
        self._wake = os.pipe()
        try:
            tty.setcbreak(self.fd, termios.TCSANOW)
            self._thread = threading.Thread(
                target=self._read_loop, name="lerobot_gym-keyboard", daemon=True
            )
            self._thread.start()
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop reading and restore the terminal's previous mode (safe to call twice)."""
        self._started = False
        thread, self._thread = self._thread, None
        if self._wake is not None:
            os.write(self._wake[1], b"x")
        if thread is not None:
            thread.join(timeout=1.0)
        if self._saved_attrs is not None:
            import termios

            assert self.fd is not None  # start() saved the attributes of this descriptor
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved_attrs)
            except (termios.error, OSError):
                pass  # the terminal is gone (closed pty, hung-up SSH): nothing to restore
            self._saved_attrs = None
        if self._wake is not None:
            for end in self._wake:
                os.close(end)
            self._wake = None
        atexit.unregister(self.stop)

    # The Teleop protocol's names for start/stop.
    def connect(self) -> None:
        """Start reading (:meth:`start`)."""
        self.start()

    def disconnect(self) -> None:
        """Stop reading and restore the terminal (:meth:`stop`)."""
        self.stop()

    def __enter__(self) -> TerminalKeyboard:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """A new episode: forget unread presses and end a space-bar intervention."""
        with self._lock:
            self._events, self._jogged, self._intervening = no_events(), False, False
            self._jog = np.zeros(4)

    def peek(self) -> dict[str, bool]:
        """The events :meth:`events` would return now, without clearing anything."""
        with self._lock:
            return self._current_events()

    def events(self) -> dict[str, bool]:
        """The operator's events since the last call (keys ``EVENT_KEYS``); clears them."""
        with self._lock:
            events = self._current_events()
            self._events, self._jogged = no_events(), False
        return events

    def get_action(self) -> np.ndarray:
        """The jog steps since the last call as ``(dx, dy, dz, gripper)`` in [-1, 1]; clears."""
        with self._lock:
            jog, self._jog = self._jog, np.zeros(4)
        return np.clip(jog, -1.0, 1.0).astype(np.float32)

    def press(self, key: str) -> None:
        """Handle ``key`` as if it had been typed (a key name, see :class:`KeyDecoder`)."""
        with self._lock:
            if key in KEY_EVENTS:
                self._events[KEY_EVENTS[key]] = True
            elif key == TOGGLE_INTERVENTION_KEY:
                self._intervening = not self._intervening
            elif key in JOG_KEYS:
                axis, step = JOG_KEYS[key]
                self._jog[axis] += step
                self._jogged = True
        if self.on_key is not None:
            self.on_key(key)

    def _current_events(self) -> dict[str, bool]:
        events = dict(self._events)
        events[IS_INTERVENTION] = self._intervening or self._jogged
        return events

    def _read_loop(self) -> None:
        decoder = KeyDecoder(self.escape_timeout_s)
        assert self._wake is not None and self.fd is not None  # started by start() on a TTY
        wake = self._wake[0]
        while True:
            deadline = decoder.deadline
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                readable, _, _ = select.select([self.fd, wake], [], [], timeout)
            except (OSError, ValueError):
                return  # descriptor closed under us
            if wake in readable:
                return
            now = time.monotonic()
            if self.fd in readable:
                try:
                    data = os.read(self.fd, 1024)
                except OSError:
                    return  # EIO: the terminal hung up
                if not data:
                    return  # EOF
                keys = decoder.feed(data, now)
            else:
                keys = decoder.flush(now)
            for key in keys:
                self.press(key)


try:  # termios is POSIX-only; elsewhere the reader is the no-op fallback
    import termios as _termios  # noqa: F401

    _HAVE_TERMIOS = True
except ImportError:  # pragma: no cover - Windows
    _HAVE_TERMIOS = False


def _stdin_fd() -> int | None:
    """Standard input's descriptor, or None when there is none (test runners replace it)."""
    try:
        return sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return None
