import sys
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError, DatasetMismatchError
from lerobot_gym.tasks.scripted import make_scripted_policy
from lerobot_gym.wrappers import RecordEpisodes, ReplayReport, replay_episode


class Integrator(gym.Env):
    """State = sum of actions; resets to options["joint_positions"] when given."""

    metadata = {"render_fps": 50}

    def __init__(self, gain=1.0):
        self.observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.gain = gain

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        start = (options or {}).get("joint_positions", self.np_random.uniform(-1, 1, 2))
        self.pos = np.asarray(start, np.float32)
        return self.pos.copy(), {}

    def step(self, action):
        self.pos = self.pos + self.gain * np.asarray(action, np.float32)
        return self.pos.copy(), 0.0, False, False, {}


def record_scripted(root, env_id, seed, steps):
    env = RecordEpisodes(gym.make(env_id, obs_type="state"), root, repo_id="t/replay")
    policy = make_scripted_policy(env)
    obs, info = env.reset(seed=seed)
    policy.reset(obs, info)
    for _ in range(steps):
        obs, *_ = env.step(policy(obs))
    env.close()


@pytest.fixture(scope="module")
def pick_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay") / "pick"
    record_scripted(root, "lerobot_gym/SO101-PickCube-v0", seed=5, steps=120)
    return root


def test_twin_replay_from_recorded_state_tracks(pick_dataset):
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    report = replay_episode(env, pick_dataset, 0, seed=5)
    assert report.num_actions == 120 and report.recorded_state.shape == (120, 6)
    assert not report.ended_early
    # The twin is deterministic: the same start, props and actions give the same motion.
    assert report.mean_abs_error.max() < 1.0  # the goal; measured: 0.0000 on every joint
    assert report.max_abs_error.max() < 0.01
    assert report.rms_error < 0.01
    # The arm moved a lot during the episode, so a small error is not a trivial one.
    assert np.ptp(report.recorded_state, axis=0).max() > 20.0


def test_replay_without_the_seed_still_reproduces_a_free_arm(tmp_path):
    root = tmp_path / "reach"
    record_scripted(root, "lerobot_gym/SO101-Reach-v0", seed=3, steps=40)
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    report = replay_episode(env, root, 0)  # no seed: the target differs, the arm does not care
    assert report.mean_abs_error.max() < 1.0
    np.testing.assert_allclose(report.replayed_state[0], report.recorded_state[0], atol=0.05)


def test_replay_from_the_env_reset_pose_differs_at_the_start(pick_dataset):
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    report = replay_episode(env, pick_dataset, 0, start_from_recorded_state=False, seed=99)
    assert np.abs(report.error[0]).max() > 0.05


def test_exact_replay_on_any_env_and_summary(tmp_path):
    root = tmp_path / "toy"
    rec = RecordEpisodes(Integrator(), root, repo_id="t/toy", task="slide")
    rec.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(10):
        rec.step(rng.uniform(-1, 1, 2).astype(np.float32))
    rec.close()
    report = replay_episode(Integrator(), root, 0)
    assert isinstance(report, ReplayReport)
    np.testing.assert_array_equal(report.replayed_state, report.recorded_state)
    assert report.rms_error == 0.0
    text = report.summary()
    assert "episode 0" in text and "RMS" in text and len(text.splitlines()) == 3 + 2 + 1
    # A plant with another gain tracks badly, and the report shows it per joint.
    bad = replay_episode(Integrator(gain=0.5), root, 0)
    assert bad.mean_abs_error.min() > 0.0 and bad.rms_error > 0.1


def test_realtime_holds_the_dataset_fps(tmp_path, monkeypatch):
    root = tmp_path / "rt"
    rec = RecordEpisodes(Integrator(), root, repo_id="t/rt", task="slide")
    rec.reset(seed=0)
    for _ in range(10):
        rec.step(np.zeros(2, np.float32))
    rec.close()
    start = time.perf_counter()
    replay_episode(Integrator(), root, 0, realtime=True)
    assert time.perf_counter() - start >= 10 / 50 - 0.01
    # Unpaced, it never sleeps (counted, not timed: a wall-clock bound fails under load).
    sleeps = []
    module = sys.modules["lerobot_gym.wrappers.replay_episode"]
    monkeypatch.setattr(module.time, "sleep", sleeps.append)
    replay_episode(Integrator(), root, 0)
    assert sleeps == []


def test_mismatches_are_reported(pick_dataset):
    with pytest.raises(DatasetMismatchError, match="action"):
        replay_episode(Integrator(), pick_dataset, 0, start_from_recorded_state=False)
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    with pytest.raises(ConfigError, match="episode 3 does not exist"):
        replay_episode(env, pick_dataset, 3)


def record_integrator(root, steps):
    rec = RecordEpisodes(Integrator(), root, repo_id="t/toy", task="slide")
    rec.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        rec.step(rng.uniform(-1, 1, 2).astype(np.float32))
    rec.close()


def test_a_time_limit_shorter_than_the_episode_is_refused_before_moving(tmp_path):
    record_integrator(tmp_path / "toy", 10)
    short = gym.wrappers.TimeLimit(Integrator(), max_episode_steps=6)
    # It used to replay 6 actions, compare 6 of 10 frames and call that a report.
    with pytest.raises(ConfigError, match=r"time limit \(6 steps\).*max_episode_steps=10"):
        replay_episode(short, tmp_path / "toy", 0)
    exact = replay_episode(gym.wrappers.TimeLimit(Integrator(), 10), tmp_path / "toy", 0)
    assert exact.complete and exact.num_compared_frames == exact.num_recorded_frames == 10


class StopsAt(Integrator):
    """Terminates after ``stop`` steps."""

    def __init__(self, stop):
        super().__init__()
        self.stop, self.t = stop, 0

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.t += 1
        obs, reward, _, truncated, info = super().step(action)
        return obs, reward, self.t >= self.stop, truncated, info


def test_an_env_that_ends_early_gives_an_incomplete_report(tmp_path):
    record_integrator(tmp_path / "toy", 10)
    report = replay_episode(StopsAt(4), tmp_path / "toy", 0)
    assert not report.complete and report.ended_early and report.end_reason == "terminated"
    assert (report.num_actions, report.num_compared_frames, report.num_recorded_frames) == (
        4,
        5,
        10,
    )
    assert "compared 5 of 10 recorded frames" in report.summary()
    assert "terminated after 4 actions" in report.summary()


def test_the_report_labels_its_units(tmp_path):
    root = tmp_path / "reach"
    record_scripted(root, "lerobot_gym/SO101-Reach-v0", seed=3, steps=12)
    report = replay_episode(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"), root, 0)
    assert report.units == ("deg",) * 5 + ("%",)
    lines = report.summary().splitlines()
    assert "compared 12 of 12 recorded frames" in lines[0]
    assert "deg" in next(line for line in lines if line.startswith("shoulder_pan.pos"))
    assert "%" in next(line for line in lines if line.startswith("gripper.pos"))
    # A plain env has no robot spec: the report says its values are in the dataset's units.
    record_integrator(tmp_path / "toy", 3)
    assert "the dataset's units" in replay_episode(Integrator(), tmp_path / "toy", 0).summary()
