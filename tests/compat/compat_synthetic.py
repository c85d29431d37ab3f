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
- Several datasets share one generator (:class:`Spec`): ``BASIC`` (the original three
  episodes), ``RL`` (four episodes with every column of reference section 10, for resuming
  across tools) and ``RL_IMAGES`` (the same with the camera stored as PNG ``image``). A value
  depends only on (episode, frame, key), so a dataset written in two halves by two tools must
  read back exactly like one written in one go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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

_IMAGE_NAMES = ("height", "width", "channels")

# The user-facing features, as both writers take them (the bookkeeping columns timestamp,
# frame_index, episode_index, index and task_index are added by the writers).
FEATURES: dict[str, dict] = {
    "observation.state": {"dtype": "float32", "shape": (6,), "names": JOINT_NAMES},
    "action": {"dtype": "float32", "shape": (6,), "names": JOINT_NAMES},
    "next.reward": {"dtype": "float32", "shape": (1,), "names": None},
    "next.done": {"dtype": "bool", "shape": (1,), "names": None},
    CAMERA_KEY: {"dtype": "video", "shape": (HEIGHT, WIDTH, 3), "names": list(_IMAGE_NAMES)},
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


def _values(episode_index: int, length: int) -> dict[str, np.ndarray]:
    """Every column any spec uses, for one episode (specs pick theirs)."""
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
    # Drawn after the original columns so that BASIC's values never change.
    success = done & (episode_index % 2 == 0)  # both outcomes occur
    intervention = np.zeros((length, 1))
    intervention[length // 3 : (2 * length) // 3 + 1] = 1.0  # one takeover mid-episode
    penalty = rng.choice([0.0, -0.1, -0.25], size=(length, 1))
    return {
        "observation.state": state.astype(np.float32),
        "action": action.astype(np.float32),
        "next.reward": reward.astype(np.float32),
        "next.done": done,
        "next.success": success,
        "complementary_info.is_intervention": intervention.astype(np.float32),
        "complementary_info.discrete_penalty": penalty.astype(np.float32),
    }


@dataclass(frozen=True)
class Spec:
    """One synthetic dataset: its features, episodes and tasks.

    Attributes:
        name: command-line name (``lerobot_side.py --spec``).
        features: the user-facing features, as both writers take them.
        episode_lengths: frames per episode.
        tasks: the task of each episode.
        camera_key: the one camera feature (``video`` or ``image``).
    """

    name: str
    features: dict[str, dict]
    episode_lengths: tuple[int, ...]
    tasks: tuple[str, ...]
    camera_key: str = CAMERA_KEY

    @property
    def numeric_keys(self) -> tuple[str, ...]:
        """User features that are not the camera."""
        return tuple(k for k in self.features if k != self.camera_key)

    @property
    def camera_dtype(self) -> str:
        """``"video"`` or ``"image"``."""
        return self.features[self.camera_key]["dtype"]

    def episode(self, episode_index: int) -> dict[str, np.ndarray]:
        """All frames of one episode, keyed by feature, stacked over frames.

        Numeric features are ``(N, D)`` (``(N, 1)`` for scalars) of the declared dtype; the
        camera is ``(N, H, W, 3)`` uint8.
        """
        length = self.episode_lengths[episode_index]
        values = _values(episode_index, length)
        values[self.camera_key] = np.stack([_image(episode_index, i) for i in range(length)])
        return {key: values[key] for key in self.features}

    def frames(self, episodes: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """The frames of ``episodes`` (default all), concatenated in dataset order."""
        episodes = range(len(self.episode_lengths)) if episodes is None else episodes
        eps = [self.episode(i) for i in episodes]
        return {key: np.concatenate([ep[key] for ep in eps]) for key in self.features}

    def unique_tasks(self) -> list[str]:
        """Tasks in order of first appearance: position = ``task_index``."""
        return list(dict.fromkeys(self.tasks))


BASIC = Spec("basic", FEATURES, EPISODE_LENGTHS, TASKS)


def episode(episode_index: int) -> dict[str, np.ndarray]:
    """All frames of one ``BASIC`` episode, keyed by feature.

    Returns:
        A dict with one array per feature in :data:`FEATURES`, stacked over frames: float32
        ``(N, 6)`` state and action, float32 ``(N, 1)`` reward, bool ``(N, 1)`` done (true on the
        last frame only) and uint8 ``(N, H, W, 3)`` images.
    """
    return BASIC.episode(episode_index)


def all_frames() -> dict[str, np.ndarray]:
    """Every ``BASIC`` episode, concatenated in dataset order."""
    return BASIC.frames()


# What ``lerobot_gym.wrappers.lerobot_keys.lerobot_features`` returns for an env with a 6-D
# ``agent_pos``, one 64x96 camera ``front`` and a 6-D action, and no robot spec (so no joint
# names); test_lerobot_resume.py checks that it still does. Spelled out here because the
# LeRobot side cannot import lerobot_gym.
RL_FEATURES: dict[str, dict] = {
    "observation.state": {"dtype": "float32", "shape": [6], "names": None},
    CAMERA_KEY: {"dtype": "video", "shape": [HEIGHT, WIDTH, 3], "names": list(_IMAGE_NAMES)},
    "action": {"dtype": "float32", "shape": [6], "names": None},
    "next.reward": {"dtype": "float32", "shape": [1], "names": None},
    "next.done": {"dtype": "bool", "shape": [1], "names": None},
    "next.success": {"dtype": "bool", "shape": [1], "names": None},
    "complementary_info.is_intervention": {
        "dtype": "float32",
        "shape": [1],
        "names": ["is_intervention"],
    },
    "complementary_info.discrete_penalty": {
        "dtype": "float32",
        "shape": [1],
        "names": ["discrete_penalty"],
    },
}
# Episode 3 brings a task the first two episodes do not have: resuming must append it.
RL = Spec(
    "rl",
    RL_FEATURES,
    (9, 6, 11, 8),
    ("pick the cube", "place the cube", "pick the cube", "stack the cubes"),
)
RL_IMAGES = Spec(
    "rl_images",
    {k: dict(v, dtype="image") if k == CAMERA_KEY else v for k, v in RL_FEATURES.items()},
    RL.episode_lengths,
    RL.tasks,
)
SPECS = {spec.name: spec for spec in (BASIC, RL, RL_IMAGES)}
