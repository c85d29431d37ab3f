"""SuccessReward: a sparse reward from ``info["is_success"]``, whatever decided it.

The twin's tasks compute success from physics facts; on hardware ``info["is_success"]`` comes
from ``HumanLabels`` or a reward classifier. :class:`SuccessReward` turns that one flag into the
reward RL trains on (HIL-SERL's ``reward = success_reward`` on success, else 0), and ends the
episode on success when asked (``terminate_on_success``), so the same reward definition holds
on every backend.

Decision: the wrapped env's reward is replaced, not added to, so a dense task reward cannot
leak into a run that is meant to be sparse; ``truncated`` passes through untouched.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.core import ActType, ObsType

from lerobot_gym.core import info as info_keys

__all__ = ["SuccessReward"]


class SuccessReward(
    gym.Wrapper[ObsType, ActType, ObsType, ActType], gym.utils.RecordConstructorArgs
):
    """Reward ``success_reward`` when ``info["is_success"]``, else 0.

    Args:
        env: an env that reports ``info["is_success"]`` (every lerobot_gym env does).
        success_reward: reward of a successful step.
        terminate_on_success: end the episode (``terminated``) on success.

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> from lerobot_gym.wrappers.success_reward import SuccessReward
        >>> env = SuccessReward(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))
        >>> obs, _ = env.reset(seed=0)
        >>> env.step(obs["agent_pos"])[1:3]  # not at the target: 0, the episode goes on
        (0.0, False)

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        env: gym.Env[ObsType, ActType],
        *,
        success_reward: float = 1.0,
        terminate_on_success: bool = True,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, success_reward=success_reward, terminate_on_success=terminate_on_success
        )
        gym.Wrapper.__init__(self, env)
        self.success_reward = float(success_reward)
        self.terminate_on_success = bool(terminate_on_success)

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; reward from the success flag."""
        obs, _, terminated, truncated, info = self.env.step(action)
        success = bool(info.get(info_keys.IS_SUCCESS, False))
        reward = self.success_reward if success else 0.0
        terminated = terminated or (success and self.terminate_on_success)
        return obs, reward, terminated, truncated, info
