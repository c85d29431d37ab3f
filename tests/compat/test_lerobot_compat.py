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

LeRobot cannot decode video with torchvision 0.28 on CPU, so ``lerobot_side.py`` swaps in a PyAV
frame decoder that keeps LeRobot's timestamp rule; everything else on that side is LeRobot's own.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import compat_synthetic as synth
import numpy as np
import pytest

COMPAT_DIR = Path(__file__).resolve().parent
REPO_ROOT = COMPAT_DIR.parents[1]
LEROBOT_SIDE = COMPAT_DIR / "lerobot_side.py"
COMPAT_PYTHON = os.environ.get("LEROBOT_COMPAT_PYTHON", "")

pytestmark = [
    pytest.mark.compat,
    pytest.mark.skipif(
        not COMPAT_PYTHON,
        reason="LEROBOT_COMPAT_PYTHON is not set; run `make test-compat` to build LeRobot's venv",
    ),
]

# Codec error budget, in uint8 levels. Measured with libsvtav1 crf 30 on these frames: mean
# absolute error per frame 2.3 on average, 2.8 at worst; a neighbouring frame is about 18 away.
MAX_FRAME_MAE = 6.0
# Two readers decoding the same file with the same library must agree to a rounding step.
MAX_DECODER_DIFF = 1


def _compat_python() -> Path:
    path = Path(COMPAT_PYTHON)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        pytest.fail(
            f"LEROBOT_COMPAT_PYTHON={COMPAT_PYTHON!r} does not exist; run `make test-compat`"
        )
    return path


