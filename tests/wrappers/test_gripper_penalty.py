"""GripperPenalty: commands that flip the gripper are penalised, in info and in the dataset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.dataset import LeRobotDataset
from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers import RecordEpisodes
from lerobot_gym.wrappers.ee_delta_action import EEDeltaAction
from lerobot_gym.wrappers.gripper_penalty import GripperPenalty


def _reach(**kwargs) -> gym.Env:
    kwargs.setdefault("obs_type", "state")
    return gym.make("lerobot_gym/SO101-Reach-v0", disable_env_checker=True, **kwargs)


def test_joint_commands_that_flip_the_gripper_cost_the_penalty_into_the_dataset(tmp_path):
    env = RecordEpisodes(
        GripperPenalty(_reach(), penalty=-0.5), root=tmp_path / "ds", repo_id="t/pen"
    )
    obs, _ = env.reset(seed=0)
    g = env.unwrapped.robot.gripper_index
    opened = obs["agent_pos"][g] > 50
    hold = obs["agent_pos"].copy()
    flip = hold.copy()
    flip[g] = 0.0 if opened else 100.0
    penalties = []
    for action in [hold, hold, flip] + [flip] * 25:
        *_, info = env.step(action)
        penalties.append(info["discrete_penalty"])
    env.close()
    # The first flip costs; once the gripper has moved across, the same target no longer flips
    # it.
    assert penalties[:3] == [0.0, 0.0, -0.5]
    assert penalties[-1] == 0.0 and penalties.count(-0.5) < 10
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    column = [float(ds[i]["complementary_info.discrete_penalty"]) for i in range(len(ds))]
    assert column == penalties


def test_ee_gripper_commands_close_and_open():
    env = GripperPenalty(EEDeltaAction(_reach(), gripper_step=1.0), penalty=-0.02)
    obs, _ = env.reset(seed=0)
    close, open_, stay = (np.array([0, 0, 0, c], np.float32) for c in (-1, 1, 0))
    g = env.unwrapped.robot.gripper_index
    assert obs["agent_pos"][g] < 50  # the SO-101 starts with its jaw nearly closed
    assert env.step(close)[4]["discrete_penalty"] == 0.0  # already closed
    assert env.step(stay)[4]["discrete_penalty"] == 0.0
    assert env.step(open_)[4]["discrete_penalty"] == -0.02
    for _ in range(30):
        obs, _, _, _, info = env.step(open_)
    assert obs["agent_pos"][g] > 50
    assert info["discrete_penalty"] == 0.0  # open now: opening again flips nothing
    assert env.step(stay)[4]["discrete_penalty"] == 0.0
    assert env.step(close)[4]["discrete_penalty"] == -0.02


def test_needs_a_gripper_state_observation():
    with pytest.raises(ConfigError, match="agent_pos"):
        GripperPenalty(_reach(obs_type="pixels", image_size=(24, 32)))
