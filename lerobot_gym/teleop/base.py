"""The Teleop protocol: what every input device offers to the env's wrappers.

A teleoperator (a leader arm, a keyboard, a gamepad, a scripted "human") gives two things each
control step:

* ``get_action()``: the operator's action, float32, of the kind the device declares in
  ``action_kind``:

  - ``"joint"``: absolute joint targets in the *robot's boundary units* (for the SO-101:
    degrees for the arm joints, 0..100 for the gripper), the env's own ``joint_pos`` action
    space, so it can be passed to ``env.step`` unchanged and recorded as the dataset's
    ``action`` (a leader arm);
  - ``"ee_delta"``: ``(dx, dy, dz, gripper)`` in [-1, 1], the action space of
    :class:`~lerobot_gym.wrappers.ee_delta_action.EEDeltaAction` (a keyboard, a gamepad).

  ``HumanIntervention`` checks the kind against the env it wraps, or takes a declared mapping
  (``action_map=``) from the device's action to the env's.
* ``events()``: the operator's requests, a dict with exactly the keys of
  :data:`lerobot_gym.core.info.EVENT_KEYS` (the one events vocabulary; LeRobot's
  ``TeleopEvents``, lerobot-interfaces.md section 1.7). One-shot events (success, failure,
  re-record, terminate) are reported once per press.

Devices are built by the caller and passed in (to ``lerobot-gym record``/``teleoperate`` and to
``HumanIntervention``); ``connect()`` does the I/O, never the constructor. A device that
stops answering raises :class:`~lerobot_gym.errors.HardwareError` (or a subclass) from
``get_action``/``events``; the wrapper turns that into
:class:`~lerobot_gym.errors.TeleopLostError` after making the arm safe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from lerobot_gym.core.info import (
    EVENT_KEYS,
    FAILURE,
    IS_INTERVENTION,
    RERECORD_EPISODE,
    SUCCESS,
    TERMINATE_EPISODE,
    check_events,
    no_events,
)

__all__ = [
    "ACTION_KINDS",
    "EVENT_KEYS",
    "FAILURE",
    "IS_INTERVENTION",
    "RERECORD_EPISODE",
    "SUCCESS",
    "TELEOP_EVENT_KEYS",
    "TERMINATE_EPISODE",
    "ActionKind",
    "Teleop",
    "events_from",
    "no_events",
]

ActionKind = Literal["joint", "ee_delta"]
ACTION_KINDS: tuple[str, ...] = ("joint", "ee_delta")

#: Former name of :data:`lerobot_gym.core.info.EVENT_KEYS` (the same tuple).
TELEOP_EVENT_KEYS = EVENT_KEYS


def events_from(source: Callable[[], Mapping[str, bool]] | None) -> dict[str, bool]:
    """All events, False unless ``source`` (a keyboard or pedal listener) reports them.

    Raises:
        ConfigError: ``source`` reported a key that is not a teleop event.
    """
    return check_events(source() if source is not None else {}, "events=")


@runtime_checkable
class Teleop(Protocol):
    """An input device that produces actions and operator events."""

    #: What ``get_action`` returns: ``"joint"`` or ``"ee_delta"`` (module docstring).
    action_kind: str

    @property
    def is_connected(self) -> bool:
        """Whether ``connect()`` has run and ``disconnect()`` has not."""
        ...

    def connect(self) -> None:
        """Open the device."""
        ...

    def get_action(self) -> np.ndarray:
        """The operator's action now, float32 (see ``action_kind``)."""
        ...

    def events(self) -> dict[str, bool]:
        """The operator's requests this step (keys: :data:`EVENT_KEYS`)."""
        ...

    def reset(self) -> None:
        """A new episode starts: forget unread presses and latched interventions."""
        ...

    def disconnect(self) -> None:
        """Release the device."""
        ...