def run_lerobot(*args: str | Path, home: Path) -> None:
    """Run ``lerobot_side.py`` in the compat venv; fail the test with its stderr on error."""
    env = dict(os.environ, HF_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONHASHSEED="0")
    proc = subprocess.run(
        [str(_compat_python()), str(LEROBOT_SIDE), *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"lerobot_side.py {' '.join(map(str, args))} exited with {proc.returncode}:\n"
            f"{proc.stderr[-4000:]}"
        )


def lerobot_read(root: Path, tmp: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """LeRobot's view of the dataset at ``root``: (metadata, column arrays)."""
    out = tmp / "lerobot_read.npz"
    run_lerobot("read", root, out, home=tmp / "hf_home")
    return load_dump(out)


def load_dump(out: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Load what ``lerobot_side.py read`` wrote: (metadata, column arrays)."""
    meta = json.loads(out.with_suffix(".json").read_text())
    with np.load(out) as npz:
        columns = {key: npz[key] for key in npz.files}
    return meta, columns


def our_read(root: Path, **kwargs) -> tuple[object, dict[str, np.ndarray], list[str]]:
    """Our reader's view of ``root``: (meta, column arrays with video as uint8 CHW, tasks).

    ``kwargs`` go to our ``LeRobotDataset`` (``episodes``, ``delta_timestamps``).
    """
    from lerobot_gym.dataset import LeRobotDataset

    dataset = LeRobotDataset(root, **kwargs)
    columns: dict[str, list[np.ndarray]] = {}
    tasks = []
    try:
        for i in range(len(dataset)):
            item = dataset[i]
            tasks.append(item.pop("task"))
            for key, value in item.items():
                array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
                if key in dataset.meta.video_keys:
                    assert array.dtype == np.float32 and array.min() >= 0 and array.max() <= 1
                    array = np.rint(array * 255).astype(np.uint8)
                columns.setdefault(key, []).append(array)
    finally:
        dataset.close()
    return dataset.meta, {k: np.stack(v) for k, v in columns.items()}, tasks


def expected_bookkeeping() -> dict[str, np.ndarray]:
    """The columns both writers must add, for the synthetic episodes."""
    lengths = synth.EPISODE_LENGTHS
    frame_index = np.concatenate([np.arange(n) for n in lengths])
    return {
        "frame_index": frame_index,
        "episode_index": np.repeat(np.arange(len(lengths)), lengths),
        "index": np.arange(sum(lengths)),
        "timestamp": (frame_index / synth.FPS).astype(np.float32),
        "task_index": np.repeat(
            [list(dict.fromkeys(synth.TASKS)).index(t) for t in synth.TASKS], lengths
        ),
    }


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


def frame_tasks() -> list[str]:
    return [task for task, n in zip(synth.TASKS, synth.EPISODE_LENGTHS) for _ in range(n)]


def assert_values_match_synthetic(columns: dict[str, np.ndarray], who: str) -> None:
    written = synth.all_frames()
    n = sum(synth.EPISODE_LENGTHS)
    for key in synth.NON_VIDEO_KEYS:
        got = columns[key].reshape(n, -1)
        want = written[key].reshape(n, -1)
        assert got.dtype == want.dtype, f"{who}: {key} dtype {got.dtype} != {want.dtype}"
        np.testing.assert_array_equal(got, want, err_msg=f"{who}: {key}")
    for key, want in expected_bookkeeping().items():
        got = columns[key].reshape(n)
        np.testing.assert_array_equal(got, want.astype(got.dtype), err_msg=f"{who}: {key}")


def assert_frames_close_to_synthetic(frames_chw: np.ndarray, who: str) -> None:
    """Each decoded frame is within the codec budget of its own written frame, and nearer to
    it than to its neighbours in the same episode (catches off-by-one timestamp lookups)."""
    written = synth.all_frames()[synth.CAMERA_KEY].astype(np.float64)  # (N, H, W, 3)
    decoded = frames_chw.transpose(0, 2, 3, 1).astype(np.float64)
    assert decoded.shape == written.shape, f"{who}: {decoded.shape} != {written.shape}"
    mae = np.abs(decoded - written).mean(axis=(1, 2, 3))
    assert mae.max() <= MAX_FRAME_MAE, f"{who}: per-frame MAE {np.round(mae, 2)}"
    start = 0
    for length in synth.EPISODE_LENGTHS:
        for i in range(start, start + length):
            for j in (i - 1, i + 1):
                if start <= j < start + length:
                    other = np.abs(decoded[i] - written[j]).mean()
                    assert mae[i] < other, f"{who}: frame {i} looks like frame {j}"
        start += length


def assert_user_features_match(features: dict, who: str) -> None:
    for key, spec in synth.FEATURES.items():
        got = features[key]
        assert got["dtype"] == spec["dtype"], f"{who}: {key}"
        assert list(got["shape"]) == list(spec["shape"]), f"{who}: {key}"
        assert got["names"] == spec["names"], f"{who}: {key}"
    for key, dtype in [("timestamp", "float32")] + [
        (k, "int64") for k in ("frame_index", "episode_index", "index", "task_index")
    ]:
        assert features[key]["dtype"] == dtype and list(features[key]["shape"]) == [1], who


# -- (a) our writer, LeRobot's reader ----------------------------------------------------------


# LeRobot's default codec, and the fallback our writer offers where libsvtav1 is missing (H.264
# brings B-frames, whose reordered pts a writer must still map to the right timestamps).
@pytest.fixture(scope="module", params=["libsvtav1", "h264"])
def ours_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lerobot_gym.dataset import LeRobotDatasetWriter

    root = tmp_path_factory.mktemp(f"ours_{request.param}") / "dataset"
    writer = LeRobotDatasetWriter.create(
        root,
        repo_id=synth.REPO_ID,
        fps=synth.FPS,
        features=synth.FEATURES,
        robot_type=synth.ROBOT_TYPE,
        use_videos=True,
        vcodec=request.param,
        fsync=False,
    )
    try:
        for episode_index, task in enumerate(synth.TASKS):
            frames = synth.episode(episode_index)
            for i in range(synth.EPISODE_LENGTHS[episode_index]):
                writer.add_frame({key: frames[key][i] for key in synth.FEATURES}, task=task)
            assert writer.save_episode() == episode_index
    finally:
        writer.close()
    return root


@pytest.fixture(scope="module")
def lerobot_view_of_ours(ours_root: Path, tmp_path_factory: pytest.TempPathFactory):
    return lerobot_read(ours_root, tmp_path_factory.mktemp("lerobot_reads_ours"))


@pytest.fixture(scope="module")
def our_view_of_ours(ours_root: Path):
    return our_read(ours_root)


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
    bounds = np.cumsum((0, *lengths))
    for ep, row in enumerate(meta["episodes"]):
        assert row["episode_index"] == ep
        assert row["length"] == lengths[ep]
        assert (row["dataset_from_index"], row["dataset_to_index"]) == (bounds[ep], bounds[ep + 1])
        assert row["tasks"] == [synth.TASKS[ep]]
    # LeRobot normalises with stats.json: it must hold every numeric and video feature.
    assert set(meta["stats_keys"]) >= set(synth.FEATURES) | {"timestamp", "index"}


def test_lerobot_reads_our_values(lerobot_view_of_ours) -> None:
    _, columns = lerobot_view_of_ours
    assert_values_match_synthetic(columns, "LeRobot reading ours")


def test_lerobot_decodes_our_video_like_our_reader(lerobot_view_of_ours, our_view_of_ours) -> None:
    _, theirs = lerobot_view_of_ours
    _, ours, _ = our_view_of_ours
    a = theirs[synth.CAMERA_KEY].astype(np.int16)
    b = ours[synth.CAMERA_KEY].astype(np.int16)
    assert a.shape == b.shape == (sum(synth.EPISODE_LENGTHS), 3, synth.HEIGHT, synth.WIDTH)
    assert np.abs(a - b).max() <= MAX_DECODER_DIFF


def test_lerobot_video_frames_match_what_we_wrote(lerobot_view_of_ours) -> None:
    _, columns = lerobot_view_of_ours
    assert_frames_close_to_synthetic(columns[synth.CAMERA_KEY], "LeRobot reading ours")


# -- (b) LeRobot's writer, our reader ----------------------------------------------------------


@pytest.fixture(scope="module")
def lerobot_written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[dict, dict]]:
    """LeRobot writes the dataset, then reads it back with a fresh ``LeRobotDataset``."""
    tmp = tmp_path_factory.mktemp("lerobot_writes")
    root, out = tmp / "dataset", tmp / "lerobot_read.npz"
    run_lerobot("write", root, "--read-back", out, home=tmp / "hf_home")
    return root, load_dump(out)


@pytest.fixture(scope="module")
def lerobot_root(lerobot_written) -> Path:
    return lerobot_written[0]


@pytest.fixture(scope="module")
def lerobot_view_of_lerobot(lerobot_written):
    return lerobot_written[1]


@pytest.fixture(scope="module")
def our_view_of_lerobot(lerobot_root: Path):
    return our_read(lerobot_root)


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
    assert_values_match_synthetic(ours, "us reading LeRobot's")
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
    assert_frames_close_to_synthetic(ours[synth.CAMERA_KEY], "us reading LeRobot's")


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
