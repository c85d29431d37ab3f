"""The encoder process's side of :mod:`lerobot_gym.dataset.encoder_process` (read that first).

:func:`serve` is the process's main loop: it takes commands and frame slots from the parent's
socket and feeds one :class:`~lerobot_gym.dataset.video.EpisodeVideoEncoder` thread per
camera, which read frames straight from the shared-memory ring and report results (and freed
slots) back over the socket. It lowers its own priority, ignores SIGINT, and exits at once,
deleting its partial MP4s, when its parent dies.
"""

from __future__ import annotations

import math
import mmap
import os
import signal
import socket
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from lerobot_gym.dataset import _heap
from lerobot_gym.dataset.video import EncodedEpisode, EpisodeVideoEncoder

ENCODER_NICE = int(os.environ.get("LEROBOT_GYM_ENCODER_NICE", "10"))
"""The encoder process's ``nice`` value (at least); ``LEROBOT_GYM_ENCODER_NICE`` overrides."""

_PARENT_CHECK_S = 0.5


class _ChildStream:
    def __init__(self, sock: socket.socket, msg: tuple[Any, ...], send: Any) -> None:
        _, self.sid, key, shape, slots, cfg = msg
        _, fds, _, _ = socket.recv_fds(sock, 1, 1)
        nbytes = slots * math.prod(shape)
        self._mm = mmap.mmap(fds[0], nbytes)
        os.close(fds[0])
        self.frames: np.ndarray = np.ndarray((slots, *shape), np.uint8, buffer=self._mm)
        self.path: Path | None = None
        self._send = send

        def report(seq: int, result: EncodedEpisode | BaseException) -> None:
            payload = result if isinstance(result, EncodedEpisode) else _describe(result)
            send(("result", self.sid, seq, payload))
            # The episode's encoder has closed: its freed arenas go back to the OS (see
            # _heap), or this long-lived process grows every episode.
            _heap.release_free_heap()

        self.encoder = EpisodeVideoEncoder(
            key,
            cfg["fps"],
            cfg["encoding"],
            queue_size=slots + 8,  # never full: the parent has at most `slots` frames out
            fsync=cfg["fsync"],
            on_result=report,
        )

    def handle(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "frame":
            slot = msg[2]
            free = ("free", self.sid, slot)
            self.encoder.put(self.frames[slot], on_done=lambda: self._send(free))
        elif kind == "start":
            self.path = Path(msg[3])
            self.encoder.start_episode(self.path, seq=msg[2])
        elif kind == "finish":
            self.encoder.request_finish()
        elif kind == "abort":
            self.encoder.abort_episode()

    def close(self) -> None:
        self.encoder.close()
        del self.frames
        self._mm.close()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def lower_priority(pid: int = 0) -> None:
    """Run process ``pid`` (0: this one) at ``nice`` >= ENCODER_NICE under ``SCHED_BATCH``.

    Set on the main thread, before other threads exist, so that every thread inherits it.
    """
    try:
        nice = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PROCESS, pid, max(nice, ENCODER_NICE))
        if hasattr(os, "SCHED_BATCH"):
            os.sched_setscheduler(pid, os.SCHED_BATCH, os.sched_param(0))
    except OSError:
        pass  # not permitted here (or the process is gone): encode at normal priority


def serve(fd: int, parent_pid: int) -> None:
    """The encoder process's main loop: commands in from the parent, results out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_priority()  # the parent did, unless it could not
    sock = socket.socket(fileno=fd)
    conn = Connection(os.dup(fd))
    send_lock = threading.Lock()
    streams: dict[int, _ChildStream] = {}

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock:
            try:
                conn.send(msg)
            except OSError:
                pass  # the parent is gone: the main loop or the watchdog ends this process

    def orphaned() -> NoReturn:
        # The episodes in progress died with the parent: their partial files go, queued
        # frames are not encoded.
        for cs in list(streams.values()):
            for path in (cs.path, cs.encoder._path):
                if path is not None:
                    path.unlink(missing_ok=True)
        os._exit(0)

    def watch_parent() -> None:
        while True:
            time.sleep(_PARENT_CHECK_S)
            if os.getppid() != parent_pid:
                orphaned()

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()
    send(("ready",))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            orphaned()
        if os.getppid() != parent_pid:
            orphaned()
        kind = msg[0]
        if kind == "stream":
            streams[msg[1]] = _ChildStream(sock, msg, send)
        elif kind == "close":
            cs = streams.pop(msg[1], None)
            if cs is not None:
                cs.close()
            send(("closed", msg[1]))
        elif kind == "stop":
            for cs in streams.values():
                cs.close()
            return
        else:
            streams[msg[1]].handle(msg)
