"""A gamepad as a teleop device: sticks jog the end effector, a trigger intervenes.

Read with pygame's joystick module (SDL), which needs no display: the video and audio drivers
are set to ``dummy`` unless the caller chose others, so it works over SSH and in CI. pygame is
imported in :meth:`GamepadTeleop.connect`, never at import (``pip install pygame``, or the
``teleop`` extra).

Default mapping (:class:`GamepadMapping`, SDL numbering of an Xbox-style pad; LeRobot's
``GamepadTeleop`` mapping, shared/reference/lerobot-interfaces.md section 1.7, where it has one):

=====================================  ==================================================
input                                  action / event
=====================================  ==================================================
left stick up / down (axis 1)          +x / -x (forward / back)
left stick left / right (axis 0)       +y / -y
right stick up / down (axis 4)         +z / -z
D-pad up / down (hat 0)                open / close the gripper
right trigger (axis 5) or RB (5) held  ``is_intervention``
Y (3)                                  ``success``
B (1)                                  ``failure``
X (2)                                  ``rerecord_episode``
Start (7)                              ``terminate_episode``
=====================================  ==================================================

Design decisions:

* The device keeps the pad's state from pygame's events (axis values, held buttons), pumped at
  each ``get_action``/``events`` call, so tests inject events with ``pygame.event.post`` and
  check the mapping without hardware, exactly the path a real pad's events take.
* A stick inside ``deadzone`` reads 0 (sticks rest a few percent off centre), and the rest of
  the travel is rescaled to 0..1, so a held stick asks for full speed.
* Button presses are one-shot events (reported once); the trigger/RB is a state.
* A pad unplugged mid-episode (``JOYDEVICEREMOVED``) raises
  :class:`~lerobot_gym.errors.HardwareError` from the next call; ``HumanIntervention`` turns it
  into :class:`~lerobot_gym.errors.TeleopLostError` after making the arm safe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from lerobot_gym.core.info import (
    FAILURE,
    IS_INTERVENTION,
    RERECORD_EPISODE,
    SUCCESS,
    TERMINATE_EPISODE,
    no_events,
)
from lerobot_gym.errors import HardwareError, MissingExtraError, NotConnectedError

__all__ = ["GamepadMapping", "GamepadTeleop"]


@dataclass(frozen=True)
class GamepadMapping:
    """Which axis, button and hat does what (SDL numbering; defaults: an Xbox-style pad).

    Axis entries are ``(axis, sign)``: the action component is ``sign * value``.
    """

    x_axis: tuple[int, float] = (1, -1.0)
    y_axis: tuple[int, float] = (0, -1.0)
    z_axis: tuple[int, float] = (4, -1.0)
    gripper_hat: int = 0
    intervention_axis: int | None = 5
    intervention_button: int | None = 5
    buttons: tuple[tuple[int, str], ...] = (
        (3, SUCCESS),
        (1, FAILURE),
        (2, RERECORD_EPISODE),
        (7, TERMINATE_EPISODE),
    )


class GamepadTeleop:
    """A gamepad read through pygame (see the module docstring); ``action_kind="ee_delta"``.

    Args:
        index: which joystick (pygame's device index).
        mapping: the input mapping.
        deadzone: stick travel read as 0.
        require_device: raise at ``connect()`` when no pad is plugged in (False: run on
            injected events only, as tests do).
    """

    action_kind = "ee_delta"

    def __init__(
        self,
        index: int = 0,
        *,
        mapping: GamepadMapping | None = None,
        deadzone: float = 0.1,
        require_device: bool = True,
    ) -> None:
        self.index, self.mapping = index, mapping or GamepadMapping()
        self.deadzone, self.require_device = float(deadzone), require_device
        self._pg: Any = None
        self._joystick: Any = None
        self._axes: dict[int, float] = {}
        self._held: set[int] = set()
        self._hat = (0, 0)
        self._events = no_events()
        self._lost = False

    @property
    def is_connected(self) -> bool:
        """Whether ``connect()`` ran and ``disconnect()`` has not."""
        return self._pg is not None

    def connect(self) -> None:
        """Start pygame's joystick module (dummy video/audio drivers) and open the pad.

        Raises:
            MissingExtraError: pygame is not installed.
            HardwareError: no pad at ``index`` (with ``require_device``).
        """
        if self._pg is not None:
            return
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            import pygame
        except ImportError as exc:
            raise MissingExtraError("pygame", "teleop", "the gamepad") from exc
        pygame.display.init()  # the event queue lives in the video subsystem
        pygame.joystick.init()
        found = pygame.joystick.get_count()
        if found > self.index:
            self._joystick = pygame.joystick.Joystick(self.index)
        elif self.require_device:
            pygame.quit()
            raise HardwareError(
                f"no gamepad at index {self.index} ({found} found); plug one in, or choose "
                "another --teleop.index"
            )
        self._pg = pygame
        self._lost = False

    def disconnect(self) -> None:
        """Close the pad and pygame."""
        if self._pg is not None:
            self._pg.quit()
            self._pg = None
            self._joystick = None

    def reset(self) -> None:
        """A new episode: forget unread presses (held inputs stay as they are)."""
        self._pump()
        self._events = no_events()

    def get_action(self) -> np.ndarray:
        """``(dx, dy, dz, gripper)`` in [-1, 1] from the sticks and the D-pad."""
        self._pump()
        m = self.mapping
        action = [self._stick(*m.x_axis), self._stick(*m.y_axis), self._stick(*m.z_axis)]
        action.append(float(self._hat[1]))  # D-pad up opens (+1), down closes (-1)
        return np.clip(np.array(action), -1.0, 1.0).astype(np.float32)

    def events(self) -> dict[str, bool]:
        """The pad's events since the last call; ``is_intervention`` while the trigger is held."""
        self._pump()
        events, self._events = self._events, no_events()
        m = self.mapping
        trigger = m.intervention_axis is not None and self._axes.get(m.intervention_axis, -1) > 0
        held = m.intervention_button is not None and m.intervention_button in self._held
        events[IS_INTERVENTION] = bool(trigger or held)
        return events

    def handle(self, event: Any) -> None:
        """Update the pad's state from one pygame event (``_pump`` calls it for each)."""
        pg = self._pg
        if event.type == pg.JOYAXISMOTION:
            self._axes[event.axis] = float(event.value)
        elif event.type == pg.JOYBUTTONDOWN:
            self._held.add(event.button)
            for button, name in self.mapping.buttons:
                if event.button == button:
                    self._events[name] = True
        elif event.type == pg.JOYBUTTONUP:
            self._held.discard(event.button)
        elif event.type == pg.JOYHATMOTION and event.hat == self.mapping.gripper_hat:
            self._hat = tuple(event.value)
        elif event.type == pg.JOYDEVICEREMOVED:
            self._lost = True

    def _pump(self) -> None:
        if self._pg is None:
            raise NotConnectedError("the gamepad is not connected; call connect() first")
        for event in self._pg.event.get():
            self.handle(event)
        if self._lost:
            raise HardwareError(
                f"the gamepad at index {self.index} was unplugged; plug it back in and reconnect"
            )

    def _stick(self, axis: int, sign: float) -> float:
        value = self._axes.get(axis, 0.0)
        magnitude = max(0.0, abs(value) - self.deadzone) / (1.0 - self.deadzone)
        return sign * float(np.sign(value)) * min(magnitude, 1.0)
