"""stable-baselines3 on lerobot_gym: the env stack, SB3 models as policies, and replay seeding.

This module owns how an SB3 algorithm meets a lerobot_gym env:

* :func:`make_sb3_env` builds the one stack every SB3 model here sees:
  ``gym.make(id)`` -> ``RescaleAction(-1, 1)`` -> :class:`~lerobot_gym.wrappers.SB3Observation`.
  SB3's ``check_env`` accepts it without warnings on every id and ``obs_type``.
* :class:`SB3Policy` runs a trained model on the env's *own* observations and actions (no
  wrappers needed), so ``lerobot-gym eval`` drives it like any other policy. It maps the
  observation with :func:`~lerobot_gym.wrappers.sb3_observation.to_sb3_observation` and the
  action back with Gymnasium's own ``rescale_box`` inverse, the functions the stack uses.
* With ``goal=True`` the stack ends in :class:`~lerobot_gym.wrappers.GoalObservation` instead
  (hindsight experience replay, ``lerobot_gym.policies.sb3_goal``); the saved policy records
  the goal layout and maps the plain env's observation the same way, so it evaluates on the
  plain env.
* :func:`seed_replay_buffer` fills an SB3 replay buffer from a recorded LeRobot dataset with
  observations mapped by the same function, so a recorded transition equals the live one
  (:mod:`lerobot_gym.policies.sb3_replay`).

Design decisions:

* torch and SB3 are imported on first use; without them :class:`MissingExtraError` names the
  ``rl`` extra. ``import lerobot_gym.policies.sb3`` itself imports neither.
* A saved policy is a directory: ``config.json`` (``"type": "sb3"``, the algorithm, the env id
  and keywords it was trained on, how observations were flattened, the action bounds, and the
  input/output features) beside ``model.zip``, SB3's own format, so ``SAC.load(dir /
  "model.zip")`` works without this package. The type is ``"sb3"`` and not ``"sac"``: LeRobot's
  own SAC checkpoints say ``"sac"`` and are a different model.
* The stack itself (:func:`make_sb3_env`, :func:`algorithm_class`, and the layout and
  action maps the policy and the replay seeding read from a stack) lives in
  :mod:`lerobot_gym.policies.sb3_env` and is re-exported here. Seeding from datasets lives in
  :mod:`lerobot_gym.policies.sb3_replay` (its design notes are there);
  :func:`seed_replay_buffer` here calls it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_gym.errors import ConfigError
from lerobot_gym.policies.files import DEFAULT_INFERENCE_THREADS, check_inference_threads
from lerobot_gym.policies.sb3_env import (
    ALGORITHMS,
    action_maps,
    algorithm_class,
    default_policy_class,
    make_sb3_env,
    stack_layout,
)
from lerobot_gym.wrappers.goal_observation import GoalLayout, to_goal_observation
from lerobot_gym.wrappers.lerobot_keys import lerobot_key
from lerobot_gym.wrappers.sb3_observation import (
    CAMERA_PREFIX,
    sb3_observation_space,
    state_keys,
    to_sb3_observation,
)

__all__ = [
    "ALGORITHMS",
    "SB3Policy",
    "algorithm_class",
    "default_policy_class",
    "is_sb3_checkpoint",
    "load_sb3_policy",
    "make_sb3_env",
    "make_sb3_policy",
    "seed_replay_buffer",
]

POLICY_TYPE = "sb3"
CONFIG_NAME = "config.json"
MODEL_NAME = "model.zip"

# -- SB3 models as policies ---------------------------------------------------------------------


class SB3Policy:
    """An SB3 model acting on the env's own observations and actions.

    Args:
        model: a trained SB3 algorithm (``SAC``, ``PPO``, ...) whose env was built by
            :func:`make_sb3_env` (or has the same spaces).
        flatten_state: how the model's observations were flattened (see :class:`SB3Observation`).
        action_space: the env's own (unwrapped) action space; the model's [-1, 1] actions are
            mapped back onto it.
        env_id: the id trained on, recorded in ``config.json``.
        env_kwargs: ``gym.make`` keywords trained with, recorded in ``config.json``.
        deterministic: act with the mean (True, for evaluation) or sample.
        obs_norm: the running observation statistics of SB3's ``VecNormalize`` the model was
            trained behind (:func:`obs_norm_of`), applied before the model sees an observation.
        state_layout: with ``flatten_state`` (or ``goal``), the env keys and sizes the
            model reads, in order (``{"agent_pos": 6, "environment_state": 3}``), for
            :attr:`input_features`.
        goal: the model was trained on goal-conditioned observations
            (:class:`~lerobot_gym.wrappers.GoalObservation`) of this layout; the plain
            observation is mapped by :func:`~lerobot_gym.wrappers.goal_observation.
            to_goal_observation` without the achieved goal, which such a model does not read.
        inference_threads: torch intra-op threads of a step, 1 by default as for every learned
            policy here (:mod:`lerobot_gym.policies.pretrained` says why); None keeps torch's.
    """

    def __init__(
        self,
        model: Any,
        *,
        flatten_state: bool,
        action_space: spaces.Box,
        env_id: str | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
        deterministic: bool = True,
        obs_norm: Mapping[str, Any] | None = None,
        state_layout: Mapping[str, int] | None = None,
        goal: GoalLayout | None = None,
        inference_threads: int | None = DEFAULT_INFERENCE_THREADS,
    ) -> None:
        self.model = model
        self.inference_threads = check_inference_threads(inference_threads)
        self.state_layout = dict(state_layout or {})
        self.goal = goal
        self.obs_norm = dict(obs_norm) if obs_norm is not None else None
        if self.obs_norm is not None and not (flatten_state or goal is not None):
            raise ConfigError("observation normalisation is supported for state observations only")
        self.flatten_state = flatten_state
        self.action_space = action_space
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.deterministic = deterministic
        model_space = model.action_space
        if not isinstance(model_space, spaces.Box) or model_space.shape != action_space.shape:
            raise ConfigError(
                f"the model acts in {model_space}, the env in {action_space}; train the model "
                "on an env with the same action space"
            )
        _, self._to_env = action_maps(action_space, model_space)

    @classmethod
    def from_env(cls, model: Any, env: gym.Env, **kwargs: Any) -> SB3Policy:
        """The policy of ``model`` trained on the SB3 stack ``env`` (see :func:`make_sb3_env`)."""
        flatten, raw, _ = stack_layout(env)
        if isinstance(flatten, GoalLayout):
            kwargs.setdefault("goal", flatten)
            flatten = False
        inner = env.unwrapped.observation_space
        if (flatten or "goal" in kwargs) and isinstance(inner, spaces.Dict):
            sizes = {k: int(np.prod(inner[k].shape or (1,))) for k in state_keys(list(inner))}
            kwargs.setdefault("state_layout", sizes)
        spec = env.unwrapped.spec
        kwargs.setdefault("env_id", spec.id if spec is not None else None)
        if spec is not None:
            kwargs.setdefault("env_kwargs", _plain_kwargs(spec.kwargs))
        return cls(model, flatten_state=flatten, action_space=raw, **kwargs)

    def reset(self, obs: Any = None, info: Any = None) -> None:
        """Start an episode (SB3's feed-forward policies keep no state)."""

    def spawn(self) -> SB3Policy:
        """The policy for another env of a vectorised evaluation: itself (it keeps no state)."""
        return self

    def select_action(self, observation: Mapping[str, Any]) -> np.ndarray:
        """The action, in the env's action space, for the env's own observation dict."""
        return self._predict([self._model_input(observation)])[0]

    def batched(self, num_envs: int) -> Any:
        """A :class:`~lerobot_gym.policies.base.BatchPolicy`: one ``model.predict`` per step."""
        from lerobot_gym.policies.batched import MemberBatch

        return MemberBatch(self, num_envs)

    def select_action_rows(self, members: Any, obs: Mapping[str, Any], rows: Any) -> np.ndarray:
        """Actions for envs ``rows`` of a vector env's stacked observation, one prediction."""
        from lerobot_gym.policies.base import vector_row

        return self._predict([self._model_input(vector_row(obs, int(j))) for j in rows])

    def _model_input(self, observation: Mapping[str, Any]) -> Any:
        if self.goal is not None:
            sb3_obs: Any = to_goal_observation(observation, self.goal)
        else:
            sb3_obs = to_sb3_observation(observation, flatten_state=self.flatten_state)
        if self.obs_norm is not None:
            sb3_obs = normalize_observation(sb3_obs, self.obs_norm)
        return sb3_obs

    def _predict(self, inputs: list[Any]) -> np.ndarray:
        """``model.predict`` on a batch of SB3 observations; actions ``(B, A)`` in env units."""
        if isinstance(inputs[0], dict):
            stacked: Any = {key: np.stack([x[key] for x in inputs]) for key in inputs[0]}
        else:
            stacked = np.stack(inputs)
        from lerobot_gym.policies.pretrained import inference_threads

        with inference_threads(self.inference_threads):
            actions, _ = self.model.predict(stacked, deterministic=self.deterministic)
        actions = np.clip(actions, self.model.action_space.low, self.model.action_space.high)
        dtype = self.action_space.dtype
        return np.stack([np.asarray(self._to_env(a), dtype=dtype) for a in actions])

    def __call__(self, observation: Mapping[str, Any]) -> np.ndarray:
        """Same as :meth:`select_action`."""
        return self.select_action(observation)

    @property
    def input_features(self) -> dict[str, Any]:
        """What the policy reads, under LeRobot keys, as ``PolicyFeature`` objects."""
        from lerobot_gym.policies.config import PolicyFeature

        space = self.model.observation_space
        if isinstance(space, spaces.Dict) and self.goal is None:
            shapes = {k: tuple(s.shape or ()) for k, s in space.spaces.items()}
        else:
            shapes = {k: (n,) for k, n in self.state_layout.items()}
            shapes = shapes or {"agent_pos": tuple(space.shape or ())}
        out = {}
        for key, shape in shapes.items():
            if key.startswith(CAMERA_PREFIX):
                out[f"observation.images.{key[len(CAMERA_PREFIX) :]}"] = PolicyFeature(
                    "VISUAL", shape
                )
            elif key == "environment_state":
                out["observation.environment_state"] = PolicyFeature("ENV", shape)
            else:
                out[lerobot_key(key)] = PolicyFeature("STATE", shape)
        return out

    @property
    def output_features(self) -> dict[str, Any]:
        """``{"action": PolicyFeature("ACTION", (n,))}`` in the env's units."""
        from lerobot_gym.policies.config import PolicyFeature

        return {"action": PolicyFeature("ACTION", tuple(self.action_space.shape))}

    def config(self) -> dict[str, Any]:
        """What ``config.json`` holds (see the module docstring)."""
        return {
            "type": POLICY_TYPE,
            "algorithm": type(self.model).__name__.lower(),
            "env": {"id": self.env_id, "kwargs": self.env_kwargs},
            "flatten_state": self.flatten_state,
            "deterministic": self.deterministic,
            "obs_norm": self.obs_norm,
            "action_low": self.action_space.low.tolist(),
            "action_high": self.action_space.high.tolist(),
            "state_layout": self.state_layout,
            "goal": None if self.goal is None else self.goal.to_json(),
            "input_features": {k: f.to_json() for k, f in self.input_features.items()},
            "output_features": {k: f.to_json() for k, f in self.output_features.items()},
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` and SB3's ``model.zip`` into ``directory``; returns it."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.model.save(out / MODEL_NAME)
        (out / CONFIG_NAME).write_text(json.dumps(self.config(), indent=2) + "\n")
        return out


def obs_norm_of(vec_normalize: Any) -> dict[str, Any]:
    """The statistics SB3's ``VecNormalize`` normalises observations with, as plain data.

    A Dict observation (goal-conditioned) has them per key: ``{"mean": {key: [...]}, ...}``.
    """
    rms = vec_normalize.obs_rms
    if isinstance(rms, dict):
        mean: Any = {k: np.asarray(r.mean, np.float64).tolist() for k, r in rms.items()}
        var: Any = {k: np.asarray(r.var, np.float64).tolist() for k, r in rms.items()}
    else:
        mean = np.asarray(rms.mean, np.float64).tolist()
        var = np.asarray(rms.var, np.float64).tolist()
    return {
        "mean": mean,
        "var": var,
        "clip": float(vec_normalize.clip_obs),
        "epsilon": float(vec_normalize.epsilon),
    }


def normalize_observation(obs: Any, obs_norm: Mapping[str, Any]) -> Any:
    """``VecNormalize``'s observation normalisation with saved statistics (float32).

    A Dict observation is normalised per key that has statistics (the others pass through).
    """
    if isinstance(obs, Mapping):
        means, variances = obs_norm["mean"], obs_norm["var"]
        return {
            k: normalize_observation(v, {**obs_norm, "mean": means[k], "var": variances[k]})
            if k in means
            else v
            for k, v in obs.items()
        }
    mean = np.asarray(obs_norm["mean"], np.float64)
    var = np.asarray(obs_norm["var"], np.float64)
    clip = float(obs_norm["clip"])
    scaled = (np.asarray(obs, np.float64) - mean) / np.sqrt(var + float(obs_norm["epsilon"]))
    return np.clip(scaled, -clip, clip).astype(np.float32)


def _plain_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    # The registration's own robot/task are implied by the id.
    return {k: v for k, v in kwargs.items() if k not in ("robot", "task")}


def is_sb3_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` holds a policy saved by :meth:`SB3Policy.save` (reads only JSON)."""
    config_path = Path(path) / CONFIG_NAME
    if not config_path.is_file() or not (Path(path) / MODEL_NAME).is_file():
        return False
    try:
        return json.loads(config_path.read_text()).get("type") == POLICY_TYPE
    except (json.JSONDecodeError, AttributeError):
        return False


def load_sb3_policy(
    path: str | Path,
    *,
    device: str = "auto",
    env: gym.Env | None = None,
    inference_threads: int | None = DEFAULT_INFERENCE_THREADS,
) -> SB3Policy:
    """Load a directory written by :meth:`SB3Policy.save`.

    Args:
        path: the directory.
        device: torch device of the model (``cpu``, ``cuda``, ``auto``).
        env: when given, the env the policy will act in; its spaces are checked against the
            policy's.
        inference_threads: torch intra-op threads of a step (see :class:`SB3Policy`).

    Raises:
        ConfigError: not an SB3 policy directory, or ``env``'s spaces differ from the policy's.
    """
    root = Path(path)
    config_path = root / CONFIG_NAME
    if not config_path.is_file() or not (root / MODEL_NAME).is_file():
        raise ConfigError(
            f"{root} is not an SB3 policy directory (it needs {CONFIG_NAME} and {MODEL_NAME}); "
            "pass a directory written by `lerobot-gym train --policy.type=sac` or SB3Policy.save"
        )
    config = json.loads(config_path.read_text())
    if config.get("type") != POLICY_TYPE:
        raise ConfigError(f"{config_path} is a {config.get('type')!r} policy, not {POLICY_TYPE!r}")
    custom: dict[str, Any] = {}
    if config.get("goal"):
        # A hindsight-replay model would rebuild its HerReplayBuffer, which needs the training
        # env; acting needs no buffer at all.
        custom = {"replay_buffer_class": None, "replay_buffer_kwargs": {}, "buffer_size": 1}
    model = algorithm_class(config["algorithm"]).load(
        root / MODEL_NAME, device=device, custom_objects=custom
    )
    low = np.asarray(config["action_low"], np.float32)
    high = np.asarray(config["action_high"], np.float32)
    policy = SB3Policy(
        model,
        flatten_state=bool(config["flatten_state"]),
        action_space=spaces.Box(low, high, dtype=np.float32),
        env_id=config["env"]["id"],
        env_kwargs=config["env"]["kwargs"],
        deterministic=bool(config.get("deterministic", True)),
        obs_norm=config.get("obs_norm"),
        state_layout=config.get("state_layout"),
        goal=GoalLayout.from_json(config["goal"]) if config.get("goal") else None,
        inference_threads=inference_threads,
    )
    if env is not None:
        _check_env_matches(policy, env)
    return policy


def _check_env_matches(policy: SB3Policy, env: gym.Env) -> None:
    from lerobot_gym.wrappers.goal_observation import goal_observation_space

    plain = env.unwrapped.observation_space
    if policy.goal is not None:
        space: gym.Space = goal_observation_space(plain, policy.goal)
    else:
        space = sb3_observation_space(plain, flatten_state=policy.flatten_state)
    expected = policy.model.observation_space
    if space != expected:
        raise ConfigError(
            f"the policy was trained on observations {expected}, this env gives {space}; make "
            f"the env as it was trained: {policy.env_id} with {policy.env_kwargs}"
        )
    if env.unwrapped.action_space != policy.action_space:
        raise ConfigError(
            f"the policy acts in {policy.action_space}, this env in "
            f"{env.unwrapped.action_space}; use {policy.env_id} with {policy.env_kwargs}"
        )


def make_sb3_policy(
    env: gym.Env,
    *,
    seed: int | None = None,
    path: str,
    device: str = "auto",
    inference_threads: int | None = DEFAULT_INFERENCE_THREADS,
) -> SB3Policy:
    """``make_policy("sb3", env, path=DIR)``: load a saved SB3 policy for ``env``."""
    return load_sb3_policy(path, device=device, env=env, inference_threads=inference_threads)


# -- replay buffers from recorded datasets (lerobot_gym.policies.sb3_replay) -----------------


def seed_replay_buffer(
    model_or_buffer: Any, dataset: Any, env: gym.Env, *, episode_end: str = "truncated"
) -> int:
    """Add a recorded LeRobot dataset's transitions to an SB3 replay buffer.

    See :func:`lerobot_gym.policies.sb3_replay.seed_replay_buffer`, which this calls.
    """
    from lerobot_gym.policies.sb3_replay import seed_replay_buffer as seed

    return seed(model_or_buffer, dataset, env, episode_end=episode_end)
