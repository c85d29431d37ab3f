"""Scripted Reach: glide the gripper frame to the target and hold it there."""

from __future__ import annotations

from typing import Any

import numpy as np

from lerobot_gym.tasks.scripted.base import ScriptedPolicy, Waypoint, environment_state


class ReachPolicy(ScriptedPolicy):
    """Move to the target (from ``environment_state`` or the task's goal) in about 1.3 s."""

    def plan(self, obs: dict[str, Any], facts: dict[str, Any], start: np.ndarray) -> list[Waypoint]:
        target = environment_state(obs)
        if target is None:
            target = facts["target_pos"]
        grip = self._gripper_fraction(self.joint_positions(obs))
        return [
            Waypoint(pos=np.asarray(target, np.float64), gripper=grip, steps=40, top_down=False)
        ]
