"""GripperPenalty: ``info["discrete_penalty"]`` for gripper commands that flip the gripper.

HIL-SERL discourages needless grasping: a command that would change the gripper's state
(close an open gripper, open a closed one) costs ``penalty``, reported as
``info["discrete_penalty"]`` for the learner's discrete gripper critic (LeRobot's
``GripperPenaltyProcessorStep``, shared/reference/lerobot-interfaces.md section 1.5).
``RecordEpisodes`` stores it as ``complementary_info.discrete_penalty``.

The gripper's state is the observation's gripper value before the step, normalised to
0 (closed) .. 1 (open) with the robot spec's boundary limits. The command depends on the
action space:

* ``(dx, dy, dz, gripper)`` (``EEDeltaAction``): ``gripper < -0.5`` closes, ``> 0.5`` opens;
* absolute joint positions: the gripper target, normalised the same way; a target on the other
  side of the middle from the present state flips it.

Decisions: the reward is left alone (as LeRobot's step does; SAC adds the penalty in its
discrete-critic loss), and a step that does not flip the gripper reports 0.0, so the column is
defined on every frame.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError

__all__ = ["GripperPenalty"]


class GripperPenalty(
    gym.Wrapper[dict[str, Any], np.ndarray, dict[str, Any], np.ndarray],
    gym.utils.RecordConstructorArgs,
):
    """Report a penalty for gripper commands that flip its state (see the module docstring).

    Args:
        env: a lerobot_gym env with ``agent_pos`` in its observations, with its joint
            action space or ``EEDeltaAction``'s 4-wide one.
        penalty: the value reported when the command flips the gripper (LeRobot: -0.02).

    Example:
        >>> import gymnasium as gym
        >>> import numpy as np
        >>> import lerobot_gym
        >>> from lerobot_gym.wrappers.gripper_penalty import GripperPenalty
        >>> env = GripperPenalty(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))
        >>> obs, _ = env.reset(seed=0)
        >>> hold = obs["agent_pos"].copy()
        >>> env.step(hold)[4]["discrete_penalty"]
        0.0

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, env: gym.Env[dict[str, Any], np.ndarray], *, penalty: float = -0.02):
        gym.utils.RecordConstructorArgs.__init__(self, penalty=penalty)
        gym.Wrapper.__init__(self, env)
        base: Any = env.unwrapped
        robot = getattr(base, "robot", None)
        obs_space = env.observation_space
        if robot is None or robot.gripper_index is None:
            raise ConfigError("GripperPenalty needs a lerobot_gym env whose robot has a gripper")
        if not isinstance(obs_space, spaces.Dict) or "agent_pos" not in obs_space.spaces:
            raise ConfigError(
                "GripperPenalty reads the gripper from obs['agent_pos']; use obs_type='state' "
                "or 'pixels_agent_pos'"
            )
        space = env.action_space
        n = len(robot.joints)
        if not isinstance(space, spaces.Box) or space.shape not in ((4,), (n,)):
            raise ConfigError(
                f"GripperPenalty needs the joint action space ({n},) or EEDeltaAction's (4,), "
                f"got {space}"
            )
        self.penalty = float(penalty)
        self._index = robot.gripper_index
        low, high = robot.user_limits()
        self._low, self._span = float(low[self._index]), float(high[self._index] - low[self._index])
        self._ee = space.shape == (4,) and n != 4
        self._state = 0.5

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Reset; remember the gripper's state."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._state = self._normalised(obs["agent_pos"][self._index])
        return obs, info

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; ``info["discrete_penalty"]`` is ``penalty`` when the command flips it."""
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        opened = self._state > 0.5
        if self._ee:
            flips = (a[3] < -0.5 and opened) or (a[3] > 0.5 and not opened)
        else:
            flips = (self._normalised(a[self._index]) > 0.5) != opened
        obs, reward, terminated, truncated, info = self.env.step(action)
        info[info_keys.DISCRETE_PENALTY] = self.penalty if flips else 0.0
        self._state = self._normalised(obs["agent_pos"][self._index])
        return obs, reward, terminated, truncated, info

    def _normalised(self, value: float) -> float:
        return (float(value) - self._low) / self._span
