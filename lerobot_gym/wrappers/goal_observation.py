"""GoalObservation: the goal-conditioned observation hindsight experience replay needs.

Hindsight experience replay (HER; SB3's ``HerReplayBuffer``, gymnasium-robotics' goal envs)
stores each transition with the goal the agent reached and later asks what the reward would
have been had that been the goal. It needs two things from the env:

* a Dict observation ``{"observation", "achieved_goal", "desired_goal"}``;
* ``env.compute_reward(achieved_goal, desired_goal, info)``, vectorised over a batch.

:class:`GoalObservation` provides both for any task that declares its goal
(:attr:`~lerobot_gym.core.task.Task.achieved_goal_fact` and
:attr:`~lerobot_gym.core.task.Task.desired_goal_slice`; SO101-Reach: the gripper position and
the target):

==================  ====================================================================
key                 value
==================  ====================================================================
``observation``     ``agent_pos`` then ``environment_state`` without the desired goal
``achieved_goal``   ``info["facts"][task.achieved_goal_fact]`` (Reach: the gripper)
``desired_goal``    ``environment_state[start:stop]`` (Reach: the target)
==================  ====================================================================

Design decisions:

* The desired goal is read from the observation, not from the task's private goal, and the
  rest of the observation leaves it out, so a relabelled goal never contradicts a copy of the
  real one elsewhere in the input.
* The achieved goal is a task fact (the twin's site position; forward kinematics on hardware),
  which the plain observation does not hold. :func:`to_goal_observation` takes it as an
  argument: a policy that does not read it (``lerobot_gym.policies.sb3_goal.GoalFeatures``)
  acts on the plain env's observation alone.
* ``compute_reward`` is the task's :meth:`~lerobot_gym.core.task.Task.goal_reward`, which
  equals the env's reward of the same step (dense or sparse, as the env was made).
* State observations only (``obs_type="state"``): goal-conditioned pixels are not needed by
  any task here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError

__all__ = ["GoalLayout", "GoalObservation", "goal_layout", "to_goal_observation"]

OBSERVATION, ACHIEVED, DESIRED = "observation", "achieved_goal", "desired_goal"


@dataclass(frozen=True)
class GoalLayout:
    """Where the desired goal sits in ``environment_state`` (``[start, stop)``)."""

    start: int
    stop: int

    @property
    def goal_dim(self) -> int:
        """Size of the achieved and of the desired goal."""
        return self.stop - self.start

    def to_json(self) -> dict[str, int]:
        """Plain data for a policy's ``config.json``."""
        return {"start": self.start, "stop": self.stop}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GoalLayout:
        """The layout :meth:`to_json` wrote."""
        return cls(int(data["start"]), int(data["stop"]))


def goal_layout(env: gym.Env) -> GoalLayout:
    """The goal layout of ``env``'s task.

    Raises:
        ConfigError: the task declares no goal, or the env has no ``environment_state``.
    """
    task = getattr(env.unwrapped, "task", None)
    fact = getattr(task, "achieved_goal_fact", None)
    where = getattr(task, "desired_goal_slice", None)
    if task is None or fact is None or where is None:
        name = getattr(task, "name", type(env.unwrapped).__name__)
        raise ConfigError(
            f"task {name!r} declares no goal (achieved_goal_fact/desired_goal_slice), so there "
            "is nothing to relabel; use a goal task such as SO101-Reach or train without "
            "hindsight replay"
        )
    space = env.observation_space
    if not isinstance(space, spaces.Dict) or "environment_state" not in space.spaces:
        raise ConfigError(
            "GoalObservation needs a state observation with environment_state; make the env "
            "with obs_type='state'"
        )
    return GoalLayout(int(where[0]), int(where[1]))


