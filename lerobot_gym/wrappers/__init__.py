"""Gymnasium wrappers: one concept per module, each with its own test file.

Importing this package imports neither rerun nor torch; :class:`RerunViz` loads rerun when it
is constructed.
"""

from lerobot_gym.wrappers.control_rate import ControlRate
from lerobot_gym.wrappers.lerobot_keys import LeRobotKeys, lerobot_features
from lerobot_gym.wrappers.record_episodes import RecordEpisodes
from lerobot_gym.wrappers.replay_episode import ReplayReport, replay_episode
from lerobot_gym.wrappers.rerun_viz import RerunViz
from lerobot_gym.wrappers.sb3_observation import SB3Observation

__all__ = [
    "ControlRate",
    "LeRobotKeys",
    "RecordEpisodes",
    "ReplayReport",
    "RerunViz",
    "SB3Observation",
    "lerobot_features",
    "replay_episode",
]
