"""Batched inference for vectorised evaluation: one forward pass a step for every env.

Owns the two :class:`~lerobot_gym.policies.base.BatchPolicy` implementations:

* :class:`MemberBatch`, what ``TorchPolicy.batched(n)`` (ACT, diffusion) and
  ``SB3Policy.batched(n)`` return: ``n`` members spawned from one policy (``policy.spawn()``:
  the network shared, the episode state their own), and one call of the policy's
  ``select_action_rows(members, obs, rows)`` a step, which runs the network once on the rows
  that need it;
* :class:`PerEnvPolicies`, one policy object per env stepped one after another, for policies
  without ``batched`` (scripted ones read their own env's task).

Design decisions:

* Episode state stays per env and is reset per env (:meth:`MemberBatch.reset_env`), so an env
  whose episode ends and restarts clears its own action queue, ensemble or observation history
  while the others carry on, exactly as with one policy per env.
* Only the rows that need the network run it: with action chunking an env whose queue still
  holds actions pops one, and envs that restart at different steps fall out of phase, so a
  chunked policy's batch is the envs whose queue ran out on this step.
* Results equal the per-env path (:class:`PerEnvPolicies` over spawned copies) up to float
  rounding of a batched matrix product (tested to 1e-5): the rows are converted, normalised
  and unnormalised by the same elementwise code, and a sampling policy draws its noise row by
  row in env order, as the per-env path does (diffusion with DDIM draws only the initial
  noise, so it matches exactly; DDPM's per-step noise is drawn for the batch at once, same
  distribution, other draws). An SB3 policy built with ``deterministic=False`` samples its
  batch in one draw too: same distribution, other samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lerobot_gym.policies.base import Policy, vector_row

__all__ = ["MemberBatch", "PerEnvPolicies"]


class MemberBatch:
    """``num_envs`` episode states of one policy, acting through one batched call a step.

    Args:
        policy: a policy with ``spawn()`` (a member sharing its model, with its own episode
            state) and ``select_action_rows(members, obs, rows) -> (len(rows), A)``.
        num_envs: how many envs.

    Example:
        >>> import gymnasium as gym, lerobot_gym, torch
        >>> from lerobot_gym.policies.act import ACTPolicy
        >>> from lerobot_gym.policies.config import ACTConfig, PolicyFeature
        >>> cfg = ACTConfig(input_features={
        ...     "observation.state": PolicyFeature("STATE", (6,)),
        ...     "observation.environment_state": PolicyFeature("ENV", (7,))},
        ...     output_features={"action": PolicyFeature("ACTION", (6,))},
        ...     chunk_size=4, n_action_steps=4, dim_model=16, n_heads=2, dim_feedforward=32,
        ...     n_encoder_layers=1, n_vae_encoder_layers=1)
        >>> batch = ACTPolicy(cfg).batched(3)
        >>> obs = {"agent_pos": np.zeros((3, 6)), "environment_state": np.zeros((3, 7))}
        >>> batch.select_action_batch(obs).shape, batch.select_action_batch(obs, [0, 2]).shape
        ((3, 6), (2, 6))
    """

    def __init__(self, policy: Any, num_envs: int) -> None:
        self.policy = policy
        self.num_envs = num_envs
        self.members = [policy.spawn() for _ in range(num_envs)]

    def reset_env(self, index: int, obs: Any = None, info: Any = None) -> None:
        """Start env ``index``'s episode: its member's queue/history/ensemble is cleared."""
        self.members[index].reset(obs, info)

    def select_action_batch(self, obs: Any, rows: Sequence[int] | None = None) -> np.ndarray:
        """Actions for envs ``rows`` (default all) of a vector env's stacked observation."""
        index = list(range(self.num_envs)) if rows is None else [int(r) for r in rows]
        members = [self.members[r] for r in index]
        return np.asarray(self.policy.select_action_rows(members, obs, index))


class PerEnvPolicies:
    """One :class:`~lerobot_gym.policies.base.Policy` per env, each called on its own row.

    The per-env path: what a vectorised evaluation runs for a policy without ``batched``, and
    the reference the batched path is tested against.
    """

    def __init__(self, policies: Sequence[Policy]) -> None:
        self.policies = list(policies)
        self.num_envs = len(self.policies)

    def reset_env(self, index: int, obs: Any = None, info: Any = None) -> None:
        """``policies[index].reset(obs, info)``."""
        self.policies[index].reset(obs, info)

    def select_action_batch(self, obs: Any, rows: Sequence[int] | None = None) -> np.ndarray:
        """Each env's policy on its own row of ``obs``, in env order."""
        index = range(self.num_envs) if rows is None else rows
        return np.stack([self.policies[j](vector_row(obs, int(j))) for j in index])
