"""Interoperability with LeRobot's own dataset code (LeRobot 0.4.4, in ``tests/compat/.venv``).

Run by ``make test-compat``, which builds the compat venv and sets ``LEROBOT_COMPAT_PYTHON`` to
its interpreter. Without that variable (a plain ``pytest`` run) every test here is skipped; with
it set, a broken compat venv makes the tests fail, never skip.

Two directions, on the same deterministic episodes (``compat_synthetic``: float32 state and
action, ``next.reward``, ``next.done``, one 64x96 camera, three episodes, two tasks):

(a) our ``LeRobotDatasetWriter`` writes (libsvtav1, LeRobot's default, and H.264), LeRobot's
    ``LeRobotDataset`` reads: metadata and every frame's values must be what we wrote; video
    frames must equal our reader's decode of the same file and be close to what we wrote (the
    codec is lossy).
(b) LeRobot's writer writes, our ``LeRobotDataset`` reads: the same checks the other way round,
    including LeRobot's layout of all episodes concatenated in one MP4 (non-zero
    ``from_timestamp``), which our writer never produces.

In both directions a second read selects episodes 0 and 2 with ``delta_timestamps``; both readers
must return the same neighbouring frames and ``<key>_is_pad`` flags, and the values LeRobot's
clamping rule prescribes.

The datasets are session fixtures in ``conftest.py``; ``test_lerobot_stats.py``,
``test_lerobot_resume.py`` and ``test_lerobot_images.py`` check the same and further datasets.

LeRobot cannot decode video with torchvision 0.28 on CPU, so ``lerobot_side.py`` swaps in a PyAV
frame decoder that keeps LeRobot's timestamp rule; everything else on that side is LeRobot's own.
"""

from __future__ import annotations

from pathlib import Path

import compat_synthetic as synth
import numpy as np
import pytest
from compat_helpers import (
    COMPAT_MARKS,
    MAX_DECODER_DIFF,
    assert_episode_rows,
    assert_frames_close,
    assert_user_features_match,
    assert_values_match,
    expected_bookkeeping,
    frame_tasks,
    our_read,
)

pytestmark = COMPAT_MARKS


def expected_delta() -> dict[str, np.ndarray]:
    """What a ``SUBSET_EPISODES`` + ``DELTA_TIMESTAMPS`` read must return for numeric keys.

    LeRobot's rule: the frame at ``i + k`` clamped to the episode, with ``<key>_is_pad`` true
    where ``i + k`` falls outside it.
    """
    written = synth.all_frames()
    bounds = np.cumsum((0, *synth.EPISODE_LENGTHS))
    out: dict[str, list[np.ndarray]] = {}
    for ep in synth.SUBSET_EPISODES:
        lo, hi = bounds[ep], bounds[ep + 1]
        for i in range(lo, hi):
            for key, offsets in synth.DELTA_TIMESTAMPS.items():
                target = i + np.rint(np.asarray(offsets) * synth.FPS).astype(int)
                out.setdefault(f"{key}_is_pad", []).append((target < lo) | (target >= hi))
                if key != synth.CAMERA_KEY:
                    rows = written[key][np.clip(target, lo, hi - 1)]
                    # (1,)-shaped features come back as one scalar per offset.
                    shape = (len(offsets),) if synth.FEATURES[key]["shape"] == (1,) else rows.shape
                    out.setdefault(key, []).append(rows.reshape(shape))
            out.setdefault("index", []).append(np.asarray(i))
    return {key: np.stack(values) for key, values in out.items()}


def assert_delta_matches(columns: dict[str, np.ndarray], who: str, prefix: str = "") -> None:
    for key, want in expected_delta().items():
        got = columns[prefix + key]
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"{who}: {key}")


# -- (a) our writer, LeRobot's reader ----------------------------------------------------------


def test_lerobot_reads_our_metadata(lerobot_view_of_ours) -> None:
    meta, _ = lerobot_view_of_ours
    lengths = synth.EPISODE_LENGTHS
    assert meta["codebase_version"] == "v3.0"
    assert meta["fps"] == synth.FPS
    assert meta["robot_type"] == synth.ROBOT_TYPE
    assert meta["video_keys"] == [synth.CAMERA_KEY]
    assert_user_features_match(meta["features"], "LeRobot reading ours")
    video_info = meta["features"][synth.CAMERA_KEY]["info"]
    assert (video_info["video.height"], video_info["video.width"]) == (synth.HEIGHT, synth.WIDTH)
    assert video_info["video.fps"] == synth.FPS
    assert meta["total_episodes"] == meta["num_episodes"] == len(lengths)
    assert meta["total_frames"] == meta["num_frames"] == sum(lengths)
    assert meta["tasks"] == {"pick the cube": 0, "place the cube": 1}
    assert meta["total_tasks"] == 2
    assert meta["frame_tasks"] == frame_tasks()
    assert_episode_rows(meta["episodes"], "LeRobot reading ours", synth.BASIC)
    # LeRobot normalises with stats.json: it must hold every numeric and video feature.
    assert set(meta["stats_keys"]) >= set(synth.FEATURES) | {"timestamp", "index"}


def test_lerobot_reads_our_values(lerobot_view_of_ours) -> None:
    _, columns = lerobot_view_of_ours
    assert_values_match(columns, "LeRobot reading ours")


