"""The one ``info`` schema every env and wrapper in lerobot_gym uses.

Keys (all optional except ``is_success``, which :class:`RobotEnv` sets on every reset and step,
and ``action_applied``, which it sets on every step):

============================  =========================================================
key                           meaning
============================  =========================================================
``is_success``                bool: the task's success condition holds now (the key
                              LeRobot's ``lerobot_eval`` reads).
``action_applied``            float32 array in action-space units: the joint targets
                              actually sent after safety (clamping and rate limits).
``safety_clamped``            bool array per joint: safety changed that target.
``is_intervention``           bool: a human teleoperator overrode the agent this step.
``teleop_action``             array: the teleoperator's action (when intervening).
``discrete_penalty``          float: a penalty for discrete gripper actions (HIL-SERL).
``rerecord_episode``          bool: the operator asked to discard and re-record.
``terminate_episode``         bool: the operator asked to stop recording altogether.
``facts``                     dict: the task's facts (sim tasks: privileged physics facts).
``control_period_s``          float: measured wall-clock period (``ControlRate``).
``control_overrun_s``         float: how late the step finished against its deadline.
============================  =========================================================

``truncated`` is never folded into ``terminated``: time limits truncate, task outcomes
terminate, and a human's "stop" sets ``terminate_episode`` in info for the recorder to act on.
"""

from __future__ import annotations

IS_SUCCESS = "is_success"
ACTION_APPLIED = "action_applied"
SAFETY_CLAMPED = "safety_clamped"
IS_INTERVENTION = "is_intervention"
TELEOP_ACTION = "teleop_action"
DISCRETE_PENALTY = "discrete_penalty"
RERECORD_EPISODE = "rerecord_episode"
TERMINATE_EPISODE = "terminate_episode"
FACTS = "facts"
CONTROL_PERIOD_S = "control_period_s"
CONTROL_OVERRUN_S = "control_overrun_s"

KEYS = (
    IS_SUCCESS,
    ACTION_APPLIED,
    SAFETY_CLAMPED,
    IS_INTERVENTION,
    TELEOP_ACTION,
    DISCRETE_PENALTY,
    RERECORD_EPISODE,
    TERMINATE_EPISODE,
    FACTS,
    CONTROL_PERIOD_S,
    CONTROL_OVERRUN_S,
)
