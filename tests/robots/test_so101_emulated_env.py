"""``backend="emulated"``: every SO-101 id through the real driver over the MuJoCo-backed bus."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import ConfigError
from lerobot_gym.registry import ENV_IDS
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.wrappers.control_rate import ControlRate

SO101_IDS = sorted(env_id for env_id, (robot, _, _) in ENV_IDS.items() if robot == "so101")
STATE_IDS = [i for i in SO101_IDS if "Cube" not in i]  # cube poses are sim-only facts
SMALL = (24, 32)
FAST = {"max_speed_deg_s": 360.0}


def _make(env_id: str, **kwargs) -> gym.Env:
    kwargs = {"backend": "emulated", "image_size": SMALL, **FAST, **kwargs}
    return gym.make(env_id, disable_env_checker=True, **kwargs)


def _as_nondeterministic(env: gym.Env) -> gym.Env:
    # Hardware readings differ by a tick from one reset to the next; the env tells the checker.
    assert env.unwrapped.spec.nondeterministic
    return env.unwrapped


def test_gym_make_does_no_io():
    env = _make("lerobot_gym/SO101-Reach-v0")
    backend = env.unwrapped.backend
    assert backend.emulator is None and not backend.is_connected
    env.close()
    assert backend.emulator is None


@pytest.mark.parametrize("env_id", SO101_IDS)
def test_check_env_with_pixels(env_id):
    env = _make(env_id, obs_type="pixels_agent_pos")
    try:
        check_env(_as_nondeterministic(env), skip_render_check=True)
    finally:
        env.close()
    assert env.unwrapped.backend.emulator is None  # stopped with the env


@pytest.mark.parametrize("env_id", STATE_IDS)
def test_check_env_with_state(env_id):
    env = _make(env_id, obs_type="state")
    try:
        check_env(_as_nondeterministic(env), skip_render_check=True)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", sorted(set(SO101_IDS) - set(STATE_IDS)))
def test_privileged_state_is_refused_off_the_twin(env_id):
    with pytest.raises(ConfigError, match="only the simulated twin"):
        _make(env_id, obs_type="state")


# Every id with every obs_type it offers off the twin (cube tasks' state is refused above).
PARITY = [(i, o) for i in SO101_IDS for o in ("pixels", "pixels_agent_pos")]
PARITY += [(i, "state") for i in STATE_IDS]


@pytest.mark.parametrize(("env_id", "obs_type"), PARITY)
def test_spaces_are_identical_to_the_twin(env_id, obs_type):
    sim = gym.make(env_id, obs_type=obs_type, image_size=SMALL)
    emulated = _make(env_id, obs_type=obs_type)
    named = _make(env_id, obs_type=obs_type, cameras={"front": "twin", "wrist": "synthetic"})
    try:
        assert emulated.observation_space == sim.observation_space
        assert named.observation_space == sim.observation_space
        assert emulated.action_space == sim.action_space
    finally:
        for env in (sim, emulated, named):
            env.close()


def test_the_emulated_arm_follows_commands_at_30_hz():
    env = ControlRate(_make("lerobot_gym/SO101-v0", obs_type="state"), fps=30)
    try:
        env.reset(seed=0)
        target = np.array([25.0, -20.0, 30.0, 40.0, -35.0, 60.0], dtype=np.float32)
        for _ in range(45):  # 1.5 s
            obs, *_ = env.step(target)
        np.testing.assert_allclose(obs["agent_pos"][:5], target[:5], atol=2.0)
        assert abs(obs["agent_pos"][5] - target[5]) < 3.0  # percent of the jaw's travel
        actual_deg = SO101.to_user(env.unwrapped.backend.emulator.actual_positions_rad())
        np.testing.assert_allclose(actual_deg[:5], target[:5], atol=2.0)
    finally:
        env.close()


def test_extreme_actions_never_leave_the_calibrated_range():
    env = _make("lerobot_gym/SO101-v0", obs_type="state")
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        emu, calibration = backend.emulator, backend.calibration
        rng = np.random.default_rng(0)
        extremes = [np.full(6, 1e6), np.full(6, -1e6)]
        extremes += [rng.choice([-1e4, 1e4], size=6) for _ in range(8)]
        for action in extremes:
            env.step(action.astype(np.float32))
            for name, cal in calibration.items():
                goal = emu.register("Goal_Position", name)
                assert cal.range_min <= goal <= cal.range_max, (name, goal)
            assert np.all(backend.last_goal_ticks >= backend.converter.range_min)
            assert np.all(backend.last_goal_ticks <= backend.converter.range_max)
    finally:
        env.close()


def test_twin_camera_images_show_the_arm_pose():
    env = _make("lerobot_gym/SO101-v0", obs_type="pixels", cameras=("front",), image_size=(48, 64))
    try:
        first, _ = env.reset(seed=0)
        emu = env.unwrapped.backend.emulator
        emu.set_actual_positions_rad(np.array([1.2, 0.5, -0.5, 0.0, 0.0, 0.0]))
        moved = env.unwrapped.backend.read(("front",)).images["front"]
        assert first["pixels"]["front"].shape == moved.shape == (48, 64, 3)
        assert np.abs(first["pixels"]["front"].astype(int) - moved.astype(int)).mean() > 1.0
    finally:
        env.close()


def test_render_shows_the_render_camera_even_with_state_observations():
    env = _make("lerobot_gym/SO101-v0", obs_type="state", render_mode="rgb_array")
    try:
        env.reset(seed=0)
        frame = env.render()
        assert frame.shape == (*SMALL, 3) and frame.dtype == np.uint8 and frame.any()
    finally:
        env.close()


def test_backend_options_are_checked():
    with pytest.raises(ConfigError, match="unknown keyword"):
        _make("lerobot_gym/SO101-v0", not_an_option=1)
    with pytest.raises(ConfigError, match="lerobot-gym find-port"):
        gym.make("lerobot_gym/SO101-v0", backend="real", obs_type="state")
    with pytest.raises(ConfigError, match="needs a device for camera"):
        gym.make("lerobot_gym/SO101-v0", backend="real", port="/dev/ttyACM0")
    env = gym.make(
        "lerobot_gym/SO101-v0", backend="real", port="/dev/ttyACM0", cameras={"front": 0}
    )
    assert not env.unwrapped.backend.is_connected  # gym.make opened nothing
    env.close()


def test_robots_without_hardware_support_are_refused():
    other = dataclasses.replace(SO101, name="koch", robot_type="koch_follower")
    assert isinstance(other, RobotSpec)
    for options in ({"backend": "real", "port": "/dev/ttyACM0"}, {"backend": "emulated"}):
        with pytest.raises(ConfigError, match=r"not available for robot 'koch'.*'sim'"):
            gym.make("lerobot_gym/RobotEnv-v0", robot=other, task="free", **options)
