"""The generic servo-arm backend over two buses (the ALOHA's shape), on two pty emulators.

The SO-101's six joints are split over two emulated Feetech buses with a plain linear
calibration: the same backend code that drives the SO-101 on one bus must connect, command,
read, stop and close a robot whose joints live on several buses.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from lerobot_gym.errors import ConfigError, HardwareError
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.emulator import FeetechEmulator, FirstOrderPlant
from lerobot_gym.hardware.emulator.servo import TICKS_PER_RAD
from lerobot_gym.hardware.feetech import FeetechBus
from lerobot_gym.hardware.servo_arm import ArmConnection, MotionSettings, ServoArm
from lerobot_gym.robots.so101.spec import SO101

NAMES = SO101.joint_names
LEFT, RIGHT = NAMES[:3], NAMES[3:]


class Linear:
    """Ticks = 2048 + rad * ticks-per-radian (the emulator with no mounting offsets)."""

    rad_per_tick = np.full(len(NAMES), 1 / TICKS_PER_RAD)

    def ticks_from_rad(self, q_rad):
        return np.round(2048 + np.asarray(q_rad) * TICKS_PER_RAD).astype(np.int64)

    def rad_from_ticks(self, ticks):
        return (np.asarray(ticks, dtype=np.float64) - 2048) / TICKS_PER_RAD


class TwoBusArm(ServoArm):
    def __init__(self, ports, joint_split=(LEFT, RIGHT)):
        super().__init__(SO101, MotionSettings(max_speed_deg_s=720.0, settle_timeout_s=5.0))
        self.ports, self.joint_split = ports, joint_split

    def open_buses(self):
        buses = []
        for port, names in zip(self.ports, self.joint_split):
            motors = {n: Motor(i + 1) for i, n in enumerate(names)}
            bus = FeetechBus(port, motors, timeout_ms=100)
            bus.connect()
            buses.append(bus)
        return ArmConnection(buses, Linear())


@pytest.fixture
def emulators():
    plants = [FirstOrderPlant(3, time_constant_s=0.01) for _ in range(2)]
    emus = [
        FeetechEmulator(
            {n: i + 1 for i, n in enumerate(names)},
            plant=plant,
            mounting_offsets_ticks=dict.fromkeys(names, 0),
        )
        for names, plant in zip((LEFT, RIGHT), plants)
    ]
    for emu in emus:
        emu.start()
    yield emus
    for emu in emus:
        emu.stop()


def _torque(emus):
    return [
        emu.register("Torque_Enable", n) for emu, names in zip(emus, (LEFT, RIGHT)) for n in names
    ]


def test_one_backend_drives_joints_split_over_two_buses(emulators):
    arm = TwoBusArm([e.port for e in emulators])
    assert not arm.is_connected  # no I/O at construction
    arm.connect()
    try:
        assert _torque(emulators) == [1] * 6
        target = np.array([0.3, -0.4, 0.5, -0.2, 0.1, 0.6])
        arm.reset(target)
        state = arm.read()
        # Settled: within the 2 degree tolerance of the reset.
        assert state.joint_positions_rad == pytest.approx(target, abs=np.radians(2.1))
        # Each bus got its own joints' goals.
        assert emulators[1].goal_positions_rad() == pytest.approx(target[3:], abs=0.002)
        assert arm.bus_stats["transactions"] > 0
        arm.fail_safe()
        deadline = time.monotonic() + 2.0
        while any(_torque(emulators)) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _torque(emulators) == [0] * 6  # torque off on both buses
        with pytest.raises(HardwareError, match=r"env\.reset\(\)"):
            arm.command(target)
        arm.reset(np.zeros(6))  # re-enables torque, holding, then moves
        assert _torque(emulators) == [1] * 6
    finally:
        arm.close()
    assert _torque(emulators) == [0] * 6 and not arm.is_connected


def test_buses_that_do_not_cover_the_joints_are_refused_and_released(emulators):
    arm = TwoBusArm([e.port for e in emulators], joint_split=(LEFT, RIGHT[:2]))
    with pytest.raises(ConfigError, match="each joint needs exactly one motor"):
        arm.connect()
    assert not arm.is_connected
    # The ports were released: a new bus can take them.
    again = TwoBusArm([e.port for e in emulators])
    again.connect()
    again.close()
