"""SO101Leader over an emulated leader bus, and leader -> follower teleoperation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401
from lerobot_gym.errors import CalibrationError, ConfigError, NotConnectedError
from lerobot_gym.robots.so101.emulated import EmulatedSO101
from lerobot_gym.robots.so101.leader import SO101Leader
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.teleop import TELEOP_EVENT_KEYS, Teleop
from lerobot_gym.wrappers.control_rate import ControlRate

# A hand-held pose: degrees for the arm, the jaw half open (0.8 rad).
POSE_DEG = np.array([25.0, -40.0, 35.0, 20.0, -30.0])
POSE_RAD = np.append(np.deg2rad(POSE_DEG), 0.8)
POSE_USER = SO101.to_user(POSE_RAD)


@pytest.fixture
def leader_arm():
    with EmulatedSO101("leader", plant="first_order") as arm:
        yield arm


def _leader(arm: EmulatedSO101, **kwargs) -> SO101Leader:
    leader = SO101Leader(arm.port, calibration_dir=arm.calibration_dir, **kwargs)
    leader.connect()
    return leader


def test_leader_reads_the_hand_pose_in_boundary_units_with_torque_off(leader_arm):
    leader = _leader(leader_arm)
    try:
        assert isinstance(leader, Teleop)
        leader_arm.emulator.set_actual_positions_rad(POSE_RAD)
        action = leader.get_action()
        assert action.dtype == np.float32 and action.shape == (6,)
        np.testing.assert_allclose(action, POSE_USER, atol=0.2)
        assert all(leader_arm.emulator.register("Torque_Enable", n) == 0 for n in SO101.joint_names)
    finally:
        leader.disconnect()
    assert not leader.is_connected


def test_both_lerobot_conventions_give_the_same_action(leader_arm):
    leader_arm.emulator.set_actual_positions_rad(POSE_RAD)
    degrees = _leader(leader_arm)
    first = degrees.get_action()
    degrees.disconnect()
    m100 = _leader(leader_arm, use_degrees=False)
    try:
        # -100..100 quantises to the calibrated span; within a tick of the degrees reading.
        np.testing.assert_allclose(m100.get_action(), first, atol=0.2)
    finally:
        m100.disconnect()


def test_events_default_to_none_and_come_from_a_passed_in_source(leader_arm):
    presses = iter([{"success": True}, {"bogus": True}])
    leader = _leader(leader_arm, events=lambda: next(presses))
    try:
        events = leader.get_teleop_events()
        assert set(events) == set(TELEOP_EVENT_KEYS)
        assert events["success"] and not events["is_intervention"]
        with pytest.raises(ConfigError, match="bogus"):
            leader.get_teleop_events()
    finally:
        leader.disconnect()


def test_leader_errors_are_typed(leader_arm, tmp_path):
    with pytest.raises(NotConnectedError):
        SO101Leader(leader_arm.port).get_action()
    with pytest.raises(CalibrationError, match=r"--teleop\.type=so101_leader"):
        SO101Leader(leader_arm.port, calibration_dir=tmp_path).connect()


def test_leader_teleoperates_the_emulated_follower(leader_arm):
    leader = _leader(leader_arm)
    env = ControlRate(
        gym.make(
            "lerobot_gym/SO101-v0", backend="emulated", obs_type="state", max_speed_deg_s=360.0
        ),
        fps=30,
    )
    try:
        env.reset(seed=0)
        leader_arm.emulator.set_actual_positions_rad(POSE_RAD)
        for _ in range(30):
            obs, *_ = env.step(leader.get_action())
        np.testing.assert_allclose(obs["agent_pos"][:5], POSE_DEG, atol=2.0)
        assert abs(obs["agent_pos"][5] - POSE_USER[5]) < 3.0
    finally:
        env.close()
        leader.disconnect()
