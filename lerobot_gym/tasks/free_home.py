"""FreeFromHome: no task, and every episode starts exactly at the robot's home pose.

``FreeMotion`` adds a little uniform noise to the start pose in SI units, which suits hinge
joints but not a slide gripper in metres (ALOHA's fingers travel 36 mm); gym-aloha starts every
episode at ``START_ARM_POSE`` exactly, and so does this task (``lerobot_gym/Aloha-v0``).
"""

from __future__ import annotations

from typing import Any

from lerobot_gym.tasks.free import FreeMotion


class FreeFromHome(FreeMotion):
    """The robot alone on its table, starting at home: reward 0, never succeeds or fails."""

    name = "free_home"

    def __init__(self, reward_type: Any = "dense", reset_noise_rad: float = 0.0) -> None:
        super().__init__(reward_type=reward_type, reset_noise_rad=reset_noise_rad)
