"""Operator keys read from the terminal: LeRobot's recording controls without a display.

While ``lerobot-gym record`` runs, the operator steers the session from the keyboard, as in
LeRobot (lerobot-interfaces.md §3.4):

==================  ===============================================================
key                 event
==================  ===============================================================
right arrow, ``n``  ``exit_early``: end the episode (or the reset phase) now
left arrow, ``r``   ``rerecord_episode`` + ``exit_early``: discard, record it again
Esc, ``q``          ``stop_recording`` + ``exit_early``: save what is done and stop
==================  ===============================================================

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
* Events latch until read: :meth:`TerminalKeyboard.poll` returns and clears them (the control
  loop acts once per press); :meth:`TerminalKeyboard.events` only looks.
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

__all__ = [
    "EXIT_EARLY",
    "KEY_EVENTS",
    "RECORD_EVENT_KEYS",
    "RERECORD_EPISODE",
    "STOP_RECORDING",
    "KeyDecoder",
    "TerminalKeyboard",
    "no_record_events",
]

EXIT_EARLY = "exit_early"
"""End the current episode (or reset phase) now."""
RERECORD_EPISODE = "rerecord_episode"
"""Discard the episode in progress and record it again."""
STOP_RECORDING = "stop_recording"
"""Save what is done and stop recording."""

RECORD_EVENT_KEYS: tuple[str, ...] = (EXIT_EARLY, RERECORD_EPISODE, STOP_RECORDING)

#: key name -> the events it raises (LeRobot's bindings, lerobot-interfaces.md §3.4).
KEY_EVENTS: dict[str, tuple[str, ...]] = {
    "right": (EXIT_EARLY,),
    "n": (EXIT_EARLY,),
    "left": (RERECORD_EPISODE, EXIT_EARLY),
    "r": (RERECORD_EPISODE, EXIT_EARLY),
    "esc": (STOP_RECORDING, EXIT_EARLY),
    "q": (STOP_RECORDING, EXIT_EARLY),
}

_ESC = 0x1B
# Final byte of a CSI (ESC [ ... X) or SS3 (ESC O X) sequence -> key name. Terminals send SS3
# arrows in "application cursor" mode (some shells and editors leave it on).
_ARROWS = {ord("A"): "up", ord("B"): "down", ord("C"): "right", ord("D"): "left"}
_NAMED = {0x20: "space", 0x0D: "enter", 0x0A: "enter", 0x09: "tab", 0x7F: "backspace"}


def no_record_events() -> dict[str, bool]:
    """The events when no key was pressed (all False)."""
    return dict.fromkeys(RECORD_EVENT_KEYS, False)


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
    """Recording controls read from a terminal on a background thread.

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
        ...     keyboard.active, keyboard.poll()
        (False, {'exit_early': False, 'rerecord_episode': False, 'stop_recording': False})
        >>> os.close(read_end), os.close(write_end)
        (None, None)

        On a terminal: ``with TerminalKeyboard() as kb:`` then ``kb.poll()`` each step.
    """

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
        self._events = no_record_events()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._saved_attrs: list | None = None
        self._wake: tuple[int, int] | None = None

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

    def start(self) -> TerminalKeyboard:
        """Put the terminal in cbreak mode and start reading (no-op when not a TTY)."""
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

    def __enter__(self) -> TerminalKeyboard:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def events(self) -> dict[str, bool]:
        """The events raised since the last :meth:`poll` (a copy; nothing is cleared)."""
        with self._lock:
            return dict(self._events)

    def poll(self) -> dict[str, bool]:
        """The events raised since the last call, then clears them."""
        with self._lock:
            events, self._events = self._events, no_record_events()
        return events

    def press(self, key: str) -> None:
        """Handle ``key`` as if it had been typed (a key name, see :class:`KeyDecoder`)."""
        raised = KEY_EVENTS.get(key, ())
        if raised:
            with self._lock:
                for event in raised:
                    self._events[event] = True
        if self.on_key is not None:
            self.on_key(key)

    def teleop_events(self) -> dict[str, bool]:
        """The events since the last poll as a Teleop's (``terminate_episode``, ...); clears.

        Lets a leader arm or another :class:`~lerobot_gym.teleop.base.Teleop` take its
        operator events from this keyboard (``SO101Leader(..., events=kb.teleop_events)``):
        Esc terminates the episode, the left arrow asks to re-record it.
        """
        events = self.poll()
        return {
            "terminate_episode": events[STOP_RECORDING],
            "rerecord_episode": events[RERECORD_EPISODE],
        }

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
