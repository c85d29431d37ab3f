"""SO101Hardware end to end over the bus emulator (fast numpy plant): connect, units, limits.

The MuJoCo-backed emulated env is tested in test_so101_emulated_env.py; faults in
tests/hardware/test_faults_e2e.py.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from lerobot_gym.errors import CalibrationError, ConfigError, NotConnectedError
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.feetech import FeetechBus
from lerobot_gym.robots.so101.calibration import (
    HALF_TURN_TICK,
    calibration_path,
    load_calibration,
    save_calibration,
)
from lerobot_gym.robots.so101.calibration_procedure import (
    build_calibration,
    is_calibrated,
    record_ranges_of_motion,
    set_half_turn_homings,
)
from lerobot_gym.robots.so101.emulated import EmulatedSO101, factory_calibration
from lerobot_gym.robots.so101.hardware import SO101Hardware, SO101HardwareConfig
from lerobot_gym.robots.so101.motors import so101_motors
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.robots.so101.ticks import TickConverter, degrees_to_m100, m100_to_degrees

NAMES = SO101.joint_names


@pytest.fixture
def arm():
    with EmulatedSO101("follower", plant="first_order") as emulated:
        yield emulated


def _backend(arm: EmulatedSO101, **overrides) -> SO101Hardware:
    settings = {"max_speed_deg_s": 360.0, "bus_timeout_ms": 50.0, "bus_retries": 2, **overrides}
    config = SO101HardwareConfig(port=arm.port, calibration_dir=arm.calibration_dir, **settings)
    return SO101Hardware(SO101, config, fps=30, image_size=(24, 32))


def test_constructor_does_no_io_and_use_before_connect_is_a_typed_error():
    backend = SO101Hardware(SO101, SO101HardwareConfig(port="/dev/ttyDOES_NOT_EXIST"))
    assert not backend.is_connected and backend.world is None
    with pytest.raises(NotConnectedError, match=r"env\.reset"):
        backend.read()
    backend.fail_safe()  # nothing to make safe; must not raise
    backend.close()


def test_a_port_is_required():
    with pytest.raises(ConfigError, match="lerobot-gym find-port"):
        SO101HardwareConfig(port="")


def test_connect_writes_the_calibration_and_lerobot_registers(arm):
    emu = arm.emulator
    assert emu.register("Homing_Offset", "shoulder_pan") == 0  # a fresh, uncalibrated arm
    backend = _backend(arm)
    backend.connect()
    try:
        assert is_calibrated(backend.bus, arm.calibration)
        for name in NAMES:
            cal = arm.calibration[name]
            assert emu.register("Min_Position_Limit", name) == cal.range_min
            assert emu.register("Max_Position_Limit", name) == cal.range_max
            assert emu.register("Return_Delay_Time", name) == 0
            assert emu.register("P_Coefficient", name) == 16
            assert emu.register("D_Coefficient", name) == 32
            assert emu.register("Torque_Enable", name) == 1
        assert emu.register("Max_Torque_Limit", "gripper") == 500
        assert emu.register("Overload_Torque", "gripper") == 25
    finally:
        backend.close()
    assert all(emu.register("Torque_Enable", n) == 0 for n in NAMES)


def test_close_keeps_torque_when_asked(arm):
    backend = _backend(arm, disable_torque_on_close=False)
    backend.connect()
    backend.close()
    assert not backend.is_connected
    assert all(arm.emulator.register("Torque_Enable", n) == 1 for n in NAMES)


def test_missing_calibration_names_the_calibrate_command(arm, tmp_path):
    backend = _backend(arm)
    backend.config = dataclasses.replace(backend.config, calibration_dir=tmp_path)
    with pytest.raises(CalibrationError) as err:
        backend.connect()
    message = str(err.value)
    assert "lerobot-gym calibrate --robot.type=so101_follower" in message
    assert f"--robot.port={arm.port}" in message and "--robot.id=follower" in message
    assert f"--robot.calibration_dir={tmp_path}" in message
    assert not backend.is_connected


def test_a_corrupt_calibration_gives_the_fix_once(arm, tmp_path):
    (tmp_path / "follower.json").write_text('{"shoulder_pan": 3}')
    backend = _backend(arm)
    backend.config = dataclasses.replace(backend.config, calibration_dir=tmp_path)
    with pytest.raises(CalibrationError) as err:
        backend.connect()
    message = str(err.value)
    assert message.count("lerobot-gym calibrate") == 1
    assert (
        f"`lerobot-gym calibrate --robot.type=so101_follower --robot.port={arm.port} "
        f"--robot.id=follower --robot.calibration_dir={tmp_path}`"
    ) in message


def test_connect_sets_goals_to_the_present_pose_before_enabling_torque(arm, monkeypatch):
    # Real firmware may keep a stale goal while torque is off: enabling would jump to it.
    writes: list[tuple[str, str, int]] = []
    original = FeetechBus.write

    def recording_write(self, register, motor, value, **kwargs):
        writes.append((register, motor, value))
        original(self, register, motor, value, **kwargs)

    monkeypatch.setattr(FeetechBus, "write", recording_write)
    backend = _backend(arm)
    backend.connect()
    try:
        present = {n: arm.emulator.register("Present_Position", n) for n in NAMES}
        for name in NAMES:
            torque = [i for i, w in enumerate(writes) if w[:2] == ("Torque_Enable", name)]
            goals = [i for i, w in enumerate(writes) if w[:2] == ("Goal_Position", name)]
            enables = [t for t in torque if writes[t][2] == 1]
            assert enables, f"torque of {name} never enabled"
            # Every enable follows a goal write made since the torque was last written.
            for t in enables:
                previous = max((i for i in torque if i < t), default=-1)
                assert any(previous < g < t for g in goals), f"{name}: no goal before enable"
            assert abs(writes[goals[-1]][2] - present[name]) <= 2
    finally:
        backend.close()


@pytest.mark.parametrize("use_degrees", [True, False])
def test_read_reports_the_arm_pose_in_si(arm, use_degrees):
    pose = np.array([0.4, -0.9, 1.1, 0.3, -1.5, 0.6])
    arm.emulator.set_actual_positions_rad(pose)
    backend = _backend(arm, use_degrees=use_degrees)
    backend.connect()
    try:
        state = backend.read()
        # One tick is 0.088 deg; LeRobot's 4095-for-4096 scale adds < 0.05 deg at 1.5 rad.
        np.testing.assert_allclose(state.joint_positions_rad, pose, atol=math.radians(0.2))
        assert state.extras["present_ticks"].dtype == np.int64
    finally:
        backend.close()


@pytest.mark.parametrize("use_degrees", [True, False])
def test_unit_path_round_trips_within_a_tick(use_degrees):
    cal = factory_calibration(SO101, dict.fromkeys(NAMES, 37))
    conv = TickConverter(SO101, cal, use_degrees=use_degrees)
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = rng.uniform(SO101.lower_rad, SO101.upper_rad)
        ticks = conv.ticks_from_rad(q)
        assert np.all(ticks >= conv.range_min) and np.all(ticks <= conv.range_max)
        np.testing.assert_array_less(
            np.abs(conv.rad_from_ticks(ticks) - q), 2.5 * conv.rad_per_tick
        )
    # The two LeRobot conventions address the same ticks (to LeRobot's int truncation).
    other = TickConverter(SO101, cal, use_degrees=not use_degrees)
    q = rng.uniform(SO101.lower_rad, SO101.upper_rad)
    assert np.max(np.abs(conv.ticks_from_rad(q) - other.ticks_from_rad(q))) <= 1


def test_m100_helpers_convert_older_datasets_to_degrees():
    cal = load_like_lerobot_example()
    m100 = np.array([[100.0, -100.0, 0.0, 50.0, -100.0, 42.0], [0, 0, 0, 0, 0, 0]])
    deg = m100_to_degrees(m100, cal)
    span = cal["shoulder_pan"].range_max - cal["shoulder_pan"].range_min
    assert deg[0, 0] == pytest.approx(span / 2 * 360 / 4095)  # +100 is the range's top end
    assert deg[0, 4] == pytest.approx(-180.0, abs=0.05)  # wrist roll over the full turn
    assert deg[0, 5] == 42.0 and deg[1, 5] == 0.0  # the gripper is 0..100 in both
    np.testing.assert_allclose(degrees_to_m100(deg, cal), m100)
    with pytest.raises(ConfigError, match="6 values"):
        m100_to_degrees([1.0, 2.0], cal)


def load_like_lerobot_example():
    """The illustrative calibration of lerobot-interfaces.md §2.3."""
    rows = {
        "shoulder_pan": (2023, 865, 3280),
        "shoulder_lift": (-2008, 817, 3361),
        "elbow_flex": (-1928, 852, 3047),
        "wrist_flex": (-1345, 824, 3167),
        "wrist_roll": (1052, 0, 4095),
        "gripper": (1565, 1973, 3449),
    }
    motors = so101_motors()
    return build_calibration(
        motors,
        {n: r[0] for n, r in rows.items()},
        {n: r[1] for n, r in rows.items()},
        {n: r[2] for n, r in rows.items()},
    )


def test_goal_ticks_never_leave_the_calibrated_range(arm):
    backend = _backend(arm)
    backend.connect()
    try:
        emu = arm.emulator
        # Take away the firmware's own limits: the backend's clamp must hold on its own.
        for servo in emu.servos:
            servo.set("Min_Position_Limit", 0)
            servo.set("Max_Position_Limit", 4095)
        for extreme in (SO101.lower_rad - 3.0, SO101.upper_rad + 3.0):
            backend.command(extreme)
            time.sleep(0.02)
            for name in NAMES:
                goal = emu.register("Goal_Position", name)
                cal = arm.calibration[name]
                assert cal.range_min <= goal <= cal.range_max, (name, goal)
        assert np.all(backend.last_goal_ticks >= backend.converter.range_min)
    finally:
        backend.close()


def test_reset_moves_at_bounded_speed_and_settles(arm):
    backend = _backend(arm, max_speed_deg_s=120.0)
    backend.connect()
    try:
        start = backend.read().joint_positions_rad
        target = start + np.deg2rad([40, -30, 30, 0, 20, 10])
        t0 = time.perf_counter()
        backend.reset(target)
        elapsed = time.perf_counter() - t0
        assert elapsed >= 40 / 120 * 0.95  # the largest move (40 deg) at 120 deg/s
        final = backend.read().joint_positions_rad
        np.testing.assert_allclose(np.rad2deg(final), np.rad2deg(target), atol=2.0)
    finally:
        backend.close()


def test_fail_safe_disables_torque_and_never_raises(arm):
    backend = _backend(arm)
    backend.connect()
    backend.fail_safe()
    assert _eventually(lambda: all(arm.emulator.register("Torque_Enable", n) == 0 for n in NAMES))
    arm.stop()  # the bus is gone under the backend
    backend.fail_safe()
    backend.close()


def _eventually(condition, timeout_s: float = 0.5) -> bool:
    # A SYNC_WRITE is unacknowledged: the emulator applies it a moment after it is sent.
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_calibration_round_trip_through_the_real_bus(tmp_path):
    """LeRobot's procedure on an emulated arm, saved, reloaded and used by the backend."""
    motors = so101_motors()
    with EmulatedSO101("follower", plant="first_order", initial_rad=np.zeros(6)) as arm:
        emu = arm.emulator
        bus = FeetechBus(arm.port, {n: Motor(m.id) for n, m in motors.items()}, timeout_ms=50)
        bus.connect()
        homings = set_half_turn_homings(bus, NAMES)
        assert bus.sync_read("Present_Position") == dict.fromkeys(NAMES, HALF_TURN_TICK)
        sweep = iter([0.5, 1.0, 0.0, -1.0, -0.5, 0.0])

        def hand_moves_the_arm() -> bool:
            angle = next(sweep, None)
            if angle is None:
                return True
            emu.set_actual_positions_rad(np.full(6, angle))
            return False

        mins, maxes = record_ranges_of_motion(bus, NAMES, hand_moves_the_arm)
        calibration = build_calibration(motors, homings, mins, maxes)
        path = save_calibration(calibration_path("follower", "lab_arm", tmp_path), calibration)
        bus.close()

        reloaded = load_calibration(path)
        assert reloaded == calibration
        config = SO101HardwareConfig(port=arm.port, robot_id="lab_arm", calibration_dir=tmp_path)
        backend = SO101Hardware(SO101, config)
        backend.connect()
        try:
            assert is_calibrated(backend.bus, reloaded)
            # Swept over +-1 rad around the homing pose: mid-range is 0 degrees.
            user = SO101.to_user(backend.read().joint_positions_rad)
            np.testing.assert_allclose(user[:4], 0.0, atol=0.2)
        finally:
            backend.close()
