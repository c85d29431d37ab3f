"""stable-baselines3 on lerobot_gym: the env stack, SB3 models as policies, and replay seeding.

This module owns how an SB3 algorithm meets a lerobot_gym env:

* :func:`make_sb3_env` builds the one stack every SB3 model here sees:
  ``gym.make(id)`` -> ``RescaleAction(-1, 1)`` -> :class:`~lerobot_gym.wrappers.SB3Observation`.
  SB3's ``check_env`` accepts it without warnings on every id and ``obs_type``.
* :class:`SB3Policy` runs a trained model on the env's *own* observations and actions (no
  wrappers needed), so ``lerobot-gym eval`` drives it like any other policy. It maps the
  observation with :func:`~lerobot_gym.wrappers.sb3_observation.to_sb3_observation` and the
  action back with Gymnasium's own ``rescale_box`` inverse, the functions the stack uses.
* :func:`seed_replay_buffer` fills an SB3 replay buffer from a recorded LeRobot dataset with
  observations mapped by the same function, so a recorded transition equals the live one.

Design decisions:

* torch and SB3 are imported on first use; without them :class:`MissingExtraError` names the
  ``rl`` extra. ``import lerobot_gym.policies.sb3`` itself imports neither.
* A saved policy is a directory: ``config.json`` (``"type": "sb3"``, the algorithm, the env id
  and keywords it was trained on, how observations were flattened, the action bounds, and the
  input/output features) beside ``model.zip``, SB3's own format, so ``SAC.load(dir /
  "model.zip")`` works without this package. The type is ``"sb3"`` and not ``"sac"``: LeRobot's
  own SAC checkpoints say ``"sac"`` and are a different model.
* A dataset frame ``t`` holds the observation before step ``t`` and the outcome of that step
  (``next.reward``, ``next.done = terminated or truncated``), so the next observation of a
  transition is frame ``t + 1``. The last frame of an episode has none: by default
  (``episode_end="truncated"``, a time limit or the operator ended the episode) it is left out,
  because a bootstrapped target needs that observation; ``episode_end="terminated"`` (episodes
  that end on success or failure) adds it as a terminal transition whose next observation is
  never used (SB3 masks it with ``done``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import RescaleAction
from gymnasium.wrappers.utils import rescale_box

from lerobot_gym.errors import ConfigError, MissingExtraError
from lerobot_gym.policies.files import DEFAULT_INFERENCE_THREADS, check_inference_threads
from lerobot_gym.wrappers.lerobot_keys import lerobot_key
from lerobot_gym.wrappers.sb3_observation import (
    CAMERA_PREFIX,
    PIXELS,
    SB3Observation,
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
#: ``--policy.type`` name -> SB3 class name.
ALGORITHMS = {"sac": "SAC", "td3": "TD3", "ddpg": "DDPG", "ppo": "PPO", "a2c": "A2C"}
EPISODE_ENDS = ("truncated", "terminated")


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
    env_id: str, *, flatten_state: bool | None = None, **kwargs: Any
) -> gym.Env[Any, np.ndarray]:
    """``gym.make(env_id, **kwargs)`` wrapped for SB3: actions in [-1, 1], a flat observation.

    Args:
        env_id: a registered id (the ``lerobot_gym/`` namespace may be left out).
        flatten_state: one ``Box`` observation (``MlpPolicy``); default: when there is no
            camera (``obs_type="state"``).
        **kwargs: ``gym.make`` keywords (``obs_type``, ``image_size``, ``cameras``, ...).

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
    return SB3Observation(rescaled, flatten_state=flatten_state)


# -- the stack's mappings, shared by the policy and the replay seeding -------------------------


def _stack_layout(env: gym.Env) -> tuple[bool, spaces.Box, spaces.Box]:
    """(flatten_state, the raw env's action space, the stack's action space) of an SB3 stack.

    Raises:
        ConfigError: the stack has no :class:`SB3Observation`, or an action wrapper other than
            ``RescaleAction`` (whose mapping a recorded action could not follow).
    """
    flatten = None
    layer: gym.Env = env
    while isinstance(layer, gym.Wrapper):
        if isinstance(layer, SB3Observation):
            flatten = layer.flatten_state
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


def _action_maps(raw: spaces.Box, outer: spaces.Box) -> tuple[Any, Any]:
    """(raw -> stack, stack -> raw) action maps: Gymnasium's ``rescale_box``, as RescaleAction."""
    if raw == outer:
        return (lambda a: np.asarray(a, np.float32)), (lambda a: np.asarray(a, np.float32))
    _, forward, backward = rescale_box(raw, outer.low, outer.high)
    return forward, backward


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
        state_layout: with ``flatten_state``, the env keys and sizes concatenated into the
            state vector, in order (``{"agent_pos": 6, "environment_state": 3}``), for
            :attr:`input_features`.
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
        inference_threads: int | None = DEFAULT_INFERENCE_THREADS,
    ) -> None:
        self.model = model
        self.inference_threads = check_inference_threads(inference_threads)
        self.state_layout = dict(state_layout or {})
        self.obs_norm = dict(obs_norm) if obs_norm is not None else None
        if self.obs_norm is not None and not flatten_state:
            raise ConfigError("observation normalisation is supported for Box observations only")
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
        _, self._to_env = _action_maps(action_space, model_space)

    @classmethod
    def from_env(cls, model: Any, env: gym.Env, **kwargs: Any) -> SB3Policy:
        """The policy of ``model`` trained on the SB3 stack ``env`` (see :func:`make_sb3_env`)."""
        flatten, raw, _ = _stack_layout(env)
        inner = env.unwrapped.observation_space
        if flatten and isinstance(inner, spaces.Dict):
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
        if isinstance(space, spaces.Dict):
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
    """The statistics SB3's ``VecNormalize`` normalises Box observations with, as plain data."""
    rms = vec_normalize.obs_rms
    return {
        "mean": np.asarray(rms.mean, np.float64).tolist(),
        "var": np.asarray(rms.var, np.float64).tolist(),
        "clip": float(vec_normalize.clip_obs),
        "epsilon": float(vec_normalize.epsilon),
    }


def normalize_observation(obs: np.ndarray, obs_norm: Mapping[str, Any]) -> np.ndarray:
    """``VecNormalize``'s observation normalisation with saved statistics (float32)."""
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
    model = algorithm_class(config["algorithm"]).load(root / MODEL_NAME, device=device)
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
        inference_threads=inference_threads,
    )
    if env is not None:
        _check_env_matches(policy, env)
    return policy


def _check_env_matches(policy: SB3Policy, env: gym.Env) -> None:
    space = sb3_observation_space(
        env.unwrapped.observation_space, flatten_state=policy.flatten_state
    )
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


# -- replay buffers from recorded datasets -----------------------------------------------------


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
    flatten, raw_space, stack_space = _stack_layout(env)
    to_stack, _ = _action_maps(raw_space, stack_space)
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
