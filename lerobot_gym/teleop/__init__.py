"""Teleoperators: input devices that drive an env and signal the operator's intent.

:class:`Teleop` is the protocol (see :mod:`lerobot_gym.teleop.base`). Devices live with their
robot or in their own module and are imported from there, so importing this package loads no
hardware SDK: the SO-101 leader arm is
:class:`lerobot_gym.robots.so101.leader.SO101Leader`.
"""

from lerobot_gym.teleop.base import TELEOP_EVENT_KEYS, Teleop, no_events

__all__ = ["TELEOP_EVENT_KEYS", "Teleop", "no_events"]
