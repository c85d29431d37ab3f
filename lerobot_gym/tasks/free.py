"""FreeMotion: no task. Reward 0, never succeeds; for teleoperation and data collection."""

from __future__ import annotations

from lerobot_gym.core.task import Task


class FreeMotion(Task):
    """The robot alone on its table: reward 0, never succeeds, never fails."""

    name = "free"
    description = "move freely"
