"""LeRobot's SO-101 calibration procedure, run through FeetechBus against the emulator.

The calibration logic (robots/so101/calibration.py) is tested elsewhere against a fake bus;
here it drives the real driver and a stateful servo model, as it would a real arm.
"""

from __future__ import annotations

import math

import numpy as np

from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.emulator import FeetechEmulator
from lerobot_gym.hardware.feetech import FeetechBus
from lerobot_gym.robots.so101.calibration import HALF_TURN_TICK
from lerobot_gym.robots.so101.calibration_procedure import (
    build_calibration,
    is_calibrated,
    read_calibration_from_bus,
    record_ranges_of_motion,
    set_half_turn_homings,
    write_calibration,
)
from lerobot_gym.robots.so101.motors import SO101_JOINT_NAMES

IDS = {name: i + 1 for i, name in enumerate(SO101_JOINT_NAMES)}
TICKS_PER_RAD = 4096 / (2 * math.pi)


def test_full_calibration_over_the_emulated_bus_survives_a_power_cycle():
    with FeetechEmulator(IDS) as emu:
        bus = FeetechBus(emu.port, {n: Motor(i) for n, i in IDS.items()}, timeout_ms=100)
        bus.connect()
        # The operator holds the arm at mid-range: raw readings are off-centre by the mounting.
        assert bus.sync_read("Present_Position") != dict.fromkeys(SO101_JOINT_NAMES, 2048)
        homings = set_half_turn_homings(bus, SO101_JOINT_NAMES)
        assert bus.sync_read("Present_Position") == dict.fromkeys(SO101_JOINT_NAMES, HALF_TURN_TICK)

        # The operator sweeps every joint through +-1 rad (the script plays the hand).
        sweep = iter(np.concatenate([np.linspace(0, 1, 5), np.linspace(1, -1, 9), [0.0]]))

        def move_and_maybe_stop() -> bool:
            angle = next(sweep, None)
            if angle is None:
                return True
            emu.set_actual_positions_rad(np.full(6, angle))
            return False

        mins, maxes = record_ranges_of_motion(bus, SO101_JOINT_NAMES, move_and_maybe_stop)
        for name in SO101_JOINT_NAMES:
            if name == "wrist_roll":  # LeRobot assumes the full turn for the wrist roll
                assert (mins[name], maxes[name]) == (0, 4095)
                continue
            assert abs(mins[name] - (HALF_TURN_TICK - TICKS_PER_RAD)) <= 2, name
            assert abs(maxes[name] - (HALF_TURN_TICK + TICKS_PER_RAD)) <= 2, name

        calibration = build_calibration({n: Motor(i) for n, i in IDS.items()}, homings, mins, maxes)
        write_calibration(bus, calibration)  # torque off, so Lock = 0: saved to EEPROM
        emu.power_cycle()
        assert is_calibrated(bus, calibration)
        assert read_calibration_from_bus(bus, {n: Motor(i) for n, i in IDS.items()}) == calibration
        # The firmware now enforces the recorded range on goals.
        bus.write("Goal_Position", "elbow_flex", 4000)
        assert bus.read("Goal_Position", "elbow_flex") == maxes["elbow_flex"]
        bus.close()
