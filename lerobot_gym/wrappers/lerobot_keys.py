"""LeRobot observation keys and the LeRobot ``features`` dict of an env.

This module owns the one mapping between the env's Gym-style observation keys and LeRobot's
dataset/policy keys (reference ``shared/reference/lerobot-interfaces.md`` section 7):

=====================  ===================================
env key                LeRobot key
=====================  ===================================
``agent_pos``          ``observation.state``
``pixels/<cam>``       ``observation.images.<cam>``
``environment_state``  ``observation.environment_state``
``<other>`` (a Box)    ``observation.<other>``
=====================  ===================================

Everything that needs LeRobot keys (:class:`LeRobotKeys`, the recorder, the Rerun viewer) goes
through :func:`to_lerobot_observation` and :func:`lerobot_features`, so a dataset recorded from
an env and the env seen through :class:`LeRobotKeys` always agree.

Design decisions:

* Observations that already use LeRobot keys (the env is wrapped in :class:`LeRobotKeys`)
  pass through unchanged, so recorders and viewers work above or below this wrapper.
* A plain ``Box`` observation (any Gymnasium env) becomes ``observation.state``.
* Reward, done and intervention columns follow LeRobot's learner checkpoints
  (``ReplayBuffer.to_lerobot_dataset``, reference ``lerobot-dataset-v3.md`` section 10):
  ``next.reward`` float32, ``next.done`` bool, ``complementary_info.is_intervention`` float32
  and ``complementary_info.discrete_penalty`` float32, all of shape ``[1]``, so
  ``ReplayBuffer.from_lerobot_dataset`` reads them back unchanged; ``next.success`` (bool) is
  what ``lerobot-eval`` writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError

OBS_STATE = "observation.state"
OBS_ENV_STATE = "observation.environment_state"
OBS_IMAGES = "observation.images"
ACTION = "action"
REWARD = "next.reward"
DONE = "next.done"
SUCCESS = "next.success"
IS_INTERVENTION = "complementary_info.is_intervention"
DISCRETE_PENALTY = "complementary_info.discrete_penalty"

_RENAMES = {"agent_pos": OBS_STATE, "environment_state": OBS_ENV_STATE}
_IMAGE_NAMES = ["height", "width", "channels"]


def lerobot_key(env_key: str) -> str:
    """The LeRobot key of a top-level Box observation key (``agent_pos`` -> ...state)."""
    if env_key.startswith("observation."):
        return env_key
    return _RENAMES.get(env_key, f"observation.{env_key}")


def _is_lerobot_space(space: spaces.Dict) -> bool:
    return bool(space.spaces) and all(k.startswith("observation.") for k in space.spaces)


def lerobot_observation_space(space: gym.Space) -> spaces.Dict:
    """The flat LeRobot-keyed Dict space of an env's observation space.

    Args:
        space: a ``Dict`` of ``Box`` entries (camera images nested under ``pixels``), a
            LeRobot-keyed ``Dict`` (returned unchanged), or a single ``Box`` (the state).

    Raises:
        ConfigError: a key holds something other than a ``Box`` (or ``pixels`` a non-Dict).
    """
    if isinstance(space, spaces.Box):
        return spaces.Dict({OBS_STATE: space})
    if not isinstance(space, spaces.Dict):
        raise ConfigError(
            f"LeRobot keys need a Dict or Box observation space, got {type(space).__name__}"
        )
    if _is_lerobot_space(space):
        return space
    out: dict[str, spaces.Space] = {}
    for key, sub in space.spaces.items():
        if key == "pixels":
            if not isinstance(sub, spaces.Dict):
                raise ConfigError(
                    "observation 'pixels' must be a Dict camera -> image Box; got "
                    f"{type(sub).__name__}"
                )
            for cam, img in sub.spaces.items():
                _check_image_space(cam, img)
                out[f"{OBS_IMAGES}.{cam}"] = img
        elif isinstance(sub, spaces.Box):
            out[lerobot_key(key)] = sub
        else:
            raise ConfigError(
                f"observation {key!r} is a {type(sub).__name__}; LeRobot keys map only Box "
                "entries and the 'pixels' camera Dict"
            )
    return spaces.Dict(out)


def to_lerobot_observation(obs: Any) -> dict[str, Any]:
    """An observation with LeRobot keys (no copies; see :func:`lerobot_observation_space`)."""
    if not isinstance(obs, Mapping):
        return {OBS_STATE: obs}
    out: dict[str, Any] = {}
    for key, value in obs.items():
        if key == "pixels":
            for cam, img in value.items():
                out[f"{OBS_IMAGES}.{cam}"] = img
        else:
            out[lerobot_key(key)] = value
    return out


def _check_image_space(cam: str, space: gym.Space) -> None:
    if not (
        isinstance(space, spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and space.shape[2] == 3
    ):
        raise ConfigError(
            f"camera {cam!r} space must be an HxWx3 uint8 Box, got {space!r}; resize or "
            "convert images before recording"
        )


def _robot(env: gym.Env) -> Any | None:
    return getattr(env.unwrapped, "robot", None)


def _action_names(env: gym.Env, size: int) -> list[str] | None:
    robot = _robot(env)
    if robot is None or size != len(robot.joints):
        return None
    controller = getattr(env.unwrapped, "controller", None)
    if getattr(controller, "name", "joint_pos") == "joint_delta":
        # Deltas are not positions; a distinct suffix keeps them from being mistaken for
        # lerobot-record's absolute `<motor>.pos` targets.
        return [f"{n}.delta" for n in robot.joint_names]
    return robot.state_names()


def lerobot_features(env: gym.Env, use_videos: bool = True) -> dict[str, dict[str, Any]]:
    """The LeRobot v3.0 ``features`` dict for recording ``env`` (spaces + robot spec only).

    Args:
        env: any env (or wrapper stack) with a Dict/Box observation space (raw or LeRobot
            keys) and a 1-D ``Box`` action space. When its ``unwrapped`` env has a ``robot``
            (a :class:`~lerobot_gym.core.spec.RobotSpec`), state and action are named
            ``shoulder_pan.pos`` ... as ``lerobot-record`` names them.
        use_videos: store cameras as ``"video"`` (MP4) rather than ``"image"`` (PNG in parquet).

    Returns:
        ``{key: {"dtype", "shape", "names"}}`` without LeRobot's bookkeeping features.

    Raises:
        ConfigError: the spaces cannot be stored (non-Box action, image not HxWx3 uint8).

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="pixels_agent_pos",
        ...                image_size=(48, 64), cameras=("front",))
        >>> features = lerobot_features(env)
        >>> features["observation.images.front"]
        {'dtype': 'video', 'shape': [48, 64, 3], 'names': ['height', 'width', 'channels']}
        >>> features["action"]["names"][:2]
        ['shoulder_pan.pos', 'shoulder_lift.pos']
    """
    obs_space = lerobot_observation_space(env.observation_space)
    robot = _robot(env)
    features: dict[str, dict[str, Any]] = {}
    for key, space in obs_space.spaces.items():
        shape = cast("tuple[int, ...]", space.shape)  # Box spaces (lerobot_observation_space)
        if key.startswith(OBS_IMAGES + "."):
            _check_image_space(key, space)
            features[key] = {
                "dtype": "video" if use_videos else "image",
                "shape": [int(v) for v in shape],
                "names": list(_IMAGE_NAMES),
            }
            continue
        if len(shape) != 1:
            raise ConfigError(f"observation {key!r} must be 1-D to be stored, got {shape}")
        names = None
        if key == OBS_STATE and robot is not None and shape[0] == len(robot.joints):
            names = robot.state_names()
        features[key] = {"dtype": "float32", "shape": [int(shape[0])], "names": names}
    act = env.action_space
    if not isinstance(act, spaces.Box) or len(act.shape) != 1:
        raise ConfigError(
            f"recording needs a 1-D Box action space, got {act!r}; flatten the action first"
        )
    features[ACTION] = {
        "dtype": "float32",
        "shape": [int(act.shape[0])],
        "names": _action_names(env, int(act.shape[0])),
    }
    features[REWARD] = {"dtype": "float32", "shape": [1], "names": None}
    features[DONE] = {"dtype": "bool", "shape": [1], "names": None}
    features[SUCCESS] = {"dtype": "bool", "shape": [1], "names": None}
    features[IS_INTERVENTION] = {"dtype": "float32", "shape": [1], "names": ["is_intervention"]}
    features[DISCRETE_PENALTY] = {"dtype": "float32", "shape": [1], "names": ["discrete_penalty"]}
    return features


class LeRobotKeys(
    gym.ObservationWrapper[dict[str, Any], Any, dict[str, Any]],
    gym.utils.RecordConstructorArgs,
):
    """Rename observations to LeRobot's keys in a flat Dict (see the module table).

    ``agent_pos`` becomes ``observation.state``, each ``pixels[<cam>]`` becomes
    ``observation.images.<cam>`` and ``environment_state`` becomes
    ``observation.environment_state``. Values are not copied or converted (images stay HxWx3
    uint8; LeRobot's policy preprocessing makes them CHW float).

    Args:
        env: an env with a Dict observation space using the Gym-style keys.

    Raises:
        ConfigError: the observation space is not a Dict of Boxes (plus the ``pixels`` Dict).

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> env = LeRobotKeys(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))
        >>> obs, info = env.reset(seed=0)
        >>> sorted(obs)
        ['observation.environment_state', 'observation.state']
        >>> obs["observation.state"].shape
        (6,)
        >>> env.close()

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, env: gym.Env[dict[str, Any], Any]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        if not isinstance(env.observation_space, spaces.Dict):
            raise ConfigError(
                "LeRobotKeys needs a Dict observation space (agent_pos, pixels, "
                f"environment_state), got {type(env.observation_space).__name__}"
            )
        if _is_lerobot_space(env.observation_space):
            raise ConfigError("the observations already use LeRobot keys; wrap only once")
        self.observation_space = lerobot_observation_space(env.observation_space)

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        """The same values under LeRobot keys."""
        return to_lerobot_observation(observation)


def applied_action(env: gym.Env, action: Any, info: dict[str, Any]) -> Any:
    """The action to record for a step: ``info["action_applied"]`` when it is in ``env``'s terms.

    ``action_applied`` comes from the innermost ``RobotEnv``; a wrapper in between that changes
    the action space (an end-effector or arm-only action, say) makes it a different vector from
    the one the features describe, so then the action passed in is recorded instead, or, when a
    ``HumanIntervention`` drove the step, the operator's action it sent
    (``info["teleop_action"]``, in that wrapper's, i.e. ``env``'s, terms).
    """
    applied = info.get(info_keys.ACTION_APPLIED)
    if applied is None or env.action_space != env.unwrapped.action_space:
        if info.get(info_keys.IS_INTERVENTION) and info_keys.TELEOP_ACTION in info:
            return info[info_keys.TELEOP_ACTION]
        return action
    return applied
