"""GamepadTeleop: the mapping checked with events injected into pygame's queue (no pad)."""

from __future__ import annotations

import os

import numpy as np
import pygame  # the `teleop` extra, part of `all`
import pytest

from lerobot_gym.core.info import no_events
from lerobot_gym.errors import HardwareError, NotConnectedError
from lerobot_gym.teleop import Teleop
from lerobot_gym.teleop.gamepad import GamepadTeleop


@pytest.fixture
def pad():
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ["SDL_AUDIODRIVER"] = "dummy"
    device = GamepadTeleop(require_device=False)
    device.connect()
    yield device
    device.disconnect()


def _post(kind, **fields) -> None:
    pygame.event.post(pygame.event.Event(kind, joy=0, instance_id=0, **fields))


def test_sticks_map_to_end_effector_deltas_with_a_deadzone(pad):
    assert isinstance(pad, Teleop) and pad.action_kind == "ee_delta"
    np.testing.assert_array_equal(pad.get_action(), [0, 0, 0, 0])  # at rest: hold
    _post(pygame.JOYAXISMOTION, axis=1, value=-1.0)  # left stick fully up: forward
    _post(pygame.JOYAXISMOTION, axis=0, value=0.55)  # left stick half right: -y
    _post(pygame.JOYAXISMOTION, axis=4, value=0.05)  # right stick inside the deadzone
    action = pad.get_action()
    assert action.dtype == np.float32
    np.testing.assert_allclose(action, [1.0, -0.5, 0.0, 0.0], atol=1e-6)
    _post(pygame.JOYAXISMOTION, axis=4, value=-1.0)  # right stick up: +z
    _post(pygame.JOYAXISMOTION, axis=1, value=0.0)
    np.testing.assert_allclose(pad.get_action(), [0.0, -0.5, 1.0, 0.0], atol=1e-6)


def test_dpad_opens_and_closes_the_gripper(pad):
    _post(pygame.JOYHATMOTION, hat=0, value=(0, 1))
    assert pad.get_action()[3] == 1.0
    _post(pygame.JOYHATMOTION, hat=0, value=(0, -1))
    assert pad.get_action()[3] == -1.0
    _post(pygame.JOYHATMOTION, hat=0, value=(0, 0))
    assert pad.get_action()[3] == 0.0


def test_trigger_or_bumper_held_is_intervention(pad):
    assert pad.events() == no_events()
    _post(pygame.JOYAXISMOTION, axis=5, value=0.9)  # right trigger pulled
    assert pad.events()["is_intervention"] and pad.events()["is_intervention"]  # a state
    _post(pygame.JOYAXISMOTION, axis=5, value=-1.0)  # released
    assert not pad.events()["is_intervention"]
    _post(pygame.JOYBUTTONDOWN, button=5)  # RB held
    assert pad.events()["is_intervention"]
    _post(pygame.JOYBUTTONUP, button=5)
    assert not pad.events()["is_intervention"]


@pytest.mark.parametrize(
    ("button", "event"),
    [(3, "success"), (1, "failure"), (2, "rerecord_episode"), (7, "terminate_episode")],
)
def test_buttons_raise_one_shot_events(pad, button, event):
    _post(pygame.JOYBUTTONDOWN, button=button)
    _post(pygame.JOYBUTTONUP, button=button)
    assert pad.events() == {**no_events(), event: True}
    assert pad.events() == no_events()  # reported once


def test_reset_drops_unread_presses(pad):
    _post(pygame.JOYBUTTONDOWN, button=3)
    pad.reset()
    assert not pad.events()["success"]


def test_an_unplugged_pad_is_a_hardware_error(pad):
    _post(pygame.JOYDEVICEREMOVED)
    with pytest.raises(HardwareError, match="unplugged"):
        pad.get_action()


def test_no_pad_and_not_connected_are_typed_errors():
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    with pytest.raises(HardwareError, match="no gamepad at index 3"):
        GamepadTeleop(index=3).connect()
    with pytest.raises(NotConnectedError):
        GamepadTeleop().get_action()
