"""Video encoding in a separate process, fed through shared memory.

:class:`ProcessVideoEncoder` is what :class:`~lerobot_gym.dataset.LeRobotDatasetWriter` uses
for each camera: the same interface as the in-process
:class:`~lerobot_gym.dataset.video.EpisodeVideoEncoder`, but the encoding (colour conversion,
AV1/H.264, pixel statistics, muxing, fsync) runs in a child process, so that the control loop
shares neither its GIL nor its scheduling priority with the encoders.

Design decisions:

* **One encoder process per recording process**, started by the first writer with a video
  feature and shared by every later writer of that process: a fresh interpreter importing
  PyAV costs about a second, paid once rather than per writer (or per test). Inside it, one
  ``EpisodeVideoEncoder`` thread per camera, as before. It stops at interpreter exit.
* **Started like multiprocessing's "spawn", without its ``__main__`` re-import.** The
  process is a fresh interpreter (running :func:`lerobot_gym.dataset._encoder_child.serve`) started
  with :mod:`subprocess`: nothing of the parent (MuJoCo, GL contexts, threads, locks) is
  forked into it, and unlike ``multiprocessing``'s spawn it does not import the user's script
  again, which would re-run a recording script that lacks an ``if __name__ == "__main__"``
  guard.
* **Frames through shared memory.** Each camera has a ring of ``queue_size`` frame slots in
  an anonymous shared-memory file (``memfd_create``; an unlinked temporary file where that
  does not exist) handed to the process over a Unix socket (``SCM_RIGHTS``), so nothing is
  left in ``/dev/shm`` whatever kills the processes. ``put`` copies the frame into a free
  slot (the only copy the recording process makes) and sends ``(stream, slot)`` over the
  socket; the process gives the slot back once its encoder has read the frame. Free slots are
  reused most recently freed first, so an encoder that keeps up touches a few slots (a few MB)
  rather than the whole ring. With no slot free, ``put`` waits, never drops a frame.
* **Lower priority.** The process runs at ``nice`` +10 under ``SCHED_BATCH`` (threads inherit
  both), from its start-up on: on a busy machine the control loop, which sleeps most of its
  period, gets the CPU as soon as it wakes, and the encoders use what it leaves. Nothing
  waits for the process to be ready; what the parent sends waits in the socket and the ring.
* **Dies with its parent.** The socket's other end is held by the parent only: end of file,
  or a changed ``getppid()`` (checked before each command and twice a second, for a parent
  that forked children which still hold the socket) means the parent died. The process then
  deletes the staging MP4s it was writing and exits at once, without encoding what was still
  queued. It writes nothing but its writers' staging files (a directory unique to each
  writer); committing stays the writer's job, so a kill of either process loses at most the
  episode in progress, and never leaves a committed file half-written.
* **A crash is a typed error, not a hang.** ``put`` (also while it waits for a slot) and
  ``finish_episode`` check that the process lives and raise
  :class:`~lerobot_gym.errors.EncoderCrashedError` if it died during the episode.
  ``abort_episode`` (the writer's ``clear_episode``) then deletes what the process left, and
  the next episode starts a new process, to which every open stream is handed again.
* The process ignores SIGINT: Ctrl-C at a terminal reaches the whole process group, and the
  recorder, not its encoder, decides what becomes of the episode.
"""

from __future__ import annotations

import atexit
import math
import mmap
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

import lerobot_gym
from lerobot_gym.dataset._encoder_child import lower_priority
from lerobot_gym.dataset.video import EncodedEpisode, VideoEncoding
from lerobot_gym.errors import DatasetError, EncoderCrashedError

_CLOSE_TIMEOUT_S = 60.0
_POLL_S = 0.1  # longest wait on the socket before checking that the process lives
# Not ``-m`` a module: the package imports the dataset modules first, and runpy would run a
# second copy.
_CHILD_MAIN = (
    "import sys; from lerobot_gym.dataset._encoder_child import serve; "
    "serve(int(sys.argv[1]), int(sys.argv[2]))"
)


class _RemoteError(Exception):
    """An encoder's failure inside the encoder process (type and message, as text)."""


