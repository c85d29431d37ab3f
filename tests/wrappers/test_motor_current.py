"""MotorCurrent: what the backend reports in extras is appended; none is a typed error."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers.motor_current import MotorCurrent


def _reach() -> gym.Env:
    return gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state", disable_env_checker=True)


def test_a_backend_without_currents_is_refused_naming_the_key():
    env = MotorCurrent(_reach())
    with pytest.raises(ConfigError, match=r"MujocoBackend.*extras\['present_current'\]"):
        env.reset(seed=0)


def test_reported_currents_follow_the_state(monkeypatch):
    env = MotorCurrent(_reach())
    backend = env.unwrapped.backend
    read = backend.read
    counter = iter(range(1000))

    def read_with_currents(cameras=()):
        state = read(cameras)
        k = next(counter)
        state.extras["present_current"] = np.arange(6) + 10 * k  # what a servo bus returns
        return state

    monkeypatch.setattr(backend, "read", read_with_currents)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["agent_pos"][6:], np.arange(6))
    obs, *_ = env.step(obs["agent_pos"][:6])
    np.testing.assert_array_equal(obs["agent_pos"][6:], np.arange(6) + 10)
    assert env.observation_space.contains(obs)


def test_wrong_count_is_a_typed_error(monkeypatch):
    env = MotorCurrent(_reach())
    backend = env.unwrapped.backend
    read = backend.read

    def read_bad(cameras=()):
        state = read(cameras)
        state.extras["present_current"] = [1.0, 2.0]
        return state

    monkeypatch.setattr(backend, "read", read_bad)
    with pytest.raises(ConfigError, match="one per joint"):
        env.reset(seed=0)


def _emulated() -> gym.Env:
    # lockstep: the emulated arm moves only when commanded, so its registers hold still
    # between a step and the test's look at them.
    return gym.make(
        "lerobot_gym/SO101-Reach-v0",
        backend="emulated",
        obs_type="state",
        lockstep=True,
        disable_env_checker=True,
    )


def test_the_emulated_so101_reads_present_current_over_the_bus():
    """The real Feetech driver reads Present_Current in its SYNC_READ when asked."""
    plain = _emulated()
    try:
        plain.reset(seed=0)
        assert "present_current" not in plain.unwrapped.last_state.extras  # not read by default
    finally:
        plain.close()
    env = MotorCurrent(_emulated())
    try:
        obs, _ = env.reset(seed=0)
        target = obs["agent_pos"][:6].copy()
        target[1] += 20.0  # lift the shoulder: the servos work against gravity
        for _ in range(3):
            obs, *_ = env.step(target)
        emulator = env.unwrapped.backend.emulator
        names = env.unwrapped.robot.joint_names
        registers = [emulator.register("Present_Current", name) for name in names]
        np.testing.assert_array_equal(obs["agent_pos"][6:], registers)
        assert max(registers) > 0
    finally:
        env.close()
