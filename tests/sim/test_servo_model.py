"""The STS3215 servo model on the twin: each part of the loop does what it says."""

from __future__ import annotations

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401
from lerobot_gym.errors import ConfigError, TwinParamsError
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.sim.twin_params import load_twin_params, resolve_twin_params

TICK_DEG = 360 / 4096
LIFT, ROLL = 1, 4


def _env(**kwargs):
    return gym.make("lerobot_gym/SO101-v0", obs_type="state", disable_env_checker=True, **kwargs)


def _step_response(env, joint: int, delta: float, frames: int) -> np.ndarray:
    obs, _ = env.reset(seed=0)
    target = obs["agent_pos"].copy()
    target[joint] += delta
    return np.array([env.step(target)[0]["agent_pos"][joint] for _ in range(frames)])


def test_the_default_actuator_is_still_ideal_and_the_servo_is_slower():
    ideal, servo = _env(), _env(actuator="servo")
    assert ideal.unwrapped.backend.servo is None
    start = ideal.reset(seed=0)[0]["agent_pos"][ROLL]
    fast = _step_response(ideal, ROLL, 3.0, 3) - start
    slow = _step_response(servo, ROLL, 3.0, 3) - start
    assert abs(fast[1] - 3.0) < 0.5  # the ideal twin is there after two frames
    assert slow[1] < 1.5  # the servo is not half way


def test_the_servo_lags_its_target_by_frames_as_the_real_arm_does():
    env = _env(actuator="servo")
    start = env.reset(seed=0)[0]["agent_pos"][ROLL]
    trace = _step_response(env, ROLL, 10.0, 15) - start
    assert trace[0] < 3.0  # one frame after the command: barely started (delay + P loop)
    assert trace[-1] > 9.0  # half a second later: there
    first_half = int(np.argmax(trace > 5.0))
    assert 2 <= first_half <= 6


def test_a_longer_delay_holds_the_joint_still_for_that_long(default_params):
    params = dataclasses.replace(default_params, delay_s=0.1)  # three frames
    env = _env(twin_params=params)
    start = env.reset(seed=0)[0]["agent_pos"][ROLL]
    trace = _step_response(env, ROLL, 10.0, 6) - start
    assert np.all(np.abs(trace[:2]) <= TICK_DEG)
    assert trace[5] > 1.0


def test_readings_are_whole_encoder_ticks():
    env = _env(actuator="servo")
    env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(env.action_space.sample())
        arm = obs["agent_pos"][:5].astype(np.float64)
        # float32 degrees: a whole number of ticks to within the float's precision.
        np.testing.assert_allclose(arm / TICK_DEG, np.round(arm / TICK_DEG), atol=2e-3)


def test_the_torque_limit_bounds_the_actuator_force(default_params):
    limit = np.full(6, 0.5)
    env = _env(twin_params=default_params.replace_joints(torque_limit_nm=limit))
    env.reset(seed=0)
    data = env.unwrapped.backend.data
    for _ in range(5):
        env.step(env.action_space.sample())
        assert np.all(np.abs(data.actuator_force[:6]) <= 0.5 + 1e-9)


def test_a_goal_inside_the_deadband_does_not_move_the_joint(default_params):
    deadband = np.full(6, 0.05)  # rad, about 2.9 degrees
    env = _env(twin_params=default_params.replace_joints(deadband_rad=deadband))
    start = env.reset(seed=0)[0]["agent_pos"][ROLL]
    small = _step_response(env, ROLL, 1.5, 10)
    assert np.all(np.abs(small - start) <= 2 * TICK_DEG)
    large = _step_response(env, ROLL, 10.0, 15)
    assert large[-1] - start > 5.0


def test_the_velocity_limit_caps_the_joint_speed(default_params):
    vmax = np.full(6, 0.5)  # rad/s
    env = _env(twin_params=default_params.replace_joints(velocity_limit_rad_s=vmax))
    start = env.reset(seed=0)[0]["agent_pos"][ROLL]
    trace = _step_response(env, ROLL, 60.0, 10) - start
    assert trace[-1] <= np.degrees(0.5 * 10 / 30) + 2 * TICK_DEG
    assert trace[-1] > np.degrees(0.5 * 5 / 30)


def test_the_zero_offset_shifts_readings_not_the_arm(default_params):
    offset = np.zeros(6)
    offset[ROLL] = 0.1
    shifted = _env(twin_params=default_params.replace_joints(zero_offset_rad=offset))
    plain = _env(twin_params=default_params)
    a = shifted.reset(seed=0)[0]["agent_pos"]
    b = plain.reset(seed=0)[0]["agent_pos"]
    np.testing.assert_allclose(a, b, atol=2 * TICK_DEG)  # the start pose is a reading
    q_shifted = shifted.unwrapped.backend.data.qpos[ROLL]
    q_plain = plain.unwrapped.backend.data.qpos[ROLL]
    assert q_plain - q_shifted == pytest.approx(0.1, abs=2e-3)


