"""HumanLabels: success, failure and re-record labels from the operator's events.

On a real arm nothing measures success; the operator says it. :class:`HumanLabels` reads the
events of the one vocabulary (:data:`lerobot_gym.core.info.EVENT_KEYS`) either from a teleop
device passed in, or, when a ``HumanIntervention`` inside it already read the device, from
``info`` (that wrapper copies the events there), and turns them into the episode's outcome:

==========================  =================================================================
event                       effect
==========================  =================================================================
``success``                 ``info["is_success"] = True``, reward ``success_reward``, and
                            ``terminated`` when ``terminate_on_success`` (default True)
``failure``                 ``terminated``, ``info["is_success"] = False``
``rerecord_episode``        ``terminated`` (``RecordEpisodes`` discards the episode on the
                            same flag in ``info``)
``terminate_episode``       ``truncated``: the session stops; not a task outcome
==========================  =================================================================

Decisions:

* A human's label wins over the task's own ``is_success`` (the operator sees what the twin's
  facts cannot on hardware), and a success step's reward is ``success_reward``; other steps
  keep the env's reward (0 on hardware, the task's on the twin).
* ``truncated`` is never folded into ``terminated``: stopping the session truncates.
* With ``terminate_on_success=False`` a success label holds for the rest of the episode
  (each later step reports ``is_success`` and ``success_reward``) until a failure label ends
  it: the operator says "it is done" once, and the frames that follow (the cube held up) are
  the success examples a reward classifier learns from (LeRobot records classifier data the
  same way, with ``terminate_on_success: false``).
* ``labels_only=True`` makes the operator the only judge: every other step reports
  ``is_success`` False and reward 0, so demonstrations labelled on the twin carry the same
  sparse reward as those labelled on the arm (the twin's dense reward and its own success flag
  do not leak into them).
* Reading the device here *and* in ``HumanIntervention`` would consume one-shot presses twice,
  so pass ``teleop`` only when there is no ``HumanIntervention`` in the stack.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.core import ActType, ObsType

from lerobot_gym.core import info as info_keys
from lerobot_gym.teleop.base import Teleop

__all__ = ["HumanLabels"]


class HumanLabels(gym.Wrapper[ObsType, ActType, ObsType, ActType], gym.utils.RecordConstructorArgs):
    """Label episodes from the operator's events (see the module docstring).

    Args:
        env: any env.
        teleop: a connected device to read events from; None: read them from ``info``.
        terminate_on_success: end the episode when the operator labels it a success.
        success_reward: the reward of the step labelled a success.
        labels_only: reward 0 and ``is_success`` False except on a step labelled a success.

    Example:
        >>> import gymnasium as gym
        >>> import numpy as np
        >>> import lerobot_gym
        >>> from lerobot_gym.teleop.scripted import ScriptedHuman
        >>> from lerobot_gym.wrappers.human_labels import HumanLabels
        >>> human = ScriptedHuman(lambda s: np.zeros(6), lambda s: False, presses={0: "success"})
        >>> human.connect()
        >>> env = HumanLabels(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"), human)
        >>> obs, _ = env.reset(seed=0)
        >>> _, reward, terminated, truncated, info = env.step(obs["agent_pos"])
        >>> reward, terminated, truncated, info["is_success"]
        (1.0, True, False, True)

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        env: gym.Env[ObsType, ActType],
        teleop: Teleop | None = None,
        *,
        terminate_on_success: bool = True,
        success_reward: float = 1.0,
        labels_only: bool = False,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            teleop=teleop,
            terminate_on_success=terminate_on_success,
            success_reward=success_reward,
            labels_only=labels_only,
            _disable_deepcopy=True,  # a device holds threads, ports and locks
        )
        gym.Wrapper.__init__(self, env)
        self.teleop = teleop
        self.terminate_on_success = bool(terminate_on_success)
        self.success_reward = float(success_reward)
        self.labels_only = bool(labels_only)
        self._success_held = False  # a success label holding (terminate_on_success=False)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env (and the device, when this wrapper reads it)."""
        obs, info = self.env.reset(seed=seed, options=options)
        if self.teleop is not None:
            self.teleop.reset()
        self._success_held = False
        return obs, info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step, then apply the operator's label."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.teleop is not None:
            events = info_keys.check_events(self.teleop.events(), type(self.teleop).__name__)
            info.update(events)
        else:
            events = info_keys.check_events(
                {k: info.get(k, False) for k in info_keys.EVENT_KEYS}, "info"
            )
        if self.labels_only:
            reward = 0.0
            info[info_keys.IS_SUCCESS] = False
        if events[info_keys.SUCCESS] or self._success_held:
            info[info_keys.IS_SUCCESS] = True
            reward = self.success_reward
            terminated = terminated or self.terminate_on_success
            self._success_held = not self.terminate_on_success
        if events[info_keys.FAILURE]:
            info[info_keys.IS_SUCCESS] = False
            self._success_held = False
            terminated = True
        if events[info_keys.RERECORD_EPISODE]:
            terminated = True
        if events[info_keys.TERMINATE_EPISODE]:
            truncated = True
        return obs, reward, terminated, truncated, info
