"""A LeRobot dataset recorded through the emulated SO-101: the real driver, bus and calibration."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.dataset import LeRobotDataset
from lerobot_gym.tasks.scripted import make_scripted_policy
from lerobot_gym.wrappers import ControlRate, RecordEpisodes

STEPS = 20


def test_scripted_reach_recorded_through_the_emulated_arm(tmp_path):
    env = gym.make(
        "lerobot_gym/SO101-Reach-v0",
        backend="emulated",
        obs_type="pixels_agent_pos",
        image_size=(24, 32),
        max_episode_steps=STEPS,
        max_speed_deg_s=360.0,
        disable_env_checker=True,
    )
    env = RecordEpisodes(
        ControlRate(env, fps=30), root=tmp_path / "ds", repo_id="test/emulated", vcodec="h264"
    )
    policy = make_scripted_policy(env)
    states, actions = [], []
    for seed in range(2):
        obs, info = env.reset(seed=seed)
        policy.reset(obs, info)
        done = False
        while not done:
            states.append(obs["agent_pos"])
            obs, _, terminated, truncated, info = env.step(policy(obs))
            actions.append(info["action_applied"])
            done = terminated or truncated
    env.close()

    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    assert ds.meta.info["robot_type"] == "so101_follower"
    assert ds.meta.info["total_episodes"] == 2 and len(ds) == 2 * STEPS
    recorded_states = np.stack([ds[i]["observation.state"] for i in range(len(ds))])
    recorded_actions = np.stack([ds[i]["action"] for i in range(len(ds))])
    np.testing.assert_allclose(recorded_states, np.stack(states), atol=1e-5)
    np.testing.assert_allclose(recorded_actions, np.stack(actions), atol=1e-5)
    # The emulated arm really moved under the driver's commands (degrees, over one episode).
    assert np.abs(recorded_states[STEPS - 1] - recorded_states[0])[:5].max() > 5.0
    frame = ds[STEPS - 1]["observation.images.front"]
    assert frame.shape == (3, 24, 32) and frame.std() > 0.01
