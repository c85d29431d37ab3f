"""Gymnasium wrappers: one concept per module, each with its own test file.

Importing this package imports neither rerun nor torch; :class:`RerunViz` loads rerun when it
is constructed.
"""

from lerobot_gym.wrappers.control_rate import ControlRate
from lerobot_gym.wrappers.ee_delta_action import EEDeltaAction
from lerobot_gym.wrappers.goal_observation import GoalObservation
from lerobot_gym.wrappers.gripper_penalty import GripperPenalty
from lerobot_gym.wrappers.human_intervention import HumanIntervention
from lerobot_gym.wrappers.human_labels import HumanLabels
from lerobot_gym.wrappers.image_crop_resize import ImageCropResize
from lerobot_gym.wrappers.joint_velocity import JointVelocity
from lerobot_gym.wrappers.lerobot_keys import LeRobotKeys, lerobot_features
from lerobot_gym.wrappers.motor_current import MotorCurrent
from lerobot_gym.wrappers.record_episodes import RecordEpisodes
from lerobot_gym.wrappers.replay_episode import ReplayReport, replay_episode
from lerobot_gym.wrappers.rerun_viz import RerunViz
from lerobot_gym.wrappers.reward_classifier import RewardClassifier
from lerobot_gym.wrappers.sb3_observation import SB3Observation
from lerobot_gym.wrappers.success_bonus import SuccessBonus
from lerobot_gym.wrappers.success_reward import SuccessReward

__all__ = [
    "ControlRate",
    "EEDeltaAction",
    "GoalObservation",
    "GripperPenalty",
    "HumanIntervention",
    "HumanLabels",
    "ImageCropResize",
    "JointVelocity",
    "LeRobotKeys",
    "MotorCurrent",
    "RecordEpisodes",
    "ReplayReport",
    "RerunViz",
    "RewardClassifier",
    "SB3Observation",
    "SuccessBonus",
    "SuccessReward",
    "lerobot_features",
    "replay_episode",
]
