import json
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.dataset import LeRobotDataset, LeRobotDatasetWriter
from lerobot_gym.errors import ConfigError, DatasetError, DatasetMismatchError
from lerobot_gym.tasks.scripted import make_scripted_policy
from lerobot_gym.wrappers import RecordEpisodes, lerobot_features


class ToyEnv(gym.Env):
    """A 2-D integrator with no robot, no task description and a scriptable info."""

    metadata = {"render_fps": 50}

    def __init__(self, length=4, info_fn=None):
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.length = length
        self.info_fn = info_fn or (lambda t: {})
        self.seen_options = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.seen_options.append(options)
        self.pos = np.zeros(2, np.float32)
        self.t = 0
        return self.pos.copy(), {}

    def step(self, action):
        self.pos = self.pos + np.asarray(action, np.float32)
        self.t += 1
        return self.pos.copy(), float(self.t), self.t >= self.length, False, self.info_fn(self.t)


def toy(root, length=4, info_fn=None, **kwargs):
    return RecordEpisodes(ToyEnv(length, info_fn), root, repo_id="t/toy", task="toy", **kwargs)


def run_episode(env, action=(0.5, -0.25), seed=None, options=None, steps=None):
    env.reset(seed=seed, options=options)
    n = 0
    while steps is None or n < steps:
        _, _, terminated, truncated, _ = env.step(np.asarray(action, np.float32))
        n += 1
        if terminated or truncated:
            break
    return n


def column(ds, key):
    return np.stack([np.asarray(ds[i][key]) for i in range(len(ds))])


def test_scripted_twin_episodes_round_trip(tmp_path):
    """Values in the dataset are exactly what the env returned, frame by frame."""
    env = gym.make(
        "lerobot_gym/SO101-Reach-v0",
        obs_type="state",
        terminate_on_success=True,
        max_episode_steps=90,
    )
    rec = RecordEpisodes(env, tmp_path / "reach", repo_id="t/reach", use_videos=False)
    policy = make_scripted_policy(rec)
    expected = {k: [] for k in ("state", "env_state", "action", "reward", "done", "success")}
    lengths = []
    for seed in range(3):
        obs, info = rec.reset(seed=seed)
        policy.reset(obs, info)
        n, done = 0, False
        while not done:
            expected["state"].append(obs["agent_pos"])
            expected["env_state"].append(obs["environment_state"])
            obs, reward, terminated, truncated, info = rec.step(policy(obs))
            done = terminated or truncated
            expected["action"].append(info["action_applied"])
            expected["reward"].append(reward)
            expected["done"].append(done)
            expected["success"].append(info["is_success"])
            n += 1
        lengths.append(n)
        assert rec.num_episodes == seed + 1  # saved as soon as it ended
    rec.close()
    assert len(set(lengths)) > 1, "episodes should end at different steps (success)"

    ds = LeRobotDataset(tmp_path / "reach", format="numpy")
    assert ds.num_episodes == 3 and len(ds) == sum(lengths)
    assert [int(e["length"]) for e in ds.meta.episodes] == lengths
    np.testing.assert_array_equal(column(ds, "observation.state"), np.array(expected["state"]))
    np.testing.assert_array_equal(
        column(ds, "observation.environment_state"), np.array(expected["env_state"])
    )
    np.testing.assert_array_equal(
        column(ds, "action"), np.array(expected["action"], dtype=np.float32)
    )
    np.testing.assert_array_equal(
        column(ds, "next.reward"), np.array(expected["reward"], dtype=np.float32)
    )
    np.testing.assert_array_equal(column(ds, "next.done"), np.array(expected["done"]))
    np.testing.assert_array_equal(column(ds, "next.success"), np.array(expected["success"]))
    assert column(ds, "next.success").any()
    assert not column(ds, "complementary_info.is_intervention").any()
    assert {ds[i]["task"] for i in range(len(ds))} == {"reach the green target with the gripper"}
    info = json.loads((tmp_path / "reach" / "meta" / "info.json").read_text())
    assert info["robot_type"] == "so101_follower"
    assert info["fps"] == 30
    assert info["features"]["observation.state"]["names"][0] == "shoulder_pan.pos"