class _Stream:
    """One camera of one writer: its frame ring and what the process reported for it."""

    def __init__(
        self, sid: int, key: str, shape: tuple[int, int, int], slots: int, config: dict[str, Any]
    ) -> None:
        self.sid, self.key, self.shape, self.slots = sid, key, shape, slots
        self.config = config  # fps, encoding, fsync: what the process needs to encode it
        nbytes = slots * math.prod(shape)
        self.fd = _shared_memory_fd(nbytes)
        self._mm = mmap.mmap(self.fd, nbytes)
        self.frames: np.ndarray = np.ndarray((slots, *shape), np.uint8, buffer=self._mm)
        self.free: list[int] = []
        self.results: list[tuple[int, Any]] = []
        self.closed_ack = False
        self.reset()

    def reset(self) -> None:
        """All slots free (pop() takes slot 0 first), no results: a new process."""
        self.free = list(range(self.slots - 1, -1, -1))
        self.results.clear()

    def release(self) -> None:
        del self.frames
        self._mm.close()
        os.close(self.fd)


def _shared_memory_fd(nbytes: int) -> int:
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("lerobot_gym-frames", os.MFD_CLOEXEC)
    else:  # macOS: an unlinked file serves the same purpose
        with tempfile.TemporaryFile() as fh:
            fd = os.dup(fh.fileno())
    os.ftruncate(fd, nbytes)
    return fd


