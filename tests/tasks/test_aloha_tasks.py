"""ALOHA ids: spaces whose bounds hold, gym-aloha's resets and staged reward, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ActionError, ConfigError, PortNotFoundError
from lerobot_gym.robots.aloha.spec import ALOHA

IDS = (
    "lerobot_gym/Aloha-v0",
    "lerobot_gym/Aloha-TransferCube-v0",
    "lerobot_gym/Aloha-Insertion-v0",
)


def _home_action() -> np.ndarray:
    return ALOHA.to_user(ALOHA.home_rad).astype(np.float32)


@pytest.mark.parametrize("env_id", IDS)
def test_registration_rate_limit_and_default_observation(env_id):
    env = gym.make(env_id)
    assert env.spec.max_episode_steps == 400
    assert env.unwrapped.fps == 50 and env.metadata["render_fps"] == 50
    pixels = env.observation_space["pixels"]
    assert list(pixels.spaces) == ["top"] and pixels["top"].shape == (480, 640, 3)
    assert env.observation_space["agent_pos"].shape == (14,)
    env.close()


def test_action_bounds_are_the_joint_ranges_and_hold():
    # The default per-step limit would shorten these jumps; a large one lets them through.
    env = gym.make("lerobot_gym/Aloha-TransferCube-v0", obs_type="state", max_relative_target=10.0)
    space = env.action_space
    assert space.shape == (14,)
    np.testing.assert_allclose(space.low[[6, 13]], 0.0)
    np.testing.assert_allclose(space.high[[6, 13]], 1.0)
    np.testing.assert_allclose(space.high[1], 1.25664, rtol=1e-6)  # shoulder, not gym-aloha's 1
    env.reset(seed=0)
    # Every corner of the box is a valid command: nothing is clamped or refused.
    for action in (space.low, space.high):
        _, _, _, _, info = env.step(action)
        assert not info["safety_clamped"].any()
    env.close()


def test_seeded_resets_are_gym_aloha_distributions_and_reproducible():
    env = gym.make("lerobot_gym/Aloha-Insertion-v0", obs_type="state")
    other = gym.make("lerobot_gym/Aloha-Insertion-v0", obs_type="state")
    poses = []
    obs, _ = env.reset(seed=3)
    obs_other, _ = other.reset(seed=3)
    np.testing.assert_array_equal(obs["environment_state"], obs_other["environment_state"])
    for _ in range(40):  # unseeded resets continue the seeded stream, in both envs alike
        obs, _ = env.reset()
        obs_other, _ = other.reset()
        np.testing.assert_array_equal(obs["environment_state"], obs_other["environment_state"])
        poses.append(obs["environment_state"])
        np.testing.assert_allclose(obs["agent_pos"], _home_action(), atol=1e-6)
    poses = np.array(poses)
    peg, socket = poses[:, :3], poses[:, 7:10]
    assert (peg[:, 0] >= 0.1).all() and (peg[:, 0] <= 0.2).all()
    assert (socket[:, 0] >= -0.2).all() and (socket[:, 0] <= -0.1).all()
    for y in (peg[:, 1], socket[:, 1]):
        assert (y >= 0.4).all() and (y <= 0.6).all() and np.ptp(y) > 0.1
    np.testing.assert_allclose(poses[:, 3:7], [[1, 0, 0, 0]] * 40)
    env.close()
    other.close()


def test_transfer_cube_reset_range():
    env = gym.make("lerobot_gym/Aloha-TransferCube-v0", obs_type="state")
    cubes = np.array([env.reset(seed=s)[0]["environment_state"][:3] for s in range(30)])
    assert (cubes[:, 0] >= 0.0).all() and (cubes[:, 0] <= 0.2).all() and np.ptp(cubes[:, 0]) > 0.1
    assert (cubes[:, 1] >= 0.4).all() and (cubes[:, 1] <= 0.6).all()
    np.testing.assert_allclose(cubes[:, 2], 0.02)  # resting on the table
    env.close()


def test_tasks_hold_no_episode_state():
    env = gym.make("lerobot_gym/Aloha-TransferCube-v0", obs_type="state")
    task = env.unwrapped.task
    before = dict(vars(task))
    env.reset(seed=1)
    env.step(_home_action())
    assert vars(task) == before  # the env no longer writes task.goal either
    env.close()


def test_staged_reward_dense_and_sparse_follow_contacts():
    dense = gym.make("lerobot_gym/Aloha-TransferCube-v0", obs_type="state")
    sparse = gym.make("lerobot_gym/Aloha-TransferCube-v0", obs_type="state", reward_type="sparse")
    dense.reset(seed=0)
    sparse.reset(seed=0)
    _, r_dense, _, _, info = dense.step(_home_action())
    _, r_sparse, _, _, _ = sparse.step(_home_action())
    assert info["facts"]["stage"] == 0 and info["facts"]["cube_on_table"]
    assert (r_dense, r_sparse, info["is_success"]) == (0.0, 0.0, False)
    task = dense.unwrapped.task
    facts = {"stage": 4}
    assert task.reward(facts) == 4.0 and task.is_success(facts)
    assert sparse.unwrapped.task.reward(facts) == 1.0
    assert sparse.unwrapped.task.reward({"stage": 3}) == 0.0
    dense.close()
    sparse.close()


def test_wrong_action_length_names_the_joints():
    env = gym.make("lerobot_gym/Aloha-v0", obs_type="state")
    env.reset(seed=0)
    with pytest.raises(ActionError, match=r"\(14,\).*left_waist"):
        env.step(np.zeros(7, dtype=np.float32))
    env.close()


@pytest.mark.parametrize("value", [-0.1, 1.2])
def test_gripper_outside_0_1_is_refused_with_the_fix(value):
    env = gym.make("lerobot_gym/Aloha-v0", obs_type="state")
    env.reset(seed=0)
    action = _home_action()
    action[13] = value
    with pytest.raises(ActionError, match=r"right_gripper.*ClipAction"):
        env.step(action)
    # Arm joints past their limits are clamped (and reported), as on every robot; the default
    # per-step limit (0.25 rad) applies first.
    action = _home_action()
    action[0] = 3.5
    _, _, _, _, info = env.step(action)
    assert info["safety_clamped"][0] and info["action_applied"][0] == pytest.approx(0.25)
    env.close()


def test_unknown_camera_lists_the_cameras():
    with pytest.raises(ConfigError, match=r"front.*top.*angle.*left_wrist.*right_wrist"):
        gym.make("lerobot_gym/Aloha-Insertion-v0", cameras=("front",))


def test_real_backend_needs_ports_and_opens_them_only_at_reset(tmp_path):
    pytest.importorskip("dynamixel_sdk")
    with pytest.raises(ConfigError, match=r"ports=\{'left'.*find-port"):
        gym.make("lerobot_gym/Aloha-TransferCube-v0", backend="real")
    env = gym.make(
        "lerobot_gym/Aloha-TransferCube-v0",
        backend="real",
        ports={"left": str(tmp_path / "ttyDXL_left"), "right": str(tmp_path / "ttyDXL_right")},
        cameras={"top": 0},
        disable_env_checker=True,
    )
    with pytest.raises(PortNotFoundError, match="find-port"):
        env.reset(seed=0)
    env.close()


def test_bimanual_task_on_a_one_arm_robot_is_refused():
    env = gym.make("lerobot_gym/RobotEnv-v0", robot="so101", task="insertion", obs_type="state")
    with pytest.raises(ConfigError, match="two arms"):
        env.reset(seed=0)
    env.close()


def test_top_camera_renders_the_scene():
    env = gym.make("lerobot_gym/Aloha-TransferCube-v0", obs_type="pixels", image_size=(120, 160))
    obs, _ = env.reset(seed=0)
    top = obs["pixels"]["top"]
    assert top.shape == (120, 160, 3)
    # The red cube is in view: clearly red pixels exist.
    red = (top[..., 0] > 150) & (top[..., 1] < 60) & (top[..., 2] < 60)
    assert red.sum() > 10
    env.close()


def test_random_actions_keep_the_twin_stable():
    # Whole-range random jumps every step: the default per-step limit keeps MuJoCo from its
    # instability reset (warning 5, mjWARN_BADQACC), which teleports the arms.
    import mujoco

    env = gym.make("lerobot_gym/Aloha-TransferCube-v0", obs_type="state")
    env.action_space.seed(0)
    env.reset(seed=0)
    data = env.unwrapped.backend.data
    for _ in range(200):
        env.step(env.action_space.sample())
    assert data.warning[mujoco.mjtWarning.mjWARN_BADQACC].number == 0
    env.close()
