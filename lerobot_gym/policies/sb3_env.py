"""The env stack an SB3 algorithm trains on, and the mappings its policy and replay share.

:func:`make_sb3_env` builds the one stack every SB3 model here sees: ``gym.make(id)`` ->
``RescaleAction(-1, 1)`` -> :class:`~lerobot_gym.wrappers.SB3Observation` (or
:class:`~lerobot_gym.wrappers.GoalObservation` for hindsight replay). :func:`stack_layout` and
:func:`action_maps` read such a stack back (how it flattens observations, how it maps actions),
for :class:`~lerobot_gym.policies.sb3.SB3Policy` acting on the plain env and for
:mod:`lerobot_gym.policies.sb3_replay` mapping recorded transitions the way the live stack does.
:func:`algorithm_class` resolves ``--policy.type`` names to SB3 classes.

Split from :mod:`lerobot_gym.policies.sb3` (which re-exports the public names) so the replay
seeding depends on the stack, not on the policy class. SB3 is imported on first use only.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import RescaleAction
from gymnasium.wrappers.utils import rescale_box

from lerobot_gym.errors import ConfigError, MissingExtraError
from lerobot_gym.wrappers.goal_observation import GoalLayout
from lerobot_gym.wrappers.sb3_observation import PIXELS, SB3Observation

__all__ = [
    "ALGORITHMS",
    "action_maps",
    "algorithm_class",
    "default_policy_class",
    "make_sb3_env",
    "stack_layout",
]

#: ``--policy.type`` name -> SB3 class name.
ALGORITHMS = {"sac": "SAC", "td3": "TD3", "ddpg": "DDPG", "ppo": "PPO", "a2c": "A2C"}


def _sb3(purpose: str) -> Any:
    try:
        import stable_baselines3
    except ImportError as exc:
        raise MissingExtraError("stable_baselines3", "rl", purpose) from exc
    return stable_baselines3


def algorithm_class(name: str) -> Any:
    """The SB3 algorithm class for a name (``"sac"``, ``"SAC"``, ``"ppo"``, ...).

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
        MissingExtraError: stable-baselines3 is not installed.
    """
    key = str(name).lower()
    if key not in ALGORITHMS:
        raise ConfigError(
            f"unknown stable-baselines3 algorithm {name!r}; choose one of {sorted(ALGORITHMS)}"
        )
    return getattr(_sb3(f"--policy.type={key}"), ALGORITHMS[key])


def default_policy_class(observation_space: gym.Space) -> str:
    """SB3's policy name for an observation space: ``MlpPolicy`` or ``MultiInputPolicy``."""
    return "MultiInputPolicy" if isinstance(observation_space, spaces.Dict) else "MlpPolicy"


def make_sb3_env(
    env_id: str, *, flatten_state: bool | None = None, goal: bool = False, **kwargs: Any
) -> gym.Env[Any, Any]:
    """``gym.make(env_id, **kwargs)`` wrapped for SB3: actions in [-1, 1], a flat observation.

    Args:
        env_id: a registered id (the ``lerobot_gym/`` namespace may be left out).
        flatten_state: one ``Box`` observation (``MlpPolicy``); default: when there is no
            camera (``obs_type="state"``).
        goal: a goal-conditioned Dict observation (:class:`~lerobot_gym.wrappers.
            GoalObservation`) for hindsight replay, instead of :class:`SB3Observation`.
        **kwargs: ``gym.make`` keywords (``obs_type``, ``image_size``, ``cameras``, ...).

    Raises:
        ConfigError: ``goal=True`` on a task without a goal or with cameras.

    Example:
        >>> env = make_sb3_env("SO101-Reach-v0", obs_type="state")
        >>> env.observation_space.shape, env.action_space.low.min(), env.action_space.high.max()
        ((9,), np.float32(-1.0), np.float32(1.0))
        >>> env.close()
    """
    from lerobot_gym.registry import make

    env = make(env_id, **kwargs)
    if flatten_state is None:
        space = env.observation_space
        flatten_state = not (isinstance(space, spaces.Dict) and PIXELS in space.spaces)
    # float32 bounds: float64 ones make Gymnasium warn that it lowers their precision.
    box = env.action_space
    if not isinstance(box, spaces.Box):
        raise ConfigError(f"SB3 stacks here need a Box action space, got {box}")
    ones = np.ones(box.shape, np.float32)
    rescaled = RescaleAction(env, -ones, ones)
    if goal:
        from lerobot_gym.wrappers.goal_observation import GoalObservation

        return GoalObservation(rescaled)
    return SB3Observation(rescaled, flatten_state=flatten_state)


# -- the stack's mappings, shared by the policy and the replay seeding -------------------------


def stack_layout(env: gym.Env) -> tuple[bool | GoalLayout, spaces.Box, spaces.Box]:
    """(flatten_state or the goal layout, the raw env's and the stack's action space).

    Raises:
        ConfigError: the stack has no :class:`SB3Observation`, or an action wrapper other than
            ``RescaleAction`` (whose mapping a recorded action could not follow).
    """
    from lerobot_gym.wrappers.goal_observation import GoalObservation

    flatten: bool | GoalLayout | None = None
    layer: gym.Env = env
    while isinstance(layer, gym.Wrapper):
        if isinstance(layer, SB3Observation):
            flatten = layer.flatten_state
        elif isinstance(layer, GoalObservation):
            flatten = layer.layout
        elif isinstance(layer, gym.ActionWrapper) and not isinstance(layer, RescaleAction):
            raise ConfigError(
                f"{type(layer).__name__} changes actions in a way recorded actions cannot "
                "follow; build the env with make_sb3_env()"
            )
        layer = layer.env
    if flatten is None:
        raise ConfigError("the env has no SB3Observation wrapper; build it with make_sb3_env()")
    raw, outer = layer.action_space, env.action_space
    if not (isinstance(raw, spaces.Box) and isinstance(outer, spaces.Box)):
        raise ConfigError(f"SB3 stacks here need Box actions, got {raw} and {outer}")
    return flatten, raw, outer


def action_maps(raw: spaces.Box, outer: spaces.Box) -> tuple[Any, Any]:
    """(raw -> stack, stack -> raw) action maps: Gymnasium's ``rescale_box``, as RescaleAction."""
    if raw == outer:
        return (lambda a: np.asarray(a, np.float32)), (lambda a: np.asarray(a, np.float32))
    _, forward, backward = rescale_box(raw, outer.low, outer.high)
    return forward, backward