class _EncoderHost:
    """The parent's side of the encoder process: start, restart, messages, streams."""

    def __init__(self) -> None:
        self.owner_pid = os.getpid()
        self.generation = 0  # counts processes started; an episode belongs to one
        self._lock = threading.RLock()
        self._streams: dict[int, _Stream] = {}
        self._next_sid = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._conn: Connection | None = None
        self._broken = False  # the socket failed: the process is dead or dying
        self._ready = False
        self._poller: Any = None

    # -- process lifetime ------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The encoder process's pid (None before it started)."""
        return None if self._proc is None else self._proc.pid

    def alive(self) -> bool:
        return self._proc is not None and not self._broken and self._proc.poll() is None

    def ensure_running(self) -> bool:
        """Start the process, or a new one if the last died; hand it every open stream.

        Returns:
            Whether a process was started.
        """
        with self._lock:
            if self.alive():
                return False
            self._disconnect()
            self._start()
            for st in self._streams.values():
                st.reset()
                self._send_stream(st)
            return True

    def _how_it_ended(self) -> str:
        code = None if self._proc is None else self._proc.poll()
        if code is None:
            return "lost its connection"
        return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"

    def crashed_error(self) -> EncoderCrashedError:
        self.pump(0.0)  # a dead process's last messages are still readable: was it ready?
        if not self._ready:
            return EncoderCrashedError(
                f"the video encoder process (pid {self.pid}) {self._how_it_ended()} while "
                "starting, so the episode in progress has no video; its error is printed above. "
                f"Check that PyAV imports: {sys.executable} -c 'import av'"
            )
        return EncoderCrashedError(
            f"the video encoder process (pid {self.pid}) {self._how_it_ended()} during the "
            "episode, whose video is lost: discard the episode with clear_episode() and record "
            "it again, the next episode starts a new encoder process (`lerobot-gym record` "
            "keeps the saved episodes: continue with --resume=true)"
        )

    def _start(self) -> None:
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(os.environ)
        # The child imports this package from where the parent found it.
        pkg_root = str(Path(lerobot_gym.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH", "")) if p)
        cmd = [sys.executable, "-c", _CHILD_MAIN, str(child_sock.fileno()), str(os.getpid())]
        try:
            self._proc = subprocess.Popen(
                cmd, pass_fds=[child_sock.fileno()], stdin=subprocess.DEVNULL, env=env
            )
        finally:
            child_sock.close()
        self._sock = parent_sock
        self._conn = Connection(os.dup(parent_sock.fileno()))
        # One poll object for the process's life: Connection.poll builds a selector per call,
        # ~0.1 ms that add_frame would pay per camera.
        self._poller = select.poll()
        self._poller.register(self._conn.fileno(), select.POLLIN)
        self._broken = self._ready = False
        self.generation += 1
        # Its start-up (a second or two of imports) runs at the encoders' priority too; and
        # nobody waits for it: commands and frames wait in the socket and the ring meanwhile.
        lower_priority(self._proc.pid)

    def _disconnect(self) -> None:
        for closable in (self._conn, self._sock):
            if closable is not None:
                try:
                    closable.close()
                except OSError:
                    pass
        self._conn = self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=_CLOSE_TIMEOUT_S)
            except subprocess.TimeoutExpired:  # stuck: it must not outlive its parent's wish
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def stop(self) -> None:
        """Stop the process (unsaved episodes are discarded) and free every stream."""
        with self._lock:
            if self.alive():
                try:
                    self.send(("stop",))
                except EncoderCrashedError:
                    pass
            self._disconnect()
            for st in self._streams.values():
                st.release()
            self._streams.clear()

    def abandon(self) -> None:
        """In a forked child: close the inherited socket so the process sees its parent go."""
        for closable in (self._conn, self._sock):
            if closable is not None:
                try:
                    closable.close()
                except OSError:
                    pass

    # -- streams ---------------------------------------------------------------------------

    def open_stream(self, key: str, shape: tuple[int, int, int], slots: int, **cfg: Any) -> _Stream:
        with self._lock:
            st = _Stream(self._next_sid, key, shape, slots, dict(cfg))
            self._next_sid += 1
            self._streams[st.sid] = st
            try:
                if not self.ensure_running():  # a new process was handed every stream
                    self._send_stream(st)
            except BaseException:
                del self._streams[st.sid]
                st.release()
                raise
            return st

    def _send_stream(self, st: _Stream) -> None:
        with self._lock:
            self.send(("stream", st.sid, st.key, st.shape, st.slots, st.config))
            assert self._sock is not None
            try:
                socket.send_fds(self._sock, [b"F"], [st.fd])
            except OSError as exc:
                self._broken = True
                raise self.crashed_error() from exc

    def close_stream(self, st: _Stream) -> None:
        """Close one stream: the process discards its unfinished episode first."""
        with self._lock:
            if st.sid not in self._streams:
                return
            try:
                if self.alive():
                    st.closed_ack = False
                    self.send(("close", st.sid))
                    deadline = time.monotonic() + _CLOSE_TIMEOUT_S
                    while not st.closed_ack and self.alive() and time.monotonic() < deadline:
                        self.pump(_POLL_S)
            except EncoderCrashedError:
                pass
            finally:
                del self._streams[st.sid]
                st.release()

    # -- messages --------------------------------------------------------------------------

    def send(self, msg: tuple[Any, ...]) -> None:
        with self._lock:
            if self._conn is None or self._broken:
                raise self.crashed_error()
            try:
                self._conn.send(msg)
            except OSError as exc:  # BrokenPipe, ConnectionReset: the process died
                self._broken = True
                raise self.crashed_error() from exc

    def pump(self, timeout_s: float) -> None:
        """Take in what the process reported, waiting up to ``timeout_s`` for a first message."""
        with self._lock:
            conn = self._conn
            if conn is None:
                return
            try:
                ready = self._poller.poll(max(0, round(timeout_s * 1000)))
                while ready:
                    self._dispatch(conn.recv())
                    ready = self._poller.poll(0)
            except (EOFError, OSError):
                self._broken = True

    def _dispatch(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "ready":
            self._ready = True
            return
        st = self._streams.get(msg[1])
        if st is None:
            return  # a stream closed meanwhile
        if kind == "free":
            st.free.append(msg[2])
        elif kind == "result":
            st.results.append((msg[2], msg[3]))
        elif kind == "closed":
            st.closed_ack = True

    def take_slot(self, st: _Stream, generation: int) -> int:
        """A free slot of ``st``; waits while the encoder is behind, never drops a frame."""
        with self._lock:
            self.pump(0.0)
            while not st.free:
                if not self.alive() or self.generation != generation:
                    raise self.crashed_error()
                self.pump(_POLL_S)
            return st.free.pop()


_HOST: _EncoderHost | None = None
_HOST_LOCK = threading.Lock()


def encoder_host() -> _EncoderHost:
    """This process's encoder host (one per process; a forked child gets its own)."""
    global _HOST
    with _HOST_LOCK:
        if _HOST is None or _HOST.owner_pid != os.getpid():
            _HOST = _EncoderHost()
        return _HOST


def _stop_host() -> None:
    if _HOST is not None and _HOST.owner_pid == os.getpid():
        _HOST.stop()


def _forget_host_in_child() -> None:
    global _HOST
    if _HOST is not None:
        _HOST.abandon()
    _HOST = None


atexit.register(_stop_host)
os.register_at_fork(after_in_child=_forget_host_in_child)


class ProcessVideoEncoder:
    """One camera's encoder, running in the encoder process; ``EpisodeVideoEncoder``'s API.

    Args:
        key: feature key, for messages.
        fps: frames per second.
        encoding: codec settings.
        shape: ``(height, width, 3)`` of every frame.
        queue_size: frames that may wait for the encoder (ring slots) before ``put`` blocks.
        fsync: fsync each finished file before reporting it.
    """

    def __init__(
        self,
        key: str,
        fps: int,
        encoding: VideoEncoding,
        *,
        shape: tuple[int, int, int],
        queue_size: int = 64,
        fsync: bool = True,
    ) -> None:
        self.key = key
        self._host = encoder_host()
        self._stream = self._host.open_stream(
            key,
            (int(shape[0]), int(shape[1]), int(shape[2])),
            max(1, queue_size),
            fps=int(fps),
            encoding=encoding,
            fsync=fsync,
        )
        self._seq = 0
        self._generation = -1  # of the process the episode in progress runs in
        self._path: Path | None = None
        self._finishing = False
        self._closed = False

    @property
    def process_pid(self) -> int | None:
        """Pid of the encoder process (shared by every camera of this process)."""
        return self._host.pid

    def start_episode(self, path: Path) -> None:
        """Direct the next frames to a new MP4 at ``path`` (starts a new process if needed)."""
        self._host.ensure_running()
        self._seq += 1
        self._generation = self._host.generation
        self._path = Path(path)
        self._finishing = False
        self._stream.results.clear()
        self._host.send(("start", self._stream.sid, self._seq, str(self._path.absolute())))

    def put(self, frame_hwc: np.ndarray) -> None:
        """Copy one frame into shared memory and queue it; blocks while the ring is full.

        Raises:
            EncoderCrashedError: the encoder process died during this episode.
        """
        self._check_process()
        slot = self._host.take_slot(self._stream, self._generation)
        self._stream.frames[slot] = frame_hwc
        self._host.send(("frame", self._stream.sid, slot))

    def request_finish(self) -> None:
        """Ask the encoder to flush and close the episode's file (returns at once)."""
        self._finishing = True
        if self._generation == self._host.generation:
            try:
                self._host.send(("finish", self._stream.sid))
            except EncoderCrashedError:
                pass  # finish_episode says so

    def finish_episode(self, timeout_s: float | None = None) -> EncodedEpisode:
        """Wait for the episode's file to be complete on disk and return what was written.

        Raises:
            EncoderCrashedError: the encoder process died during this episode.
            DatasetError: encoding failed, or did not finish within ``timeout_s`` (then call
                this again to keep waiting).
        """
        if not self._finishing:
            self.request_finish()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        results = self._stream.results
        while True:
            self._host.pump(0.0)
            mine = [payload for seq, payload in results if seq == self._seq]
            results[:] = [r for r in results if r[0] > self._seq]
            if mine:
                break
            if self._generation != self._host.generation or not self._host.alive():
                self._finishing = False
                raise self._host.crashed_error()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise DatasetError(
                    f"the video encoder of {self.key!r} did not finish the episode within "
                    f"{timeout_s} s (the CPU may be overloaded, e.g. by a slow codec at a "
                    "high resolution); wait longer by calling finish_episode() again, or "
                    "record with vcodec='h264' or smaller frames"
                )
            self._host.pump(_POLL_S if remaining is None else min(_POLL_S, remaining))
        self._finishing = False
        payload = mine[0]
        if isinstance(payload, str):
            raise DatasetError(
                f"video encoding of {self.key!r} failed: {payload}; discard the episode with "
                "clear_episode() and record it again"
            ) from _RemoteError(payload)
        assert self._path is not None and isinstance(payload, EncodedEpisode)
        return EncodedEpisode(self._path, payload.num_frames, payload.stats)

    def abort_episode(self) -> None:
        """Stop the episode in progress and delete its partial file."""
        self._finishing = False
        self._stream.results.clear()
        if self._generation == self._host.generation and self._host.alive():
            try:
                self._host.send(("abort", self._stream.sid))
                return
            except EncoderCrashedError:
                pass
        if self._path is not None:  # what a dead encoder process left
            self._path.unlink(missing_ok=True)
        try:  # start the next process now, between episodes, not in the next one's first frame
            self._host.ensure_running()
        except EncoderCrashedError:
            pass  # start_episode tries again and raises

    def close(self) -> None:
        """Close the stream (an unfinished episode is discarded); the process stays for others."""
        if not self._closed:
            self._closed = True
            self._host.close_stream(self._stream)

    def _check_process(self) -> None:
        if self._generation != self._host.generation or not self._host.alive():
            raise self._host.crashed_error()
