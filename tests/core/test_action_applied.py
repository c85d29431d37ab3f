"""``info["action_applied"]`` always lies inside the action space, whatever action was sent.

It is what recorders store as the dataset's ``action``, so a value outside the space (a clamped
gripper reported as -1.8e-15 below its 0 bound) makes the recorded data fail its own space.
"""

import functools

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lerobot_gym  # noqa: F401  (registers the ids)

IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("lerobot_gym/"))
MODES = [("joint_pos", None), ("joint_delta", None), ("joint_pos", 3.0), ("joint_delta", 2.0)]


@functools.cache
def _env(env_id: str, control_mode: str, max_relative_target: float | None) -> gym.Env:
    # One env per case, reused across hypothesis examples (built once: a twin takes ~0.1 s).
    return gym.make(
        env_id,
        obs_type="state",
        control_mode=control_mode,
        max_relative_target=max_relative_target,
    ).unwrapped


def _actions(draw, space: gym.spaces.Box, n: int) -> list[np.ndarray]:
    """Actions inside, on and far outside the bounds, in float32 and float64."""
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    span = high - low
    out = []
    for _ in range(n):
        kind = draw(st.sampled_from(["inside", "bounds", "outside", "wild"]))
        u = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=len(low), max_size=len(low))))
        if kind == "inside":
            action = low + u * span
        elif kind == "bounds":
            action = np.where(u < 0.5, low, high)
        elif kind == "outside":
            action = np.where(u < 0.5, low - u * span, high + u * span)
        else:
            action = (u - 0.5) * 2e4
        dtype = draw(st.sampled_from([np.float32, np.float64]))
        out.append(action.astype(dtype))
    return out


@pytest.mark.parametrize("control_mode, max_relative_target", MODES)
@pytest.mark.parametrize("env_id", IDS)
@settings(max_examples=15, deadline=None, derandomize=True)
@given(data=st.data())
def test_action_applied_is_in_the_action_space(env_id, control_mode, max_relative_target, data):
    env = _env(env_id, control_mode, max_relative_target)
    env.reset(seed=data.draw(st.integers(0, 2**16)))
    # Joints with JointSpec.strict_range (ALOHA's 0..1 grippers) refuse absolute targets outside
    # their range (tests/tasks/test_aloha_tasks.py); keep those inside, test the rest.
    strict = [i for i, j in enumerate(env.robot.joints) if j.strict_range]
    for action in _actions(data.draw, env.action_space, n=8):
        if strict and control_mode == "joint_pos":
            low, high = env.action_space.low[strict], env.action_space.high[strict]
            action[strict] = np.clip(action[strict], low, high)
        _, _, _, _, info = env.step(action)
        applied = info["action_applied"]
        assert env.action_space.contains(applied), (action, applied, env.action_space)


def test_a_gripper_clamped_closed_reports_exactly_its_bound():
    env = _env("lerobot_gym/SO101-v0", "joint_pos", None)
    env.reset(seed=0)
    action = env.action_space.low.copy()
    action[-1] = -50.0  # past closed
    _, _, _, _, info = env.step(action)
    assert info["action_applied"][-1] == env.action_space.low[-1] == 0.0
    assert info["safety_clamped"][-1]