def test_camera_frames_are_encoded_without_drops(tmp_path):
    env = gym.make(
        "lerobot_gym/SO101-Reach-v0",
        obs_type="pixels_agent_pos",
        image_size=(48, 64),
        max_episode_steps=6,
    )
    rec = RecordEpisodes(env, tmp_path / "vid", repo_id="t/vid")
    images = []
    for seed in (0, 1):
        obs, _ = rec.reset(seed=seed)
        done = False
        while not done:
            images.append({c: obs["pixels"][c].copy() for c in ("front", "wrist")})
            obs, _, terminated, truncated, _ = rec.step(rec.action_space.sample())
            done = terminated or truncated
    rec.close()
    ds = LeRobotDataset(tmp_path / "vid", format="numpy")
    assert len(ds) == 12 and ds.meta.video_keys == [
        "observation.images.front",
        "observation.images.wrist",
    ]
    for i in range(len(ds)):
        for cam in ("front", "wrist"):
            decoded = ds[i][f"observation.images.{cam}"].transpose(1, 2, 0) * 255.0
            # AV1 at crf 30 is lossy; a wrong camera or a shifted frame is far off.
            assert np.abs(decoded - images[i][cam]).mean() < 12.0


def test_lossless_images_keep_frame_order(tmp_path):
    env = gym.make(
        "lerobot_gym/SO101-Reach-v0",
        obs_type="pixels",
        cameras=("wrist",),
        image_size=(48, 64),
        max_episode_steps=5,
    )
    rec = RecordEpisodes(env, tmp_path / "png", repo_id="t/png", use_videos=False)
    obs, _ = rec.reset(seed=0)
    images = []
    for _ in range(5):
        images.append(obs["pixels"]["wrist"].copy())
        obs, *_ = rec.step(rec.action_space.sample())
    rec.close()
    ds = LeRobotDataset(tmp_path / "png", format="numpy")
    assert ds.features["observation.images.wrist"]["dtype"] == "image"
    got = [np.rint(ds[i]["observation.images.wrist"].transpose(1, 2, 0) * 255) for i in range(5)]
    np.testing.assert_array_equal(np.array(got), np.array(images))


def test_any_env_records_passed_action_and_info_columns(tmp_path):
    def info_fn(t):
        return {"is_intervention": t == 2, "discrete_penalty": -0.5 * t, "is_success": t == 4}

    rec = toy(tmp_path / "toy", info_fn=info_fn)
    assert rec.fps == 50
    run_episode(rec, action=(0.5, -0.25))
    rec.close()
    ds = LeRobotDataset(tmp_path / "toy", format="numpy")
    np.testing.assert_array_equal(column(ds, "action"), np.tile([0.5, -0.25], (4, 1)))
    np.testing.assert_array_equal(
        column(ds, "observation.state"), [[0, 0], [0.5, -0.25], [1, -0.5], [1.5, -0.75]]
    )
    np.testing.assert_array_equal(column(ds, "complementary_info.is_intervention"), [0, 1, 0, 0])
    np.testing.assert_array_equal(
        column(ds, "complementary_info.discrete_penalty"), [-0.5, -1, -1.5, -2]
    )
    np.testing.assert_array_equal(column(ds, "next.success"), [False, False, False, True])
    np.testing.assert_array_equal(column(ds, "next.done"), [False, False, False, True])
    np.testing.assert_array_equal(column(ds, "next.reward"), [1, 2, 3, 4])


def test_task_strings_per_episode(tmp_path):
    rec = toy(tmp_path / "tasks")
    run_episode(rec)
    run_episode(rec, options={"task": "wave", "speed": 2})
    run_episode(rec)
    # The task option is the wrapper's: the env sees only its own options.
    assert rec.env.seen_options == [None, {"speed": 2}, None]
    rec.close()
    ds = LeRobotDataset(tmp_path / "tasks", format="numpy")
    assert [ds[i]["task"] for i in (0, 4, 8)] == ["toy", "wave", "toy"]
    assert ds.meta.tasks == ["toy", "wave"]
    with pytest.raises(ConfigError, match="task"):
        toy(tmp_path / "t2").reset(options={"task": ""})


