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
``success``                   bool: the operator labelled the episode a success (ends it).
``failure``                   bool: the operator labelled the episode a failure (ends it).
``rerecord_episode``          bool: the operator asked to discard and re-record.
``terminate_episode``         bool: the operator asked to stop recording altogether.
``facts``                     dict: the task's facts (sim tasks: privileged physics facts).
``control_period_s``          float: measured wall-clock period (``ControlRate``).
``control_overrun_s``         float: how late the step finished against its deadline.
============================  =========================================================

``truncated`` is never folded into ``terminated``: time limits truncate, task outcomes
terminate, and a human's "stop" sets ``terminate_episode`` in info for the recorder to act on.

Operator events
---------------

Every input device (keyboard, leader arm, gamepad, scripted human) reports the operator's
requests with the same five keys, :data:`EVENT_KEYS` (LeRobot's ``TeleopEvents`` values,
shared/reference/lerobot-interfaces.md section 1.7); ``Teleop.events()`` returns exactly these,
the record loop acts on them, and the wrappers copy them into ``info`` under the same names:

=======================  ==================================================================
event                    what the operator asks
=======================  ==================================================================
``is_intervention``      a *state*: I am in control now (the teleop action replaces the
                         agent's while it is True)
``success``              end the episode now; it succeeded
``failure``              end the episode now; it failed
``rerecord_episode``     discard the episode in progress and record it again
``terminate_episode``    stop: save what is done and end the session
=======================  ==================================================================

Recorded data
-------------

``RecordEpisodes`` stores one frame per step in the one encoding LeRobot's RL code reads
(``ReplayBuffer.from_lerobot_dataset``; shared/reference/lerobot-dataset-v3.md section 10),
tested against LeRobot 0.4.4 in tests/compat/ (``test_lerobot_rl_columns.py``,
``test_lerobot_hil_stack.py``). Frame ``t`` holds the observation *before* step ``t`` and:

=======================================  ==========  ==============================================
column                                   dtype [1]   from
=======================================  ==========  ==============================================
``action``                               float32     ``info["action_applied"]`` (the operator's
                                                     action while intervening, after safety)
``next.reward``                          float32     the step's reward (after ``SuccessReward``,
                                                     ``RewardClassifier``, ``HumanLabels``)
``next.done``                            bool        ``terminated or truncated``
``next.success``                         bool        ``info["is_success"]`` (``lerobot-eval``'s)
``complementary_info.is_intervention``   float32     ``info["is_intervention"]`` (1.0 / 0.0)
``complementary_info.discrete_penalty``  float32     ``info["discrete_penalty"]`` (0.0 if absent)
=======================================  ==========  ==============================================

``rerecord_episode`` discards the episode in progress and ``terminate_episode`` saves it and
stops; neither is a column. A classifier trained on these frames pairs the image of frame ``t``
with the outcome of frame ``t - 1`` (:mod:`lerobot_gym.policies.reward_training`).

Decision: ``terminate_episode`` keeps this project's meaning (stop the session), not
LeRobot's gamepad's (it raises ``terminate_episode`` together with ``failure`` or
``rerecord_episode`` to end one episode): here ``success``, ``failure`` and
``rerecord_episode`` each end the episode themselves, so one flag is left to say "stop".
The last four are one-shot: a device reports a press once, at the next ``events()`` call.
"""

from __future__ import annotations

from collections.abc import Mapping

IS_SUCCESS = "is_success"
ACTION_APPLIED = "action_applied"
SAFETY_CLAMPED = "safety_clamped"
IS_INTERVENTION = "is_intervention"
TELEOP_ACTION = "teleop_action"
DISCRETE_PENALTY = "discrete_penalty"
SUCCESS = "success"
FAILURE = "failure"
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
    SUCCESS,
    FAILURE,
    TERMINATE_EPISODE,
    FACTS,
    CONTROL_PERIOD_S,
    CONTROL_OVERRUN_S,
)

EVENT_KEYS: tuple[str, ...] = (
    IS_INTERVENTION,
    SUCCESS,
    FAILURE,
    RERECORD_EPISODE,
    TERMINATE_EPISODE,
)
"""The operator events every device reports (see the module docstring)."""

#: Events that end the episode in progress (``terminate_episode`` also ends the session).
EPISODE_ENDING_EVENTS: tuple[str, ...] = (SUCCESS, FAILURE, RERECORD_EPISODE, TERMINATE_EPISODE)


def no_events() -> dict[str, bool]:
    """The events of a step in which the operator asked for nothing (all False).

    Example:
        >>> no_events()["success"], len(no_events())
        (False, 5)
    """
    return dict.fromkeys(EVENT_KEYS, False)


def check_events(events: Mapping[str, object], device: str) -> dict[str, bool]:
    """``events`` completed with False for missing keys; a typed error for an unknown key."""
    from lerobot_gym.errors import ConfigError

    out = no_events()
    for key, value in events.items():
        if key not in out:
            raise ConfigError(
                f"{device} reported the event {key!r}, which is not one of {list(EVENT_KEYS)} "
                "(lerobot_gym.core.info.EVENT_KEYS)"
            )
        out[key] = bool(value)
    return out
