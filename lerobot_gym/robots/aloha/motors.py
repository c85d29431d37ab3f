"""The ALOHA's arms as servo tables: ViperX 300 S followers and WidowX 250 S leaders.

Owns the motor tables (ids, models, shadows, Interbotix drive modes), the gripper's tick <->
finger-position mapping, and the registers written at connect (:func:`configure_arm`), the way
the ALOHA (tonyzhaozh/aloha ``robot_utils.py``, Interbotix ``vx300s``/``wx250s`` motor configs) and
LeRobot's pre-redesign ALOHA config set them up.

Design decisions:
    * Motor names are the spec's joint names (``left_waist`` .. ``left_gripper``), so the
      generic servo-arm backend maps joints to motors by name; shadows are ``<arm>_shoulder_shadow``
      and ``<arm>_elbow_shadow``, reached only through their primary (Secondary_ID).
    * Follower: arm joints in position mode (3, the ALOHA puppet's "position"), the gripper in
      current-based position (5) with Current_Limit 200 (the ALOHA README's puppet gripper), so
      squeezing an object cannot overheat it. Leader: arm joints in PWM (16, the ALOHA master's
      "pwm"), gripper in position mode (its XC430 has no current mode), torque off throughout.
      Velocity_Limit 131 and Return_Delay_Time 0 everywhere (Interbotix).
    * Drive_Mode (reverse) as Interbotix sets it: on the follower's shoulder, elbow and
      wrist_angle; on the leader's two shadows and wrist_angle. A write to a primary also
      reaches its shadow, so EEPROM registers are written with the shadows detached
      (Secondary_ID 255), each shadow by its own id, and the shadows attached last.
    * The gripper motor's ticks map linearly to the finger position in metres between the
      calibrated ``range_min`` (closed, ACT's ``PUPPET_GRIPPER_POSITION_CLOSE``) and
      ``range_max`` (open, ``_OPEN``): the spec's gripper joint is that finger position, and
      the env normalises it to 0 closed .. 1 open as the ``aloha_sim_*`` datasets do. The
      linkage between horn angle and finger (servo-protocols.md §3.3) is close to linear over
      the travel; the calibration's end points make it exact at both ends.

Sources: shared/reference/servo-protocols.md §3.3 (motor map, shadows, modes, gripper
constants) and lerobot-interfaces.md §2.7 (LeRobot's deleted ViperX motor map).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from lerobot_gym.assets.aloha import ARM_JOINTS, ARMS
from lerobot_gym.errors import ConfigError
from lerobot_gym.hardware.bus import Motor, NormMode
from lerobot_gym.hardware.dynamixel.bus import Shadow
from lerobot_gym.hardware.dynamixel.table import OperatingMode

__all__ = [
    "FOLLOWER_GRIPPER_JOINT_RAD",
    "LEADER_GRIPPER_JOINT_RAD",
    "arm_motors",
    "arm_shadows",
    "configure_arm",
    "drive_modes",
]

KINDS = ("follower", "leader")
# joint -> (follower model, leader model); ids 1..9 with shadows 3 and 5 (§3.3).
_MODELS = {
    "waist": ("xm540-w270", "xm430-w350"),
    "shoulder": ("xm540-w270", "xm430-w350"),
    "elbow": ("xm540-w270", "xm430-w350"),
    "forearm_roll": ("xm540-w270", "xm430-w350"),
    "wrist_angle": ("xm540-w270", "xm430-w350"),
    "wrist_rotate": ("xm430-w350", "xl430-w250"),
    "gripper": ("xm430-w350", "xc430-w150"),
}
_IDS = {
    "waist": 1,
    "shoulder": 2,
    "elbow": 4,
    "forearm_roll": 6,
    "wrist_angle": 7,
    "wrist_rotate": 8,
    "gripper": 9,
}
_SHADOWS = {"shoulder_shadow": (3, "shoulder"), "elbow_shadow": (5, "elbow")}
_REVERSED = {
    "follower": frozenset({"shoulder", "elbow", "wrist_angle"}),
    "leader": frozenset({"shoulder_shadow", "elbow_shadow", "wrist_angle"}),
}
#: ACT's gripper joint (horn) angles, closed and open, in radians.
FOLLOWER_GRIPPER_JOINT_RAD = (-0.6213, 1.4910)
LEADER_GRIPPER_JOINT_RAD = (-0.6842, 0.3083)
GRIPPER_CURRENT_LIMIT = 200
VELOCITY_LIMIT = 131


def _check(kind: str, arm: str) -> int:
    if kind not in KINDS or arm not in ARMS:
        raise ConfigError(f"an ALOHA arm is {KINDS} x {ARMS}, got {kind!r} {arm!r}")
    return KINDS.index(kind)


def arm_motors(kind: str, arm: str) -> dict[str, Motor]:
    """Motor name (``<arm>_<joint>``) -> :class:`Motor`, in the spec's joint order."""
    k = _check(kind, arm)
    motors = {
        f"{arm}_{joint}": Motor(_IDS[joint], _MODELS[joint][k], NormMode.DEGREES)
        for joint in ARM_JOINTS
    }
    motors[f"{arm}_gripper"] = Motor(_IDS["gripper"], _MODELS["gripper"][k], NormMode.RANGE_0_100)
    return motors


