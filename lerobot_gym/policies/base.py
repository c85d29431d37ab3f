"""The Policy protocol every agent implements, and :func:`make_policy` by type name.

A policy maps the env's observation to an action, and is told when an episode starts::

    policy = make_policy("scripted", env)
    obs, info = env.reset(seed=0)
    policy.reset(obs, info)
    action = policy(obs)

Design decisions:

* The protocol is the smallest thing that serves scripted controllers, learned policies and
  RL agents alike: ``reset(obs, info)`` (a scripted policy plans from the first observation; a
  learned one clears its action queue) and ``__call__(obs) -> np.ndarray``. LeRobot calls
  the same step ``select_action``; policies may provide it as an alias (:class:`BasePolicy` does).
* Policy types are a registry of ``"module:factory"`` strings imported on first use, so this
  module imports no torch; ``act`` and ``diffusion`` load a checkpoint
  (``make_policy("act", env, path=DIR)``) and check it against the env's spaces first.
  A factory is called as ``factory(env, seed=seed, **kwargs)``.
* Learned policies add to the protocol what training and checkpoints need
  (:class:`LearnedPolicy`): ``select_action``, declared ``input_features`` /
  ``output_features`` (LeRobot keys) and ``save(dir)``; their ``reset`` takes the episode's
  first observation and info too, but needs neither, so ``policy.reset()`` works.
* Policies that sample own a ``np.random.Generator`` seeded by ``make_policy(..., seed=)``; they
  never touch the action space's own RNG (which belongs to the env) or a global RNG.
* Batched inference is optional: a policy that can act for several envs in one forward pass
  offers ``batched(num_envs)``, a :class:`BatchPolicy` holding one episode state per env (ACT's
  queue or ensemble, diffusion's history) that takes a vector env's stacked observation. ACT,
  diffusion and SB3 policies do (:mod:`lerobot_gym.policies.batched`); scripted ones, which
  read their own env's task, stay one per env. A vectorised evaluation uses ``batched`` when
  it exists.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from lerobot_gym.errors import ConfigError

__all__ = [
    "POLICY_TYPES",
    "BasePolicy",
    "BatchPolicy",
    "LearnedPolicy",
    "Policy",
    "RandomPolicy",
    "make_policy",
    "register_policy",
    "vector_row",
]


@runtime_checkable
class Policy(Protocol):
    """What :func:`~lerobot_gym.policies.evaluate.evaluate_policy` and the CLI drive."""

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """Start an episode from its first observation and info."""

    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        """The action for this observation."""


@runtime_checkable
class LearnedPolicy(Policy, Protocol):
    """A trained policy: the :class:`Policy` step plus features and a checkpoint format.

    ``input_features`` / ``output_features`` map LeRobot keys (``observation.state``,
    ``observation.images.<cam>``, ``observation.environment_state``, ``action``) to
    :class:`~lerobot_gym.policies.config.PolicyFeature`; ``select_action`` takes the env's own
    observation dict and returns a float32 action in the env's units; ``save(dir)`` writes
    ``config.json`` + ``model.safetensors`` (and the normaliser statistics) that
    :func:`~lerobot_gym.policies.load_policy` and LeRobot 0.4.4 read.
    """

    @property
    def input_features(self) -> dict[str, Any]:
        """What the policy reads."""

    @property
    def output_features(self) -> dict[str, Any]:
        """What the policy writes."""

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        """The action for this observation (same as calling the policy)."""

    def save(self, directory: Any) -> Any:
        """Write the checkpoint folder."""


@runtime_checkable
class BatchPolicy(Protocol):
    """One policy acting for the ``num_envs`` envs of a vector env, one forward pass a step.

    Made by a policy's ``batched(num_envs)``; each env has its own episode state, started by
    :meth:`reset_env` when that env's episode starts (the others' continue).
    """

    num_envs: int

    def reset_env(self, index: int, obs: Any = None, info: Any = None) -> None:
        """Start env ``index``'s episode from its first observation and info."""

    def select_action_batch(self, obs: Any, rows: Sequence[int] | None = None) -> np.ndarray:
        """Actions ``(len(rows), A)`` for envs ``rows`` (default all) of a stacked observation.

        ``obs`` is what the vector env returns: every value with a leading ``num_envs``
        dimension (camera frames under ``obs["pixels"][cam]``). Envs outside ``rows`` are not
        stepped and their episode state does not change.
        """


