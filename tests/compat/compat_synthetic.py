"""Deterministic synthetic episodes shared by both sides of the LeRobot interoperability tests.

This module is imported by ``test_lerobot_compat.py`` (main venv, our writer and reader) and by
``lerobot_side.py`` (compat venv, LeRobot's writer and reader), so it may depend on numpy only.
Both sides build the same episodes from it, which lets each compare what it reads against what
was written without shipping the source frames across the venv boundary.

Design decisions:
- Images are smooth (gradients plus a Gaussian blob) so that lossy codecs reproduce them closely,
  yet consecutive frames differ by far more than codec error (the blob moves several pixels per
  frame and the background phase shifts): a reader that returns the neighbouring frame fails the
  tests instead of passing unnoticed.
- Values come from a seeded ``np.random.Generator`` plus closed-form functions of the frame
  index, never from global RNG state.
"""

from __future__ import annotations

import numpy as np

FPS = 10
REPO_ID = "lerobot_gym/compat"
ROBOT_TYPE = "so101_follower"
EPISODE_LENGTHS = (12, 7, 15)
TASKS = ("pick the cube", "place the cube", "pick the cube")
HEIGHT, WIDTH = 64, 96
CAMERA_KEY = "observation.images.front"
JOINT_NAMES = [
    "shoulder_pan.pos",
    "shoulder_lift.pos",
    "elbow_flex.pos",
    "wrist_flex.pos",
    "wrist_roll.pos",
    "gripper.pos",
]

# The user-facing features, as both writers take them (the bookkeeping columns timestamp,
# frame_index, episode_index, index and task_index are added by the writers).
FEATURES: dict[str, dict] = {
    "observation.state": {"dtype": "float32", "shape": (6,), "names": JOINT_NAMES},
    "action": {"dtype": "float32", "shape": (6,), "names": JOINT_NAMES},
    "next.reward": {"dtype": "float32", "shape": (1,), "names": None},
    "next.done": {"dtype": "bool", "shape": (1,), "names": None},
    CAMERA_KEY: {
        "dtype": "video",
        "shape": (HEIGHT, WIDTH, 3),
        "names": ["height", "width", "channels"],
    },
}
NON_VIDEO_KEYS = ("observation.state", "action", "next.reward", "next.done")

# A second read of each dataset selects these episodes and asks for neighbouring frames, so both
# readers' episode filtering and padding at episode edges (``<key>_is_pad``) get compared too.
SUBSET_EPISODES = (0, 2)
DELTA_TIMESTAMPS: dict[str, list[float]] = {
    "observation.state": [-0.1, 0.0],
    "action": [0.0, 0.1, 0.2],
    "next.reward": [0.0, 0.1],
    CAMERA_KEY: [-0.2, 0.0],
}


def _image(episode_index: int, frame_index: int) -> np.ndarray:
    """One smooth (H, W, 3) uint8 frame that differs clearly from its neighbours."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    phase = 0.5 * frame_index + 1.3 * episode_index
    channels = [
        96 + 60 * np.sin(2 * np.pi * x / WIDTH + phase + 2.1 * c) + 40 * (y / HEIGHT)
        for c in range(3)
    ]
    image = np.stack(channels, axis=-1)
    cx = (10 + 5 * frame_index + 7 * episode_index) % WIDTH
    cy = HEIGHT / 2 + 14 * np.sin(0.7 * frame_index)
    blob = 90 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 6.0**2))
    image += blob[..., None] * np.array([1.0, 0.6, -0.4])
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def episode(episode_index: int) -> dict[str, np.ndarray]:
    """All frames of one synthetic episode, keyed by feature.

    Returns:
        A dict with one array per feature in :data:`FEATURES`, stacked over frames: float32
        ``(N, 6)`` state and action, float32 ``(N, 1)`` reward, bool ``(N, 1)`` done (true on the
        last frame only) and uint8 ``(N, H, W, 3)`` images.
    """
    length = EPISODE_LENGTHS[episode_index]
    rng = np.random.default_rng(1234 + episode_index)
    t = np.arange(length, dtype=np.float64)[:, None] / FPS
    joints = np.arange(6, dtype=np.float64)[None, :]
    state = 30.0 * np.sin(t + joints) + rng.normal(0.0, 0.5, size=(length, 6))
    action = state + rng.normal(0.0, 2.0, size=(length, 6))
    reward = np.zeros((length, 1))
    reward[-1] = 1.0
    reward += rng.uniform(-0.1, 0.1, size=(length, 1))
    done = np.zeros((length, 1), dtype=bool)
    done[-1] = True
    images = np.stack([_image(episode_index, i) for i in range(length)])
    return {
        "observation.state": state.astype(np.float32),
        "action": action.astype(np.float32),
        "next.reward": reward.astype(np.float32),
        "next.done": done,
        CAMERA_KEY: images,
    }


def all_frames() -> dict[str, np.ndarray]:
    """Every episode from :func:`episode`, concatenated in dataset order."""
    episodes = [episode(i) for i in range(len(EPISODE_LENGTHS))]
    return {key: np.concatenate([ep[key] for ep in episodes]) for key in FEATURES}
