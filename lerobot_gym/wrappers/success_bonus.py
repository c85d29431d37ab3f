"""SuccessBonus: add a bonus to the env's reward on every step where the task succeeds.

A dense reward that saturates near the goal (SO101-Reach's ``1 - tanh(10 d)``: 0.80 at the
2 cm success radius, 0.71 at 3 cm) tells an agent little about the last centimetres that
success is judged on. Adding ``bonus`` inside the success region makes the reward step up
exactly where success begins, while the dense part keeps pointing the way there.

Design decisions:

* A wrapper for training, not a change of the id's reward: an id's reward means one thing
  everywhere (evaluation, recorded datasets), and ``lerobot-gym train --train.success_bonus``
  applies it to the training env only, as ``--train.max_episode_steps`` does.
* Over a goal-conditioned env (:class:`~lerobot_gym.wrappers.GoalObservation`) it also adds
  the bonus to ``compute_reward`` through the task's vectorised ``goal_success``, so relabelled
  transitions are rewarded by the same rule as real ones.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.core import ActType, ObsType

from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError

__all__ = ["SuccessBonus"]


class SuccessBonus(
    gym.Wrapper[ObsType, ActType, ObsType, ActType], gym.utils.RecordConstructorArgs
):
    """The env's reward plus ``bonus`` when ``info["is_success"]``.

    Args:
        env: any lerobot_gym env (every one reports ``info["is_success"]``).
        bonus: added on successful steps; must be finite.

    Raises:
        ConfigError: a non-finite bonus.

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> env = SuccessBonus(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"), bonus=1.0)
        >>> obs, _ = env.reset(seed=0)
        >>> reward = env.step(obs["agent_pos"])[1]  # far from the target: the dense reward alone
        >>> 0.0 < reward < 1.0
        True

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, env: gym.Env[ObsType, ActType], *, bonus: float) -> None:
        if not np.isfinite(bonus):
            raise ConfigError(f"the success bonus must be a finite number, got {bonus}")
        gym.utils.RecordConstructorArgs.__init__(self, bonus=bonus)
        gym.Wrapper.__init__(self, env)
        self.bonus = float(bonus)

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; the bonus added on success."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        if info.get(info_keys.IS_SUCCESS, False):
            reward = float(reward) + self.bonus
        return obs, reward, terminated, truncated, info

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> np.ndarray:
        """The goal-conditioned env's reward plus the bonus where the goals count as success.

        Raises:
            ConfigError: the wrapped env is not goal-conditioned.
        """
        if not self.env.has_wrapper_attr("compute_reward"):
            raise ConfigError(
                "compute_reward needs a goal-conditioned env; wrap GoalObservation(env) first"
            )
        base = np.asarray(
            self.env.get_wrapper_attr("compute_reward")(achieved_goal, desired_goal, info)
        )
        success = self.env.unwrapped.task.goal_success(achieved_goal, desired_goal)  # type: ignore[attr-defined]
        return (base + self.bonus * np.asarray(success, np.float32)).astype(np.float32)
