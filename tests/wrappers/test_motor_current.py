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
