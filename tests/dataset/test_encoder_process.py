"""The encoder process: frames reach it bit-exactly through shared memory, its death is a typed
error (never a hang, never a corrupt episode), and it never outlives its recording process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from lerobot_gym.dataset import DatasetMeta, LeRobotDatasetWriter, encoder_process, validate
from lerobot_gym.dataset.encoder_process import ProcessVideoEncoder, encoder_host
from lerobot_gym.dataset.video import EpisodeVideoEncoder, VideoEncoding
from lerobot_gym.errors import EncoderCrashedError

CHILD = Path(__file__).resolve().parent / "encoder_orphan_child.py"
WAIT_S = 60.0  # bound on a process dying or an error surfacing (a hang, not a latency check)
H, W = 48, 64
FEATURES = {
    "observation.state": {"dtype": "float32", "shape": [2], "names": None},
    "observation.images.a": {
        "dtype": "video",
        "shape": [H, W, 3],
        "names": ["height", "width", "channels"],
    },
}


def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _noise(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(n)]


def _record(w: LeRobotDatasetWriter, images: list[np.ndarray]) -> None:
    for img in images:
        w.add_frame(
            {"observation.state": np.zeros(2, np.float32), "observation.images.a": img}, task="t"
        )


def _kill_encoder() -> None:
    proc = encoder_host()._proc
    assert proc is not None and proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=WAIT_S)


@pytest.mark.parametrize("vcodec", ["h264", "libsvtav1"])
def test_frames_round_trip_bit_exactly_through_a_small_ring(tmp_path: Path, vcodec: str) -> None:
    # Two slots for 40 distinct noise frames: every slot is reused many times while the
    # encoder lags, so a slot overwritten before the encoder read it would change the video.
    encoding = VideoEncoding(vcodec=vcodec)
    frames = _noise(40)
    remote = ProcessVideoEncoder("cam", 30, encoding, shape=(H, W, 3), queue_size=2, fsync=False)
    local = EpisodeVideoEncoder("cam", 30, encoding, fsync=False)
    try:
        remote.start_episode(tmp_path / "remote.mp4")
        local.start_episode(tmp_path / "local.mp4")
        for img in frames:
            remote.put(img)
            local.put(img.copy())
        got = remote.finish_episode(timeout_s=WAIT_S)
        want = local.finish_episode(timeout_s=WAIT_S)
    finally:
        remote.close()
        local.close()
    assert got.path == tmp_path / "remote.mp4" and got.num_frames == want.num_frames == 40
    remote_frames, local_frames = _decode(got.path), _decode(want.path)
    assert remote_frames.shape == (40, H, W, 3)
    np.testing.assert_array_equal(remote_frames, local_frames)
    for name, value in want.stats.items():
        np.testing.assert_array_equal(got.stats[name], value, err_msg=name)


def test_killed_encoder_is_a_typed_error_and_the_next_episode_records(tmp_path: Path) -> None:
    with LeRobotDatasetWriter.create(
        tmp_path / "ds", repo_id="t/x", fps=10, features=FEATURES, vcodec="h264", fsync=False
    ) as w:
        _record(w, _noise(6, seed=1))
        assert w.save_episode() == 0
        _record(w, _noise(5, seed=2))
        _kill_encoder()
        with pytest.raises(EncoderCrashedError, match=r"killed by signal 9.*clear_episode"):
            _record(w, _noise(1))
        with pytest.raises(EncoderCrashedError, match="discarded"):
            w.save_episode()  # discards the episode: its video is lost
        assert w.episode_buffer_size == 0
        assert not list((tmp_path / "ds" / ".staging").rglob("*.mp4"))
        assert validate(w.root) == []  # nothing of the lost episode was committed
        assert DatasetMeta.load(w.root).num_episodes == 1
        third = _noise(7, seed=3)
        _record(w, third)  # a new encoder process
        assert w.save_episode() == 1
    meta = DatasetMeta.load(w.root)
    assert (meta.num_episodes, meta.num_frames) == (2, 13)
    assert validate(w.root) == []
    assert _decode(meta.video_path(1, "observation.images.a")).shape == (7, H, W, 3)


def test_an_encoder_dying_between_episodes_costs_nothing(tmp_path: Path) -> None:
    with LeRobotDatasetWriter.create(
        tmp_path / "ds", repo_id="t/x", fps=10, features=FEATURES, vcodec="h264", fsync=False
    ) as w:
        _record(w, _noise(4, seed=1))
        assert w.save_episode() == 0
        first = encoder_host().pid
        _kill_encoder()  # no episode in progress: nothing is lost
        _record(w, _noise(3, seed=2))
        assert w.save_episode() == 1
        assert encoder_host().pid != first
    assert validate(w.root) == []
    assert DatasetMeta.load(w.root).num_frames == 7


def test_an_encoder_that_fails_to_start_is_a_typed_error(tmp_path: Path, monkeypatch) -> None:
    if encoder_host().alive():
        _kill_encoder()  # the next writer starts a new process: make that one fail
    monkeypatch.setattr(encoder_process, "_CHILD_MAIN", "import sys; sys.exit(3)")
    with LeRobotDatasetWriter.create(
        tmp_path / "ds", repo_id="t/x", fps=10, features=FEATURES, vcodec="h264", fsync=False
    ) as w:
        _record(w, _noise(1))  # the episode starts in a process that will not start
        proc = encoder_host()._proc
        assert proc is not None
        proc.wait(timeout=WAIT_S)
        with pytest.raises(EncoderCrashedError, match="exited with code 3 while starting"):
            _record(w, _noise(1))
        monkeypatch.undo()
        w.clear_episode()  # starts a working process
        _record(w, _noise(3))
        assert w.save_episode() == 0


def test_save_right_after_the_encoder_dies_raises_instead_of_hanging(tmp_path: Path) -> None:
    with LeRobotDatasetWriter.create(
        tmp_path / "ds", repo_id="t/x", fps=10, features=FEATURES, vcodec="h264", fsync=False
    ) as w:
        _record(w, _noise(5))
        pid = encoder_host().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # no wait: save_episode must notice by itself
        with pytest.raises(EncoderCrashedError):
            w.save_episode()
        assert DatasetMeta.load(w.root).num_episodes == 0


def test_a_put_waiting_for_a_stopped_encoder_fails_when_it_dies(tmp_path: Path) -> None:
    enc = ProcessVideoEncoder(
        "cam", 30, VideoEncoding(vcodec="h264"), shape=(H, W, 3), queue_size=1, fsync=False
    )
    try:
        enc.start_episode(tmp_path / "x.mp4")
        pid = enc.process_pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # the ring (one slot) fills: put must wait, not drop
        outcome: list[BaseException | None] = []

        def put_three() -> None:
            try:
                for img in _noise(3):
                    enc.put(img)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        putter = threading.Thread(target=put_three, daemon=True)
        putter.start()
        putter.join(0.5)
        assert putter.is_alive() and not outcome  # blocked on the full ring
        os.kill(pid, signal.SIGKILL)
        putter.join(WAIT_S)
        assert not putter.is_alive()
        assert isinstance(outcome[0], EncoderCrashedError)
    finally:
        enc.abort_episode()
        enc.close()


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status  # dead, waiting for whoever adopted it to reap it


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_sigkill_of_the_recording_process_leaves_no_encoder(tmp_path: Path) -> None:
    pid_file = tmp_path / "encoder.pid"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(tmp_path / "ds"), str(pid_file)],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while not pid_file.exists() or not pid_file.read_text().endswith("\n"):
            assert child.poll() is None, child.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the recording child never started encoding"
            time.sleep(0.01)
        encoder_pid = int(pid_file.read_text())
        assert not _gone(encoder_pid)
        child.send_signal(signal.SIGKILL)
        child.wait(WAIT_S)
        deadline = time.monotonic() + WAIT_S
        while not _gone(encoder_pid):
            assert time.monotonic() < deadline, f"encoder {encoder_pid} outlived its parent"
            time.sleep(0.05)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # It deleted the MP4 of the episode in progress on its way out.
    assert not list((tmp_path / "ds" / ".staging").rglob("*.mp4"))
