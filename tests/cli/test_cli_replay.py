"""`lerobot-gym replay`: a recorded episode replayed on the twin, its tracking report, errors."""

from __future__ import annotations

import re
import time

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.cli.main import main
from lerobot_gym.dataset import DatasetMeta
from lerobot_gym.dataset.meta import read_parquet
from lerobot_gym.tasks.scripted import make_scripted_policy
from lerobot_gym.wrappers import RecordEpisodes

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
    assert "episode 1: replayed 12 actions, compared 12 of 12 recorded frames" in out
    assert "in each joint's unit" in out
    for joint in JOINTS:
        unit = "%" if joint == "gripper" else "deg"
        assert re.search(rf"^{joint}\.pos\s+[0-9.]+\s+[0-9.]+\s+{unit}$", out, re.M), joint
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


@pytest.fixture(scope="module")
def long_episode(tmp_path_factory):
    """One scripted Reach episode of 130 frames: longer than the id's limit of 100 steps."""
    root = tmp_path_factory.mktemp("replay_long") / "reach"
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state", max_episode_steps=130)
    env = RecordEpisodes(env, root, repo_id="test/long")
    policy = make_scripted_policy(env)
    obs, info = env.reset(seed=3)
    policy.reset(obs, info)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy(obs))
        done = terminated or truncated
    env.close()
    assert DatasetMeta.load(root).episodes[0]["length"] == 130
    return root


def test_an_episode_longer_than_the_time_limit_is_replayed_whole(long_episode, capsys):
    argv = ["replay", REACH, f"--dataset.root={long_episode}", "--dataset.episode=0"]
    # It used to stop at the id's 100-step limit, compare 100 of 130 frames, and exit 0.
    assert main([*argv, "--seed=3"]) == 0
    out = capsys.readouterr().out
    assert "replayed 130 actions, compared 130 of 130 recorded frames" in out
    assert _rms(out) < 1e-3


def test_a_time_limit_set_below_the_episode_is_a_usage_error(long_episode, capsys):
    argv = ["replay", REACH, f"--dataset.root={long_episode}", "--dataset.episode=0"]
    assert main([*argv, "--env.max_episode_steps=50"]) == 2
    err = capsys.readouterr().err
    assert "--env.max_episode_steps=50 is shorter than episode 0 (130 frames)" in err


def test_replay_exits_non_zero_when_fewer_frames_were_compared(long_episode, capsys):
    table = read_parquet(DatasetMeta.load(long_episode).data_path(0))
    success = np.asarray(table["next.success"].to_pylist())
    assert success.any() and not success[:-1].all()  # the arm reaches the target mid-episode
    argv = ["replay", REACH, f"--dataset.root={long_episode}", "--dataset.episode=0"]
    # Ending at the first success, the replay compares only part of the episode.
    assert main([*argv, "--seed=3", "--env.terminate_on_success=true"]) == 1
    captured = capsys.readouterr()
    compared = int(re.search(r"compared (\d+) of 130 recorded frames", captured.out).group(1))
    assert compared < 130
    assert f"compared only {compared} of 130 recorded frames" in captured.err
    assert "terminated" in captured.err
