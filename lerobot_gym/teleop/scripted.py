"""A scripted "human": a teleop device that intervenes by a rule, for tests and benchmarks.

:class:`ScriptedHuman` is a :class:`~lerobot_gym.teleop.base.Teleop` whose "operator" is code:
an ``action`` callable gives the human's action, an ``intervene`` rule says at which steps of
the episode the human takes over, and ``presses`` raise one-shot events (success, failure,
re-record, terminate) at given steps. It lets tests and benchmarks measure what intervention
does (how much of an episode a human drives, what gets recorded) without a person, and
exercises every path a real device does, including one that vanishes (``lost_at_step``).

Decision: the step count is the device's own (calls of ``events()`` since ``reset()``: every
wrapper reads the events once per step, ``get_action`` first when it needs the action), so the
device needs no access to the env; a rule that depends on the observation is written by
giving ``action``/``intervene`` a closure over the env.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from lerobot_gym.core.info import IS_INTERVENTION, check_events, no_events
from lerobot_gym.errors import ConfigError, HardwareError, NotConnectedError
from lerobot_gym.teleop.base import ACTION_KINDS

__all__ = ["ScriptedHuman", "intervene_between"]


def intervene_between(start: int, stop: int) -> Callable[[int], bool]:
    """The rule "intervene from step ``start`` up to, not including, ``stop``".

    Example:
        >>> rule = intervene_between(2, 4)
        >>> [rule(step) for step in range(5)]
        [False, False, True, True, False]
    """
    return lambda step: start <= step < stop


class ScriptedHuman:
    """A teleop device driven by code (see the module docstring).

    Args:
        action: step -> the human's action (float32; of kind ``action_kind``).
        intervene: step -> whether the human is in control at that step.
        presses: step -> event name raised at that step (e.g. ``{40: "success"}``).
        action_kind: ``"joint"`` or ``"ee_delta"`` (see :mod:`lerobot_gym.teleop.base`).
        lost_at_step: from this step on the device "vanishes": ``get_action`` raises
            :class:`~lerobot_gym.errors.HardwareError`, as an unplugged device's driver does.

    Example:
        >>> human = ScriptedHuman(lambda step: np.full(6, step), intervene_between(1, 2),
        ...                       presses={2: "success"})
        >>> human.connect()
        >>> for _ in range(3):
        ...     action = human.get_action()
        ...     events = human.events()
        ...     print(int(action[0]), events["is_intervention"], events["success"])
        0 False False
        1 True False
        2 False True
    """

    def __init__(
        self,
        action: Callable[[int], np.ndarray],
        intervene: Callable[[int], bool],
        *,
        presses: Mapping[int, str] | None = None,
        action_kind: str = "joint",
        lost_at_step: int | None = None,
    ) -> None:
        if action_kind not in ACTION_KINDS:
            raise ConfigError(f"action_kind must be one of {ACTION_KINDS}, got {action_kind!r}")
        self.action_kind = action_kind
        self._action, self._intervene = action, intervene
        self._presses = {int(k): v for k, v in (presses or {}).items()}
        check_events(dict.fromkeys(self._presses.values(), True), "ScriptedHuman presses=")
        self.lost_at_step = lost_at_step
        self.step = 0  # calls of events() since reset()
        self._connected = False

    @property
    def is_connected(self) -> bool:
        """Whether ``connect()`` ran and ``disconnect()`` has not."""
        return self._connected

    def connect(self) -> None:
        """Start (no I/O)."""
        self._connected = True

    def disconnect(self) -> None:
        """Stop."""
        self._connected = False

    def reset(self) -> None:
        """A new episode: the step count starts again at 0."""
        self.step = 0

    def get_action(self) -> np.ndarray:
        """The human's action at the present step."""
        self._check()
        return np.asarray(self._action(self.step), dtype=np.float32)

    def events(self) -> dict[str, bool]:
        """The events of the present step; then the step count advances."""
        self._check()
        events = no_events()
        events[IS_INTERVENTION] = bool(self._intervene(self.step))
        if self.step in self._presses:
            events[self._presses.pop(self.step)] = True  # one-shot: a press is reported once
        self.step += 1
        return events

    def _check(self) -> None:
        if not self._connected:
            raise NotConnectedError("the ScriptedHuman is not connected; call connect() first")
        if self.lost_at_step is not None and self.step >= self.lost_at_step:
            raise HardwareError(f"the scripted device vanished at step {self.lost_at_step}")
