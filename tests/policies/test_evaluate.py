"""evaluate_policy on a toy env with known outcomes, videos, and make_policy by type name."""

from __future__ import annotations

import json

import av
import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError
from lerobot_gym.policies import (
    POLICY_TYPES,
    EvalResult,
    Policy,
    RandomPolicy,
    evaluate_policy,
    make_policy,
    register_policy,
)

HORIZON = 6
FRAME = (11, 15)  # odd on purpose: the writer pads to even for yuv420p


class ToyEnv(gym.Env):
    """Reward t at step t. seed % 3 == 0: succeeds and terminates at step 4; seed % 3 == 1:
    successful at step 2 only (lost again, so the final step is not a success); else never."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.observation_space = spaces.Dict({"agent_pos": spaces.Box(-np.inf, np.inf, (1,))})
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.renders = 0
        self.closed = False

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.kind, self.t = seed % 3, 0
        return {"agent_pos": np.zeros(1, np.float32)}, {"is_success": False}

    def step(self, action):
        assert self.action_space.contains(action)
        self.t += 1
        success = (self.kind == 0 and self.t == 4) or (self.kind == 1 and self.t == 2)
        terminated = self.kind == 0 and self.t == 4
        obs = {"agent_pos": np.full(1, self.t, np.float32)}
        return obs, float(self.t), terminated, False, {"is_success": success}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        self.renders += 1
        return np.full((*FRAME, 3), 20 * self.t, np.uint8)

    def close(self):
        self.closed = True


class RecordingPolicy:
    def __init__(self, env):
        self.env, self.resets, self.calls = env, [], 0

    def reset(self, obs, info):
        self.resets.append((float(obs["agent_pos"][0]), info["is_success"]))

    def __call__(self, obs):
        self.calls += 1
        return np.zeros(1, np.float32)


def _toy(render_mode=None, horizon=HORIZON):
    envs = []

    def make():
        env = ToyEnv(render_mode)
        envs.append(env)
        return TimeLimit(env, horizon) if horizon else env

    return make, envs


def test_results_seeds_rewards_and_success_at_the_final_step():
    make, envs = _toy()
    policies, seen = [], []

    def factory(env):
        policies.append(RecordingPolicy(env))
        return policies[-1]

    result = evaluate_policy(make, factory, n_episodes=5, seed=9, progress=seen.append)
    assert isinstance(result, EvalResult) and len(envs) == 1 and len(policies) == 1
    assert [ep.seed for ep in result.episodes] == [9, 10, 11, 12, 13]
    assert [ep.episode_ix for ep in result.episodes] == [0, 1, 2, 3, 4]
    # kinds 0, 1, 2, 0, 1: only kind 0 ends successful; kind 1's success at step 2 was lost.
    assert [ep.success for ep in result.episodes] == [True, False, False, True, False]
    assert [ep.steps for ep in result.episodes] == [4, HORIZON, HORIZON, 4, HORIZON]
    assert [ep.terminated for ep in result.episodes] == [True, False, False, True, False]
    assert [ep.sum_reward for ep in result.episodes] == [10.0, 21.0, 21.0, 10.0, 21.0]
    assert [ep.max_reward for ep in result.episodes] == [4.0, 6.0, 6.0, 4.0, 6.0]
    assert result.success_rate == pytest.approx(0.4)
    assert result.avg_sum_reward == pytest.approx(16.6)
    assert seen == list(result.episodes)  # progress reported once per episode, in order
    assert policies[0].resets == [(0.0, False)] * 5
    assert policies[0].calls == sum(ep.steps for ep in result.episodes)
    assert envs[0].closed and envs[0].renders == 0


def test_to_dict_is_lerobot_eval_info_layout_and_strict_json():
    make, _ = _toy()
    info = evaluate_policy(make, RecordingPolicy, n_episodes=3, seed=0).to_dict()
    text = json.dumps(info, allow_nan=False)
    assert json.loads(text)["success_rate"] == pytest.approx(1 / 3)
    assert set(info) == {
        "success_rate",
        "success_rate_ci95",
        "per_episode",
        "aggregated",
        "video_paths",
    }
    assert {"episode_ix", "seed", "success", "sum_reward", "max_reward"} <= set(
        info["per_episode"][0]
    )
    agg = info["aggregated"]
    assert agg["pc_success"] == pytest.approx(100 / 3) and agg["n_episodes"] == 3
    assert agg["eval_ep_s"] == pytest.approx(agg["eval_s"] / 3)


def test_videos_of_the_first_episodes_only(tmp_path):
    make, envs = _toy(render_mode="rgb_array")
    result = evaluate_policy(
        make, RecordingPolicy, n_episodes=3, seed=0, video_dir=tmp_path, max_videos=2
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "eval_episode_0.mp4",
        "eval_episode_1.mp4",
    ]
    assert result.video_paths == [str(tmp_path / f"eval_episode_{i}.mp4") for i in (0, 1)]
    assert result.episodes[2].video_path is None
    # Unfilmed episodes are not rendered: (4 + 1) + (6 + 1) frames.
    assert envs[0].renders == 12
    with av.open(result.video_paths[1]) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == HORIZON + 1
    assert frames[0].shape == (FRAME[0] + 1, FRAME[1] + 1, 3)
    means = [float(f.mean()) for f in frames]
    assert means == sorted(means) and means[-1] > means[0] + 50  # frames in step order


def test_no_video_without_rgb_array_rendering(tmp_path):
    make, _ = _toy(render_mode=None)
    result = evaluate_policy(make, RecordingPolicy, n_episodes=1, seed=0, video_dir=tmp_path)
    assert result.video_paths == [] and list(tmp_path.iterdir()) == []


def test_env_is_closed_and_partial_video_removed_when_the_policy_fails(tmp_path):
    make, envs = _toy(render_mode="rgb_array")

    class Failing(RecordingPolicy):
        def __call__(self, obs):
            if self.calls == 2:
                raise RuntimeError("policy crashed")
            return super().__call__(obs)

    with pytest.raises(RuntimeError, match="policy crashed"):
        evaluate_policy(make, Failing, n_episodes=2, seed=0, video_dir=tmp_path)
    assert envs[0].closed
    assert list(tmp_path.iterdir()) == []


def test_max_steps_bounds_an_env_without_time_limit():
    make, _ = _toy(horizon=None)
    result = evaluate_policy(make, RecordingPolicy, n_episodes=2, seed=1, max_steps=3)
    assert [ep.steps for ep in result.episodes] == [3, 3]
    assert not any(ep.terminated for ep in result.episodes)
    with pytest.raises(ConfigError, match="no time limit"):
        evaluate_policy(make, RecordingPolicy, n_episodes=1, seed=1)
    with pytest.raises(ConfigError, match="n_episodes must be at least 1"):
        evaluate_policy(make, RecordingPolicy, n_episodes=0, seed=1)


def test_make_policy_types():
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    try:
        scripted = make_policy("scripted", env)
        assert isinstance(scripted, Policy)
        obs, info = env.reset(seed=0)
        scripted.reset(obs, info)
        assert env.action_space.contains(np.asarray(scripted(obs), np.float32))

        a, b = make_policy("random", env, seed=4), make_policy("random", env, seed=4)
        draws_a, draws_b = [a(obs) for _ in range(3)], [b(obs) for _ in range(3)]
        assert all(np.array_equal(x, y) for x, y in zip(draws_a, draws_b))
        assert not np.array_equal(draws_a[0], draws_a[1])
        assert all(env.action_space.contains(x) for x in draws_a)
        assert isinstance(a, RandomPolicy) and np.array_equal(a.select_action(obs).shape, (6,))

        with pytest.raises(ConfigError, match=r"unknown policy type 'ppo'; available types: \["):
            make_policy("ppo", env)
        with pytest.raises(ConfigError, match="does not accept option"):
            make_policy("random", env, temperature=2.0)
    finally:
        env.close()


def test_register_policy_imports_lazily(monkeypatch, tmp_path):
    (tmp_path / "toy_policy_mod.py").write_text(
        "import numpy as np\n"
        "class Zero:\n"
        "    def __init__(self, env, seed=None, scale=1.0): self.scale = scale\n"
        "    def reset(self, obs, info): pass\n"
        "    def __call__(self, obs): return np.zeros(1, np.float32)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(POLICY_TYPES, "zero", "toy_policy_mod:Zero")
    register_policy("zero", "toy_policy_mod:Zero")
    policy = make_policy("zero", ToyEnv(), scale=3.0)
    assert policy.scale == 3.0 and isinstance(policy, Policy)


# -- vectorised evaluation (SyncVectorEnv) and the Wilson interval ------------------------------


def _fields(result):
    return [
        (ep.episode_ix, ep.seed, ep.success, ep.sum_reward, ep.max_reward, ep.steps, ep.terminated)
        for ep in result.episodes
    ]


@pytest.mark.parametrize("batch_size", [2, 3, 16])
def test_vectorised_matches_sequential_episode_for_episode(batch_size):
    make, _ = _toy()
    sequential = evaluate_policy(make, RecordingPolicy, n_episodes=7, seed=4)
    make, envs = _toy()
    policies, seen = [], []

    def factory(env):
        policies.append(RecordingPolicy(env))
        return policies[-1]

    vector = evaluate_policy(
        make, factory, n_episodes=7, seed=4, batch_size=batch_size, progress=seen.append
    )
    assert _fields(vector) == _fields(sequential)
    n_envs = min(batch_size, 7)
    assert len(envs) == n_envs and len(policies) == n_envs and all(env.closed for env in envs)
    # Rolling assignment: every episode was started on some env, each with its own policy.
    assert sum(len(p.resets) for p in policies) == 7  # idle envs' resets reach no policy
    assert sorted(ep.episode_ix for ep in seen) == list(range(7))
    # Each env got the seeds of the episodes it ran: together, every seed once.
    assert sorted(ep.seed for ep in vector.episodes) == list(range(4, 11))


def test_vectorised_max_steps_and_videos(tmp_path):
    make, _ = _toy(render_mode="rgb_array", horizon=None)
    result = evaluate_policy(
        make,
        RecordingPolicy,
        n_episodes=5,
        seed=1,
        max_steps=3,
        batch_size=2,
        video_dir=tmp_path,
        max_videos=3,
    )
    assert [ep.steps for ep in result.episodes] == [3, 3, 3, 3, 3]
    assert not any(ep.terminated for ep in result.episodes)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"eval_episode_{i}.mp4" for i in range(3)]
    with av.open(result.video_paths[2]) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3 + 1
    with pytest.raises(ConfigError, match="no time limit"):
        evaluate_policy(make, RecordingPolicy, n_episodes=3, seed=1, batch_size=2)
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        evaluate_policy(make, RecordingPolicy, n_episodes=3, seed=1, batch_size=0)


def test_vectorised_failure_closes_every_env_and_removes_partial_videos(tmp_path):
    make, envs = _toy(render_mode="rgb_array")

    class Failing(RecordingPolicy):
        def __call__(self, obs):
            if self.calls == 2:
                raise RuntimeError("policy crashed")
            return super().__call__(obs)

    with pytest.raises(RuntimeError, match="policy crashed"):
        evaluate_policy(make, Failing, n_episodes=4, seed=0, video_dir=tmp_path, batch_size=2)
    assert len(envs) == 2 and all(env.closed for env in envs)
    assert list(tmp_path.iterdir()) == []


def test_vectorised_scripted_reach_equals_sequential():
    def make():
        return gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")

    def factory(env):
        return make_policy("scripted", env)

    sequential = evaluate_policy(make, factory, n_episodes=3, seed=20)
    vector = evaluate_policy(make, factory, n_episodes=3, seed=20, batch_size=2)
    assert _fields(vector) == _fields(sequential)
    assert vector.success_rate == 1.0


def test_wilson_interval_and_eval_info_fields():
    from lerobot_gym.policies import wilson_interval

    assert wilson_interval(8, 10) == pytest.approx((0.49016, 0.94332), abs=1e-5)
    assert wilson_interval(0, 20) == pytest.approx((0.0, 0.16113), abs=1e-5)
    assert wilson_interval(20, 20) == pytest.approx((0.83887, 1.0), abs=1e-5)
    lo, hi = wilson_interval(45, 50)
    assert lo < 0.9 < hi and hi - lo < 0.2
    with pytest.raises(ConfigError, match=r"within 0\.\.10"):
        wilson_interval(11, 10)

    make, _ = _toy()
    result = evaluate_policy(make, RecordingPolicy, n_episodes=5, seed=9)  # 2 of 5 succeed
    info = result.to_dict()
    assert info["success_rate_ci95"] == pytest.approx(list(wilson_interval(2, 5)))
    assert info["aggregated"]["n_successes"] == 2
    assert info["aggregated"]["avg_steps"] == pytest.approx((4 + 6 + 6 + 4 + 6) / 5)
