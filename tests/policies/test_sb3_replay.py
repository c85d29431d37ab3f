"""seed_replay_buffer: recorded transitions equal the live ones seen through the same stack."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import RescaleAction

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers import RecordEpisodes
from lerobot_gym.wrappers.sb3_observation import SB3Observation

sb3 = pytest.importorskip("stable_baselines3")
torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # SB3's small networks gain nothing from threads; on a loaded machine torch's spinning
    # worker threads made a 300-step SAC run 20x slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


from lerobot_gym.policies.sb3 import make_sb3_env, seed_replay_buffer  # noqa: E402

REACH = "lerobot_gym/SO101-Reach-v0"
STEPS = 12  # per episode (the time limit truncates)
EPISODES = 2


def _record(tmp_path, flatten_state, **kwargs):
    """Record EPISODES episodes through RecordEpisodes under the SB3 stack; return live data."""
    raw = gym.make(REACH, max_episode_steps=STEPS, **kwargs)
    recorder = RecordEpisodes(raw, root=tmp_path / "ds", repo_id="test/reach", use_videos=False)
    ones = np.ones(raw.action_space.shape, np.float32)
    env = SB3Observation(RescaleAction(recorder, -ones, ones), flatten_state=flatten_state)
    env.action_space.seed(0)
    live = []
    for episode in range(EPISODES):
        obs, _ = env.reset(seed=episode)
        done = False
        while not done:
            action = env.action_space.sample()
            next_obs, reward, terminated, truncated, _ = env.step(action)
            live.append((obs, next_obs, action, reward, terminated or truncated))
            obs, done = next_obs, terminated or truncated
    env.close()
    return env, live


def _model(env):
    policy = (
        "MlpPolicy" if isinstance(env.observation_space, gym.spaces.Box) else "MultiInputPolicy"
    )
    return sb3.SAC(policy, env, buffer_size=100, learning_starts=0, device="cpu", seed=0)


def _assert_obs_equal(stored, expected):
    if isinstance(expected, dict):
        for key, value in expected.items():
            np.testing.assert_array_equal(stored[key], value)
    else:
        np.testing.assert_array_equal(stored, expected)


@pytest.mark.parametrize(
    ("flatten_state", "kwargs"),
    [
        (True, {"obs_type": "state"}),
        (False, {"obs_type": "pixels_agent_pos", "image_size": (40, 48), "cameras": ("front",)}),
    ],
    ids=["state-box", "pixels"],
)
def test_recorded_transitions_equal_the_live_ones(tmp_path, flatten_state, kwargs):
    env, live = _record(tmp_path, flatten_state, **kwargs)
    model = _model(make_sb3_env(REACH, flatten_state=flatten_state, **kwargs))
    added = seed_replay_buffer(model, tmp_path / "ds", env)
    # The last frame of each episode has no recorded next observation: left out.
    assert added == EPISODES * (STEPS - 1)
    buf = model.replay_buffer
    kept = [t for i, t in enumerate(live) if i % STEPS != STEPS - 1]
    for i, (obs, next_obs, action, reward, done) in enumerate(kept):
        if isinstance(obs, dict):
            _assert_obs_equal({k: v[i, 0] for k, v in buf.observations.items()}, obs)
            _assert_obs_equal({k: v[i, 0] for k, v in buf.next_observations.items()}, next_obs)
        else:
            _assert_obs_equal(buf.observations[i, 0], obs)
            _assert_obs_equal(buf.next_observations[i, 0], next_obs)
        # Recorded actions are the applied ones in joint units, mapped back onto [-1, 1].
        np.testing.assert_allclose(buf.actions[i, 0], action, rtol=0, atol=1e-5)
        assert buf.rewards[i, 0] == np.float32(reward)
        assert buf.dones[i, 0] == 0.0 and not done
    # The seeded buffer trains: SAC samples it and takes gradient steps.
    from stable_baselines3.common.logger import configure

    model.set_logger(configure(None, []))
    model.train(gradient_steps=2, batch_size=8)


def test_terminated_episode_end_adds_the_last_frame_as_terminal(tmp_path):
    env, _ = _record(tmp_path, True, obs_type="state")
    model = _model(make_sb3_env(REACH, obs_type="state"))
    added = seed_replay_buffer(model, tmp_path / "ds", env, episode_end="terminated")
    assert added == EPISODES * STEPS
    dones = model.replay_buffer.dones[:added, 0]
    assert dones.tolist() == ([0.0] * (STEPS - 1) + [1.0]) * EPISODES


def test_mismatches_are_typed_errors(tmp_path):
    env, _ = _record(tmp_path, True, obs_type="state")
    pixels_model = _model(
        make_sb3_env(REACH, obs_type="pixels_agent_pos", image_size=(40, 48), cameras=("front",))
    )
    with pytest.raises(ConfigError, match="buffer expects"):
        seed_replay_buffer(pixels_model, tmp_path / "ds", env)
    with pytest.raises(ConfigError, match="episode_end"):
        seed_replay_buffer(pixels_model, tmp_path / "ds", env, episode_end="sometimes")
    ppo = sb3.PPO(
        "MlpPolicy", make_sb3_env(REACH, obs_type="state"), n_steps=16, batch_size=16, device="cpu"
    )
    with pytest.raises(ConfigError, match="on-policy"):
        seed_replay_buffer(ppo, tmp_path / "ds", env)
    with pytest.raises(ConfigError, match="no SB3Observation"):
        seed_replay_buffer(_model(env), tmp_path / "ds", gym.make(REACH, obs_type="state"))
