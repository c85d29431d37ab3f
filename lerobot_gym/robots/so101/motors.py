"""The SO-101 motor table, as data.

The SO-101 follower and leader arms carry the same six Feetech STS3215 servos with the same ids
(LeRobot ``robots/so_follower`` and ``teleoperators/so_leader``; see
``shared/reference/lerobot-interfaces.md`` §2.1). The arm joints are reported in degrees
(zero at mid-range, LeRobot's default ``use_degrees=True``) or, in LeRobot's older convention,
in -100..100; the gripper is always 0..100.

Design decisions:
    * The motors are the package's one motor type, :class:`lerobot_gym.hardware.bus.Motor`
      (frozen records, so nothing can mutate the table); :func:`so101_motors` gives the
      ``name -> Motor`` mapping with the norm modes you want. The conversions live in
      ``normalization.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from lerobot_gym.hardware.bus import Motor, NormMode
from lerobot_gym.hardware.feetech.table import STS_RESOLUTION

__all__ = [
    "SO101_GRIPPER",
    "SO101_JOINT_NAMES",
    "SO101_MOTOR_IDS",
    "STS3215_MAX_TICK",
    "STS3215_RESOLUTION",
    "so101_motors",
]

STS3215_RESOLUTION = STS_RESOLUTION
"""Encoder ticks per revolution of an STS3215 (the Feetech control table's figure)."""

STS3215_MAX_TICK = STS3215_RESOLUTION - 1
"""Largest raw position (4095); LeRobot's DEGREES scale uses it as the full-turn divisor."""


SO101_JOINT_NAMES: tuple[str, ...] = (
    "shoulder_pan",
    "shoulder_lift",
    "elbow_flex",
    "wrist_flex",
    "wrist_roll",
    "gripper",
)
"""Motor names in bus-id order, which is also LeRobot's ``observation.state`` order."""

SO101_GRIPPER = "gripper"

SO101_MOTOR_IDS: Mapping[str, int] = MappingProxyType(
    {name: motor_id for motor_id, name in enumerate(SO101_JOINT_NAMES, start=1)}
)
"""``name -> bus id``: shoulder_pan 1 … gripper 6."""


def so101_motors(*, use_degrees: bool = True) -> dict[str, Motor]:
    """The SO-101 motor table (follower and leader are identical).

    Args:
        use_degrees: Arm joints in degrees (LeRobot's default) if True, else in -100..100.

    Returns:
        A new ``name -> Motor`` dict in bus-id order.

    Example:
        >>> motors = so101_motors()
        >>> motors["gripper"].id, motors["gripper"].norm_mode.value
        (6, 'RANGE_0_100')
        >>> so101_motors(use_degrees=False)["elbow_flex"].norm_mode.value
        'RANGE_M100_100'
    """
    arm_mode = NormMode.DEGREES if use_degrees else NormMode.RANGE_M100_100
    return {
        name: Motor(
            id=motor_id,
            model="sts3215",
            norm_mode=NormMode.RANGE_0_100 if name == SO101_GRIPPER else arm_mode,
        )
        for name, motor_id in SO101_MOTOR_IDS.items()
    }
