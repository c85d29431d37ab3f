"""Replay buffers seeded from recorded LeRobot datasets, mapped as the live stack maps them.

:func:`seed_replay_buffer` (re-exported by :mod:`lerobot_gym.policies.sb3`) fills an SB3
replay buffer from a dataset recorded on the same id, with observations mapped by
:func:`~lerobot_gym.wrappers.sb3_observation.to_sb3_observation` and actions by the stack's own
``RescaleAction`` mapping, so a recorded transition equals the live one.

Design decisions:

* A dataset frame ``t`` holds the observation before step ``t`` and the outcome of that step
  (``next.reward``, ``next.done = terminated or truncated``), so the next observation of a
  transition is frame ``t + 1``. The last frame of an episode has none: by default
  (``episode_end="truncated"``, a time limit or the operator ended the episode) it is left out,
  because a bootstrapped target needs that observation; ``episode_end="terminated"`` (episodes
  that end on success or failure) adds it as a terminal transition whose next observation is
  never used (SB3 masks it with ``done``).
* Goal-conditioned (hindsight replay) stacks are refused: a dataset holds no achieved goals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_gym.errors import ConfigError
from lerobot_gym.policies.sb3_env import action_maps, stack_layout
from lerobot_gym.wrappers.goal_observation import GoalLayout
from lerobot_gym.wrappers.sb3_observation import PIXELS, to_sb3_observation

__all__ = ["seed_replay_buffer"]

EPISODE_ENDS = ("truncated", "terminated")


def seed_replay_buffer(
    model_or_buffer: Any,
    dataset: Any,
    env: gym.Env,
    *,
    episode_end: str = "truncated",
) -> int:
    """Add a recorded LeRobot dataset's transitions to an SB3 replay buffer.

    Observations go through :func:`to_sb3_observation` as the live ones do through ``env``;
    actions are mapped from the env's units onto ``env``'s action space (``RescaleAction``'s
    mapping) and, when a model is given, by the model's own ``scale_action`` as SB3 stores them.

    Args:
        model_or_buffer: an off-policy SB3 model (SAC, TD3, DDPG) or its ``ReplayBuffer`` /
            ``DictReplayBuffer``.
        dataset: a :class:`~lerobot_gym.dataset.LeRobotDataset` or the path of one, recorded by
            :class:`~lerobot_gym.wrappers.RecordEpisodes` on the same id.
        env: the SB3 stack the model trains on (:func:`make_sb3_env`).
        episode_end: ``"truncated"`` (the last frame of each episode is left out: its next
            observation is not recorded) or ``"terminated"`` (it is added as terminal).

    Returns:
        The number of transitions added.

    Raises:
        ConfigError: the dataset lacks ``action``/``next.reward``, its observations do not fit
            the buffer, the buffer cannot take out-of-order transitions, or ``episode_end`` is
            unknown.
    """
    from lerobot_gym.dataset.reader import LeRobotDataset

    if episode_end not in EPISODE_ENDS:
        raise ConfigError(f"episode_end must be one of {EPISODE_ENDS}, got {episode_end!r}")
    buffer, policy = _buffer_of(model_or_buffer)
    flatten, raw_space, stack_space = stack_layout(env)
    if isinstance(flatten, GoalLayout):
        raise ConfigError(
            "seeding a goal-conditioned (hindsight replay) buffer from a dataset is not "
            "supported: the dataset holds no achieved goals; seed a stack built without goal=True"
        )
    to_stack, _ = action_maps(raw_space, stack_space)
    if not isinstance(dataset, LeRobotDataset):
        dataset = LeRobotDataset(dataset, format="numpy")
    missing = [k for k in ("action", "next.reward") if k not in dataset.features]
    if missing:
        raise ConfigError(
            f"dataset {dataset.root} has no {missing} column(s); record it with RecordEpisodes "
            "so each frame carries its action and reward"
        )
    if getattr(buffer, "optimize_memory_usage", False):
        raise ConfigError(
            "a buffer with optimize_memory_usage=True stores next observations implicitly and "
            "cannot take recorded transitions; create the model with optimize_memory_usage=False"
        )
    n_envs = int(buffer.n_envs)
    pending: list[tuple[Any, Any, np.ndarray, float, bool]] = []
    added = 0
    for episode in dataset.episodes:
        lo, hi = dataset.episode_range(episode)
        frames = [dataset[i] for i in range(lo, hi)]
        observations = [_frame_observation(f, flatten) for f in frames]
        for t, frame in enumerate(frames):
            last = t == len(frames) - 1
            if last and episode_end == "truncated":
                break
            next_obs = observations[t] if last else observations[t + 1]
            action = to_stack(np.asarray(frame["action"], np.float32))
            if policy is not None:
                action = policy.scale_action(action)
            done = last or bool(np.asarray(frame.get("next.done", False)).reshape(-1)[0])
            reward = float(np.asarray(frame["next.reward"]).reshape(-1)[0])
            pending.append((observations[t], next_obs, action, reward, done))
            if len(pending) == n_envs:
                _add(buffer, pending)
                added += n_envs
                pending = []
    # A buffer of n_envs > 1 takes transitions n_envs at a time; a last partial group is left
    # out rather than padded with repeats that would bias sampling.
    return added


def _buffer_of(model_or_buffer: Any) -> tuple[Any, Any]:
    buffer = getattr(model_or_buffer, "replay_buffer", None)
    if buffer is not None:
        return buffer, model_or_buffer.policy
    if hasattr(model_or_buffer, "rollout_buffer"):
        raise ConfigError(
            f"{type(model_or_buffer).__name__} is on-policy and has no replay buffer; seed "
            "an off-policy algorithm (sac, td3, ddpg)"
        )
    if not hasattr(model_or_buffer, "add") or not hasattr(model_or_buffer, "n_envs"):
        raise ConfigError(
            f"expected an off-policy SB3 model or its replay buffer, got {type(model_or_buffer)}"
        )
    return model_or_buffer, None


def _frame_observation(frame: Mapping[str, Any], flatten: bool) -> Any:
    """A dataset frame's observation in the env's own layout, then in SB3's."""
    from lerobot_gym.dataset.columns import to_hwc_uint8

    env_obs: dict[str, Any] = {}
    pixels: dict[str, np.ndarray] = {}
    for key, value in frame.items():
        if key.startswith("observation.images."):
            cam = key[len("observation.images.") :]
            arr = np.asarray(value)
            pixels[cam] = to_hwc_uint8(key, arr, (arr.shape[1], arr.shape[2], 3))
        elif key == "observation.state":
            env_obs["agent_pos"] = value
        elif key.startswith("observation.") and not key.endswith("_is_pad"):
            env_obs[key[len("observation.") :]] = value
    if pixels:
        env_obs[PIXELS] = pixels
    return to_sb3_observation(env_obs, flatten_state=flatten)


