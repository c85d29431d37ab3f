"""The observation space of a wrapper that appends readings to ``obs["agent_pos"]``.

Shared by :class:`~lerobot_gym.wrappers.joint_velocity.JointVelocity` and
:class:`~lerobot_gym.wrappers.motor_current.MotorCurrent`: both check that the wrapped env is a
lerobot_gym ``RobotEnv`` with an ``agent_pos`` Box and extend that Box with one unbounded value
per joint.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_gym.errors import ConfigError


def extended_agent_pos_space(env: gym.Env[Any, Any], wrapper: str) -> spaces.Dict:
    """``env``'s observation space with ``agent_pos`` extended by one unbounded value per joint.

    Raises:
        ConfigError: The env has no ``agent_pos`` Box, or is not a lerobot_gym RobotEnv.
    """
    space = env.observation_space
    if not isinstance(space, spaces.Dict) or "agent_pos" not in space.spaces:
        raise ConfigError(
            f"{wrapper} extends obs['agent_pos']; use obs_type='state' or 'pixels_agent_pos'"
        )
    robot = getattr(env.unwrapped, "robot", None)
    if robot is None:
        raise ConfigError(f"{wrapper} needs a lerobot_gym RobotEnv (its robot spec)")
    extra = len(robot.joints)
    pos = space.spaces["agent_pos"]
    assert isinstance(pos, spaces.Box)
    low = np.concatenate([pos.low, np.full(extra, -np.inf, np.float32)])
    high = np.concatenate([pos.high, np.full(extra, np.inf, np.float32)])
    return spaces.Dict({**space.spaces, "agent_pos": spaces.Box(low, high, dtype=np.float32)})
