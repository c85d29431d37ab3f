"""ControlRate: wall-clock pacing, reported periods and overruns, the Gymnasium wrapper habits.

The schedule is tested on a simulated clock (:class:`_Clock`: ``sleep`` and the env's step
advance it, a late wake-up is injected where a test wants one), so the figures are exact on a
loaded machine; one test on the real clock checks only what cannot fail by load (a loop is never
faster than its rate). How closely the real loop holds its rate is benchmarks/control_loop.py's.
"""

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


class _Clock:
    """``time`` for control_rate: reading it costs 1 us, ``sleep`` oversleeps by ``late_s``."""

    def __init__(self) -> None:
        self.now = 100.0
        self.late_s: dict[int, float] = {}  # sleep call index -> extra lateness
        self.sleeps = 0

    def perf_counter(self) -> float:
        self.now += 1e-6
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds + self.late_s.get(self.sleeps, 0.0)
        self.sleeps += 1


@pytest.fixture
def clock(monkeypatch):
    fake = _Clock()
    monkeypatch.setattr(control_rate, "time", fake)
    return fake


class _TimedEnv(gym.Env):
    """A step that takes ``step_s`` seconds (a bus round trip, a camera read)."""

    metadata = {"render_fps": 50}

    def __init__(self, step_s: float = 0.0, clock: _Clock | None = None) -> None:
        self.step_s = step_s
        self.clock = clock
        self.observation_space = spaces.Box(-1, 1, (1,), np.float32)
        self.action_space = spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        if self.step_s:
            (self.clock or time).sleep(self.step_s)
        return np.zeros(1, np.float32), 0.0, False, False, {"inner": True}


def _run(env: ControlRate, steps: int, clock=time) -> tuple[list[float], list[float], float]:
    env.reset(seed=0)
    t0 = clock.perf_counter()
    periods, overruns = [], []
    for _ in range(steps):
        *_, info = env.step(np.zeros(1, np.float32))
        periods.append(info[info_keys.CONTROL_PERIOD_S])
        overruns.append(info[info_keys.CONTROL_OVERRUN_S])
        assert info["inner"]  # the wrapped env's info is kept
    return periods, overruns, clock.perf_counter() - t0


def test_holds_the_rate_without_drift(clock):
    env = ControlRate(_TimedEnv(step_s=0.004, clock=clock), fps=50)
    # The OS wakes the loop late twice (3 ms, then 0.5 ms: beyond and within the spin).
    clock.late_s = {10 * 2 + 1: 0.003, 25 * 2 + 1: 0.0005}  # (step sleep, wait sleep) per step
    periods, overruns, elapsed = _run(env, 40, clock)
    # Absolute deadlines: the loop loses no time beyond the lateness it reports ...
    assert elapsed == pytest.approx(0.8 + sum(overruns), abs=1e-4)
    assert overruns[10] == pytest.approx(0.003 - env.spin_s, abs=1e-4)
    assert sum(o > 0 for o in overruns) == 1  # sub-spin lateness is absorbed, not reported
    # ... and never makes a period short to catch up.
    assert min(periods) >= 0.02 - 1e-4
    assert np.median(periods) == pytest.approx(0.02, abs=1e-4)


def test_a_real_loop_is_never_faster_than_its_rate():
    env = ControlRate(_TimedEnv(step_s=0.002), fps=50)
    periods, _, elapsed = _run(env, 10)
    assert elapsed >= 10 * 0.02 and min(periods) >= 0.02 - env.spin_s


def test_fps_defaults_to_the_env_metadata():
    env = ControlRate(_TimedEnv())
    assert env.fps == 50 and env.period_s == pytest.approx(0.02)


def test_a_slow_step_is_reported_and_not_caught_up(clock):
    inner = _TimedEnv(clock=clock)
    env = ControlRate(inner, fps=50)
    env.reset()
    env.step(np.zeros(1, np.float32))
    inner.step_s = 0.06  # one step three periods long
    *_, late = env.step(np.zeros(1, np.float32))
    inner.step_s = 0.0
    *_, after = env.step(np.zeros(1, np.float32))
    assert late[info_keys.CONTROL_OVERRUN_S] == pytest.approx(0.04, abs=1e-4)
    assert late[info_keys.CONTROL_PERIOD_S] == pytest.approx(0.06, abs=1e-4)
    # The next step keeps a whole period instead of bursting to catch up.
    assert after[info_keys.CONTROL_OVERRUN_S] == 0.0
    assert after[info_keys.CONTROL_PERIOD_S] == pytest.approx(0.02, abs=1e-4)


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
