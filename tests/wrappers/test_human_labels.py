"""HumanLabels: the operator's success/failure/re-record/stop events become the outcome."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.dataset import LeRobotDataset
from lerobot_gym.errors import ConfigError
from lerobot_gym.teleop.keyboard import TerminalKeyboard
from lerobot_gym.teleop.scripted import ScriptedHuman
from lerobot_gym.wrappers import RecordEpisodes
from lerobot_gym.wrappers.human_intervention import HumanIntervention
from lerobot_gym.wrappers.human_labels import HumanLabels


def _env() -> gym.Env:
    return gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state", disable_env_checker=True)


def _run(env: gym.Env, steps: int) -> list[tuple]:
    obs, _ = env.reset(seed=0)
    out = []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(obs["agent_pos"])
        out.append((reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize(
    ("event", "terminated", "truncated", "success"),
    [
        ("success", True, False, True),
        ("failure", True, False, False),
        ("rerecord_episode", True, False, False),
        ("terminate_episode", False, True, False),
    ],
)
def test_each_event_ends_the_episode_as_labelled(event, terminated, truncated, success):
    human = ScriptedHuman(lambda s: np.zeros(6), lambda s: False, presses={3: event})
    human.connect()
    steps = _run(HumanLabels(_env(), human), 10)
    assert len(steps) == 4
    reward, term, trunc, info = steps[-1]
    assert (term, trunc, info["is_success"], info[event]) == (terminated, truncated, success, True)
    assert all(not s[1] and not s[2] for s in steps[:-1])
    if event == "success":
        assert reward == 1.0
    else:
        assert reward == steps[0][0] or reward < 1.0  # the env's own (dense) reward


def test_success_without_termination_when_asked():
    human = ScriptedHuman(lambda s: np.zeros(6), lambda s: False, presses={1: "success"})
    human.connect()
    steps = _run(HumanLabels(_env(), human, terminate_on_success=False, success_reward=5.0), 4)
    assert len(steps) == 4 and steps[1][0] == 5.0 and steps[1][3]["is_success"]
    # The label holds for the rest of the episode: the frames a reward classifier learns from.
    assert [s[0] for s in steps[1:]] == [5.0, 5.0, 5.0]
    assert [s[3]["is_success"] for s in steps] == [False, True, True, True]


def test_a_held_success_ends_with_a_failure_label_and_at_reset():
    human = ScriptedHuman(
        lambda s: np.zeros(6), lambda s: False, presses={1: "success", 3: "failure"}
    )
    human.connect()
    env = HumanLabels(_env(), human, terminate_on_success=False, labels_only=True)
    steps = _run(env, 10)
    assert [s[3]["is_success"] for s in steps] == [False, True, True, False]
    assert steps[-1][1]  # the failure label ended the episode
    human = ScriptedHuman(lambda s: np.zeros(6), lambda s: False, presses={0: "success"})
    human.connect()
    env = HumanLabels(_env(), human, terminate_on_success=False, labels_only=True)
    assert _run(env, 2)[-1][3]["is_success"]  # held, the episode cut short by the caller
    obs, _ = env.reset(seed=1)
    assert env.step(obs["agent_pos"])[4]["is_success"] is False  # nothing held over


def test_labels_only_leaves_the_operator_as_the_only_judge():
    """The twin's dense reward and its own success flag are replaced unless labelled."""
    human = ScriptedHuman(lambda s: np.zeros(6), lambda s: False, presses={3: "success"})
    human.connect()
    plain = _run(HumanLabels(_env(), None), 3)
    assert all(s[0] > 0.0 for s in plain)  # Reach's dense reward, without labels_only
    steps = _run(HumanLabels(_env(), human, labels_only=True), 10)
    assert [s[0] for s in steps] == [0.0, 0.0, 0.0, 1.0]
    assert [s[3]["is_success"] for s in steps] == [False, False, False, True]


def test_labels_from_the_keyboard_through_intervention_into_the_dataset(tmp_path):
    # The keyboard is the device of HumanIntervention; HumanLabels reads the events it copied.
    keyboard = TerminalKeyboard(fd=None)
    env = HumanIntervention(
        gym.make(
            "lerobot_gym/SO101-Reach-v0",
            obs_type="state",
            control_mode="joint_pos",
            disable_env_checker=True,
        ),
        keyboard,
        action_map=lambda a: np.zeros(6, np.float32),
    )
    env = RecordEpisodes(HumanLabels(env), root=tmp_path / "ds", repo_id="t/labels")
    for press in ("f", "s"):
        obs, _ = env.reset(seed=0)
        for step in range(20):
            if step == 5:
                keyboard.press(press)
            obs, _, terminated, truncated, _ = env.step(obs["agent_pos"])
            if terminated or truncated:
                break
        assert terminated and step == 5
    obs, _ = env.reset(seed=0)
    keyboard.press("r")
    obs, _, terminated, _, _ = env.step(obs["agent_pos"])
    assert terminated  # re-recorded: discarded by the recorder
    env.close()
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    assert ds.meta.info["total_episodes"] == 2 and len(ds) == 12
    success = [bool(ds[i]["next.success"]) for i in range(len(ds))]
    assert success == [False] * 11 + [True]
    rewards = [float(ds[i]["next.reward"]) for i in range(len(ds))]
    assert rewards[-1] == 1.0


def test_bad_event_names_from_a_device_are_typed_errors():
    class Odd:
        action_kind = "joint"
        is_connected = True

        def connect(self): ...
        def disconnect(self): ...
        def reset(self): ...
        def get_action(self):
            return np.zeros(6, np.float32)

        def events(self):
            return {"exit_early": True}

    env = HumanLabels(_env(), Odd())  # type: ignore[arg-type]
    obs, _ = env.reset(seed=0)
    with pytest.raises(ConfigError, match=r"exit_early.*EVENT_KEYS"):
        env.step(obs["agent_pos"])
