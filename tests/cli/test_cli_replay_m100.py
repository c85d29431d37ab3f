"""Replaying an SO-101 dataset recorded in LeRobot's older -100..100 units (use_degrees=False)."""

from __future__ import annotations

import functools
import re

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.cli.main import main
from lerobot_gym.dataset import LeRobotDatasetWriter
from lerobot_gym.robots.so101.calibration import MotorCalibration, save_calibration
from lerobot_gym.robots.so101.ticks import degrees_to_m100, m100_to_degrees
from lerobot_gym.tasks.scripted import make_scripted_policy
from lerobot_gym.wrappers import lerobot_features, replay_episode

# The ranges of the calibration example in LeRobot's documentation (illustrative values).
RANGES = {
    "shoulder_pan": (1, 2023, 865, 3280),
    "shoulder_lift": (2, -2008, 817, 3361),
    "elbow_flex": (3, -1928, 852, 3047),
    "wrist_flex": (4, -1345, 824, 3167),
    "wrist_roll": (5, 1052, 0, 4095),
    "gripper": (6, 1565, 1973, 3449),
}


def _rms(text: str) -> float:
    return float(re.search(r"overall RMS: ([0-9.]+)", text).group(1))


def test_a_minus_100_to_100_dataset_replays_with_its_calibration(tmp_path, capsys):
    calibration = {
        name: MotorCalibration(id=i, drive_mode=0, homing_offset=h, range_min=lo, range_max=hi)
        for name, (i, h, lo, hi) in RANGES.items()
    }
    cal_path = save_calibration(tmp_path / "my_arm.json", calibration)

    # A scripted Reach episode on the twin, stored the way an old LeRobot recording stores it.
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state", max_episode_steps=30)
    features = {
        k: v for k, v in lerobot_features(env).items() if k in ("observation.state", "action")
    }
    writer = LeRobotDatasetWriter.create(
        tmp_path / "old", repo_id="t/old", fps=30, features=features, use_videos=False
    )
    policy = make_scripted_policy(env)
    obs, info = env.reset(seed=5)
    policy.reset(obs, info)
    states_deg = []
    for _ in range(30):
        action = policy(obs)
        state = obs["agent_pos"]
        states_deg.append(state)
        obs, *_ = env.step(action)
        writer.add_frame(
            {
                "observation.state": degrees_to_m100(state, calibration).astype(np.float32),
                "action": degrees_to_m100(action, calibration).astype(np.float32),
            },
            task="reach",
        )
    writer.save_episode()
    writer.close()

    # Converted with the arm's calibration, the replay retraces the original motion in degrees;
    # read as if it were degrees, it drives the arm somewhere else.
    convert = functools.partial(m100_to_degrees, calibration=calibration)
    for to_env_units, close in ((convert, True), (None, False)):
        report = replay_episode(
            gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"),
            tmp_path / "old",
            0,
            seed=5,
            to_env_units=to_env_units,
        )
        error = np.abs(report.replayed_state - np.stack(states_deg)).max()
        assert (error < 0.01) if close else (error > 1.0), error

    argv = ["replay", "--env.id=lerobot_gym/SO101-Reach-v0", f"--dataset.root={tmp_path / 'old'}"]
    argv += ["--dataset.episode=0", "--seed=5", "--dataset.use_degrees=false"]
    assert main([*argv, f"--dataset.calibration={cal_path}"]) == 0
    assert _rms(capsys.readouterr().out) < 0.01
    assert main(argv) == 2  # no calibration: a usage error that says what to pass
    assert "--dataset.calibration" in capsys.readouterr().err
