import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ActionError, ConfigError, UnknownRobotError, UnknownTaskError

IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("lerobot_gym/"))
OBS_TYPES = ["state", "pixels", "pixels_agent_pos"]
SMALL = {"image_size": (48, 64)}


def make(env_id, **kwargs):
    return gym.make(env_id, **{**SMALL, **kwargs})


@pytest.mark.parametrize("obs_type", OBS_TYPES)
@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_check_env(env_id, obs_type):
    env = make(env_id, obs_type=obs_type, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


@pytest.mark.parametrize("obs_type", OBS_TYPES)
@pytest.mark.parametrize("env_id", IDS)
def test_sb3_check_env(env_id, obs_type):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = make(env_id, obs_type=obs_type)
    sb3_check_env(env, warn=True)
    env.close()


def _rollout(env, seed, steps=40, reset_seed=True):
    obs, _ = env.reset(seed=seed if reset_seed else None)
    states = [obs["agent_pos"].copy()]
    env.action_space.seed(123)
    for _ in range(steps):
        obs, *_ = env.step(env.action_space.sample())
        states.append(np.concatenate([obs["agent_pos"], obs.get("environment_state", [])]))
    return np.array(states[1:])


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_trajectory(env_id):
    a = _rollout(make(env_id, obs_type="state"), seed=7)
    b = _rollout(make(env_id, obs_type="state"), seed=7)
    np.testing.assert_array_equal(a, b)


def test_unseeded_reset_continues_the_seeded_stream():
    env_a = make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    env_b = make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    env_a.reset(seed=3)
    env_b.reset(seed=3)
    obs_a, _ = env_a.reset()
    obs_b, _ = env_b.reset()
    np.testing.assert_array_equal(obs_a["environment_state"], obs_b["environment_state"])
    # ...and differs from the first episode of that seed.
    obs_c, _ = env_a.reset(seed=3)
    assert not np.array_equal(obs_a["environment_state"], obs_c["environment_state"])


def test_spaces_match_lerobot_units():
    env = make("lerobot_gym/SO101-PickCube-v0", obs_type="pixels_agent_pos")
    low, high = env.action_space.low, env.action_space.high
    assert env.action_space.shape == (6,)
    assert low[5] == pytest.approx(0.0) and high[5] == pytest.approx(100.0)
    assert high[0] == pytest.approx(110.0, abs=0.01)  # shoulder_pan +-1.91986 rad
    pixels = env.observation_space["pixels"]
    assert set(pixels.spaces) == {"front", "wrist"}
    assert pixels["front"].shape == (48, 64, 3)


def test_max_relative_target_reported_in_action_applied():
    env = make("lerobot_gym/SO101-v0", obs_type="state", max_relative_target=2.0)
    obs, _ = env.reset(seed=0)
    target = obs["agent_pos"].copy()
    target[0] += 30.0
    _, _, _, _, info = env.step(target)
    assert info["action_applied"][0] == pytest.approx(obs["agent_pos"][0] + 2.0, abs=0.05)
    assert info["safety_clamped"][0]


def test_action_applied_is_clamped_to_limits():
    env = make("lerobot_gym/SO101-v0", obs_type="state")
    env.reset(seed=0)
    action = np.full(6, 1000.0, dtype=np.float32)
    _, _, _, _, info = env.unwrapped.step(action)
    np.testing.assert_allclose(info["action_applied"], env.action_space.high, rtol=1e-5)


@pytest.mark.parametrize(
    "action, match",
    [
        (np.full(6, np.nan), "non-finite"),
        (np.zeros(5), "shape"),
        ("fast", "numeric array"),
        # Complex values used to be cast to float, silently dropping the imaginary part.
        (np.full(6, 1 + 2j), "complex"),
        (np.full(6, 1 + 0j, dtype=np.complex64), "complex"),
        ([0.0, 0.0, 0.0, 0.0, 0.0, 1j], "complex"),
        # Text and booleans used to be parsed into targets.
        (np.array(["10"] * 6), "numeric array"),
        (["1", "2", "3", "4", "5", "6"], "numeric array"),
        (np.ones(6, dtype=bool), "numeric array"),
    ],
)
def test_bad_actions_are_typed_errors(action, match):
    env = make("lerobot_gym/SO101-v0", obs_type="state").unwrapped
    env.reset(seed=0)
    with pytest.raises(ActionError, match=match):
        env.step(action)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"obs_type": "rgbd"}, "obs_type"),
        ({"speed": 3}, "unknown keyword"),
        ({"cameras": ["top"]}, "no camera 'top'"),
        ({"reward_type": "shaped"}, "reward_type"),
        ({"control_mode": "ee"}, "control_mode"),
        ({"backend": "warp"}, "unknown backend"),
        ({"image_size": (0, 10)}, "image_size"),
        ({"image_size": 64}, "image_size"),
        # Non-integer sizes used to be truncated (240.5 -> 240, "24" -> (2, 4)).
        ({"image_size": (240.5, 320)}, "whole numbers"),
        ({"image_size": (240, 320.25)}, "whole numbers"),
        ({"image_size": "240"}, "image_size"),
        ({"image_size": "24"}, "image_size"),
        ({"image_size": ("240", "320")}, "whole numbers"),
        ({"image_size": (True, 320)}, "whole numbers"),
        ({"image_size": (240, 320, 3)}, "image_size"),
        ({"cameras": "front"}, "sequence of names"),
        ({"fps": 0}, "fps"),
        ({"fps": -10}, "fps"),
        ({"fps": 12.5}, "fps"),
        ({"max_relative_target": -1.0}, "max_relative_target"),
        ({"max_relative_target": 0}, "max_relative_target"),
        ({"render_mode": "rgb_array", "render_camera": "top"}, "no camera 'top'"),
    ],
)
def test_bad_keywords_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        gym.make("lerobot_gym/SO101-v0", **kwargs)


