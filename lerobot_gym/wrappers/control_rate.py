"""ControlRate: hold a wall-clock control rate, as a real arm needs.

On hardware an env step returns as soon as the goals are written and the state is read, a few
milliseconds; a policy trained at 30 Hz must be run at 30 Hz. :class:`ControlRate` makes each
``step()`` return at its deadline and reports what the loop really achieved.

Design decisions:
    * Deadlines are absolute (``t0 + k * period``) on ``time.perf_counter``, so sleeping never
      accumulates drift. ``time.sleep`` is used up to ``spin_s`` (1 ms) before the deadline and
      the rest is a spin-wait: OS sleeps overshoot by up to a scheduler tick, a spin does not.
    * A step that returns after its deadline (a slow step, or a late wake-up on a loaded
      machine) is not made up for by shorter periods later (a burst of fast steps would jerk
      the arm): the schedule restarts from that moment, and the lateness is reported as
      ``info["control_overrun_s"]``. Lateness within ``spin_s`` keeps the absolute schedule.
    * The clock starts when ``reset()`` returns, so the first step's period does not include
      a reset's (long, bounded-speed) move.
    * No I/O, no threads; the wrapper is as useful in simulation (a real-time viewer, a human
      teleoperating the twin) as on hardware.
"""

from __future__ import annotations

import time
from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.core import ActType, ObsType

from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError

__all__ = ["ControlRate"]


class ControlRate(gym.Wrapper[ObsType, ActType, ObsType, ActType], gym.utils.RecordConstructorArgs):
    """Make every ``step()`` last one control period of wall-clock time.

    Adds to ``info`` (keys of :mod:`lerobot_gym.core.info`):

    * ``control_period_s``: wall-clock time since the previous step (or reset) returned;
    * ``control_overrun_s``: how late this step returned against its deadline; 0.0 when on
      time to within ``spin_s``.

    Args:
        env: The env to pace.
        fps: Control rate in Hz; default the env's ``metadata["render_fps"]`` (the control
            rate of lerobot_gym envs).
        spin_s: The last part of each wait that is spun instead of slept, for precision.

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> from lerobot_gym.wrappers.control_rate import ControlRate
        >>> env = ControlRate(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"), fps=50)
        >>> env.period_s
        0.02
        >>> _ = env.reset(seed=0)
        >>> _, _, _, _, info = env.step(env.action_space.sample())
        >>> info["control_period_s"] >= 0.02
        True
        >>> env.close()

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self, env: gym.Env[ObsType, ActType], fps: float | None = None, spin_s: float = 1e-3
    ):
        gym.utils.RecordConstructorArgs.__init__(self, fps=fps, spin_s=spin_s)
        gym.Wrapper.__init__(self, env)
        if fps is None:
            fps = env.metadata.get("render_fps")
        if fps is None or not float(fps) > 0:
            raise ConfigError(
                f"ControlRate needs a positive fps, got {fps!r}; pass fps= (the env's metadata "
                "has no 'render_fps')"
            )
        if spin_s < 0:
            raise ConfigError(f"spin_s must be >= 0, got {spin_s}")
        self.fps = float(fps)
        self.period_s = 1.0 / self.fps
        self.spin_s = float(spin_s)
        self._deadline: float | None = None
        self._last_return: float | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env and start the clock."""
        result = self.env.reset(seed=seed, options=options)
        now = time.perf_counter()
        self._last_return = now
        self._deadline = now + self.period_s
        return result

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env, then wait for this step's deadline."""
        if self._deadline is None or self._last_return is None:
            raise gym.error.ResetNeeded("call env.reset() before env.step()")
        obs, reward, terminated, truncated, info = self.env.step(action)
        now = _wait_until(self._deadline, self.spin_s)  # returns at once when already late
        late_s = now - self._deadline
        if late_s > self.spin_s:
            # Late (a slow step, or the OS woke us late): restart the schedule from now rather
            # than catching up with a short period.
            overrun = late_s
            self._deadline = now + self.period_s
        else:  # on time, to the precision of the wait
            overrun = 0.0
            self._deadline += self.period_s
        info = dict(info)
        info[info_keys.CONTROL_PERIOD_S] = now - self._last_return
        info[info_keys.CONTROL_OVERRUN_S] = overrun
        self._last_return = now
        return obs, reward, terminated, truncated, info


def _wait_until(deadline: float, spin_s: float) -> float:
    """Sleep until ``spin_s`` before ``deadline``, spin the rest; return the time reached."""
    remaining = deadline - time.perf_counter()
    if remaining > spin_s:
        time.sleep(remaining - spin_s)
    while (now := time.perf_counter()) < deadline:
        pass
    return now
