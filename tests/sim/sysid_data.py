"""Synthetic recordings for the sysid tests: tiny, made on the twin itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerobot_gym.dataset.writer import LeRobotDatasetWriter

NAMES = [
    "shoulder_pan.pos",
    "shoulder_lift.pos",
    "elbow_flex.pos",
    "wrist_flex.pos",
    "wrist_roll.pos",
    "gripper.pos",
]


def smooth_actions(frames: int, seed: int) -> np.ndarray:
    """A teleoperation-like path in degrees / gripper percent around the home pose."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 30.0
    home = np.array([0.0, -57.3, 57.3, 51.6, 0.0, 20.0])
    amp = np.array([25.0, 20.0, 20.0, 20.0, 30.0, 15.0])
    freq = rng.uniform(0.3, 0.8, size=6)
    phase = rng.uniform(0, 2 * np.pi, size=6)
    return (home + amp * np.sin(2 * np.pi * freq * t[:, None] + phase)).astype(np.float32)


def write_dataset(
    root: Path,
    actions: list[np.ndarray],
    states: list[np.ndarray],
    features: tuple = (),
    names: list[str] | None = None,
) -> Path:
    """A LeRobot v3.0 dataset with the given episodes (``features`` limits the columns)."""
    spec = {"dtype": "float32", "shape": [6], "names": names or NAMES}
    keys = features or ("action", "observation.state")
    with LeRobotDatasetWriter.create(
        root, repo_id="me/sysid", fps=30, features={k: spec for k in keys}
    ) as writer:
        for a_ep, s_ep in zip(actions, states):
            for a, s in zip(a_ep, s_ep):
                frame = {"action": a, "observation.state": s}
                writer.add_frame({k: frame[k] for k in keys}, task="move")
            writer.save_episode()
    return root


def twin_recording(params, episodes: int, frames: int) -> tuple[list, list]:
    """Actions and the states a twin with ``params`` reaches (the recording's frame order)."""
    import gymnasium as gym

    import lerobot_gym  # noqa: F401

    env = gym.make(
        "lerobot_gym/SO101-v0",
        obs_type="state",
        twin_params=params,
        max_episode_steps=frames + 1,
        disable_env_checker=True,
    )
    actions, states = [], []
    for ep in range(episodes):
        acts = smooth_actions(frames, seed=ep)
        obs, _ = env.reset(options={"joint_positions": acts[0]})
        rows = [obs["agent_pos"]]
        for a in acts[:-1]:
            obs, *_ = env.step(a)
            rows.append(obs["agent_pos"])
        actions.append(acts)
        states.append(np.stack(rows).astype(np.float32))
    env.close()
    return actions, states
