"""HumanIntervention: device events -> info -> dataset columns, on the twin and the emulated arm.

The intervention device in the end-to-end tests is the SO-101 leader arm on an emulated Feetech
bus (the real driver code over a pty), as in tests/robots/test_so101_leader.py.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.dataset import LeRobotDataset
from lerobot_gym.errors import ConfigError, TeleopLostError
from lerobot_gym.robots.so101.emulated import EmulatedSO101
from lerobot_gym.robots.so101.leader import SO101Leader
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.teleop.keyboard import TerminalKeyboard
from lerobot_gym.teleop.scripted import ScriptedHuman, intervene_between
from lerobot_gym.wrappers import RecordEpisodes
from lerobot_gym.wrappers.human_intervention import HumanIntervention

# The hand holds the leader here (arm joints in degrees, jaw half open).
HAND_RAD = np.append(np.deg2rad([20.0, -30.0, 30.0, 15.0, -20.0]), 0.8)
HAND_USER = SO101.to_user(HAND_RAD).astype(np.float32)


@pytest.fixture
def leader_arm():
    with EmulatedSO101("leader", plant="first_order") as arm:
        arm.emulator.set_actual_positions_rad(HAND_RAD)
        yield arm


def _twin(**kwargs) -> gym.Env:
    return gym.make(
        "lerobot_gym/SO101-Reach-v0", obs_type="state", disable_env_checker=True, **kwargs
    )


def _emulated(**kwargs) -> gym.Env:
    return gym.make(
        "lerobot_gym/SO101-Reach-v0",
        backend="emulated",
        obs_type="state",
        max_speed_deg_s=360.0,
        disable_env_checker=True,
        **kwargs,
    )


def _record_with_leader(env: gym.Env, leader_arm, root, presses: dict[int, str]) -> tuple:
    """Record one 12-step episode; the keyboard presses ``presses[step]`` before that step."""
    keyboard = TerminalKeyboard(fd=None)
    leader = SO101Leader(
        leader_arm.port, calibration_dir=leader_arm.calibration_dir, events=keyboard.events
    )
    leader.connect()
    env = RecordEpisodes(HumanIntervention(env, leader), root=root, repo_id="t/hil")
    infos, agent = [], None
    try:
        obs, _ = env.reset(seed=0)
        agent = obs["agent_pos"].copy()  # the agent asks to hold its start pose
        for step in range(12):
            if step in presses:
                keyboard.press(presses[step])
            infos.append(env.step(agent)[4])
    finally:
        env.close()
        leader.disconnect()
    return infos, agent, LeRobotDataset(root, format="numpy")


@pytest.mark.parametrize("make_env", [_twin, _emulated], ids=["twin", "emulated"])
def test_leader_intervention_end_to_end_into_the_dataset(make_env, leader_arm, tmp_path):
    # Space at step 4 hands control to the leader, space at step 8 hands it back.
    infos, agent, ds = _record_with_leader(
        make_env(), leader_arm, tmp_path / "ds", {4: "space", 8: "space"}
    )
    flags = [info["is_intervention"] for info in infos]
    assert flags == [False] * 4 + [True] * 4 + [False] * 4
    column = np.array([ds[i]["complementary_info.is_intervention"] for i in range(len(ds))])
    np.testing.assert_array_equal(column.ravel(), np.array(flags, dtype=np.float32))
    actions = np.stack([ds[i]["action"] for i in range(len(ds))])
    # Recorded: the action applied. The leader's pose (rate-limited by safety toward it) while
    # intervening, the agent's hold before and after.
    np.testing.assert_allclose(actions[:4], np.tile(agent, (4, 1)), atol=0.5)
    for info in infos[4:8]:
        np.testing.assert_allclose(info["teleop_action"], HAND_USER, atol=0.3)
    moved = np.abs(actions[4:8] - agent).max(axis=1)
    assert (moved > 1.0).all()  # the follower was sent toward the hand's pose
    applied = np.stack([info["action_applied"] for info in infos])
    np.testing.assert_allclose(actions, applied, atol=1e-5)


def test_leader_moved_past_the_threshold_intervenes_until_reset(leader_arm):
    keyboard = TerminalKeyboard(fd=None)
    leader = SO101Leader(
        leader_arm.port,
        calibration_dir=leader_arm.calibration_dir,
        events=keyboard.events,
        intervention_threshold_deg=10.0,
    )
    leader.connect()
    env = HumanIntervention(_twin(), leader)
    try:
        obs, _ = env.reset(seed=0)
        hold = obs["agent_pos"].copy()
        flags = [env.step(hold)[4]["is_intervention"] for _ in range(3)]
        leader_arm.emulator.set_actual_positions_rad(HAND_RAD + np.eye(6)[0] * 0.05)  # ~3 deg
        flags += [env.step(hold)[4]["is_intervention"] for _ in range(2)]
        leader_arm.emulator.set_actual_positions_rad(HAND_RAD + np.eye(6)[0] * 0.4)  # ~23 deg
        flags += [env.step(hold)[4]["is_intervention"] for _ in range(2)]
        leader_arm.emulator.set_actual_positions_rad(HAND_RAD)  # the hand keeps control
        flags += [env.step(hold)[4]["is_intervention"]]
        assert flags == [False] * 5 + [True] * 3
        env.reset(seed=1)
        assert env.step(hold)[4]["is_intervention"] is False  # a new episode: the agent again
    finally:
        env.close()
        leader.disconnect()


def test_intervention_changes_neither_reward_nor_termination():
    agent = np.array([10.0, -20.0, 20.0, 10.0, 0.0, 30.0], dtype=np.float32)
    human = np.array([-15.0, 10.0, -10.0, 40.0, 20.0, 80.0], dtype=np.float32)
    teleop = ScriptedHuman(lambda step: human, intervene_between(3, 9))
    teleop.connect()
    wrapped, plain = HumanIntervention(_twin(), teleop), _twin()
    wrapped.reset(seed=3)
    plain.reset(seed=3)
    for step in range(12):
        out = wrapped.step(agent)
        ref = plain.step(human if 3 <= step < 9 else agent)
        assert out[4]["is_intervention"] == (3 <= step < 9)
        np.testing.assert_array_equal(out[0]["agent_pos"], ref[0]["agent_pos"])
        assert (out[1], out[2], out[3]) == (ref[1], ref[2], ref[3])
    assert wrapped.interventions == 6
    wrapped.close()
    plain.close()


def test_operator_events_reach_info_for_the_wrappers_outside():
    teleop = ScriptedHuman(
        lambda step: np.zeros(6), lambda step: False, presses={1: "failure", 2: "success"}
    )
    teleop.connect()
    env = HumanIntervention(_twin(), teleop)
    obs, info = env.reset(seed=0)
    assert info["is_intervention"] is False
    infos = [env.step(obs["agent_pos"])[4] for _ in range(3)]
    assert [(i["success"], i["failure"]) for i in infos] == [
        (False, False),
        (False, True),
        (True, False),
    ]
    env.close()


@pytest.mark.parametrize("on_lost", ["hold", "limp"])
def test_leader_that_vanishes_mid_episode(on_lost, tmp_path):
    arm = EmulatedSO101("leader", plant="first_order").start()
    arm.emulator.set_actual_positions_rad(HAND_RAD)
    leader = SO101Leader(
        arm.port,
        calibration_dir=arm.calibration_dir,
        intervention_threshold_deg=1e-3 if on_lost == "hold" else None,
    )
    leader.connect()
    env = RecordEpisodes(
        HumanIntervention(_emulated(), leader, on_teleop_lost=on_lost),
        root=tmp_path / "ds",
        repo_id="t/lost",
    )
    try:
        obs, _ = env.reset(seed=0)
        for _ in range(5):
            env.step(obs["agent_pos"])
        backend = env.unwrapped.backend
        arm.stop()  # the leader's USB cable is pulled
        with pytest.raises(TeleopLostError, match=on_lost) as caught:
            env.step(obs["agent_pos"])
        assert caught.value.__cause__ is not None
        assert backend.torque_released == (on_lost == "limp")

        def torque() -> list[int]:
            return [backend.arm.emulator.register("Torque_Enable", n) for n in SO101.joint_names]

        # SYNC_WRITE is unacknowledged: the emulator applies it when its thread reads it.
        deadline = time.monotonic() + 5.0
        while torque() != [0] * 6 and on_lost == "limp" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert torque() == ([1] * 6 if on_lost == "hold" else [0] * 6)
    finally:
        env.close()
        leader.bus = None  # its port is gone with the emulator
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    assert ds.meta.info["total_episodes"] == 1 and len(ds) == 5  # nothing recorded was lost


def test_wrong_stacks_are_refused_with_the_fix(tmp_path):
    joints = ScriptedHuman(lambda step: np.zeros(6), lambda step: False)
    ee = ScriptedHuman(lambda step: np.zeros(4), lambda step: False, action_kind="ee_delta")
    with pytest.raises(ConfigError, match=r"RecordEpisodes\(HumanIntervention"):
        HumanIntervention(RecordEpisodes(_twin(), root=tmp_path / "a", repo_id="t/a"), joints)
    with pytest.raises(ConfigError, match="EEDeltaAction"):
        HumanIntervention(_twin(), ee)
    with pytest.raises(ConfigError, match="joint_pos"):
        HumanIntervention(_twin(control_mode="joint_delta"), joints)
    with pytest.raises(ConfigError, match="on_teleop_lost"):
        HumanIntervention(_twin(), joints, on_teleop_lost="explode")
    with pytest.raises(ConfigError, match="not a Teleop"):
        HumanIntervention(_twin(), object())  # type: ignore[arg-type]
    # A declared mapping makes any device fit.
    env = HumanIntervention(_twin(), ee, action_map=lambda a: np.zeros(6, dtype=np.float32))
    env.close()
