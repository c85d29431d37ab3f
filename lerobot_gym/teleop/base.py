"""The Teleop protocol: what every input device offers to the env's wrappers.

A teleoperator (a leader arm, a keyboard, a gamepad, a phone) gives two things each control
step:

* ``get_action()``: an action in the *robot's boundary units* (for the SO-101: degrees for the
  arm joints, 0..100 for the gripper), so it can be passed to ``env.step`` unchanged and
  recorded as the dataset's ``action``;
* ``get_teleop_events()``: the operator's requests, a dict with exactly the keys of
  :data:`TELEOP_EVENT_KEYS` (LeRobot's ``TeleopEvents``, lerobot-interfaces.md §1.7).

Devices are built by the caller and passed in (to ``lerobot-gym record``/``teleoperate``, and to
the planned ``HumanIntervention`` wrapper);
``connect()`` does the I/O, never the constructor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

import numpy as np

from lerobot_gym.errors import ConfigError

__all__ = [
    "FAILURE",
    "IS_INTERVENTION",
    "RERECORD_EPISODE",
    "SUCCESS",
    "TELEOP_EVENT_KEYS",
    "TERMINATE_EPISODE",
    "Teleop",
    "events_from",
    "no_events",
]

IS_INTERVENTION = "is_intervention"
"""The operator is in control this step (the agent's action is overridden)."""
TERMINATE_EPISODE = "terminate_episode"
"""End the episode now (and, when recording, stop)."""
SUCCESS = "success"
"""The operator labels the episode a success."""
FAILURE = "failure"
"""The operator labels the episode a failure."""
RERECORD_EPISODE = "rerecord_episode"
"""Discard the episode in progress and record it again."""

TELEOP_EVENT_KEYS: tuple[str, ...] = (
    IS_INTERVENTION,
    TERMINATE_EPISODE,
    SUCCESS,
    FAILURE,
    RERECORD_EPISODE,
)


def no_events() -> dict[str, bool]:
    """The events of a step in which the operator asked for nothing (all False)."""
    return dict.fromkeys(TELEOP_EVENT_KEYS, False)


def events_from(source: Callable[[], Mapping[str, bool]] | None) -> dict[str, bool]:
    """All events, False unless ``source`` (a keyboard or pedal listener) reports them.

    Raises:
        ConfigError: ``source`` reported a key that is not a teleop event.
    """
    events = no_events()
    for key, value in (source() if source is not None else {}).items():
        if key not in TELEOP_EVENT_KEYS:
            raise ConfigError(f"teleop event {key!r} is not one of {list(TELEOP_EVENT_KEYS)}")
        events[key] = bool(value)
    return events


@runtime_checkable
class Teleop(Protocol):
    """An input device that produces actions and operator events."""

    @property
    def is_connected(self) -> bool:
        """Whether ``connect()`` has run and ``disconnect()`` has not."""
        ...

    def connect(self) -> None:
        """Open the device."""
        ...

    def get_action(self) -> np.ndarray:
        """The operator's action now, float32, in the robot's boundary units."""
        ...

    def get_teleop_events(self) -> dict[str, bool]:
        """The operator's requests this step (keys: :data:`TELEOP_EVENT_KEYS`)."""
        ...

    def disconnect(self) -> None:
        """Release the device."""
        ...