def test_unknown_id_suggests_existing_ones():
    with pytest.raises(gym.error.Error, match="SO101"):
        gym.make("lerobot_gym/SO101-PickCub-v0")


def test_unknown_robot_and_task_are_typed():
    with pytest.raises(UnknownRobotError, match="known robots"):
        gym.make("lerobot_gym/RobotEnv-v0", robot="koch", task="reach")
    with pytest.raises(UnknownTaskError, match="known tasks"):
        gym.make("lerobot_gym/RobotEnv-v0", robot="so101", task="stack")


def test_make_does_no_io_until_reset():
    env = gym.make("lerobot_gym/SO101-PickCube-v0")
    assert not env.unwrapped.backend.is_connected
    assert not env.spec.nondeterministic  # the twin replays a seed exactly
    env.reset(seed=0)
    assert env.unwrapped.backend.is_connected
    env.close()
    assert not env.unwrapped.backend.is_connected


def test_truncation_is_not_termination():
    env = make("lerobot_gym/SO101-Reach-v0", obs_type="state", max_episode_steps=3)
    env.reset(seed=0)
    results = [env.step(env.action_space.sample())[2:4] for _ in range(3)]
    assert results[-1] == (False, True)


def test_import_is_light():
    code = (
        "import sys, lerobot_gym, gymnasium as gym;"
        "gym.make('lerobot_gym/SO101-PickCube-v0');"
        "bad = [m for m in ('torch', 'scservo_sdk', 'dynamixel_sdk', 'rerun', 'pygame', 'cv2')"
        " if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_render_returns_the_front_camera():
    env = make("lerobot_gym/SO101-PickCube-v0", obs_type="state", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8 and frame.std() > 5


def test_unknown_reset_options_are_config_errors():
    env = make("lerobot_gym/SO101-v0", obs_type="state")
    with pytest.raises(ConfigError, match="joint_positions"):
        env.reset(seed=0, options={"joint_position": [0.0] * 6})


@pytest.mark.parametrize(
    "joint_positions, match",
    [
        ([0.0] * 5, r"shape \(5,\), expected \(6,\)"),
        ([0.0] * 5 + [np.nan], "non-finite"),
        ("home", "numeric array"),
        (np.full(6, 1j), "complex"),
    ],
)
@pytest.mark.parametrize("control_mode", ["joint_pos", "joint_delta"])
def test_bad_reset_options_say_reset_option_not_action(joint_positions, match, control_mode):
    env = make("lerobot_gym/SO101-v0", obs_type="state", control_mode=control_mode)
    with pytest.raises(ConfigError, match=match) as raised:
        env.reset(seed=0, options={"joint_positions": joint_positions})
    message = str(raised.value)
    assert "reset option 'joint_positions'" in message
    assert "action" not in message and "policy" not in message


def test_whole_float_image_sizes_are_accepted():
    env = make("lerobot_gym/SO101-v0", obs_type="pixels", image_size=(48.0, np.int64(64)))
    assert env.observation_space["pixels"]["front"].shape == (48, 64, 3)


@pytest.mark.parametrize("fps", [30, 50, 25])
def test_one_step_is_exactly_one_control_period(fps):
    env = make("lerobot_gym/SO101-v0", obs_type="state", fps=fps)
    env.reset(seed=0)
    backend = env.unwrapped.backend
    assert backend.substeps * backend.model.opt.timestep == pytest.approx(1.0 / fps, abs=1e-12)
    assert backend.model.opt.timestep <= 1.0 / 480 + 1e-12  # never coarser than the model's
    assert env.metadata["render_fps"] == fps


class _FailingReset:
    """Wraps a backend; its reset raises like a Ctrl-C in the middle of a hardware move."""

    def __init__(self, backend):
        self.backend = backend
        self.fail_safe_calls = 0

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def reset(self, *args, **kwargs):
        raise KeyboardInterrupt("operator hit Ctrl-C during the reset move")

    def fail_safe(self):
        self.fail_safe_calls += 1


def test_a_failed_reset_makes_the_robot_safe_and_needs_a_new_reset():
    env = make("lerobot_gym/SO101-v0", obs_type="state").unwrapped
    failing = env.backend = _FailingReset(env.backend)
    with pytest.raises(KeyboardInterrupt):
        env.reset(seed=0)
    assert failing.fail_safe_calls == 1
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.zeros(6, dtype=np.float32))
