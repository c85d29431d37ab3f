"""Hindsight experience replay for SB3's off-policy algorithms on lerobot_gym goal tasks.

``lerobot-gym train --policy.type=sac --policy.her=true`` trains on the goal-conditioned stack
(``make_sb3_env(..., goal=True)``: :class:`~lerobot_gym.wrappers.GoalObservation`) with SB3's
``HerReplayBuffer``, which relabels stored transitions with goals reached later in the same
episode and asks the env's ``compute_reward`` for their reward.

Design decisions:

* The networks read ``observation`` and ``desired_goal`` and not ``achieved_goal``
  (:class:`GoalFeatures`). The achieved goal is a task fact (the gripper position) that the
  plain env's observation does not hold, so a policy that read it could not act on the plain
  env that ``lerobot-gym eval`` runs; the buffer still stores it, which is all relabelling
  needs. What the policy sees is what the flat policy saw (joints and target), so a run with
  and without hindsight differ only in the goals they learn from.
* This module imports torch and SB3 at import time; nothing imports it until hindsight replay
  is asked for. SB3 pickles :class:`GoalFeatures` by reference in ``model.zip``, so loading a
  saved model imports this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers.goal_observation import ACHIEVED

__all__ = ["GoalFeatures", "her_kwargs"]

#: the relabelling strategies of SB3's HerReplayBuffer
STRATEGIES = ("future", "final", "episode")


class GoalFeatures(BaseFeaturesExtractor):
    """Concatenate a Dict observation's entries, except the ones in ``ignore``.

    Args:
        observation_space: the goal-conditioned Dict space.
        ignore: keys the networks do not read (default: ``achieved_goal``).
    """

    def __init__(self, observation_space: spaces.Dict, ignore: tuple[str, ...] = (ACHIEVED,)):
        keys = [k for k in sorted(observation_space.spaces) if k not in ignore]
        if not keys:
            raise ConfigError(f"GoalFeatures ignores every key of {observation_space}")
        dim = sum(int(np.prod(observation_space[k].shape or (1,))) for k in keys)
        super().__init__(observation_space, features_dim=dim)
        self.keys = keys

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """The read entries, flattened and concatenated in key order."""
        return torch.cat([torch.flatten(observations[k], start_dim=1) for k in self.keys], dim=1)


def her_kwargs(
    algorithm: str, *, n_sampled_goal: int = 4, strategy: str = "future"
) -> dict[str, Any]:
    """The SB3 keywords that make ``algorithm`` train with hindsight relabelling.

    Raises:
        ConfigError: an on-policy algorithm (no replay buffer), a bad strategy or goal count;
            the message names the ``--policy.her*`` flag.
    """
    from stable_baselines3 import HerReplayBuffer

    if algorithm.lower() not in ("sac", "td3", "ddpg"):
        raise ConfigError(
            f"--policy.her=true needs an off-policy algorithm with a replay buffer (sac, td3, "
            f"ddpg), not {algorithm}"
        )
    if strategy not in STRATEGIES:
        raise ConfigError(f"--policy.her_strategy={strategy} is not one of {list(STRATEGIES)}")
    if int(n_sampled_goal) < 1:
        raise ConfigError(f"--policy.her_n_sampled_goal must be at least 1, got {n_sampled_goal}")
    return {
        "replay_buffer_class": HerReplayBuffer,
        "replay_buffer_kwargs": {
            "n_sampled_goal": int(n_sampled_goal),
            "goal_selection_strategy": strategy,
        },
    }


def goal_policy_kwargs(policy_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """``policy_kwargs`` with :class:`GoalFeatures` as the feature extractor."""
    return {**(policy_kwargs or {}), "features_extractor_class": GoalFeatures}