def test_needs_a_task_and_an_fps(tmp_path):
    with pytest.raises(ConfigError, match="task"):
        RecordEpisodes(ToyEnv(), tmp_path / "a", repo_id="t/a")
    env = ToyEnv()
    env.metadata = {}
    with pytest.raises(ConfigError, match="fps"):
        RecordEpisodes(env, tmp_path / "b", repo_id="t/b", task="x")


def test_unfinished_episode_is_saved_at_reset_and_close(tmp_path):
    rec = toy(tmp_path / "cut", length=100)
    run_episode(rec, steps=3)
    assert rec.num_episodes == 0 and rec.episode_frames == 3
    run_episode(rec, steps=2)  # this reset saves the first episode
    assert rec.num_episodes == 1
    rec.close()  # close saves the second
    ds = LeRobotDataset(tmp_path / "cut", format="numpy")
    assert [int(e["length"]) for e in ds.meta.episodes] == [3, 2]


def test_discard_and_rerecord(tmp_path):
    rerecord_at = {"step": None}

    def info_fn(t):
        return {"rerecord_episode": t == rerecord_at["step"]}

    rec = toy(tmp_path / "re", length=4, info_fn=info_fn)
    run_episode(rec, action=(1, 0))  # episode 0
    rec.reset()
    rec.step(np.array([0.1, 0.1], np.float32))
    rec.discard_episode()
    rec.step(np.array([0.1, 0.1], np.float32))  # not recorded: no reset since the discard
    assert rec.episode_frames == 0
    rerecord_at["step"] = 3
    run_episode(rec, action=(0.2, 0))  # dropped by info["rerecord_episode"]
    rerecord_at["step"] = None
    run_episode(rec, action=(0.3, 0))  # episode 1
    rec.close()
    ds = LeRobotDataset(tmp_path / "re", format="numpy")
    assert ds.num_episodes == 2 and len(ds) == 8
    np.testing.assert_array_equal(column(ds, "action")[:, 0], np.float32([1] * 4 + [0.3] * 4))
    np.testing.assert_array_equal(column(ds, "index"), np.arange(8))


def test_terminate_episode_saves_and_requests_stop(tmp_path):
    rec = toy(tmp_path / "stop", length=100, info_fn=lambda t: {"terminate_episode": t == 2})
    rec.reset()
    rec.step(np.zeros(2, np.float32))
    assert not rec.stop_requested
    rec.step(np.zeros(2, np.float32))
    assert rec.stop_requested and rec.num_episodes == 1
    rec.close()


def test_resume_continues_with_contiguous_indices(tmp_path):
    root = tmp_path / "res"
    rec = toy(root)
    run_episode(rec)
    run_episode(rec)
    rec.close()
    with pytest.raises(DatasetError, match="not empty"):
        toy(root)
    rec = toy(root, resume=True)
    assert rec.num_episodes == 2
    run_episode(rec, options={"task": "more"})
    rec.close()
    ds = LeRobotDataset(root, format="numpy")
    assert ds.num_episodes == 3
    np.testing.assert_array_equal(column(ds, "index"), np.arange(12))
    np.testing.assert_array_equal(column(ds, "episode_index"), np.repeat([0, 1, 2], 4))
    assert ds[11]["task"] == "more"
    # A different env (other features) cannot continue this dataset.
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    with pytest.raises(DatasetMismatchError):
        RecordEpisodes(env, root, repo_id="t/toy", resume=True, fps=50)


def test_resume_without_a_dataset_creates_one(tmp_path):
    (tmp_path / "empty").mkdir()
    rec = toy(tmp_path / "empty", resume=True)
    run_episode(rec)
    rec.close()
    assert LeRobotDataset(tmp_path / "empty", format="numpy").num_episodes == 1


