"""Tiny configs, stats and a tiny recorded dataset for the learned-policy tests."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.policies import make_policy
from lerobot_gym.policies.config import PolicyFeature

TINY_ACT = dict(
    chunk_size=5, n_action_steps=5, dim_model=32, n_heads=2, dim_feedforward=64,
    n_encoder_layers=1, n_vae_encoder_layers=1, optimizer_lr=1e-3,
)  # fmt: skip
TINY_DIFFUSION = dict(
    horizon=8, n_action_steps=4, down_dims=[32, 64], diffusion_step_embed_dim=16,
    spatial_softmax_num_keypoints=8, noise_scheduler_type="DDIM", num_inference_steps=4,
    scheduler_warmup_steps=2, optimizer_lr=1e-3, drop_n_last_frames=3,
)  # fmt: skip
EPISODE_STEPS = 25


def features(state=6, env_state=7, cameras=(), image=(3, 32, 32), action=6):
    inputs = {"observation.state": PolicyFeature("STATE", (state,))}
    if env_state:
        inputs["observation.environment_state"] = PolicyFeature("ENV", (env_state,))
    for cam in cameras:
        inputs[f"observation.images.{cam}"] = PolicyFeature("VISUAL", image)
    return inputs, {"action": PolicyFeature("ACTION", (action,))}


def random_stats(inputs, outputs, seed=0):
    rng = np.random.default_rng(seed)
    stats = {}
    for key, ft in {**inputs, **outputs}.items():
        shape = (3, 1, 1) if ft.type == "VISUAL" else ft.shape
        lo = rng.uniform(-2, 0, shape)
        stats[key] = {
            "mean": rng.uniform(-1, 1, shape), "std": rng.uniform(0.5, 2, shape),
            "min": lo, "max": lo + rng.uniform(1, 3, shape),
        }  # fmt: skip
    return stats


def record(root: Path, obs_type: str, episodes: int = 2, **make_kwargs) -> Path:
    from lerobot_gym.wrappers import RecordEpisodes

    env = gym.make(
        "lerobot_gym/SO101-PickCube-v0", obs_type=obs_type, max_episode_steps=EPISODE_STEPS,
        **make_kwargs,
    )  # fmt: skip
    env = RecordEpisodes(env, root=root, repo_id="test/pick")
    policy = make_policy("scripted", env)
    for ep in range(episodes):
        obs, info = env.reset(seed=ep)
        policy.reset(obs, info)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            done = terminated or truncated
    env.close()
    return root
