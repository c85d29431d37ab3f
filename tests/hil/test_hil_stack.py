"""make_hil_env: the whole HIL-SERL stack from one config, on the twin and the emulated arm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.dataset import LeRobotDataset
from lerobot_gym.errors import ConfigError
from lerobot_gym.hil import make_hil_env
from lerobot_gym.teleop.scripted import ScriptedHuman, intervene_between
from lerobot_gym.wrappers import RecordEpisodes
from lerobot_gym.wrappers.ee_delta_action import EEDeltaAction

PICK = {
    "env": {"id": "SO101-PickCube-v0", "image_size": [48, 64]},
    "ee_control": {"step_sizes_m": 0.01},
    "image": {"crops": {"front": [0, 8, 48, 48]}, "size": [32, 32]},
    "reward": {"source": "human"},
    "gripper_penalty": -0.02,
    "episode_time_s": 2,
}


def _ee_wrapper(env: gym.Env) -> Any:
    inner: Any = env
    while not isinstance(inner, EEDeltaAction):
        inner = inner.env
    return inner


def _human(presses=None, kind="ee_delta", action=None, intervene=None):
    up = np.array([0.0, 0.0, 1.0, 1.0], np.float32)  # up, opening the jaws
    human = ScriptedHuman(
        action or (lambda step: up),
        intervene or intervene_between(2, 6),
        presses=presses or {},
        action_kind=kind,
    )
    human.connect()
    return human


def test_the_twin_stack_records_intervention_labels_and_penalty(tmp_path: Path) -> None:
    env = make_hil_env(PICK, teleop=_human({8: "success"}))
    assert env.action_space.shape == (4,)
    assert env.observation_space["pixels"]["front"].shape == (32, 32, 3)
    env = RecordEpisodes(env, tmp_path / "ds", repo_id="t/hil", use_videos=False)
    env.reset(seed=0)
    hold = np.zeros(4, np.float32)  # the agent asks to stay put
    infos, rewards, terminated = [], [], False
    while not terminated:
        _, reward, terminated, truncated, info = env.step(hold)
        infos.append(info)
        rewards.append(reward)
        assert not truncated
    env.close()
    assert len(infos) == 9  # the operator's success at step 8 ended it
    assert [i["is_intervention"] for i in infos] == [False] * 2 + [True] * 4 + [False] * 3
    assert infos[-1]["is_success"] and rewards[-1] == 1.0
    # The jaws start nearly shut (20 of 100): the operator's "open" flips them, penalised on
    # the first intervening step; the agent's "hold" never is.
    penalties = [i["discrete_penalty"] for i in infos]
    assert penalties[2] == -0.02 and penalties[0] == 0.0
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    col = np.array([ds[i]["complementary_info.is_intervention"] for i in range(len(ds))]).ravel()
    np.testing.assert_array_equal(col, [0, 0, 1, 1, 1, 1, 0, 0, 0])
    pen = np.array([ds[i]["complementary_info.discrete_penalty"] for i in range(len(ds))]).ravel()
    np.testing.assert_allclose(pen, penalties)
    assert bool(np.asarray(ds[len(ds) - 1]["next.success"]).item())
    assert float(np.asarray(ds[len(ds) - 1]["next.reward"]).item()) == 1.0
    assert bool(np.asarray(ds[len(ds) - 1]["next.done"]).item())
    assert np.asarray(ds[0]["action"]).shape == (4,)
    # While intervening the operator's "up" was applied (and recorded as the action).
    assert np.asarray(ds[3]["action"])[2] > 0.5 and np.asarray(ds[0]["action"])[2] == 0.0


def test_the_time_limit_comes_from_episode_time_s() -> None:
    env = make_hil_env({**PICK, "episode_time_s": 0.1}, teleop=_human())
    env.reset(seed=0)
    steps = [env.step(np.zeros(4, np.float32)) for _ in range(3)]
    assert [s[3] for s in steps] == [False, False, True]  # 0.1 s at the SO-101's 30 fps: 3 steps


def test_joint_bounds_clip_what_is_sent() -> None:
    cfg = {
        "env": {"id": "SO101-Reach-v0", "obs_type": "state"},
        "joint_bounds": {"low": [-10, -10, -10, -10, -10, 0], "high": [10, 10, 10, 10, 10, 50]},
        "reward": {"source": "task"},
    }
    env = make_hil_env(cfg)
    env.reset(seed=0)
    far = np.array([90, 90, 90, 90, 90, 100], np.float32)
    for _ in range(40):
        info = env.step(far)[4]
    np.testing.assert_allclose(info["action_applied"], [10, 10, 10, 10, 10, 50], atol=1e-4)
    with pytest.raises(ConfigError, match="joint_bounds need 6 values"):
        make_hil_env({**cfg, "joint_bounds": {"low": [0, 0], "high": [1, 1]}})


def test_a_joint_space_device_intervenes_in_an_ee_stack_through_fk() -> None:
    """A leader arm's joints become the end-effector delta toward its tool position."""
    base = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    ee = EEDeltaAction(base)
    ee.reset(seed=0)
    robot = base.unwrapped.robot
    q0 = np.asarray(base.unwrapped.joint_targets_rad)
    p0, _ = ee.kinematics.fk(q0)
    q_leader = q0 + np.deg2rad([10, -10, 5, 0, 0, 0])
    p_leader, _ = ee.kinematics.fk(q_leader)
    delta = ee.delta_towards(robot.to_user(q_leader))
    expected = np.clip((p_leader - p0) / 0.01, -1, 1)
    np.testing.assert_allclose(delta[:3], expected, atol=1e-5)
    assert np.abs(delta[:3]).max() == pytest.approx(1.0)  # far: a full step that way


