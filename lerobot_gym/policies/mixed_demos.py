"""Demonstrations of mixed quality: scripted episodes with a known fraction corrupted.

:func:`record_mixed_demos` records scripted episodes of a state-observation env as a LeRobot
dataset and corrupts a chosen fraction of them, keeping which ones (and how) apart from the
dataset, as the ground truth a demonstration filter is judged against
(:mod:`lerobot_gym.policies.demo_score`). The dataset itself carries no mark of which episodes
are bad (``next.success`` is the twin's own verdict, as in any recording).

Corruptions (``MixedDemosConfig.corruptions``, cycled over the bad episodes):

* ``"wrong_target"``: the scripted policy plans from an ``environment_state`` whose first three
  values (Reach's target, the cube's position in PickCube and PushCube) are shifted by
  ``target_offset_m``, while the recorded observation keeps the true one: an operator who
  consistently misjudges where the goal is. The offset is the same for every bad episode, so
  the bad demonstrations form one coherent, wrong strategy, the kind Demo-SCORE (Chen et al.
  2025) targets, rather than noise that averages out in training.
* ``"action_noise"``: Gaussian noise, ``noise_std`` times each action dimension's half range,
  added to every action before it is applied and recorded (a shaky operator), clipped to the
  action space.
* ``"drop"``: from control step ``drop_step`` on, the gripper is commanded fully open (its
  action's upper bound) while the arm carries on: an operator who lets go of the cube mid-lift
  (PickCube: the scripted grasp closes by step 65 and lifts until 95). Needs a gripper and
  joint-position actions (one action per joint, the ids' default).

Design decisions:

* Which episodes are bad is drawn from a ``numpy`` generator seeded by ``seed`` (exactly
  ``round(bad_fraction * n_episodes)`` of them); episode ``i`` is reset with ``seed + i``, so
  a dataset is reproduced from its config.
* Only ``obs_type="state"`` envs with an ``environment_state`` are supported: the wrong-target
  corruption needs it, and a demonstration scorer reads states.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lerobot_gym.errors import ConfigError

__all__ = ["CORRUPTIONS", "MixedDemos", "MixedDemosConfig", "record_mixed_demos"]

CORRUPTIONS = ("wrong_target", "action_noise", "drop")


@dataclass(frozen=True)
class MixedDemosConfig:
    """What :func:`record_mixed_demos` records.

    Attributes:
        env_id: a lerobot_gym id with a scripted policy and ``environment_state``.
        n_episodes: demonstrations in total.
        bad_fraction: fraction of them corrupted, in [0, 1].
        corruptions: kinds applied to the bad episodes, cycled (see the module docstring).
        target_offset_m: the wrong-target shift of ``environment_state[:3]``, metres.
        noise_std: action-noise standard deviation, as a fraction of each action's half range.
        drop_step: the control step from which a ``"drop"`` episode opens the gripper.
        seed: seeds the choice of bad episodes, the noise and the env resets.
        max_episode_steps: override the id's time limit (None: keep it).
    """

    env_id: str = "lerobot_gym/SO101-Reach-v0"
    n_episodes: int = 40
    bad_fraction: float = 0.3
    corruptions: tuple[str, ...] = ("wrong_target",)
    target_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.06)
    noise_std: float = 0.1
    drop_step: int = 80
    seed: int = 0
    max_episode_steps: int | None = None

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the bad setting."""
        if self.n_episodes < 1:
            raise ConfigError(f"n_episodes must be >= 1, got {self.n_episodes}")
        if not 0.0 <= self.bad_fraction <= 1.0:
            raise ConfigError(f"bad_fraction must be in [0, 1], got {self.bad_fraction}")
        unknown = [c for c in self.corruptions if c not in CORRUPTIONS]
        if unknown or not self.corruptions:
            raise ConfigError(
                f"unknown corruption {unknown or '(none)'}; choose from {', '.join(CORRUPTIONS)}"
            )
        if len(self.target_offset_m) != 3:
            raise ConfigError(f"target_offset_m needs 3 values, got {self.target_offset_m}")
        if self.noise_std < 0:
            raise ConfigError(f"noise_std must be >= 0, got {self.noise_std}")