def _add(buffer: Any, group: list[tuple[Any, Any, np.ndarray, float, bool]]) -> None:
    space = buffer.observation_space
    obs = [g[0] for g in group]
    next_obs = [g[1] for g in group]
    if isinstance(space, spaces.Dict):
        if not isinstance(obs[0], dict):
            raise ConfigError(
                f"the env stack flattens observations into one Box, the buffer expects keys "
                f"{sorted(space.spaces)}; seed with the stack the model trains on"
            )
        keys = set(obs[0])
        if keys != set(space.spaces):
            raise ConfigError(
                f"the dataset gives observations {sorted(keys)}, the buffer expects "
                f"{sorted(space.spaces)}; record with the same obs_type and cameras"
            )
        stacked_obs: Any = {k: np.stack([o[k] for o in obs]) for k in space.spaces}
        stacked_next: Any = {k: np.stack([o[k] for o in next_obs]) for k in space.spaces}
        shapes = {k: v.shape[1:] for k, v in stacked_obs.items()}
        wanted = {k: s.shape for k, s in space.spaces.items()}
    else:
        if isinstance(obs[0], dict):
            raise ConfigError(
                f"the dataset gives Dict observations {sorted(obs[0])}, the buffer expects one "
                "Box; train with flatten_state=False or record obs_type='state'"
            )
        stacked_obs, stacked_next = np.stack(obs), np.stack(next_obs)
        shapes, wanted = {"state": stacked_obs.shape[1:]}, {"state": space.shape}
    if shapes != wanted:
        raise ConfigError(
            f"the dataset's observation shapes {shapes} differ from the buffer's {wanted}; "
            "record with the same obs_type, cameras and image_size"
        )
    actions = np.stack([g[2] for g in group]).astype(np.float32)
    rewards = np.array([g[3] for g in group], dtype=np.float32)
    dones = np.array([g[4] for g in group], dtype=np.float32)
    infos: list[dict[str, Any]] = [{} for _ in group]
    buffer.add(stacked_obs, stacked_next, actions, rewards, dones, infos)
