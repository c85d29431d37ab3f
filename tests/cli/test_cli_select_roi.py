"""`lerobot-gym select-roi`: crops chosen on a dataset's frames, headless, into the env config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.cli import select_roi as roi_cmd
from lerobot_gym.cli.main import main
from lerobot_gym.hil import make_hil_env
from lerobot_gym.hil.roi import ansi_preview, dataset_frames
from lerobot_gym.wrappers import RecordEpisodes


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three twin PickCube frames, 48x64 front and wrist cameras, as MP4."""
    root = tmp_path_factory.mktemp("roi") / "ds"
    env = gym.make("lerobot_gym/SO101-PickCube-v0", image_size=(48, 64), max_episode_steps=3)
    env = RecordEpisodes(env, root, repo_id="t/roi", vcodec="h264")
    obs, _ = env.reset(seed=0)
    done = False
    while not done:
        obs, _, terminated, truncated, _ = env.step(obs["agent_pos"])
        done = terminated or truncated
    env.close()
    return root


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "hil.json"
    path.write_text(
        json.dumps(
            {"env": {"id": "SO101-PickCube-v0", "image_size": [48, 64]}, "gripper_penalty": -0.02}
        )
    )
    return path


def test_crops_from_flags_go_into_the_config_and_the_stack_uses_them(dataset, tmp_path, capsys):
    config = _config(tmp_path)
    argv = [
        "select-roi",
        f"--dataset.root={dataset}",
        f"--config={config}",
        "--roi.front=[0,8,48,48]",
        "--size=[32,32]",
    ]
    assert main(argv) == 0
    assert "front: top=0 left=8 height=48 width=48" in capsys.readouterr().out
    data = json.loads(config.read_text())
    assert data["image"] == {"crops": {"front": [0, 8, 48, 48]}, "size": [32, 32]}
    assert data["gripper_penalty"] == -0.02  # other sections kept
    env = make_hil_env({**data, "reward": {"source": "task"}})
    assert env.observation_space["pixels"]["front"].shape == (32, 32, 3)


def test_a_crop_that_does_not_fit_names_the_flag(dataset, tmp_path, capsys):
    argv = ["select-roi", f"--dataset.root={dataset}", "--roi.front=[10,10,48,48]"]
    assert main(argv) == 2
    assert "--roi.front: the crop (10, 10, 48, 48)" in capsys.readouterr().err
    assert main(["select-roi", f"--dataset.root={dataset}", "--roi.top=[0,0,8,8]"]) == 2
    assert "no such camera" in capsys.readouterr().err


def test_the_terminal_mode_asks_until_a_crop_fits_and_is_kept(dataset, tmp_path):
    answers = iter(["nonsense", "0,0,100,100", "4 8 32 32", "n", "[4,8,16,16]", "", ""])
    shown: list[str] = []
    cfg = roi_cmd.PARSER.parse(
        [f"--dataset.root={dataset}", f"--config={_config(tmp_path)}", "--mode=terminal"]
    )
    crops = roi_cmd.select_roi(
        cfg, ask=lambda _: next(answers), show=shown.append, interactive=True
    )
    assert crops == {"front": (4, 8, 16, 16)}  # the wrist camera was skipped (Enter)
    text = "\n".join(shown)
    assert "\x1b[38;2;" in text and "\u2580" in text  # drawn in colour in the terminal
    assert "four whole numbers" in text and "does not fit its 48x64 image" in text
    data = json.loads((tmp_path / "hil.json").read_text())
    assert data["image"]["crops"] == {"front": [4, 8, 16, 16]}


def test_without_a_terminal_or_flags_it_says_what_to_pass(dataset, capsys):
    assert main(["select-roi", f"--dataset.root={dataset}", "--mode=terminal"]) == 2
    assert "--roi.<camera>=[top,left,height,width]" in capsys.readouterr().err


def test_save_frames_writes_the_frames_to_look_at(dataset, tmp_path):
    import av

    assert main(["select-roi", f"--dataset.root={dataset}", f"--save_frames={tmp_path / 'f'}"]) == 0
    for cam in ("front", "wrist"):
        with av.open(str(tmp_path / "f" / f"{cam}.png")) as container:
            frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
        assert frame.shape == (48, 64, 3)
        np.testing.assert_array_equal(frame, dataset_frames(dataset)[cam])


def test_a_config_for_other_image_sizes_is_refused(dataset, tmp_path, capsys):
    config = tmp_path / "hil.json"
    config.write_text(json.dumps({"env": {"id": "SO101-PickCube-v0", "image_size": [96, 128]}}))
    argv = [
        "select-roi",
        f"--dataset.root={dataset}",
        f"--config={config}",
        "--roi.front=[0,0,8,8]",
    ]
    assert main(argv) == 1
    assert "frames are 48x64" in capsys.readouterr().err


def test_preview_rulers_are_in_image_pixels():
    text = ansi_preview(np.zeros((32, 64, 3), np.uint8), width=32, tick=16)
    ruler = text.splitlines()[0]
    assert ruler.split() == ["0", "16", "32", "48"]
    assert len(text.splitlines()) == 1 + 8  # 32 rows at 2 px per column: 16 rows, 2 per line


def test_the_terminal_mode_through_a_real_pty(dataset, tmp_path):
    """The CLI as an operator sees it: a pseudo-terminal, answers typed at the prompts."""
    master, slave = os.openpty()
    config = _config(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lerobot_gym.cli.main",
            "select-roi",
            f"--dataset.root={dataset}",
            f"--config={config}",
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
        env={**os.environ, "DISPLAY": ""},
    )
    os.close(slave)
    out = b""

    def read_until(marker: bytes, timeout_s: float = 120.0) -> None:
        nonlocal out
        deadline = time.monotonic() + timeout_s
        while marker not in out:
            assert time.monotonic() < deadline, out[-500:]
            try:
                out += os.read(master, 4096)
            except OSError:
                break

    try:
        read_until(b"crop of 'front'")
        os.write(master, b"2,4,20,30\n")
        read_until(b"keep this crop?")
        os.write(master, b"y\n")
        read_until(b"crop of 'wrist'")
        os.write(master, b"\n")
        assert proc.wait(timeout=60) == 0
        read_until(b"wrote image.crops")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert json.loads(config.read_text())["image"]["crops"] == {"front": [2, 4, 20, 30]}
