"""LeRobot v2.1 datasets written by LeRobot 0.3.3 itself: read by our reader, converted to v3.0
by `lerobot-gym dataset convert` without loss, and the result loaded by LeRobot 0.4.4.

LeRobot 0.3.3 runs in its own venv (``tests/compat/.venv-v21``, built by ``make test-compat``
and named by ``LEROBOT_V21_PYTHON``); LeRobot 0.4.4 in the compat venv, as for the other compat
tests. Without either variable these tests are skipped; with a variable naming a missing
interpreter they fail.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import compat_synthetic as synth
import numpy as np
import pytest
from compat_helpers import (
    COMPAT_DIR,
    COMPAT_MARKS,
    REPO_ROOT,
    assert_frames_close,
    assert_values_match,
    expected_bookkeeping,
    frame_tasks,
    lerobot_read,
    our_read,
)

V21_PYTHON = os.environ.get("LEROBOT_V21_PYTHON", "")
pytestmark = [
    *COMPAT_MARKS,
    pytest.mark.skipif(
        not V21_PYTHON,
        reason="LEROBOT_V21_PYTHON is not set; `make test-compat` builds LeRobot 0.3.3's venv",
    ),
]


def _run_v21(*args: str | Path, home: Path) -> None:
    python = Path(V21_PYTHON)
    python = python if python.is_absolute() else REPO_ROOT / python
    if not python.exists():
        pytest.fail(f"LEROBOT_V21_PYTHON={V21_PYTHON!r} does not exist; run `make test-compat`")
    env = dict(os.environ, HF_HOME=str(home), HF_HUB_OFFLINE="1", SVT_LOG="1")
    proc = subprocess.run(
        [str(python), str(COMPAT_DIR / "lerobot_v21_side.py"), *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"lerobot_v21_side.py exited with {proc.returncode}:\n{proc.stderr[-4000:]}")


def _decode(path: Path) -> list[tuple[float, np.ndarray]]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [
            (float(f.pts * stream.time_base), f.to_ndarray(format="rgb24"))
            for f in container.decode(stream)
        ]
    return sorted(frames, key=lambda x: x[0])


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def v21_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BASIC recorded by LeRobot 0.3.3's writer: the v2.1 layout, AV1 video per episode."""
    tmp = tmp_path_factory.mktemp("lerobot_v21")
    root = tmp / "dataset"
    _run_v21("write", root, home=tmp / "hf_home")
    return root


@pytest.fixture(scope="module")
def converted(v21_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lerobot_gym.dataset.convert import convert_v21

    before = _digest(v21_root)
    out = tmp_path_factory.mktemp("converted") / "v30"
    convert_v21(v21_root, out)
    assert _digest(v21_root) == before, "convert modified its input"
    return out


def test_lerobot_033_writes_the_v21_layout(v21_root: Path) -> None:
    import json

    info = json.loads((v21_root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v2.1"
    for name in ("episodes.jsonl", "tasks.jsonl", "episodes_stats.jsonl"):
        assert (v21_root / "meta" / name).is_file(), name
    for ep in range(len(synth.EPISODE_LENGTHS)):
        assert (v21_root / f"data/chunk-000/episode_{ep:06d}.parquet").is_file()
        video = f"videos/chunk-000/{synth.CAMERA_KEY}/episode_{ep:06d}.mp4"
        assert (v21_root / video).is_file()


def test_our_reader_reads_lerobot_v21(v21_root: Path) -> None:
    meta, columns, tasks = our_read(v21_root)
    assert meta.info["codebase_version"] == "v2.1"
    assert_values_match(columns, "ours on LeRobot 0.3.3's v2.1")
    assert tasks == frame_tasks()
    assert_frames_close(columns[synth.CAMERA_KEY], "ours on LeRobot 0.3.3's v2.1")


def test_conversion_keeps_every_value_and_video_frame(v21_root: Path, converted: Path) -> None:
    from lerobot_gym.dataset import DatasetMeta, validate
    from lerobot_gym.dataset.v21 import V21Meta

    assert validate(converted) == []
    _, src, src_tasks = our_read(v21_root)
    meta, out, out_tasks = our_read(converted)
    assert meta.info["codebase_version"] == "v3.0" and out_tasks == src_tasks
    assert src.keys() == out.keys()
    for key in src:
        assert src[key].dtype == out[key].dtype, key
        np.testing.assert_array_equal(out[key], src[key], err_msg=key)
    # Every decoded frame of the converted MP4, not only those the reader asks for.
    old, new = V21Meta.load(v21_root), DatasetMeta.load(converted)
    for ep, row in enumerate(new.episodes):
        source = _decode(old.video_path(ep, synth.CAMERA_KEY))
        lo = row[f"videos/{synth.CAMERA_KEY}/from_timestamp"]
        hi = row[f"videos/{synth.CAMERA_KEY}/to_timestamp"]
        mine = [f for t, f in _decode(new.video_path(ep, synth.CAMERA_KEY)) if lo - 1e-6 <= t < hi]
        assert len(mine) == len(source) == synth.EPISODE_LENGTHS[ep]
        for i, ((_, want), got) in enumerate(zip(source, mine)):
            np.testing.assert_array_equal(got, want, err_msg=f"episode {ep} frame {i}")


def test_lerobot_044_loads_the_converted_dataset(
    converted: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    info, columns = lerobot_read(converted, tmp_path_factory.mktemp("lerobot_reads_converted"))
    assert info["codebase_version"] == "v3.0"
    assert (info["total_episodes"], info["total_frames"]) == (3, sum(synth.EPISODE_LENGTHS))
    assert info["frame_tasks"] == frame_tasks()
    assert_values_match(columns, "LeRobot 0.4.4 on the converted dataset")
    for key, want in expected_bookkeeping().items():
        np.testing.assert_array_equal(columns[key].reshape(-1), want.astype(columns[key].dtype))
    # LeRobot's frames are exactly ours (same decoder, same timestamps).
    _, ours, _ = our_read(converted)
    np.testing.assert_array_equal(columns[synth.CAMERA_KEY], ours[synth.CAMERA_KEY])


def test_png_images_and_rl_columns_survive_the_conversion(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """RL_IMAGES (PNG ``image`` camera, every RL column) recorded by LeRobot 0.3.3, converted,
    and loaded by LeRobot 0.4.4 (including its SAC replay buffer): values and pixels exact."""
    from lerobot_gym.dataset import validate
    from lerobot_gym.dataset.convert import convert_v21

    spec = synth.RL_IMAGES
    tmp = tmp_path_factory.mktemp("lerobot_v21_images")
    src, out = tmp / "v21", tmp / "v30"
    _run_v21("write", src, "--spec", spec.name, home=tmp / "hf_home")
    _, ours_v21, _ = our_read(src)
    assert_values_match(ours_v21, "ours on LeRobot 0.3.3's v2.1 images", spec)
    convert_v21(src, out)
    assert validate(out) == []
    info, columns = lerobot_read(out, tmp, spec)
    assert info["image_keys"] == [spec.camera_key] and info["video_keys"] == []
    assert info["frame_tasks"] == frame_tasks(spec)
    assert_values_match(columns, "LeRobot 0.4.4 on converted v2.1 images", spec)
    written = spec.frames()[spec.camera_key].transpose(0, 3, 1, 2)  # PNG: lossless
    np.testing.assert_array_equal(columns[spec.camera_key], written)
    np.testing.assert_array_equal(ours_v21[spec.camera_key], written)
    assert columns["replay/action"].shape == (sum(spec.episode_lengths), 6)
