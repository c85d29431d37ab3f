"""The batched vector env against N single envs and Gymnasium's SyncVectorEnv."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

import lerobot_gym
from lerobot_gym.errors import ActionError, ConfigError
from lerobot_gym.registry import ENV_IDS, registered_env_ids
from lerobot_gym.sim.tiled_threads import ThreadedTiledRenderer
from lerobot_gym.sim.vector_env import TwinVectorEnv

N = 3


def _pair(env_id: str, **kwargs):
    """(batched, SyncVectorEnv of gym.make envs) with the same keywords."""
    batched = gym.make_vec(env_id, num_envs=N, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.make_vec(
        env_id,
        num_envs=N,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.NEXT_STEP},
        disable_env_checker=True,
        **kwargs,
    )
    return batched, sync


def _actions(space: gym.Space, steps: int, seed: int = 0) -> list[np.ndarray]:
    space.seed(seed)
    return [space.sample() for _ in range(steps)]


def _assert_same(a, b, what: str) -> None:
    assert data_equivalence(a, b, exact=True), f"{what} differ:\n{a}\n---\n{b}"


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        # Reach: goals, environment_state, dense reward.
        ("lerobot_gym/SO101-Reach-v0", {"obs_type": "state", "max_episode_steps": 5}),
        # Reach's batched evaluation with the sparse reward, and the one-pass safety check
        # under a rate limit that clamps some steps and not others.
        (
            "lerobot_gym/SO101-Reach-v0",
            {
                "obs_type": "state",
                "max_episode_steps": 5,
                "reward_type": "sparse",
                "max_relative_target": 40.0,
            },
        ),
        # PickCube: contacts through the world, cube props, joint deltas under a rate limit.
        (
            "lerobot_gym/SO101-PickCube-v0",
            {
                "obs_type": "state",
                "max_episode_steps": 6,
                "control_mode": "joint_delta",
                "max_relative_target": 2.0,
            },
        ),
        # ALOHA: two arms, contacts of both grippers, strict gripper ranges, 50 Hz.
        (
            "lerobot_gym/Aloha-TransferCube-v0",
            {"obs_type": "state", "max_episode_steps": 5, "max_relative_target": 0.05},
        ),
    ],
)
def test_same_trajectories_as_sync_vector_env_across_autoresets(env_id, kwargs):
    batched, sync = _pair(env_id, **kwargs)
    try:
        assert isinstance(batched.unwrapped, TwinVectorEnv)
        _assert_same(batched.reset(seed=7), sync.reset(seed=7), "reset")
        seen_autoreset = seen_clamp = False
        for t, action in enumerate(_actions(batched.action_space, 14)):
            if t == 3:
                # A masked reset of env 0 puts its episodes out of step with the others', so
                # later steps mix autoresetting and stepping envs.
                mask = np.array([True] + [False] * (N - 1))
                _assert_same(
                    batched.reset(options={"reset_mask": mask.copy()}),
                    sync.reset(options={"reset_mask": mask.copy()}),
                    f"masked reset at {t}",
                )
            ours, theirs = batched.step(action), sync.step(action)
            for name, a, b in zip(
                ("obs", "reward", "terminated", "truncated", "info"), ours, theirs, strict=True
            ):
                _assert_same(a, b, f"{name} at step {t}")
            info = ours[4]
            seen_autoreset |= bool(
                info["_facts"].any() and not info.get("_action_applied", np.ones(N, bool)).all()
            )
            seen_clamp |= bool(info.get("safety_clamped", np.zeros(1, bool)).any())
            assert batched.observation_space.contains(ours[0])
        assert seen_autoreset, "no step mixed an autoreset with stepping envs"
        if "max_relative_target" in kwargs:
            assert seen_clamp, "the rate limit never clamped: the test does not exercise it"
    finally:
        batched.close()
        sync.close()


def test_reach_evaluates_every_twin_in_one_call(monkeypatch):
    """Reach's facts, rewards and success come from one batched evaluation per step, not from
    a Python call per twin (the same values: the tests above compare them)."""
    envs = lerobot_gym.make_vec("SO101-Reach-v0", num_envs=4, obs_type="state")
    try:
        task = envs.unwrapped.task

        def per_twin(*args, **kwargs):
            raise AssertionError("evaluated twin by twin")

        monkeypatch.setattr(task, "evaluate", per_twin)
        envs.reset(seed=0)
        for action in _actions(envs.action_space, 3):
            _, rewards, *_, info = envs.step(action)
            assert rewards.shape == (4,) and info["facts"]["distance_m"].shape == (4,)
    finally:
        envs.close()


@pytest.mark.parametrize("reward_type", ["dense", "sparse"])
def test_reach_batch_evaluation_is_the_per_twin_one_bit_for_bit(reward_type):
    # Many random gripper and target positions (scales from micrometres to metres) through
    # Reach.evaluate_batch and Reach.evaluate twin by twin: the same floats, every one.
    from lerobot_gym.core.backend import RobotState
    from lerobot_gym.core.task import BatchTaskContext, TaskContext
    from lerobot_gym.robots.so101.spec import SO101
    from lerobot_gym.tasks.reach import Reach

    rng = np.random.default_rng(3)
    n = 4000
    scale = rng.choice([1e-6, 1e-3, 0.05, 1.0], size=(n, 1))
    tcp = rng.normal(size=(n, 3)) * scale
    target = tcp + rng.normal(size=(n, 3)) * rng.choice([1e-7, 1e-3, 0.02, 0.5], size=(n, 1))

    class Poses:
        def site_pos(self, name):
            return tcp.copy()

    class World:
        def __init__(self, i):
            self.i = i

        def site_pos(self, name):
            return tcp[self.i].copy()

    task = Reach(reward_type=reward_type)
    ev = task.evaluate_batch(
        BatchTaskContext(SO101, Poses(), {"target_pos": target}, np.zeros((n, 6)))
    )
    assert ev is not None
    state = RobotState(np.zeros(6), np.zeros(6))
    for i in range(n):
        ctx = TaskContext(SO101, lambda arm: None, World(i), {"target_pos": target[i]})
        facts = task.evaluate(ctx, state)
        assert ev.facts["distance_m"][i] == facts["distance_m"]
        assert ev.reward[i] == task.reward(facts)
        assert ev.success[i] == task.is_success(facts)
    assert ev.success.any() and not ev.success.all()


def test_same_trajectories_as_single_envs_with_terminations():
    """Against N gym.make envs driven by hand: terminate_on_success ends episodes at different
    steps, and the next step resets only those envs (Gymnasium's next-step autoreset)."""
    env_id = "lerobot_gym/SO101-Reach-v0"
    kwargs = {"obs_type": "state", "terminate_on_success": True, "max_episode_steps": 30}
    batched = lerobot_gym.make_vec(env_id, num_envs=N, **kwargs)
    singles = [gym.make(env_id, disable_env_checker=True, **kwargs) for _ in range(N)]
    try:
        obs, _ = batched.reset(seed=3)
        single_obs = [env.reset(seed=3 + i)[0] for i, env in enumerate(singles)]
        done = np.zeros(N, bool)
        ended = 0
        for t in range(40):
            # Every env heads for its own target: the goal's joint pose is unknown, so step
            # towards it with the twin's inverse kinematics.
            actions = np.stack([_toward_target(env) for env in singles]).astype(np.float32)
            obs, rewards, terminated, truncated, _ = batched.step(actions)
            for i, env in enumerate(singles):
                if done[i]:
                    o, _ = env.reset()
                    r, te, tr = 0.0, False, False
                else:
                    o, r, te, tr, _ = env.step(actions[i])
                for key in o:
                    np.testing.assert_array_equal(obs[key][i], o[key], f"{key} env {i} step {t}")
                assert rewards[i] == r and terminated[i] == te and truncated[i] == tr, (i, t)
            ended += int(terminated.sum())
            done = terminated | truncated
        assert ended >= 2, "fewer than two successes: autoreset after termination untested"
        del single_obs
    finally:
        batched.close()
        for env in singles:
            env.close()


def _toward_target(env: gym.Env) -> np.ndarray:
    robot_env = env.unwrapped
    target = robot_env.last_facts["target_pos"]
    q = robot_env.last_state.joint_positions_rad
    q_goal = robot_env.kinematics.ik(target, q).q_rad
    return robot_env.robot.to_user(q_goal)


# The tiled renderer's bound for a view drawn away from the buffer's origin (measured and
# explained in tests/sim/test_tiled.py); twin 0's tile sits at the origin and is exact.
MAX_DIFFERING_FRACTION = 0.02
MAX_MEAN_ABS_DIFF = 0.5


def test_pixels_match_single_envs():
    env_id = "lerobot_gym/SO101-PickCube-v0"
    kwargs = {"obs_type": "pixels_agent_pos", "image_size": (32, 40), "cameras": ("front", "wrist")}
    batched, sync = _pair(env_id, max_episode_steps=3, **kwargs)
    try:
        steps = [(batched.reset(seed=0)[0], sync.reset(seed=0)[0])]
        for action in _actions(batched.action_space, 4):
            steps.append((batched.step(action)[0], sync.step(action)[0]))
        for t, (ours, theirs) in enumerate(steps):
            np.testing.assert_array_equal(ours["agent_pos"], theirs["agent_pos"])
            for cam in kwargs["cameras"]:
                got, want = ours["pixels"][cam], theirs["pixels"][cam]
                assert got.shape == want.shape == (N, 32, 40, 3) and got.dtype == np.uint8
                if cam == "front":
                    np.testing.assert_array_equal(got[0], want[0], f"step {t}: tile at origin")
                diff = np.abs(got.astype(int) - want.astype(int))
                for i in range(N):
                    differing = np.count_nonzero(diff[i].max(-1)) / diff[i][..., 0].size
                    assert differing <= MAX_DIFFERING_FRACTION, (t, cam, i, differing)
                    assert diff[i].mean() <= MAX_MEAN_ABS_DIFF, (t, cam, i)
            # Each twin renders its own scene: the cubes were drawn at different places.
            assert not np.array_equal(ours["pixels"]["front"][0], ours["pixels"]["front"][1])
    finally:
        batched.close()
        sync.close()


def test_render_workers_split_the_views_over_threads(monkeypatch):
    """``render_workers=2``: the N x C views drawn on two threads, each view at the very tile
    it has in the one-thread buffer, so the images are the single-worker batched env's bit for
    bit (not merely within the tiled bound), on every step."""
    reads = []
    real_read = mujoco.mjr_readPixels
    monkeypatch.setattr(mujoco, "mjr_readPixels", lambda *a: (reads.append(1), real_read(*a))[1])
    env_id = "lerobot_gym/SO101-PickCube-v0"
    cams = ("front", "wrist")
    n = 5  # 10 views: a 4-wide grid; the second worker's share starts mid-row (cell 5)
    kwargs = {"obs_type": "pixels", "image_size": (32, 40), "cameras": cams}
    threaded, batched = (
        gym.make_vec(
            env_id, num_envs=n, vectorization_mode="vector_entry_point", render_workers=w, **kwargs
        )
        for w in (2, 1)
    )
    single = gym.make(env_id, disable_env_checker=True, **kwargs)
    try:
        steps = [tuple(e.reset(seed=0)[0] for e in (threaded, batched))]
        single_first = single.reset(seed=0)[0]
        for action in _actions(batched.action_space, 4):
            steps.append(tuple(e.step(action)[0] for e in (threaded, batched)))
        assert isinstance(threaded.unwrapped._renderers[cams], ThreadedTiledRenderer)
        reads.clear()
        threaded.step(action)
        assert len(reads) == 2, "one read-back per worker"
        for t, (ours, one) in enumerate(steps):
            for cam in cams:
                np.testing.assert_array_equal(ours["pixels"][cam], one["pixels"][cam], f"{t} {cam}")
        # Twin 0's front view sits at the origin: the single env's image exactly.
        np.testing.assert_array_equal(
            steps[0][0]["pixels"]["front"][0], single_first["pixels"]["front"]
        )
    finally:
        for e in (threaded, batched, single):
            e.close()


@pytest.mark.parametrize("env_id", registered_env_ids())
def test_every_id_has_a_vector_entry_point_with_the_single_spaces(env_id):
    spec = gym.spec(env_id)
    assert spec.vector_entry_point == "lerobot_gym.registry:make_vec_env"
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    single = gym.make(env_id)
    try:
        assert envs.single_observation_space == single.observation_space
        assert envs.single_action_space == single.action_space
        assert envs.observation_space == batch_space(single.observation_space, 2)
        assert envs.action_space == batch_space(single.action_space, 2)
        assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
        assert envs.unwrapped.max_episode_steps == spec.max_episode_steps
    finally:
        envs.close()
        single.close()


def test_ids_without_namespace_and_every_builtin_registered():
    assert set(ENV_IDS) <= set(registered_env_ids())
    envs = lerobot_gym.make_vec("SO101-Reach-v0", num_envs=2, obs_type="state")
    assert envs.spec is not None and envs.spec.id == "lerobot_gym/SO101-Reach-v0"
    envs.close()


def test_actions_are_checked_as_the_single_env_checks_them():
    envs = lerobot_gym.make_vec("Aloha-v0", num_envs=2, obs_type="state")
    try:
        envs.reset(seed=0)
        action = np.stack([envs.single_action_space.sample() for _ in range(2)])
        with pytest.raises(ActionError, match="shape"):
            envs.step(action[:1])
        bad = action.copy()
        bad[1, 0] = np.nan
        with pytest.raises(ActionError, match="non-finite"):
            envs.step(bad)
        bad = action.copy()
        bad[1, 6] = 1.5  # the left gripper, 0..1: refused, as by the single env
        with pytest.raises(ActionError, match=r"actions\[1, 6\]"):
            envs.step(bad)
    finally:
        envs.close()


def test_an_action_safety_left_alone_is_reported_as_the_single_env_reports_it():
    # A gripper value of 1e-20 %: its round trip through the units (to SI and back) is lost to
    # the gripper's offset; like the single env, the batched env reports the action itself.
    envs = lerobot_gym.make_vec("SO101-Reach-v0", num_envs=2, obs_type="state")
    single = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    try:
        envs.reset(seed=0)
        single.reset(seed=0)
        space = single.action_space
        action = ((space.low + space.high) / 2).astype(np.float32)
        action[-1] = np.float32(1e-20)
        actions = np.stack([action, action])
        info = envs.step(actions)[4]
        expected = single.step(action)[4]["action_applied"]
        np.testing.assert_array_equal(expected, action)
        np.testing.assert_array_equal(info["action_applied"], actions)
        assert info["action_applied"] is not actions  # the caller's buffer stays the caller's
        assert not info["safety_clamped"].any()
    finally:
        envs.close()
        single.close()


def test_unbatchable_backends_name_the_sync_mode():
    with pytest.raises(ConfigError, match="vectorization_mode='sync'"):
        lerobot_gym.make_vec("SO101-Reach-v0", num_envs=2, actuator="servo")


def test_step_before_reset_and_bad_reset_mask():
    envs = lerobot_gym.make_vec("SO101-Reach-v0", num_envs=2, obs_type="state")
    try:
        with pytest.raises(gym.error.ResetNeeded):
            envs.step(np.zeros((2, 6), np.float32))
        envs.reset(seed=0)
        with pytest.raises(ConfigError, match="reset_mask"):
            envs.reset(options={"reset_mask": np.zeros(2, bool)})
        with pytest.raises(ConfigError, match="unknown reset option"):
            envs.reset(options={"goal": 1})
    finally:
        envs.close()


def test_seed_lists_and_twin_data():
    envs = lerobot_gym.make_vec("SO101-Reach-v0", num_envs=2, obs_type="state")
    try:
        by_int, _ = envs.reset(seed=5)
        by_list, _ = envs.reset(seed=[5, 6])
        _assert_same(by_int, by_list, "reset(seed=5) and reset(seed=[5, 6])")
        data = envs.unwrapped.twin_data(1)
        robot = envs.unwrapped.robot
        np.testing.assert_allclose(
            robot.to_user(data.qpos[:6]).astype(np.float32), by_list["agent_pos"][1]
        )
        with pytest.raises(ConfigError, match="one seed per env"):
            envs.reset(seed=[1, 2, 3])
    finally:
        envs.close()


def test_render_gives_each_twin_its_camera():
    envs = lerobot_gym.make_vec(
        "SO101-Reach-v0",
        num_envs=2,
        obs_type="state",
        render_mode="rgb_array",
        image_size=(24, 32),
    )
    try:
        envs.reset(seed=0)
        frames = envs.render()
        assert len(frames) == 2 and frames[0].shape == (24, 32, 3)
        assert not np.array_equal(frames[0], frames[1])  # different targets drawn
    finally:
        envs.close()


@pytest.mark.parametrize(
    ("cpus", "kwargs", "threaded"),
    [
        ({0, 1}, {}, True),  # the default where two CPUs are free: two render threads
        ({0}, {}, False),  # one CPU: one pass
        ({0, 1}, {"render_workers": 1}, False),  # asked for: kept
        ({0, 1}, {"render_workers": "auto"}, True),  # kept, resolved as the single env's
        ({0}, {"render_workers": "auto"}, False),
    ],
)
def test_render_workers_default_to_two_threads_on_two_cpus(monkeypatch, cpus, kwargs, threaded):
    from lerobot_gym.sim import vector_env

    monkeypatch.setattr(vector_env.os, "sched_getaffinity", lambda pid: cpus)
    envs = lerobot_gym.make_vec(
        "SO101-Reach-v0",
        num_envs=3,  # three views: "auto" takes two threads where two CPUs are free
        obs_type="pixels",
        cameras=("front",),
        image_size=(16, 16),
        **kwargs,
    )
    try:
        envs.reset(seed=0)
        renderer = envs.unwrapped._renderers[("front",)]
        assert isinstance(renderer, ThreadedTiledRenderer) is threaded
        assert envs.unwrapped.render_workers == kwargs.get("render_workers", 2 if threaded else 1)
    finally:
        envs.close()
    template = lerobot_gym.make("SO101-Reach-v0", obs_type="state")
    with pytest.raises(ConfigError, match="render_workers must be a whole number"):
        TwinVectorEnv(template.unwrapped, 2, render_workers=0)
    template.close()


def test_views_are_camera_major_so_a_fixed_camera_shares_its_floor_cull():
    envs = lerobot_gym.make_vec(
        "SO101-PickCube-v0",
        num_envs=4,
        obs_type="pixels",
        cameras=("front", "wrist"),
        image_size=(16, 16),
        render_workers=1,
    )
    try:
        envs.reset(seed=0)
        renderer = envs.unwrapped._renderers[("front", "wrist")]
        assert [v.camera for v in renderer.views] == ["front"] * 4 + ["wrist"] * 4
        # The front camera's third and fourth views skip the plane cull; the wrist never does.
        assert [i for i, r in enumerate(renderer._plane_repeat) if r] == [2, 3]
    finally:
        envs.close()
