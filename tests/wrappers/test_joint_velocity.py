"""JointVelocity: the backend's velocity reading appended to agent_pos, twin and emulated."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers.joint_velocity import JointVelocity


def _moving_run(env: gym.Env, steps: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """States and the times they were read at while the pan swings 40 degrees."""
    obs, _ = env.reset(seed=0)
    assert obs["agent_pos"].shape == (12,)
    target = obs["agent_pos"][:6].copy()
    target[0] += 40.0
    states = [obs["agent_pos"]]
    for _ in range(steps):
        obs, *_ = env.step(target)
        states.append(obs["agent_pos"])
    # Both clocks advance one control period per step: the twin's physics, and the emulated
    # servos in lockstep.
    return np.stack(states), np.arange(steps + 1) / env.unwrapped.fps


@pytest.mark.parametrize("backend", ["sim", "emulated"])
def test_velocities_follow_the_motion(backend):
    # lockstep: the emulated servos advance one control period per step, whatever the load.
    extra = {"max_speed_deg_s": 360.0, "lockstep": True} if backend == "emulated" else {}
    env = JointVelocity(
        gym.make(
            "lerobot_gym/SO101-Reach-v0",
            obs_type="state",
            backend=backend,
            disable_env_checker=True,
            **extra,
        )
    )
    try:
        states, times = _moving_run(env)
    finally:
        env.close()
    pos, vel = states[:, :6], states[:, 6:]
    if backend == "sim":
        assert np.abs(vel[0]).max() < 5.0  # at rest after the reset (deg/s)
    # The pan moves: its reported speed agrees in sign with the motion, and on average with
    # the finite difference of the positions over the reads' times (deg/s).
    diff = np.diff(pos[:, 0]) / np.diff(times)
    # The approach only: around the target a servo's overshoot reverses within one period.
    moving = (np.abs(diff) > 10.0) & (pos[1:, 0] < pos[0, 0] + 30.0)
    assert moving.sum() >= 3
    assert (np.sign(vel[1:, 0][moving]) == np.sign(diff[moving])).all()
    ratio = vel[1:, 0][moving].mean() / diff[moving].mean()
    assert 0.5 < ratio < 2.0, ratio
    assert env.observation_space["agent_pos"].contains(states[-1])


def test_needs_agent_pos():
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="pixels", image_size=(24, 32))
    with pytest.raises(ConfigError, match="agent_pos"):
        JointVelocity(env)