def test_lerobot_decodes_our_video_like_our_reader(lerobot_view_of_ours, our_view_of_ours) -> None:
    _, theirs = lerobot_view_of_ours
    _, ours, _ = our_view_of_ours
    a = theirs[synth.CAMERA_KEY].astype(np.int16)
    b = ours[synth.CAMERA_KEY].astype(np.int16)
    assert a.shape == b.shape == (sum(synth.EPISODE_LENGTHS), 3, synth.HEIGHT, synth.WIDTH)
    assert np.abs(a - b).max() <= MAX_DECODER_DIFF


def test_lerobot_video_frames_match_what_we_wrote(lerobot_view_of_ours) -> None:
    _, columns = lerobot_view_of_ours
    assert_frames_close(columns[synth.CAMERA_KEY], "LeRobot reading ours")


# -- (b) LeRobot's writer, our reader ----------------------------------------------------------


def test_we_read_lerobot_metadata(our_view_of_lerobot, lerobot_view_of_lerobot) -> None:
    meta, _, tasks = our_view_of_lerobot
    theirs, _ = lerobot_view_of_lerobot
    assert meta.fps == theirs["fps"] == synth.FPS
    assert meta.info["robot_type"] == synth.ROBOT_TYPE
    assert_user_features_match(meta.features, "us reading LeRobot's")
    assert meta.video_keys == theirs["video_keys"]
    assert meta.num_episodes == theirs["total_episodes"] == len(synth.EPISODE_LENGTHS)
    assert meta.num_frames == theirs["total_frames"] == sum(synth.EPISODE_LENGTHS)
    assert meta.tasks == sorted(theirs["tasks"], key=theirs["tasks"].get)
    assert tasks == theirs["frame_tasks"] == frame_tasks()
    assert len(meta.episodes) == len(theirs["episodes"])
    for ours_row, their_row in zip(meta.episodes, theirs["episodes"]):
        for key, value in their_row.items():
            if isinstance(value, float):
                assert ours_row[key] == pytest.approx(value, abs=1e-9), key
            else:
                assert ours_row[key] == value, key
    # LeRobot's layout: every episode in one MP4, so later episodes start mid-file.
    assert theirs["episodes"][1][f"videos/{synth.CAMERA_KEY}/from_timestamp"] > 0
    assert meta.stats is not None and set(meta.stats) >= set(synth.FEATURES)


def test_we_read_lerobot_values(our_view_of_lerobot, lerobot_view_of_lerobot) -> None:
    _, ours, _ = our_view_of_lerobot
    _, theirs = lerobot_view_of_lerobot
    assert_values_match(ours, "us reading LeRobot's")
    for key in (*synth.NON_VIDEO_KEYS, *expected_bookkeeping()):
        np.testing.assert_array_equal(ours[key].reshape(theirs[key].shape), theirs[key], key)
        assert ours[key].dtype == theirs[key].dtype, key


def test_we_decode_lerobot_video_like_lerobot(our_view_of_lerobot, lerobot_view_of_lerobot) -> None:
    _, ours, _ = our_view_of_lerobot
    _, theirs = lerobot_view_of_lerobot
    a = ours[synth.CAMERA_KEY].astype(np.int16)
    b = theirs[synth.CAMERA_KEY].astype(np.int16)
    assert a.shape == b.shape == (sum(synth.EPISODE_LENGTHS), 3, synth.HEIGHT, synth.WIDTH)
    assert np.abs(a - b).max() <= MAX_DECODER_DIFF
    assert_frames_close(ours[synth.CAMERA_KEY], "us reading LeRobot's")


# -- both directions: episode subsets and delta_timestamps -------------------------------------

DELTA_READ = {
    "episodes": list(synth.SUBSET_EPISODES),
    "delta_timestamps": synth.DELTA_TIMESTAMPS,
}


def _assert_delta_videos_agree(a: np.ndarray, b: np.ndarray) -> None:
    n = sum(synth.EPISODE_LENGTHS[e] for e in synth.SUBSET_EPISODES)
    steps = len(synth.DELTA_TIMESTAMPS[synth.CAMERA_KEY])
    assert a.shape == b.shape == (n, steps, 3, synth.HEIGHT, synth.WIDTH)
    assert np.abs(a.astype(np.int16) - b.astype(np.int16)).max() <= MAX_DECODER_DIFF


def test_lerobot_delta_read_of_ours(lerobot_view_of_ours, ours_root: Path) -> None:
    _, theirs = lerobot_view_of_ours
    assert_delta_matches(theirs, "LeRobot reading ours with deltas", prefix="delta/")
    _, ours, _ = our_read(ours_root, **DELTA_READ)
    assert_delta_matches(ours, "us reading ours with deltas")
    _assert_delta_videos_agree(ours[synth.CAMERA_KEY], theirs[f"delta/{synth.CAMERA_KEY}"])


def test_we_delta_read_lerobot(lerobot_view_of_lerobot, lerobot_root: Path) -> None:
    _, theirs = lerobot_view_of_lerobot
    assert_delta_matches(theirs, "LeRobot reading LeRobot's with deltas", prefix="delta/")
    _, ours, _ = our_read(lerobot_root, **DELTA_READ)
    assert_delta_matches(ours, "us reading LeRobot's with deltas")
    for key in theirs:
        if key.startswith("delta/"):
            mine = ours[key.removeprefix("delta/")]
            assert mine.size == theirs[key].size, key
    _assert_delta_videos_agree(ours[synth.CAMERA_KEY], theirs[f"delta/{synth.CAMERA_KEY}"])
