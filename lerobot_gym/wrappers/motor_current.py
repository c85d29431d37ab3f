"""MotorCurrent: append the motor currents the backend reports to ``agent_pos``.

A gripper squeezing a cube or an arm pushing on the table draws current; HIL-SERL may give that
to the policy (LeRobot's ``MotorCurrentProcessorStep``, shared/reference/lerobot-interfaces.md
section 1.5, which reads the servos' raw ``Present_Current``). Here the wrapper reads what the
backend put in ``RobotState.extras["present_current"]`` (one value per joint, in spec order,
the servo's raw units as LeRobot records them) and never talks to a bus itself, so it stays a
pure observation wrapper over any backend.

Decisions:

* A backend that reports no currents is refused at the first ``reset()`` with a
  :class:`~lerobot_gym.errors.ConfigError` naming the key (spaces are fixed in ``__init__``
  before any I/O; what a backend reads is known only once it has read).
* The twin reports no currents (a MuJoCo actuator's force is not a servo's current). A servo
  backend that declares a ``current_register`` (the SO-101's Feetech ``Present_Current``) is
  asked in ``__init__`` to read it (``read_currents = True``, no I/O): it then widens its one
  SYNC_READ per step to include the register, a cost paid only by stacks that observe currents.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers._agent_pos import extended_agent_pos_space

__all__ = ["CURRENT_KEY", "MotorCurrent"]

#: The ``RobotState.extras`` key holding one current per joint.
CURRENT_KEY = "present_current"


class MotorCurrent(
    gym.ObservationWrapper[dict[str, Any], Any, dict[str, Any]], gym.utils.RecordConstructorArgs
):
    """``agent_pos`` becomes ``[state, currents]`` (see the module docstring).

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> from lerobot_gym.wrappers.motor_current import MotorCurrent
        >>> env = MotorCurrent(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))
        >>> env.observation_space["agent_pos"].shape
        (12,)

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, env: gym.Env[dict[str, Any], Any]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        self.observation_space = extended_agent_pos_space(env, "MotorCurrent")
        self._n = len(env.unwrapped.robot.joints)  # type: ignore[attr-defined]
        backend = getattr(env.unwrapped, "backend", None)
        if getattr(backend, "current_register", None):
            backend.read_currents = True  # type: ignore[union-attr]  # read from now on

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        """The state followed by the currents read with it."""
        base: Any = self.env.unwrapped
        extras = base.last_state.extras
        if CURRENT_KEY not in extras:
            raise ConfigError(
                f"the {type(base.backend).__name__} backend reports no motor currents "
                f"(RobotState.extras[{CURRENT_KEY!r}]); MotorCurrent needs a backend that reads "
                "them (the twin has none): remove MotorCurrent from this stack"
            )
        currents = np.asarray(extras[CURRENT_KEY], dtype=np.float32).reshape(-1)
        if currents.shape != (self._n,):
            raise ConfigError(
                f"extras[{CURRENT_KEY!r}] holds {currents.size} values; expected one per joint "
                f"({self._n})"
            )
        state = np.concatenate([observation["agent_pos"], currents]).astype(np.float32)
        return {**observation, "agent_pos": state}