def test_records_into_a_given_writer(tmp_path):
    env = ToyEnv()
    features = lerobot_features(env)
    writer = LeRobotDatasetWriter.create(tmp_path / "w", repo_id="t/w", fps=50, features=features)
    rec = RecordEpisodes(env, tmp_path / "w", repo_id="t/w", task="toy", writer=writer)
    run_episode(rec)
    rec.close()  # saves, leaves the caller's writer open
    assert writer.num_episodes == 1
    run_episode_direct = {k: np.zeros(ft["shape"], ft["dtype"]) for k, ft in features.items()}
    writer.add_frame(run_episode_direct, task="direct")
    writer.save_episode()
    writer.close()
    assert LeRobotDataset(tmp_path / "w", format="numpy").num_episodes == 2
    other = LeRobotDatasetWriter.create(
        tmp_path / "o", repo_id="t/o", fps=50, features={**features, "extra": features["action"]}
    )
    with pytest.raises(DatasetMismatchError, match="extra"):
        RecordEpisodes(ToyEnv(), tmp_path / "o", repo_id="t/o", task="toy", writer=other)
    other.close()


def test_step_before_reset_and_after_close(tmp_path):
    rec = toy(tmp_path / "order")
    with pytest.raises(gym.error.ResetNeeded):
        rec.step(np.zeros(2, np.float32))
    rec.close()
    with pytest.raises(gym.error.ClosedEnvironmentError):
        rec.reset()


def test_a_crash_loses_only_the_episode_in_progress(tmp_path):
    """A process killed mid-episode leaves every saved episode readable and resumable."""
    root = tmp_path / "crash"
    script = textwrap.dedent(
        f"""
        import os, numpy as np
        from tests.wrappers.test_record_episodes import toy, run_episode
        rec = toy({str(root)!r}, length=5)
        run_episode(rec)
        run_episode(rec)
        run_episode(rec, steps=3)  # in progress when the process dies
        os._exit(1)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=str(_repo_root()), timeout=60)
    assert proc.returncode == 1
    assert LeRobotDataset(root, format="numpy").num_episodes == 2
    rec = toy(root, length=5, resume=True)
    run_episode(rec)
    rec.close()
    ds = LeRobotDataset(root, format="numpy")
    assert ds.num_episodes == 3
    np.testing.assert_array_equal(column(ds, "index"), np.arange(15))


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


class _ArmOnly(gym.ActionWrapper):
    """A 5-D action (the arm without the gripper), the gripper held open."""

    def __init__(self, env):
        super().__init__(env)
        self.action_space = gym.spaces.Box(
            env.action_space.low[:5], env.action_space.high[:5], dtype=np.float32
        )

    def action(self, action):
        return np.append(action, np.float32(100.0))


def test_records_the_action_of_a_shape_changing_wrapper(tmp_path):
    env = _ArmOnly(gym.make("lerobot_gym/SO101-v0", obs_type="state", max_episode_steps=3))
    env = RecordEpisodes(env, tmp_path / "ds", repo_id="t/arm", vcodec="h264")
    env.reset(seed=0)
    sent = []
    done = False
    while not done:
        sent.append(env.action_space.sample())
        _, _, terminated, truncated, _ = env.step(sent[-1])
        done = terminated or truncated
    env.close()
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    np.testing.assert_allclose(np.stack([ds[i]["action"] for i in range(3)]), np.stack(sent))


def test_a_stack_rebuilt_from_its_spec_appends_to_the_dataset(tmp_path):
    env = gym.make("lerobot_gym/SO101-v0", obs_type="state", max_episode_steps=2)
    env = RecordEpisodes(env, tmp_path / "ds", repo_id="t/spec", vcodec="h264")
    spec = env.spec
    for rebuild in (False, True):
        stack = gym.make(spec) if rebuild else env  # rebuilt after the first one closed
        stack.reset(seed=0)
        for _ in range(2):
            stack.step(stack.action_space.sample())
        stack.close()
    assert LeRobotDataset(tmp_path / "ds", format="numpy").meta.info["total_episodes"] == 2