def goal_observation_space(space: gym.Space, layout: GoalLayout) -> spaces.Dict:
    """The goal-conditioned space of a plain env's Dict observation space.

    Raises:
        ConfigError: the space holds cameras or lacks ``agent_pos``/``environment_state``.
    """
    if not isinstance(space, spaces.Dict) or set(space.spaces) != {
        "agent_pos",
        "environment_state",
    }:
        keys = sorted(space.spaces) if isinstance(space, spaces.Dict) else space
        raise ConfigError(
            f"a goal-conditioned observation is built from agent_pos and environment_state "
            f"alone, got {keys}; make the env with obs_type='state'"
        )
    pos, state = space["agent_pos"], space["environment_state"]
    assert isinstance(pos, spaces.Box) and isinstance(state, spaces.Box)
    keep = _rest(layout, state.shape[0])
    low = np.concatenate([pos.low, state.low[keep]]).astype(np.float32)
    high = np.concatenate([pos.high, state.high[keep]]).astype(np.float32)
    goal = spaces.Box(-np.inf, np.inf, (layout.goal_dim,), np.float32)
    return spaces.Dict(
        {
            OBSERVATION: spaces.Box(low, high, dtype=np.float32),
            ACHIEVED: goal,
            DESIRED: spaces.Box(
                state.low[layout.start : layout.stop].astype(np.float32),
                state.high[layout.start : layout.stop].astype(np.float32),
                dtype=np.float32,
            ),
        }
    )


def to_goal_observation(
    obs: Mapping[str, Any], layout: GoalLayout, achieved: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """A plain state observation (and the achieved goal) in the goal-conditioned layout.

    Args:
        obs: ``{"agent_pos": ..., "environment_state": ...}``.
        layout: where the desired goal is in ``environment_state``.
        achieved: the achieved goal; None fills zeros (for a policy that does not read it).

    Example:
        >>> obs = {"agent_pos": np.ones(2, np.float32),
        ...        "environment_state": np.array([5, 6, 7], np.float32)}
        >>> goal = to_goal_observation(obs, GoalLayout(1, 3), np.zeros(2))
        >>> goal["observation"].tolist(), goal["desired_goal"].tolist()
        ([1.0, 1.0, 5.0], [6.0, 7.0])
    """
    state = np.asarray(obs["environment_state"], np.float32).reshape(-1)
    rest = state[_rest(layout, state.shape[0])]
    out = np.concatenate([np.asarray(obs["agent_pos"], np.float32).reshape(-1), rest])
    if achieved is None:
        achieved = np.zeros(layout.goal_dim, np.float32)
    return {
        OBSERVATION: out,
        ACHIEVED: np.asarray(achieved, np.float32).reshape(-1).copy(),
        DESIRED: state[layout.start : layout.stop].copy(),
    }


def _rest(layout: GoalLayout, size: int) -> np.ndarray:
    """Indices of ``environment_state`` outside the desired goal."""
    if not 0 <= layout.start < layout.stop <= size:
        raise ConfigError(
            f"desired_goal_slice {layout.start, layout.stop} does not fit an environment_state "
            f"of size {size}"
        )
    return np.r_[0 : layout.start, layout.stop : size].astype(np.intp)


class GoalObservation(gym.Wrapper[dict[str, Any], Any, dict[str, Any], Any]):
    """A goal-conditioned Dict observation and a vectorised ``compute_reward``, for HER.

    Args:
        env: an env (possibly wrapped) of a goal task, made with ``obs_type="state"``.

    Raises:
        ConfigError: the task declares no goal, or the observation is not a state observation.

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> env = GoalObservation(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))
        >>> obs, info = env.reset(seed=0)
        >>> {k: v.shape for k, v in obs.items()}
        {'observation': (6,), 'achieved_goal': (3,), 'desired_goal': (3,)}
        >>> float(env.compute_reward(obs["desired_goal"], obs["desired_goal"], info))
        1.0

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, env: gym.Env[dict[str, Any], Any]) -> None:
        super().__init__(env)
        self.layout = goal_layout(env)
        self.task: Any = env.unwrapped.task  # type: ignore[attr-defined]
        self.observation_space = goal_observation_space(env.observation_space, self.layout)

    def _goal(self, obs: dict[str, Any], info: dict[str, Any]) -> dict[str, np.ndarray]:
        achieved = info[info_keys.FACTS][self.task.achieved_goal_fact]
        return to_goal_observation(obs, self.layout, achieved)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset; the goal-conditioned observation."""
        obs, info = self.env.reset(seed=seed, options=options)
        return self._goal(obs, info), info

    def step(
        self, action: Any
    ) -> tuple[dict[str, np.ndarray], SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; the goal-conditioned observation, the env's own reward."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._goal(obs, info), reward, terminated, truncated, info

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> np.ndarray:
        """The reward had ``desired_goal`` been the goal, over a batch (the task's rule)."""
        return np.asarray(self.task.goal_reward(achieved_goal, desired_goal), np.float32)
