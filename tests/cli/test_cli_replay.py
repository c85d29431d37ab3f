"""`lerobot-gym replay`: a recorded episode replayed on the twin, its tracking report, errors."""

from __future__ import annotations

import re
import time

import pytest

from lerobot_gym.cli.main import main

REACH = "--env.id=lerobot_gym/SO101-Reach-v0"
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two scripted Reach episodes of 12 frames (state only), seeds 3 and 4."""
    root = tmp_path_factory.mktemp("replay") / "reach"
    code = main(
        [
            "record",
            REACH,
            "--env.obs_type=state",
            "--policy.type=scripted",
            f"--dataset.root={root}",
            "--dataset.repo_id=test/replay",
            "--dataset.num_episodes=2",
            "--dataset.episode_time_s=0.4",
            "--seed=3",
        ]
    )
    assert code == 0
    return root


def _rms(text: str) -> float:
    return float(re.search(r"overall RMS: ([0-9.]+)", text).group(1))


def test_replay_on_the_twin_tracks_the_recording(recorded, capsys):
    capsys.readouterr()
    argv = ["replay", REACH, f"--dataset.root={recorded}", "--dataset.episode=1", "--seed=4"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"replayed episode 1 of {recorded} on lerobot_gym/SO101-Reach-v0 at 30 fps" in out
    assert "episode 1: replayed 12 actions, compared 12 frames" in out
    for joint in JOINTS:
        assert re.search(rf"^{joint}\.pos\s+[0-9.]+\s+[0-9.]+$", out, re.M), joint
    # The twin is deterministic: the same actions from the same state give the same states.
    assert _rms(out) < 1e-3


def test_realtime_replay_holds_the_dataset_fps(recorded, capsys):
    argv = ["replay", REACH, f"--dataset.root={recorded}", "--dataset.episode=0", "--realtime"]
    start = time.perf_counter()
    assert main(argv) == 0
    elapsed = time.perf_counter() - start
    assert elapsed >= 11 / 30  # 12 steps paced at 30 fps (the clock starts at reset)
    assert _rms(capsys.readouterr().out) < 1e-3


def test_replay_errors(recorded, tmp_path, capsys):
    argv = ["replay", REACH, f"--dataset.root={recorded}"]
    assert main([*argv, "--dataset.episode=5"]) == 1
    assert "episode 5 does not exist" in capsys.readouterr().err
    assert main(argv) == 2
    assert "--dataset.episode is required" in capsys.readouterr().err
    missing = ["replay", REACH, f"--dataset.root={tmp_path / 'none'}", "--dataset.episode=0"]
    assert main(missing) == 1
    assert "none" in capsys.readouterr().err
    assert main(["replay", f"--dataset.root={recorded}", "--dataset.episode=0"]) == 2
    assert "--env.id is required" in capsys.readouterr().err


@pytest.mark.parametrize(
    "typed", ["SO101-Reach", "SO101-Raech-v0", "lerobot_gym/so101-reach-v0", "so101-reach-v0"]
)
def test_a_misspelled_env_id_names_the_closest_registered_id(recorded, typed, capsys):
    argv = ["replay", f"--env.id={typed}", f"--dataset.root={recorded}", "--dataset.episode=0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--env.id={typed} is not registered" in err
    assert "did you mean --env.id=lerobot_gym/SO101-Reach-v0?" in err
    assert "lerobot_gym/SO101-PickCube-v0" in err  # every registered id is listed
