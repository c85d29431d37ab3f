"""The SO-101's register configuration on its Feetech bus, as lerobot's SO follower/leader do it.

Robot configuration, not bus code: :mod:`lerobot_gym.hardware` knows no robot.

Source: shared/reference/lerobot-interfaces.md §2.5 (registers written at configure).
"""

from __future__ import annotations

from lerobot_gym.hardware.feetech.bus import FeetechBus


def configure_so101_follower(
    bus: FeetechBus,
    *,
    p_coefficient: int = 16,
    i_coefficient: int = 0,
    d_coefficient: int = 32,
    gripper: str | None = "gripper",
    gripper_max_torque_limit: int = 500,
    gripper_protection_current: int = 250,
    gripper_overload_torque: int = 25,
) -> None:
    """Configure an SO-101 follower's servos as lerobot's ``SOFollower.configure`` does.

    With torque disabled: :meth:`FeetechBus.configure_motors`, Operating_Mode 0 (position),
    P/I/D coefficients, and for the gripper a 50 % torque limit, Protection_Current 250 and
    Overload_Torque 25 so squeezing an object does not overheat it. Torque is enabled again
    afterwards (lerobot-interfaces.md §2.5).
    """
    with bus.torque_disabled():
        bus.configure_motors()
        for name in bus.motors:
            bus.write("Operating_Mode", name, 0)
            bus.write("P_Coefficient", name, p_coefficient)
            bus.write("I_Coefficient", name, i_coefficient)
            bus.write("D_Coefficient", name, d_coefficient)
        if gripper is not None and gripper in bus.motors:
            bus.write("Max_Torque_Limit", gripper, gripper_max_torque_limit)
            bus.write("Protection_Current", gripper, gripper_protection_current)
            bus.write("Overload_Torque", gripper, gripper_overload_torque)


def configure_so101_leader(bus: FeetechBus) -> None:
    """Configure an SO-101 leader arm: torque off (moved by hand), configure, position mode."""
    bus.disable_torque()
    bus.configure_motors()
    for name in bus.motors:
        bus.write("Operating_Mode", name, 0)