class BasePolicy:
    """Optional base class: a no-op :meth:`reset` and ``select_action`` as LeRobot names it."""

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """Start an episode (stateless policies need nothing)."""

    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        """The action for this observation."""
        raise NotImplementedError

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:
        """LeRobot's name for :meth:`__call__`."""
        return self(obs)


class RandomPolicy(BasePolicy):
    """Uniform samples of an action space from the policy's own seeded generator.

    Args:
        action_space: the env's action space (copied; the env's own space and RNG are untouched).
        seed: seed of the policy's generator (None: fresh entropy).

    Example:
        >>> from gymnasium import spaces
        >>> space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        >>> a, b = RandomPolicy(space, seed=7), RandomPolicy(space, seed=7)
        >>> bool(np.array_equal(a({}), b({}))) and space.contains(a({}))
        True
    """

    def __init__(self, action_space: gym.Space, seed: int | None = None) -> None:
        self.action_space = copy.deepcopy(action_space)
        # A space samples from its own generator; seeding the copy from ours keeps every draw
        # reproducible from `seed` and works for any space type, not only Box.
        rng = np.random.default_rng(seed)
        self.action_space.seed(int(rng.integers(2**31 - 1)))

    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        """A uniform sample of the action space."""
        return self.action_space.sample()


def _make_random(env: gym.Env, *, seed: int | None = None) -> RandomPolicy:
    return RandomPolicy(env.action_space, seed=seed)


def _make_scripted(env: gym.Env, *, seed: int | None = None) -> Policy:
    # Scripted policies are deterministic given the observation; the seed has nothing to drive.
    from lerobot_gym.tasks.scripted import make_scripted_policy

    return make_scripted_policy(env)


#: policy type -> factory or ``"module:attribute"`` of one, imported on first use.
POLICY_TYPES: dict[str, str | Callable[..., Policy]] = {
    "random": _make_random,
    "scripted": _make_scripted,
    "act": "lerobot_gym.policies.checkpoint:make_from_checkpoint",
    "diffusion": "lerobot_gym.policies.checkpoint:make_from_checkpoint",
    "sb3": "lerobot_gym.policies.sb3:make_sb3_policy",
}


def register_policy(policy_type: str, factory: str | Callable[..., Policy]) -> None:
    """Register a policy factory (or ``"module:attribute"``) under a type name.

    The factory is called as ``factory(env, seed=seed, **kwargs)`` and returns a :class:`Policy`.
    """
    POLICY_TYPES[policy_type] = factory


def make_policy(
    policy_type: str, env: gym.Env, *, seed: int | None = None, **kwargs: Any
) -> Policy:
    """Build a policy for ``env`` by type name.

    Args:
        policy_type: a key of :data:`POLICY_TYPES` (``"scripted"``, ``"random"``, ...).
        env: the env the policy will act in (its spaces, and for scripted policies its task).
        seed: seed for policies that sample; ignored by deterministic ones.
        **kwargs: type-specific options (e.g. a checkpoint path for learned policies).

    Raises:
        ConfigError: unknown type (the message lists the known ones) or options the type does
            not accept.
    """
    target = POLICY_TYPES.get(policy_type)
    if target is None:
        raise ConfigError(
            f"unknown policy type {policy_type!r}; available types: {sorted(POLICY_TYPES)}"
        )
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
    try:
        return target(env, seed=seed, **kwargs)
    except TypeError as exc:
        if kwargs and "unexpected keyword argument" in str(exc):
            raise ConfigError(
                f"policy type {policy_type!r} does not accept option(s) {sorted(kwargs)}: {exc}"
            ) from None
        raise


def vector_row(batch: Any, j: int) -> Any:
    """Env ``j``'s entry of a vector env's stacked observation or ``infos`` dict.

    Vector infos hold each key's values for all envs plus a ``_key`` mask of the envs that
    reported it; a key env ``j`` did not report is left out.
    """
    if isinstance(batch, dict):
        out = {}
        for key, value in batch.items():
            if isinstance(key, str) and key.startswith("_") and key[1:] in batch:
                continue  # a mask
            mask = batch.get(f"_{key}")
            if mask is not None and not mask[j]:
                continue
            out[key] = vector_row(value, j)
        return out
    if isinstance(batch, tuple):
        return tuple(vector_row(value, j) for value in batch)
    return batch[j]
