"""Teleoperators: input devices that drive an env and signal the operator's intent.

:class:`Teleop` is the protocol (see :mod:`lerobot_gym.teleop.base`); the events vocabulary is
:data:`lerobot_gym.core.info.EVENT_KEYS`. Devices: the terminal keyboard
(:mod:`~lerobot_gym.teleop.keyboard`), a gamepad (:mod:`~lerobot_gym.teleop.gamepad`), a
scripted "human" for tests and benchmarks (:mod:`~lerobot_gym.teleop.scripted`), and the
SO-101 leader arm (:class:`lerobot_gym.robots.so101.leader.SO101Leader`);
:func:`~lerobot_gym.teleop.factory.make_teleop` builds one by type name. Importing this package
loads no hardware SDK and no pygame.
"""

from lerobot_gym.core.info import EVENT_KEYS, no_events
from lerobot_gym.teleop.base import TELEOP_EVENT_KEYS, Teleop
from lerobot_gym.teleop.factory import TELEOP_TYPES, make_teleop

__all__ = ["EVENT_KEYS", "TELEOP_EVENT_KEYS", "TELEOP_TYPES", "Teleop", "make_teleop", "no_events"]