def arm_shadows(kind: str, arm: str) -> dict[str, Shadow]:
    """Shadow name -> :class:`Shadow` of its primary (same model as the primary)."""
    k = _check(kind, arm)
    return {
        f"{arm}_{name}": Shadow(f"{arm}_{primary}", Motor(servo_id, _MODELS[primary][k]))
        for name, (servo_id, primary) in _SHADOWS.items()
    }


def drive_modes(kind: str, arm: str) -> dict[str, int]:
    """Motor or shadow name -> Drive_Mode (1: reversed), as Interbotix configures the arm."""
    _check(kind, arm)
    names = [*ARM_JOINTS, "gripper", *_SHADOWS]
    return {f"{arm}_{n}": int(n in _REVERSED[kind]) for n in names}


def gripper_joint_rad(kind: str) -> tuple[float, float]:
    """The gripper horn's (closed, open) angles of this kind of arm (ACT constants)."""
    return FOLLOWER_GRIPPER_JOINT_RAD if kind == "follower" else LEADER_GRIPPER_JOINT_RAD


def configure_arm(
    bus: object, kind: str, arm: str, limits: Mapping[str, tuple[int, int, int]]
) -> None:
    """Write an arm's registers (torque off first; the backend enables it afterwards).

    Args:
        bus: The arm's connected :class:`~lerobot_gym.hardware.dynamixel.DynamixelBus`.
        kind: ``"follower"`` or ``"leader"``.
        arm: ``"left"`` or ``"right"``.
        limits: Motor name -> (Homing_Offset, Min_Position_Limit, Max_Position_Limit) from the
            calibration.
    """
    from lerobot_gym.hardware.dynamixel import DynamixelBus

    assert isinstance(bus, DynamixelBus)
    modes = drive_modes(kind, arm)
    bus.disable_torque()
    for shadow in bus.shadows.values():  # detach: EEPROM writes to primaries stay theirs
        bus._write_id(shadow.motor.id, "Torque_Enable", 0)
        bus._write_id(shadow.motor.id, "Secondary_ID", 255)
    gripper = f"{arm}_gripper"
    arm_names = [n for n in bus.motors if n != gripper]
    for register in ("Return_Delay_Time", "Velocity_Limit", "Drive_Mode", "Homing_Offset"):
        for name in bus.motors:
            value = {
                "Return_Delay_Time": 0,
                "Velocity_Limit": VELOCITY_LIMIT,
                "Drive_Mode": modes[name],
                "Homing_Offset": limits[name][0],
            }[register]
            bus.write(register, name, value)
    for name in bus.motors:
        bus.write("Min_Position_Limit", name, limits[name][1])
        bus.write("Max_Position_Limit", name, limits[name][2])
    if kind == "follower":
        bus.set_operating_mode(OperatingMode.POSITION, arm_names)
        bus.set_operating_mode(OperatingMode.CURRENT_BASED_POSITION, [gripper])
        bus.write("Current_Limit", gripper, GRIPPER_CURRENT_LIMIT)
    else:
        bus.set_operating_mode(OperatingMode.PWM, arm_names)
        bus.set_operating_mode(OperatingMode.POSITION, [gripper])
    for name, shadow in bus.shadows.items():
        primary = bus.motors[shadow.primary]
        for register, value in (
            ("Return_Delay_Time", 0),
            ("Velocity_Limit", VELOCITY_LIMIT),
            ("Drive_Mode", modes[name]),
            ("Homing_Offset", limits[shadow.primary][0]),
            ("Operating_Mode", int(_mode_of(kind))),
        ):
            bus._write_id(shadow.motor.id, register, value)
        del primary
    bus.configure_shadows()


def _mode_of(kind: str) -> OperatingMode:
    return OperatingMode.POSITION if kind == "follower" else OperatingMode.PWM


TICKS_PER_RAD = 4096 / (2 * math.pi)