def test_impossible_combinations_are_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a teleop device"):
        make_hil_env(PICK)
    with pytest.raises(ConfigError, match="unknown on a real arm"):
        make_hil_env({**PICK, "reward": {"source": "task"}}, backend="real", port="/dev/null")
    with pytest.raises(ConfigError, match=r"remove env\.control_mode"):
        make_hil_env({**PICK, "env": {**PICK["env"], "control_mode": "joint_delta"}}, _human())
    with pytest.raises(ConfigError, match="does not fit"):
        make_hil_env({**PICK, "image": {"crops": {"front": [0, 0, 64, 64]}}}, _human())


def test_a_classifier_of_another_image_size_is_refused_when_the_stack_is_built(tmp_path):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from lerobot_gym.policies.reward_classifier import RewardClassifierConfig, RewardClassifierNet

    net = RewardClassifierNet(RewardClassifierConfig(("front",), (64, 64), channels=(4,)))
    net.save_pretrained(tmp_path / "clf")
    cfg = {**PICK, "reward": {"source": "classifier", "classifier_path": str(tmp_path / "clf")}}
    with pytest.raises(ConfigError, match=r"takes 64x64 images of camera 'front'.*gives 32x32"):
        make_hil_env(cfg, teleop=_human())
    RewardClassifierNet(
        RewardClassifierConfig(("front",), (32, 32), channels=(4,))
    ).save_pretrained(tmp_path / "clf")
    env = make_hil_env(cfg, teleop=_human())
    env.reset(seed=0)
    assert 0.0 <= env.step(np.zeros(4, np.float32))[4]["success_probability"] <= 1.0


def test_the_rehearsal_rig_emulated_arm_with_an_emulated_leader(tmp_path: Path) -> None:
    """The whole stack on the emulated arm, the SO-101 leader (emulated bus) intervening."""
    from lerobot_gym.robots.so101.emulated import EmulatedSO101
    from lerobot_gym.robots.so101.leader import SO101Leader
    from lerobot_gym.robots.so101.spec import SO101
    from lerobot_gym.teleop.keyboard import TerminalKeyboard

    cfg = {
        **PICK,
        "env": {
            "id": "SO101-PickCube-v0",
            "backend": "emulated",
            "image_size": [48, 64],
            "max_speed_deg_s": 360.0,
            # One control period per step: how far the arm got does not depend on the load.
            "lockstep": True,
        },
    }
    keyboard = TerminalKeyboard(fd=None)
    with EmulatedSO101("leader", plant="first_order") as arm:
        env = None
        leader = SO101Leader(arm.port, calibration_dir=arm.calibration_dir, events=keyboard.events)
        leader.connect()
        try:
            env = RecordEpisodes(
                make_hil_env(cfg, teleop=leader), tmp_path / "ds", repo_id="t/rig", use_videos=False
            )
            env.reset(seed=0)
            ee = _ee_wrapper(env)
            q_start = np.asarray(env.unwrapped.joint_targets_rad)
            p_start, _ = ee.kinematics.fk(q_start)
            # The hand holds the leader 6 cm above where the follower's tool is.
            q_hand = ee.kinematics.ik(p_start + np.array([0, 0, 0.06]), q_start).q_rad
            arm.emulator.set_actual_positions_rad(q_hand)
            p_leader, _ = ee.kinematics.fk(SO101.from_user(np.asarray(leader.get_action(), float)))
            keyboard.press("space")  # take over
            infos = [env.step(np.zeros(4, np.float32))[4] for _ in range(8)]
            keyboard.press("right")  # success
            infos.append(env.step(np.zeros(4, np.float32))[4])
        finally:
            if env is not None:
                env.close()
            leader.disconnect()
    assert all(i["is_intervention"] for i in infos)
    assert infos[-1]["is_success"]
    p_end, _ = ee.kinematics.fk(np.asarray(env.unwrapped.joint_targets_rad))
    # The follower's tool went up toward the leader's, about a step size per step.
    assert p_leader[2] - p_start[2] > 0.05
    assert p_end[2] - p_start[2] > 0.04
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    col = np.array([ds[i]["complementary_info.is_intervention"] for i in range(len(ds))]).ravel()
    np.testing.assert_array_equal(col, np.ones(9))
    assert bool(np.asarray(ds[len(ds) - 1]["next.success"]).item())
