"""SB3 models on lerobot_gym ids: training for real, policies saved and evaluated."""

import json

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError
from lerobot_gym.policies import evaluate_policy, make_policy, register_policy

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


from lerobot_gym.policies.sb3 import (  # noqa: E402
    SB3Policy,
    algorithm_class,
    default_policy_class,
    load_sb3_policy,
    make_sb3_env,
)

REACH = "lerobot_gym/SO101-Reach-v0"
TINY_SAC = {
    "learning_starts": 50,
    "batch_size": 32,
    "buffer_size": 1000,
    "policy_kwargs": {"net_arch": [32, 32]},
    "seed": 0,
    "device": "cpu",
}


def _critic_params(model):
    return [p.detach().clone() for p in model.critic.parameters()]


def _changed(before, model):
    return any(not np.allclose(a, b.detach()) for a, b in zip(before, model.critic.parameters()))


def test_sac_trains_on_a_state_id():
    env = make_sb3_env(REACH, obs_type="state")
    assert default_policy_class(env.observation_space) == "MlpPolicy"
    model = sb3.SAC("MlpPolicy", env, **TINY_SAC)
    before = _critic_params(model)
    model.learn(total_timesteps=300)
    assert model.num_timesteps == 300
    assert model.replay_buffer.size() == 300
    assert _changed(before, model)  # gradient steps ran after learning_starts
    env.close()


def test_sac_trains_on_pixels_with_a_cnn():
    env = make_sb3_env(REACH, obs_type="pixels_agent_pos", image_size=(40, 48), cameras=("front",))
    assert default_policy_class(env.observation_space) == "MultiInputPolicy"
    model = sb3.SAC("MultiInputPolicy", env, **{**TINY_SAC, "batch_size": 8, "learning_starts": 20})
    cnn = model.critic.features_extractor.extractors["pixels_front"]
    assert type(cnn).__name__ == "NatureCNN"  # SB3 sees a channel-first uint8 image
    before = [p.detach().clone() for p in cnn.parameters()]
    model.learn(total_timesteps=60)
    stored = model.replay_buffer.observations["pixels_front"][:60, 0]
    assert stored.shape == (60, 3, 40, 48) and stored.dtype == np.uint8 and np.ptp(stored) > 0
    # The critic's gradient steps reached the convolutions: it learned from the pixels.
    assert any(not np.allclose(a, b.detach()) for a, b in zip(before, cnn.parameters()))
    env.close()


def test_policy_saved_and_loaded_acts_like_the_model(tmp_path):
    env = make_sb3_env(REACH, obs_type="state")
    model = sb3.SAC("MlpPolicy", env, **TINY_SAC)
    model.learn(total_timesteps=100)
    policy = SB3Policy.from_env(model, env)
    out = policy.save(tmp_path / "sac")
    config = json.loads((out / "config.json").read_text())
    assert config["type"] == "sb3" and config["algorithm"] == "sac"
    assert config["env"]["id"] == REACH and config["env"]["kwargs"]["obs_type"] == "state"
    assert (out / "model.zip").is_file()
    assert config["input_features"] == {
        "observation.state": {"type": "STATE", "shape": [6]},
        "observation.environment_state": {"type": "ENV", "shape": [3]},
    }
    assert config["output_features"] == {"action": {"type": "ACTION", "shape": [6]}}

    raw = gym.make(REACH, obs_type="state")
    loaded = load_sb3_policy(out, device="cpu", env=raw)
    obs, info = raw.reset(seed=4)
    loaded.reset(obs, info)
    action = loaded.select_action(obs)
    assert raw.action_space.contains(action)
    # The same action as the model's through the training stack (RescaleAction's inverse).
    wrapped_obs, _ = env.reset(seed=4)
    model_action, _ = model.predict(wrapped_obs, deterministic=True)
    expected = env.get_wrapper_attr("action")  # RescaleAction's own mapping to the raw env
    np.testing.assert_allclose(action, expected(model_action), rtol=0, atol=1e-4)
    np.testing.assert_array_equal(loaded(obs), action)
    from lerobot_gym.policies import load_policy

    assert isinstance(load_policy(out, device="cpu"), SB3Policy)  # any checkpoint directory


def test_saved_policy_evaluates_through_make_policy(tmp_path):
    env = make_sb3_env(REACH, obs_type="state")
    model = sb3.SAC("MlpPolicy", env, **TINY_SAC)
    SB3Policy.from_env(model, env).save(tmp_path / "p")
    register_policy("sb3", "lerobot_gym.policies.sb3:make_sb3_policy")
    result = evaluate_policy(
        lambda: gym.make(REACH, obs_type="state"),
        lambda e: make_policy("sb3", e, path=str(tmp_path / "p"), device="cpu"),
        n_episodes=2,
        seed=0,
        max_steps=10,
    )
    assert result.n_episodes == 2 and all(ep.steps == 10 for ep in result.episodes)


def test_mismatched_env_and_bad_directories_are_typed_errors(tmp_path):
    env = make_sb3_env(REACH, obs_type="state")
    SB3Policy.from_env(sb3.SAC("MlpPolicy", env, **TINY_SAC), env).save(tmp_path / "p")
    pick = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    with pytest.raises(ConfigError, match="trained on observations"):
        load_sb3_policy(tmp_path / "p", env=pick)
    with pytest.raises(ConfigError, match="not an SB3 policy directory"):
        load_sb3_policy(tmp_path)
    with pytest.raises(ConfigError, match="unknown stable-baselines3 algorithm"):
        algorithm_class("dqn2")


@pytest.mark.parametrize("name", ["td3", "ppo"])
def test_other_algorithms_train_on_the_same_stack(name):
    env = make_sb3_env(REACH, obs_type="state")
    cls = algorithm_class(name)
    kwargs = {"seed": 0, "device": "cpu", "policy_kwargs": {"net_arch": [16]}}
    if name == "ppo":
        kwargs.update(n_steps=64, batch_size=32, n_epochs=1)
    else:
        kwargs.update(learning_starts=20, batch_size=16, buffer_size=500)
    model = cls("MlpPolicy", env, **kwargs)
    model.learn(total_timesteps=64)
    assert model.num_timesteps >= 64