@dataclass(frozen=True)
class MixedDemos:
    """What was recorded: the dataset and the ground truth kept beside it.

    Attributes:
        root: the dataset folder.
        bad_episodes: indices of the corrupted episodes, ascending.
        kinds: per episode, its corruption or None.
        demo_success: per episode, ``info["is_success"]`` at its last step.
    """

    root: str
    bad_episodes: tuple[int, ...]
    kinds: tuple[str | None, ...]
    demo_success: tuple[bool, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "root": self.root,
            "bad_episodes": list(self.bad_episodes),
            "kinds": list(self.kinds),
            "demo_success": list(self.demo_success),
        }


def record_mixed_demos(
    config: MixedDemosConfig, root: str | os.PathLike, *, repo_id: str = "demo_score/mixed"
) -> MixedDemos:
    """Record ``config.n_episodes`` scripted episodes into a new dataset at ``root``.

    Raises:
        ConfigError: a bad setting, or an env without ``environment_state``.
    """
    from lerobot_gym.policies.base import make_policy
    from lerobot_gym.wrappers import RecordEpisodes

    config.validate()
    rng = np.random.default_rng(config.seed)
    n_bad = round(config.bad_fraction * config.n_episodes)
    bad = sorted(int(i) for i in rng.permutation(config.n_episodes)[:n_bad])
    kinds: list[str | None] = [None] * config.n_episodes
    for k, ep in enumerate(bad):
        kinds[ep] = config.corruptions[k % len(config.corruptions)]
    kwargs: dict[str, Any] = {"obs_type": "state"}
    if config.max_episode_steps:
        kwargs["max_episode_steps"] = config.max_episode_steps
    env = RecordEpisodes(gym.make(config.env_id, **kwargs), root=Path(root), repo_id=repo_id)
    try:
        space = env.action_space
        if not isinstance(space, gym.spaces.Box):
            raise ConfigError(f"{config.env_id}: needs a Box action space, has {space}")
        half_range = (space.high - space.low) / 2.0
        gripper = _gripper_action_index(env) if "drop" in kinds else 0
        policy = make_policy("scripted", env)
        success = []
        for ep in range(config.n_episodes):
            obs, info = env.reset(seed=config.seed + ep)
            if "environment_state" not in obs:
                raise ConfigError(
                    f"{config.env_id} has no environment_state; use a task with one "
                    "(SO101-Reach-v0, SO101-PickCube-v0, SO101-PushCube-v0)"
                )
            plan_obs = obs
            if kinds[ep] == "wrong_target":
                plan_obs = dict(obs)
                shifted = np.array(obs["environment_state"], np.float64)
                shifted[:3] += np.asarray(config.target_offset_m)
                plan_obs["environment_state"] = shifted.astype(np.float32)
            policy.reset(plan_obs, info)
            done, step = False, 0
            while not done:
                action = policy(obs)
                if kinds[ep] == "drop" and step >= config.drop_step:
                    action = action.copy()
                    action[gripper] = space.high[gripper]
                step += 1
                if kinds[ep] == "action_noise":
                    noise = rng.normal(0.0, config.noise_std, action.shape) * half_range
                    action = np.clip(action + noise, space.low, space.high).astype(space.dtype)
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            success.append(bool(info.get("is_success", False)))
    finally:
        env.close()
    return MixedDemos(str(root), tuple(bad), tuple(kinds), tuple(success))


def _gripper_action_index(env: gym.Env) -> int:
    """The action dimension of the (first arm's) gripper, for joint-position actions."""
    from lerobot_gym.core.controller import JointPositionController

    robot_env: Any = env.unwrapped
    index = robot_env.robot.gripper_joint_index(robot_env.robot.arms[0])
    if index is None or not isinstance(robot_env.controller, JointPositionController):
        kind = "no gripper" if index is None else type(robot_env.controller).__name__
        raise ConfigError(
            f"the drop corruption needs a gripper and joint-position actions; this env has {kind}"
        )
    return int(index)
