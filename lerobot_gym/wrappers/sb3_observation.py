"""A flat observation that stable-baselines3 accepts: one level of keys, images channel-first.

lerobot_gym observations nest the cameras (``pixels`` is a Dict camera -> HxWx3 image), and
SB3 rejects nested Dict spaces. :class:`SB3Observation` lifts each camera to the top level and
transposes it to channel-first, which is what SB3's CNN feature extractors expect:

=====================  ======================================================
env key                SB3 key
=====================  ======================================================
``agent_pos``          ``agent_pos`` (unchanged)
``environment_state``  ``environment_state`` (unchanged)
``pixels[<cam>]``      ``pixels_<cam>``: ``Box(0, 255, (3, H, W), uint8)``
=====================  ======================================================

With ``flatten_state=True`` an observation without cameras becomes one float32 ``Box``: the
concatenation of ``agent_pos``, ``environment_state`` and any other Box entries (sorted by
key), for SB3's ``MlpPolicy``.

Design decisions:

* Camera keys are ``pixels_<cam>``, not ``pixels.<cam>``: SB3's ``CombinedExtractor`` builds a
  ``torch.nn.ModuleDict`` keyed by observation key, and torch forbids ``.`` in module names.
* Images stay uint8 (SB3 scales them by 1/255 itself) and become channel-first here rather than
  by SB3's ``VecTransposeImage``, so the same observation reaches the policy in training, in
  :class:`~lerobot_gym.policies.sb3.SB3Policy` at evaluation, and from a recorded dataset
  (:func:`~lerobot_gym.policies.sb3.seed_replay_buffer`). All three go through
  :func:`to_sb3_observation`, the one mapping.
* Values are copied into new arrays (the transpose is made contiguous), so a replay buffer may
  keep them while the env reuses its image buffers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_gym.errors import ConfigError

PIXELS = "pixels"
CAMERA_PREFIX = "pixels_"
#: the order of the state entries in a flattened observation; other Box keys follow, sorted.
STATE_ORDER = ("agent_pos", "environment_state")


def camera_key(camera: str) -> str:
    """The SB3 observation key of a camera (``front`` -> ``pixels_front``)."""
    return f"{CAMERA_PREFIX}{camera}"


def state_keys(keys: list[str]) -> list[str]:
    """The order in which Box entries are concatenated by ``flatten_state``."""
    first = [k for k in STATE_ORDER if k in keys]
    return first + sorted(k for k in keys if k not in STATE_ORDER)


def sb3_observation_space(space: gym.Space, *, flatten_state: bool = False) -> gym.Space:
    """The SB3 observation space of an env's Dict observation space (see the module table).

    Args:
        space: a Dict of 1-D ``Box`` entries, with cameras (HxWx3 uint8 Boxes) nested under
            ``pixels``.
        flatten_state: return one ``Box`` (allowed only when there are no cameras).

    Raises:
        ConfigError: another layout, a camera image that is not HxWx3 uint8, a key clash, or
            ``flatten_state`` with cameras.
    """
    if not isinstance(space, spaces.Dict):
        raise ConfigError(
            f"SB3Observation needs a Dict observation space (agent_pos, environment_state, "
            f"pixels), got {type(space).__name__}; a Box observation needs no flattening"
        )
    boxes: dict[str, spaces.Box] = {}
    images: dict[str, spaces.Box] = {}
    for key, sub in space.spaces.items():
        if key == PIXELS:
            if not isinstance(sub, spaces.Dict):
                raise ConfigError(f"observation 'pixels' must be a Dict camera -> image, got {sub}")
            for cam, img in sub.spaces.items():
                if not (
                    isinstance(img, spaces.Box)
                    and img.dtype == np.uint8
                    and len(img.shape) == 3
                    and img.shape[2] == 3
                ):
                    raise ConfigError(f"camera {cam!r} must be an HxWx3 uint8 Box, got {img}")
                h, w, c = img.shape
                images[camera_key(cam)] = spaces.Box(0, 255, (c, h, w), np.uint8)
        elif isinstance(sub, spaces.Box) and len(sub.shape) == 1:
            boxes[key] = sub
        else:
            raise ConfigError(
                f"observation {key!r} is {sub}; SB3Observation maps 1-D Box entries and the "
                "'pixels' camera Dict only"
            )
    clash = sorted(set(boxes) & set(images))
    if clash:
        raise ConfigError(f"observation keys {clash} clash with the camera keys; rename them")
    if flatten_state:
        if images:
            raise ConfigError(
                f"flatten_state=True needs an observation without cameras, got {sorted(images)}; "
                "use obs_type='state' or keep the Dict (SB3's MultiInputPolicy)"
            )
        order = state_keys(list(boxes))
        low = np.concatenate([boxes[k].low for k in order]).astype(np.float32)
        high = np.concatenate([boxes[k].high for k in order]).astype(np.float32)
        return spaces.Box(low, high, dtype=np.float32)
    return spaces.Dict({**boxes, **images})


def to_sb3_observation(obs: Mapping[str, Any], *, flatten_state: bool = False) -> Any:
    """An env-style observation in SB3's layout (the values are new arrays).

    Args:
        obs: ``{"agent_pos": ..., "environment_state": ..., "pixels": {cam: HxWx3}}`` (any of
            them may be absent).
        flatten_state: concatenate the Box entries into one float32 vector (no cameras).

    Example:
        >>> obs = {"agent_pos": np.zeros(2, np.float32),
        ...        "pixels": {"front": np.zeros((4, 5, 3), np.uint8)}}
        >>> {k: v.shape for k, v in to_sb3_observation(obs).items()}
        {'agent_pos': (2,), 'pixels_front': (3, 4, 5)}
    """
    if flatten_state:
        if PIXELS in obs:
            raise ConfigError("flatten_state=True needs an observation without cameras")
        order = state_keys(list(obs))
        return np.concatenate([np.asarray(obs[k], np.float32).reshape(-1) for k in order])
    out: dict[str, Any] = {}
    for key, value in obs.items():
        if key == PIXELS:
            for cam, img in value.items():
                out[camera_key(cam)] = np.ascontiguousarray(
                    np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
                )
        else:
            out[key] = np.array(value, dtype=np.float32, copy=True)
    return out


class SB3Observation(
    gym.ObservationWrapper[Any, Any, dict[str, Any]],
    gym.utils.RecordConstructorArgs,
):
    """Flatten the observation for stable-baselines3: cameras as ``pixels_<cam>``, CHW uint8.

    ``agent_pos`` and ``environment_state`` are kept as they are; each camera of ``pixels``
    becomes a top-level ``pixels_<cam>`` key holding a ``(3, H, W)`` uint8 image, which SB3's
    ``MultiInputPolicy`` (or ``CnnPolicy`` feature extractors) accept. With
    ``flatten_state=True`` a camera-free observation becomes one float32 ``Box``
    (``agent_pos`` then ``environment_state``) for ``MlpPolicy``.

    SB3 also recommends an action space normalised to [-1, 1]; put Gymnasium's
    ``RescaleAction(env, -1.0, 1.0)`` under this wrapper
    (:func:`lerobot_gym.policies.sb3.make_sb3_env` builds that stack).

    Args:
        env: an env whose observation space is a Dict of 1-D Boxes plus the ``pixels`` Dict.
        flatten_state: return a single Box (only without cameras).

    Raises:
        ConfigError: another observation layout, or ``flatten_state`` with cameras.

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> env = SB3Observation(gym.make("lerobot_gym/SO101-Reach-v0", image_size=(48, 64),
        ...                               cameras=("front",)))
        >>> obs, info = env.reset(seed=0)
        >>> {key: value.shape for key, value in obs.items()}
        {'agent_pos': (6,), 'pixels_front': (3, 48, 64)}
        >>> env.observation_space.contains(obs)
        True
        >>> flat = SB3Observation(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"),
        ...                       flatten_state=True)
        >>> flat.observation_space.shape  # 6 joints, then the 3-D target
        (9,)
        >>> env.close(); flat.close()

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, env: gym.Env[Any, Any], *, flatten_state: bool = False) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, flatten_state=flatten_state)
        gym.ObservationWrapper.__init__(self, env)
        self.flatten_state = flatten_state
        self.observation_space = sb3_observation_space(
            env.observation_space, flatten_state=flatten_state
        )

    def observation(self, observation: dict[str, Any]) -> Any:
        """The observation in SB3's layout (see :func:`to_sb3_observation`)."""
        return to_sb3_observation(observation, flatten_state=self.flatten_state)