def test_the_mounting_raises_the_arm_above_the_table(default_params):
    raised = _env(twin_params=dataclasses.replace(default_params, base_height_m=0.03))
    plain = _env(twin_params=default_params)
    raised.reset(seed=0)
    plain.reset(seed=0)
    z = [e.unwrapped.backend.data.site("gripperframe").xpos[2] for e in (raised, plain)]
    assert z[0] - z[1] == pytest.approx(0.03, abs=1e-3)


def test_same_seed_and_actions_give_the_same_trajectory():
    runs = []
    for _ in range(2):
        env = _env(actuator="servo")
        env.reset(seed=3)
        env.action_space.seed(3)
        runs.append([env.step(env.action_space.sample())[0]["agent_pos"] for _ in range(10)])
    np.testing.assert_array_equal(np.stack(runs[0]), np.stack(runs[1]))


def test_the_default_parameter_file_is_the_so101s_and_in_range():
    params = resolve_twin_params(None, SO101)
    assert tuple(params.joints) == SO101.joint_names
    assert params.ticks_per_turn == 4096
    gripper = params.joints["gripper"].torque_limit_nm
    assert gripper == pytest.approx(params.joints["shoulder_pan"].torque_limit_nm / 2)


def _write(tmp_path, content):
    path = tmp_path / "params.json"
    path.write_text(json.dumps(content))
    return path


def test_a_parameter_file_for_another_robot_is_refused(tmp_path, default_params):
    content = default_params.to_json() | {"robot": "koch"}
    with pytest.raises(TwinParamsError, match="for robot 'koch', not 'so101'"):
        _env(twin_params=str(_write(tmp_path, content)))


def test_a_parameter_outside_its_range_is_refused_by_name(tmp_path, default_params):
    content = default_params.to_json()
    content["joints"]["elbow_flex"]["kp_nm_per_rad"] = -3.0
    with pytest.raises(TwinParamsError, match=r"joints.elbow_flex.kp_nm_per_rad = -3.0"):
        load_twin_params(_write(tmp_path, content), SO101)
    content = default_params.to_json() | {"delay_s": 2.0}
    with pytest.raises(TwinParamsError, match="delay_s"):
        load_twin_params(_write(tmp_path, content), SO101)


def test_malformed_parameter_files_are_refused(tmp_path, default_params):
    with pytest.raises(TwinParamsError, match="not found"):
        load_twin_params(tmp_path / "missing.json")
    with pytest.raises(TwinParamsError, match="unknown key"):
        load_twin_params(_write(tmp_path, default_params.to_json() | {"kp": 3}))
    content = default_params.to_json()
    del content["joints"]["gripper"]["kd_nms_per_rad"]
    with pytest.raises(TwinParamsError, match="missing"):
        load_twin_params(_write(tmp_path, content))
    content = default_params.to_json()
    content["joints"].pop("gripper")
    with pytest.raises(TwinParamsError, match="robot 'so101' has"):
        load_twin_params(_write(tmp_path, content), SO101)


def test_actuator_keyword_errors_say_what_to_do(default_params):
    with pytest.raises(ConfigError, match="choose one of"):
        _env(actuator="stepper")
    with pytest.raises(ConfigError, match="drop actuator='ideal'"):
        _env(actuator="ideal", twin_params=default_params)


def test_params_round_trip_through_a_file(tmp_path, default_params):
    path = default_params.save(tmp_path / "p.json")
    assert load_twin_params(path, SO101) == default_params


def _success_count(env_id: str, episodes: int) -> tuple[int, list[int]]:
    from lerobot_gym.tasks.scripted import make_scripted_policy

    env = _env_id(env_id)
    policy = make_scripted_policy(env)
    failures = []
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        policy.reset(obs, info)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            done = terminated or truncated
        if not info["is_success"]:
            failures.append(seed)
    env.close()
    return episodes - len(failures), failures


def _env_id(env_id: str):
    return gym.make(env_id, obs_type="state", disable_env_checker=True, actuator="servo")


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["lerobot_gym/SO101-PickCube-v0", "lerobot_gym/SO101-Reach-v0"])
def test_scripted_policies_succeed_95_of_100_with_the_servo_model(env_id):
    successes, failures = _success_count(env_id, 100)
    assert successes >= 95, f"failed seeds: {failures}"
