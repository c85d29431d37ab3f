"""The record loop acts on the one events vocabulary, from the keyboard and the teleoperator."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.cli._record_loop import Session, record_episodes
from lerobot_gym.cli.record import TeleopSource
from lerobot_gym.dataset import LeRobotDataset
from lerobot_gym.teleop.keyboard import TerminalKeyboard
from lerobot_gym.teleop.scripted import ScriptedHuman
from lerobot_gym.wrappers import RecordEpisodes


def _session(tmp_path, presses: dict[int, str], keyboard: TerminalKeyboard) -> Session:
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state", disable_env_checker=True)
    env = gym.wrappers.TimeLimit(env, max_episode_steps=8)
    recorder = RecordEpisodes(env, root=tmp_path / "ds", repo_id="t/loop")
    home = env.unwrapped.robot.to_user(env.unwrapped.robot.home_rad).astype(np.float32)
    human = ScriptedHuman(lambda step: home, lambda step: True, presses=presses)
    human.connect()
    return Session(
        env=recorder,
        recorder=recorder,
        source=TeleopSource(human),
        keyboard=keyboard,
        num_episodes=3,
        episode_steps=8,
        reset_steps=0,
        fps=30,
        seed=0,
        repo_id="t/loop",
    )


def test_teleop_events_end_discard_and_stop_episodes(tmp_path):
    # The device counts its events() calls: the loop reads events once before each episode
    # (dropping presses meant for the last one) and once before each step. So: call 0 before
    # episode 0, calls 1-2 record two frames, call 3 ends it as a failure (saved, 2 frames);
    # call 4 before episode 1, call 5 one frame, call 6 re-records it (discarded); call 7
    # before the re-recording, calls 8-14 seven frames, call 15 stops the session (saved).
    keyboard = TerminalKeyboard(fd=-1)  # not a terminal: no keys
    s = _session(tmp_path, {3: "failure", 6: "rerecord_episode", 15: "terminate_episode"}, keyboard)
    summary = record_episodes(s)
    s.env.close()
    assert summary.rerecorded == 1 and summary.stopped
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    lengths = [int(ep["length"]) for ep in ds.meta.episodes]
    assert lengths == [2, 7]


def test_keyboard_events_work_next_to_a_teleoperator(tmp_path):
    keyboard = TerminalKeyboard(fd=-1)
    s = _session(tmp_path, {}, keyboard)
    keyboard.press("esc")  # stop before the first episode
    summary = record_episodes(s)
    s.env.close()
    assert summary.stopped and summary.episodes == 0
