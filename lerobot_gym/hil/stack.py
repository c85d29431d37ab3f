"""Build the HIL-SERL env stack from an env config: :func:`make_hil_env`.

The one function behind ``lerobot-gym record --env.config=FILE``, an actor of human-in-the-loop
RL, and a rehearsal on the emulated arm: the same file gives the same stack on the twin
(``backend="sim"``), the emulated arm and the real arm. From the inside out:

1. ``gym.make(env.id, **env)`` with ``control_mode="joint_pos"``;
2. ``JointVelocity`` / ``MotorCurrent`` (``observation``), then ``ImageCropResize``
   (``image``): the policy's and the classifier's view;
3. ``joint_bounds``: joint targets clipped into the measured range (``find-joint-limits``),
   applied below end-effector control so IK solutions are clipped too;
4. ``EEDeltaAction`` (``ee_control``);
5. the reward: ``RewardClassifier`` (``"classifier"``), ``SuccessReward`` (``"task"``), or the
   env's reward left to ``HumanLabels`` (``"human"``);
6. ``GripperPenalty`` (``gripper_penalty``);
7. ``HumanIntervention`` with the teleop device, when one is given; a joint-space device
   (a leader arm) in an end-effector stack intervenes through
   :meth:`EEDeltaAction.delta_towards`;
8. ``HumanLabels`` (reads the events ``HumanIntervention`` put in ``info``; with a teleop only;
   with ``reward.source="human"`` the operator's label is the only success and reward);
9. ``TimeLimit`` (``episode_time_s``).

Decisions:

* The teleop device is passed in, connected by the caller, as every wrapper takes its device;
  ``reward.source="human"`` without a device is an error (nobody could label).
* ``reward.source="task"`` is the twin's privileged success: refused on ``backend="real"``,
  where nothing knows the cube's pose (the emulated arm's twin does, so a rehearsal may use it).
* The classifier is checked against the stack's images when the stack is built (the
  ``RewardClassifier`` wrapper's own check), before any episode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lerobot_gym.errors import ConfigError
from lerobot_gym.hil.config import HilConfig, load_hil_config

__all__ = ["make_hil_env"]


def _as_config(config: HilConfig | str | Path | dict[str, Any]) -> HilConfig:
    if isinstance(config, HilConfig):
        return config
    if isinstance(config, dict):
        return HilConfig.from_dict(config)
    return load_hil_config(config)


def make_hil_env(
    config: HilConfig | str | Path | dict[str, Any],
    teleop: Any | None = None,
    **env_overrides: Any,
) -> gym.Env:
    """The HIL-SERL env stack described by ``config`` (a :class:`HilConfig`, file or dict).

    Args:
        config: the env config (see :mod:`lerobot_gym.hil.config` for the format).
        teleop: a connected teleop device for intervention and labels (None: no human).
        **env_overrides: ``gym.make`` keywords that override the file's ``env`` section.

    Example:
        >>> from lerobot_gym.hil import make_hil_env
        >>> env = make_hil_env({"env": {"id": "SO101-Reach-v0", "obs_type": "state"},
        ...                     "ee_control": {"step_sizes_m": 0.02},
        ...                     "reward": {"source": "task"}, "episode_time_s": 2})
        >>> env.action_space.shape, env.spec.max_episode_steps
        ((4,), 60)

    Raises:
        ConfigError: an impossible combination (see the module docstring), or any stage's
            own check (crops that do not fit, a classifier of another image size ...).
    """
    from lerobot_gym import registry
    from lerobot_gym.wrappers import (
        EEDeltaAction,
        GripperPenalty,
        HumanIntervention,
        HumanLabels,
        ImageCropResize,
        JointVelocity,
        MotorCurrent,
        RewardClassifier,
        SuccessReward,
    )

    cfg = _as_config(config)
    kwargs = {k: v for k, v in cfg.env.items() if k != "id"}
    kwargs.update(env_overrides)
    if kwargs.setdefault("control_mode", "joint_pos") != "joint_pos":
        raise ConfigError(
            f"{cfg.source}: the HIL-SERL stack sends absolute joint targets; remove "
            "env.control_mode (end-effector control is the ee_control section)"
        )
    if isinstance(kwargs.get("image_size"), list):
        kwargs["image_size"] = tuple(kwargs["image_size"])
    backend = kwargs.get("backend", "sim")
    reward = cfg.reward
    if reward.source == "task" and backend == "real":
        raise ConfigError(
            f"{cfg.source}: reward.source 'task' is the twin's own success, unknown on a real "
            "arm; use 'human' (the operator labels) or 'classifier'"
        )
    if reward.source == "human" and teleop is None:
        raise ConfigError(
            f"{cfg.source}: reward.source 'human' needs a teleop device to label episodes "
            "(--teleop.type=...), or use 'classifier' / 'task'"
        )
    env_id = registry.resolve_env_id(cfg.env["id"])
    env: gym.Env = gym.make(env_id, **kwargs)
    fps = int(env.metadata["render_fps"])
    if cfg.observation.get("joint_velocity"):
        env = JointVelocity(env)
    if cfg.observation.get("motor_current"):
        env = MotorCurrent(env)
    if cfg.image is not None:
        crops: Any = cfg.image.crops  # 4 values each (checked in HilConfig)
        env = ImageCropResize(env, crops=crops, size=cfg.image.size)
    if cfg.joint_bounds is not None:
        env = _clip_joints(env, cfg.joint_bounds, cfg.source)
    ee = None
    if cfg.ee_control is not None:
        ee = env = EEDeltaAction(
            env,
            step_sizes_m=cfg.ee_control.step_sizes_m,  # type: ignore[arg-type]  # checked there
            gripper_step=cfg.ee_control.gripper_step,
            bounds=cfg.ee_control.bounds,
        )
    if reward.source == "classifier":
        env = RewardClassifier(
            env,
            reward.classifier_path,
            threshold=reward.threshold,
            success_reward=reward.success_reward,
            terminate_on_success=reward.terminate_on_success,
        )
    elif reward.source == "task":
        env = SuccessReward(
            env,
            success_reward=reward.success_reward,
            terminate_on_success=reward.terminate_on_success,
        )
    if cfg.gripper_penalty is not None:
        env = GripperPenalty(env, penalty=cfg.gripper_penalty)
    if teleop is not None:
        action_map = None
        if ee is not None and getattr(teleop, "action_kind", None) == "joint":
            action_map = ee.delta_towards
        env = HumanIntervention(
            env,
            teleop,
            action_map=action_map,
            on_teleop_lost=cfg.intervention.get("on_teleop_lost", "hold"),
        )
        env = HumanLabels(
            env,
            terminate_on_success=reward.terminate_on_success,
            success_reward=reward.success_reward,
            labels_only=reward.source == "human",
        )
    if cfg.episode_time_s is not None:
        env = gym.wrappers.TimeLimit(env, max_episode_steps=max(1, round(cfg.episode_time_s * fps)))
    return env


def _clip_joints(
    env: gym.Env, bounds: tuple[tuple[float, ...], tuple[float, ...]], source: str
) -> gym.Env:
    """Joint targets clipped into ``bounds`` (boundary units); the action space is unchanged."""
    robot: Any = env.unwrapped.robot  # type: ignore[attr-defined]
    n = len(robot.joints)
    low, high = (np.asarray(b, np.float32) for b in bounds)
    if low.shape != (n,):
        raise ConfigError(
            f"{source}: joint_bounds need {n} values each (one per joint of {robot.name}), got "
            f"{low.size}"
        )
    space = env.action_space
    assert isinstance(space, gym.spaces.Box)
    # Measured at a joint's limit and widened a little (hil/limits.py): clip that overshoot.
    if (low < space.low - 1.0).any() or (high > space.high + 1.0).any():
        raise ConfigError(
            f"{source}: joint_bounds {low.tolist()}..{high.tolist()} reach outside the joint "
            f"limits {space.low.tolist()}..{space.high.tolist()}; re-run find-joint-limits"
        )
    low, high = np.maximum(low, space.low), np.minimum(high, space.high)
    return gym.wrappers.TransformAction(
        env, lambda a: np.clip(a, low, high).astype(np.float32), space
    )
