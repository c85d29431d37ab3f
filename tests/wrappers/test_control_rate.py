"""ControlRate: wall-clock pacing, reported periods and overruns, the Gymnasium wrapper habits."""

from __future__ import annotations

import doctest
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import lerobot_gym  # noqa: F401
from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers import control_rate
from lerobot_gym.wrappers.control_rate import ControlRate


class _TimedEnv(gym.Env):
    """A step that takes ``step_s`` seconds (a bus round trip, a camera read)."""

    metadata = {"render_fps": 50}

    def __init__(self, step_s: float = 0.0) -> None:
        self.step_s = step_s
        self.observation_space = spaces.Box(-1, 1, (1,), np.float32)
        self.action_space = spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        if self.step_s:
            time.sleep(self.step_s)
        return np.zeros(1, np.float32), 0.0, False, False, {"inner": True}


def _run(env: ControlRate, steps: int) -> tuple[list[float], list[float], float]:
    env.reset(seed=0)
    t0 = time.perf_counter()
    periods, overruns = [], []
    for _ in range(steps):
        *_, info = env.step(np.zeros(1, np.float32))
        periods.append(info[info_keys.CONTROL_PERIOD_S])
        overruns.append(info[info_keys.CONTROL_OVERRUN_S])
        assert info["inner"]  # the wrapped env's info is kept
    return periods, overruns, time.perf_counter() - t0


def test_holds_the_rate_without_drift():
    env = ControlRate(_TimedEnv(step_s=0.004), fps=50)
    periods, overruns, elapsed = _run(env, 40)
    # Absolute deadlines: the loop loses no time beyond the lateness it reports (a loaded
    # machine wakes sleepers late now and then; each such step is an overrun) ...
    assert elapsed == pytest.approx(0.8 + sum(overruns), abs=0.005)
    # ... and never makes a period short to catch up (only sub-spin lateness is absorbed).
    assert min(periods) >= 0.02 - env.spin_s - 1e-4
    assert np.median(periods) == pytest.approx(0.02, abs=0.002)


def test_fps_defaults_to_the_env_metadata():
    env = ControlRate(_TimedEnv())
    assert env.fps == 50 and env.period_s == pytest.approx(0.02)


def test_a_slow_step_is_reported_and_not_caught_up():
    inner = _TimedEnv()
    env = ControlRate(inner, fps=50)
    env.reset()
    env.step(np.zeros(1, np.float32))
    inner.step_s = 0.06  # one step three periods long
    *_, late = env.step(np.zeros(1, np.float32))
    inner.step_s = 0.0
    *_, after = env.step(np.zeros(1, np.float32))
    assert late[info_keys.CONTROL_OVERRUN_S] >= 0.035
    assert late[info_keys.CONTROL_PERIOD_S] >= 0.06
    # The next step keeps a whole period (plus its own lateness, if the OS woke it late)
    # instead of bursting to catch up.
    expected = 0.02 + after[info_keys.CONTROL_OVERRUN_S]
    assert after[info_keys.CONTROL_PERIOD_S] == pytest.approx(expected, abs=0.0015)


def test_step_before_reset_and_bad_settings_are_typed_errors():
    with pytest.raises(gym.error.ResetNeeded):
        ControlRate(_TimedEnv(), fps=30).step(np.zeros(1, np.float32))
    with pytest.raises(ConfigError, match="positive fps"):
        ControlRate(_TimedEnv(), fps=0)
    with pytest.raises(ConfigError, match="spin_s"):
        ControlRate(_TimedEnv(), fps=30, spin_s=-1)


def test_spaces_pass_through_and_constructor_args_are_recorded():
    inner = _TimedEnv()
    env = ControlRate(inner, fps=25)
    assert env.observation_space is inner.observation_space
    assert env.action_space is inner.action_space
    assert env._saved_kwargs == {"fps": 25, "spin_s": 1e-3}


def test_the_wrapper_rebuilds_from_the_env_spec():
    env = ControlRate(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"), fps=40)
    try:
        rebuilt = gym.make(env.spec)
        assert isinstance(rebuilt, ControlRate) and rebuilt.fps == 40
        rebuilt.close()
    finally:
        env.close()


def test_docstring_example_runs_on_the_twin():
    result = doctest.testmod(control_rate, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0
