"""Build a teleop device from its type name: the one lookup behind ``--teleop.type``.

:func:`make_teleop` knows the devices of this package by name (:data:`TELEOP_TYPES`); each
factory imports its device lazily, so asking for a keyboard loads no servo SDK and asking for a
leader arm loads no pygame. An unknown name is a :class:`~lerobot_gym.errors.UnknownTeleopError`
listing the known ones; an unknown option is a :class:`~lerobot_gym.errors.ConfigError` listing
the device's options. Devices come back unconnected (``connect()`` does the I/O).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from lerobot_gym.errors import ConfigError, UnknownTeleopError
from lerobot_gym.teleop.base import Teleop

__all__ = ["TELEOP_TYPES", "make_teleop"]


def _keyboard() -> type:
    from lerobot_gym.teleop.keyboard import TerminalKeyboard

    return TerminalKeyboard


def _gamepad() -> type:
    from lerobot_gym.teleop.gamepad import GamepadTeleop

    return GamepadTeleop


def _so101_leader() -> type:
    from lerobot_gym.robots.so101.leader import SO101Leader

    return SO101Leader


#: type name -> the device class (imported on use).
TELEOP_TYPES: dict[str, Callable[[], type]] = {
    "keyboard": _keyboard,
    "gamepad": _gamepad,
    "so101_leader": _so101_leader,
}


def make_teleop(teleop_type: str, **options: Any) -> Teleop:
    """An unconnected teleop device of type ``teleop_type`` built with ``options``.

    Example:
        >>> make_teleop("keyboard", fd=-1).action_kind
        'ee_delta'
        >>> try:
        ...     make_teleop("joystick")
        ... except KeyError as exc:
        ...     print(exc)
        unknown teleop type 'joystick'; known: gamepad, keyboard, so101_leader
    """
    if teleop_type not in TELEOP_TYPES:
        raise UnknownTeleopError(
            f"unknown teleop type {teleop_type!r}; known: {', '.join(sorted(TELEOP_TYPES))}"
        )
    cls = TELEOP_TYPES[teleop_type]()
    accepted = [
        name
        for name, p in inspect.signature(cls).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{unknown[0]!r} is not an option of teleop type {teleop_type!r}; options: "
            + ", ".join(accepted)
        )
    device: Teleop = cls(**options)
    return device
