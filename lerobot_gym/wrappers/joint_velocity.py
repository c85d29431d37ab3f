"""JointVelocity: append the joint velocities the backend reports to ``agent_pos``.

HIL-SERL's policies may see velocities next to positions (LeRobot's
``JointVelocityProcessorStep``, shared/reference/lerobot-interfaces.md section 1.5, which
differentiates positions itself). Here the velocities are the backend's own reading,
``RobotState.joint_velocities_rad_s``: the twin's exact joint velocities, the servos' present
speed on hardware (zeros where a backend measures none), converted to boundary units per second
(degrees/s for the SO-101's arm joints, gripper units/s).

Decision: appended to ``agent_pos`` (``observation.state`` when recorded), as LeRobot does,
so every policy and recorder sees one state vector of twice the size; the state's feature names
are then left unnamed (LeRobotKeys names only the plain joint vector).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from lerobot_gym.wrappers._agent_pos import extended_agent_pos_space

__all__ = ["JointVelocity", "velocities_in_boundary_units"]


def velocities_in_boundary_units(robot: Any, velocities_rad_s: np.ndarray) -> np.ndarray:
    """Joint velocities (SI) in the robot's boundary units per second (the affine's slope)."""
    zero = np.zeros(len(robot.joints))
    return robot.to_user(np.asarray(velocities_rad_s, dtype=np.float64)) - robot.to_user(zero)


class JointVelocity(
    gym.ObservationWrapper[dict[str, Any], Any, dict[str, Any]], gym.utils.RecordConstructorArgs
):
    """``agent_pos`` becomes ``[positions, velocities]`` (see the module docstring).

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> from lerobot_gym.wrappers.joint_velocity import JointVelocity
        >>> env = JointVelocity(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))
        >>> env.observation_space["agent_pos"].shape
        (12,)

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(self, env: gym.Env[dict[str, Any], Any]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        self.observation_space = extended_agent_pos_space(env, "JointVelocity")

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        """Positions followed by the velocities the backend read with them."""
        base: Any = self.env.unwrapped
        velocities = velocities_in_boundary_units(
            base.robot, base.last_state.joint_velocities_rad_s
        )
        state = np.concatenate([observation["agent_pos"], velocities]).astype(np.float32)
        return {**observation, "agent_pos": state}
