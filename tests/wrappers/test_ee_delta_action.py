"""EEDeltaAction: Cartesian deltas through IK on the twin's kinematics; bounds never left."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ActionError, ConfigError
from lerobot_gym.wrappers.ee_delta_action import EEDeltaAction

HOLD = np.zeros(4, dtype=np.float32)


def _env(**kwargs) -> EEDeltaAction:
    env_keys = ("backend", "max_speed_deg_s", "lockstep")
    env_kwargs = {k: kwargs.pop(k) for k in env_keys if k in kwargs}
    base = gym.make(
        "lerobot_gym/SO101-Reach-v0", obs_type="state", disable_env_checker=True, **env_kwargs
    )
    return EEDeltaAction(base, **kwargs)


def _measured(env: EEDeltaAction) -> np.ndarray:
    """Where ``gripperframe`` really is: FK of the joints the robot reports."""
    return env.kinematics.fk(env.unwrapped.last_state.joint_positions_rad)[0]


def _sent(env: EEDeltaAction) -> np.ndarray:
    """Where the joint targets sent to the robot put ``gripperframe``."""
    return env.kinematics.fk(env.unwrapped.joint_targets_rad)[0]


def _settle(env: EEDeltaAction, steps: int = 30) -> None:
    for _ in range(steps):
        env.step(HOLD)


@pytest.mark.parametrize(
    "delta",
    [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1), (0.5, -0.7, 0.4)],
)
def test_an_unobstructed_delta_moves_gripperframe_by_that_delta(delta):
    env = _env(step_sizes_m=0.02)
    env.reset(seed=0)
    _settle(env)
    before = _measured(env)
    info = env.step(np.array([*delta, 0.0], dtype=np.float32))[4]
    _settle(env)
    moved = _measured(env) - before
    commanded = np.array(delta) * 0.02
    assert np.linalg.norm(moved - commanded) < 2e-3, (moved, commanded)
    assert not info["ee_clipped"].any() and not info["ee_rejected"]
    np.testing.assert_allclose(info["action_applied"][:3], delta, atol=0.02)
    env.close()


def test_deltas_accumulate_without_drift_over_many_steps():
    env = _env(step_sizes_m=0.01)
    env.reset(seed=1)
    _settle(env)
    before = _measured(env)
    for _ in range(6):
        env.step(np.array([0.0, 1.0, -0.5, 0.0], dtype=np.float32))
    _settle(env)
    moved = _measured(env) - before
    assert np.linalg.norm(moved - [0.0, 0.06, -0.03]) < 2e-3, moved
    env.close()


def test_a_target_outside_the_bounds_is_clipped_reported_and_never_sent():
    low, high = np.array([0.15, -0.05, 0.05]), np.array([0.25, 0.05, 0.12])
    env = _env(step_sizes_m=0.02, bounds=(low, high))
    env.reset(seed=0)
    infos = [env.step(np.array([0.0, 0.0, 1.0, 0.0], dtype=np.float32))[4] for _ in range(8)]
    # Home is ~8 cm high: the target reaches the 12 cm ceiling within 3 steps, then every
    # further +z is clipped (and reported), and nothing above it is sent.
    clipped = [bool(info["ee_clipped"][2]) for info in infos]
    assert clipped[:1] == [False] and all(clipped[3:])
    assert all(info["ee_target"][2] <= high[2] for info in infos)
    assert _sent(env)[2] <= high[2] + env.bounds_tol_m
    assert infos[-1]["action_applied"][2] == pytest.approx(0.0, abs=0.02)  # no move left
    _settle(env)
    assert _measured(env)[2] == pytest.approx(high[2], abs=2e-3)
    env.close()


@pytest.mark.slow
def test_bounds_hold_under_10000_random_actions():
    env = _env(step_sizes_m=0.02)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    low, high = env.bounds_low - env.bounds_tol_m, env.bounds_high + env.bounds_tol_m
    seen_low, seen_high, clipped = np.full(3, np.inf), np.full(3, -np.inf), 0
    for _ in range(10_000):
        info = env.step(rng.uniform(-1.5, 1.5, 4).astype(np.float32))[4]
        sent = _sent(env)
        assert (sent >= low).all() and (sent <= high).all(), sent
        seen_low, seen_high = np.minimum(seen_low, sent), np.maximum(seen_high, sent)
        clipped += bool(info["ee_clipped"].any())
    # The walk really pressed against the box (else the property would be vacuous).
    assert clipped > 100
    assert (seen_high - seen_low > 0.5 * (env.bounds_high - env.bounds_low)).all()
    env.close()


def test_gripper_command_opens_and_closes_by_steps():
    env = _env(gripper_step=0.25)
    obs, _ = env.reset(seed=0)
    g = env.unwrapped.robot.gripper_index
    start = obs["agent_pos"][g]
    closing = [env.step(np.array([0, 0, 0, -1], dtype=np.float32))[4] for _ in range(5)]
    closed = env.unwrapped.joint_targets_rad[g]
    assert closed == pytest.approx(env.unwrapped.robot.joints[g].lower_rad)
    assert closing[0]["action_applied"][3] == -1.0
    for _ in range(5):
        env.step(np.array([0, 0, 0, 1], dtype=np.float32))
    assert env.unwrapped.joint_targets_rad[g] == pytest.approx(
        env.unwrapped.robot.joints[g].upper_rad
    )
    assert start is not None
    env.close()


def test_works_on_the_emulated_arm_with_the_twins_kinematics():
    # lockstep: the emulated arm advances one control period per command, so how far it got
    # does not depend on how busy the machine is (the bus, calibration and ticks are real).
    env = _env(backend="emulated", lockstep=True, max_speed_deg_s=360.0, step_sizes_m=0.02)
    try:
        env.reset(seed=0)
        _settle(env, 20)
        before = _measured(env)
        env.step(np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32))
        _settle(env, 20)
        moved = _measured(env) - before
        # The servo's position loop on the emulated bus: a tick is 0.088 deg, ~0.5 mm here.
        assert np.linalg.norm(moved - [0.0, 0.02, 0.0]) < 3e-3, moved
    finally:
        env.close()


def test_bad_configuration_and_actions_are_typed_errors():
    with pytest.raises(ConfigError, match="control_mode='joint_pos'"):
        EEDeltaAction(
            gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state", control_mode="joint_delta")
        )
    with pytest.raises(ConfigError, match="low < high"):
        _env(bounds=([0.3, 0, 0], [0.1, 0.1, 0.1]))
    with pytest.raises(ConfigError, match="step_sizes_m"):
        _env(step_sizes_m=0.0)
    env = _env()
    with pytest.raises(gym.error.ResetNeeded):
        env.step(HOLD)
    env.reset(seed=0)
    with pytest.raises(ActionError, match="dx, dy, dz, gripper"):
        env.step(np.array([np.nan, 0, 0, 0]))
    with pytest.raises(ActionError):
        env.step(np.zeros(6))
    env.close()
