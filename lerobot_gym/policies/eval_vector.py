"""Evaluation over several envs at once, in a Gymnasium ``SyncVectorEnv``.

:func:`~lerobot_gym.policies.evaluate.evaluate_policy` with ``batch_size > 1`` comes here. The
vector env steps ``num_envs`` copies of the env together; each copy runs one episode at a time
with its own policy instance.

Design decisions:

* Episodes keep their seeds: episode ``i`` is reset with ``seed + i`` whichever env runs it, so
  a result names the seed that reproduces it and a deterministic policy scores the same as in
  the sequential loop. Envs take the next episode as soon as theirs ends (a rolling assignment,
  not fixed batches that wait for their slowest episode); results are returned in episode order.
* The vector env runs with ``autoreset_mode=DISABLED``: a finished env is reset here, through
  ``reset(seed=..., options={"reset_mask": ...})``, with its episode's seed (Gymnasium's own
  autoreset would reset it unseeded).
* ``SyncVectorEnv`` steps every env on every step. When no episode is left for an env it is
  reset with its last episode's seed again (so a run stays reproducible) and stepped with its
  last action until the others finish; those steps are discarded (at most ``num_envs - 1``
  episodes' worth at the end of an evaluation).
* Batched inference when the policy offers it: ``policy_factory`` is called for the first env
  and, if the policy has ``batched(num_envs)`` (ACT, diffusion, SB3), one
  :class:`~lerobot_gym.policies.base.BatchPolicy` acts for every env with one forward pass a
  step, each env's episode state (ACT's queue or ensemble, diffusion's history) its own and
  reset when that env's episode restarts (:mod:`lerobot_gym.policies.batched`). Otherwise, or
  with ``batch_inference=False``, there is one policy per env from ``policy_factory(env)``
  (scripted policies read their own env's task), stepped one after another. Both give the same
  results up to float rounding of a batched matrix product (tested to 1e-5).
* ``SyncVectorEnv`` and not ``AsyncVectorEnv``: scripted policies need the env object itself,
  and on this project's 2-core target machine a process per env buys little.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from lerobot_gym.policies.base import BatchPolicy, Policy, vector_row
from lerobot_gym.policies.batched import PerEnvPolicies
from lerobot_gym.policies.evaluate import (
    EpisodeResult,
    EpisodeRun,
    check_time_limit,
    video_path_for,
)

__all__ = ["run_vectorised"]


def run_vectorised(
    make_env: Callable[[], gym.Env],
    policy_factory: Callable[[gym.Env], Policy],
    n_episodes: int,
    seed: int,
    *,
    num_envs: int,
    video_dir: str | os.PathLike | None,
    n_videos: int,
    max_steps: int | None,
    progress: Callable[[EpisodeResult], None] | None,
    batch_inference: bool = True,
) -> list[EpisodeResult]:
    """Run ``n_episodes`` seeded episodes over ``num_envs`` envs; results in episode order.

    Arguments as :func:`~lerobot_gym.policies.evaluate.evaluate_policy`'s.
    """
    vec = SyncVectorEnv([make_env] * num_envs, autoreset_mode=AutoresetMode.DISABLED)
    runs: list[EpisodeRun | None] = [None] * num_envs
    try:
        check_time_limit(vec.envs[0], max_steps)
        filming = video_dir is not None and vec.envs[0].render_mode == "rgb_array"
        fps = float(vec.envs[0].metadata.get("render_fps") or 30)
        policy = _batch_policy(policy_factory, vec.envs, batch_inference)
        results: list[EpisodeResult] = []
        next_index = 0

        def assign(j: int) -> int | None:
            nonlocal next_index
            if next_index >= n_episodes:
                return None
            index, next_index = next_index, next_index + 1
            video = video_path_for(video_dir if filming else None, index, n_videos)
            runs[j] = EpisodeRun(index, seed + index, video, fps)
            return seed + index

        last_seeds = [assign(j) for j in range(num_envs)]
        obs, infos = vec.reset(seed=last_seeds)
        _start(vec, policy, runs, range(num_envs), obs, infos)
        last_actions: list[Any] = [None] * num_envs
        while any(run is not None for run in runs):
            # An idle env (no episode left) repeats its last action (module docstring).
            active = [j for j, run in enumerate(runs) if run is not None]
            for j, action in zip(active, policy.select_action_batch(obs, active), strict=True):
                last_actions[j] = action
            actions = np.stack(last_actions).astype(vec.action_space.dtype, copy=False)
            obs, rewards, terminations, truncations, infos = vec.step(actions)
            to_reset = np.logical_or(terminations, truncations)
            to_assign = np.zeros(num_envs, dtype=bool)
            reset_seeds: list[int | None] = list(last_seeds)
            for j, run in enumerate(runs):
                if run is None:
                    continue
                run.add(float(rewards[j]))
                run.film(vec.envs[j])
                if to_reset[j] or (max_steps is not None and len(run.rewards) >= max_steps):
                    result = run.finish(vector_row(infos, j), bool(terminations[j]))
                    runs[j] = None
                    to_reset[j] = to_assign[j] = True
                    results.append(result)
                    if progress is not None:
                        progress(result)
            if to_reset.any():
                for j in map(int, np.flatnonzero(to_assign)):
                    new_seed = assign(j)
                    if new_seed is not None:
                        reset_seeds[j] = last_seeds[j] = new_seed
                obs, infos = vec.reset(
                    seed=reset_seeds,
                    options={"reset_mask": to_reset},
                )
                _start(vec, policy, runs, np.flatnonzero(to_assign), obs, infos)
    except BaseException:
        for run in runs:
            if run is not None:
                run.abort()
        raise
    finally:
        vec.close()
    return sorted(results, key=lambda result: result.episode_ix)


def _batch_policy(
    policy_factory: Callable[[gym.Env], Policy], envs: Any, batch_inference: bool
) -> BatchPolicy:
    """One batched policy for every env when the first env's policy offers it, else one each."""
    first = policy_factory(envs[0])
    batched = getattr(first, "batched", None)
    if batch_inference and callable(batched):
        return batched(len(envs))
    return PerEnvPolicies([first, *(policy_factory(env) for env in envs[1:])])


def _start(
    vec: SyncVectorEnv,
    policy: BatchPolicy,
    runs: list[EpisodeRun | None],
    indices: Any,
    obs: Any,
    infos: dict[str, Any],
) -> None:
    """Tell the policy which envs' episodes started (their state resets); film frame 0."""
    for j in indices:
        run = runs[j]
        if run is not None:  # an idle env (no episode left) needs neither
            policy.reset_env(int(j), vector_row(obs, j), vector_row(infos, j))
            run.film(vec.envs[j])
