"""make_teleop: devices by type name; unknown types and options are typed errors."""

from __future__ import annotations

import pytest

from lerobot_gym.errors import ConfigError, UnknownTeleopError
from lerobot_gym.robots.so101.leader import SO101Leader
from lerobot_gym.teleop import TELEOP_TYPES, Teleop, make_teleop
from lerobot_gym.teleop.keyboard import TerminalKeyboard


def test_known_types_build_unconnected_devices():
    keyboard = make_teleop("keyboard", fd=-1)
    assert isinstance(keyboard, TerminalKeyboard) and not keyboard.is_connected
    leader = make_teleop("so101_leader", port="/dev/null", intervention_threshold_deg=10.0)
    assert isinstance(leader, SO101Leader) and isinstance(leader, Teleop)
    assert not leader.is_connected and leader.action_kind == "joint"
    assert set(TELEOP_TYPES) == {"keyboard", "gamepad", "so101_leader"}


def test_an_unknown_teleop_type_lists_the_known_ones():
    with pytest.raises(UnknownTeleopError, match=r"'phone'.*gamepad, keyboard, so101_leader"):
        make_teleop("phone")
    with pytest.raises(KeyError):  # also a KeyError, as an unknown name in a registry is
        make_teleop("phone")


def test_an_unknown_option_lists_the_devices_options():
    with pytest.raises(ConfigError, match=r"'baud'.*port"):
        make_teleop("so101_leader", port="/dev/null", baud=1)
