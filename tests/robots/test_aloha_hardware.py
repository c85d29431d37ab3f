"""ALOHA hardware pieces over an emulated station: calibration files, registers, typed errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lerobot_gym.errors import CalibrationError, MotorNotFoundError, PortBusyError
from lerobot_gym.hardware.emulator import BusFaults
from lerobot_gym.robots.aloha.calibration import (
    AlohaTickConverter,
    aloha_calibration_path,
    load_arm_calibration,
    save_arm_calibration,
)
from lerobot_gym.robots.aloha.emulated import AlohaStation
from lerobot_gym.robots.aloha.hardware import AlohaHardware, AlohaHardwareConfig
from lerobot_gym.robots.aloha.motors import arm_motors, arm_shadows, configure_arm
from lerobot_gym.robots.aloha.spec import ALOHA

pytest.importorskip("dynamixel_sdk")

PATIENT = {"bus_timeout_ms": 200.0, "bus_retries": 3}


@pytest.fixture
def station():
    with AlohaStation(ALOHA) as s:
        yield s


def _hardware(station, **kwargs):
    ports = {arm: station.ports[("follower", arm)] for arm in ("left", "right")}
    config = AlohaHardwareConfig(
        ports=ports,
        calibration_dir=station.calibration_folder("follower"),
        max_speed_deg_s=360.0,
        **{**PATIENT, **kwargs},
    )
    return AlohaHardware(ALOHA, config, fps=50)


def test_calibration_round_trips_in_lerobots_format_and_location(station, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_LEROBOT_CALIBRATION", str(tmp_path))
    folder = station.calibration_folder("follower")
    calibration = load_arm_calibration("follower", "aloha", "left", folder)
    path = save_arm_calibration("follower", "my_aloha", "left", calibration)
    assert path == tmp_path / "robots" / "aloha_follower" / "my_aloha_left.json"
    assert aloha_calibration_path("leader", "x", "right") == (
        tmp_path / "teleoperators" / "aloha_leader" / "x_right.json"
    )
    data = json.loads(path.read_text())
    assert list(data) == ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle",
                          "wrist_rotate", "gripper"]  # fmt: skip
    assert set(data["gripper"]) == {"id", "drive_mode", "homing_offset", "range_min", "range_max"}
    assert load_arm_calibration("follower", "my_aloha", "left") == calibration


def test_the_converter_round_trips_and_clamps_into_the_calibrated_range(station):
    calibration = {}
    for arm in ("left", "right"):
        calibration.update(
            load_arm_calibration("follower", "aloha", arm, station.calibration_folder("follower"))
        )
    converter = AlohaTickConverter(ALOHA, calibration)
    home = np.asarray(ALOHA.home_rad)
    ticks = converter.ticks_from_rad(home)
    np.testing.assert_allclose(
        converter.rad_from_ticks(ticks), home, atol=float(converter.rad_per_tick.max())
    )
    closed = converter.ticks_from_rad(np.full(14, -100.0))
    assert (closed == converter.range_min).all()


def test_connect_configures_the_followers_and_reads_the_home_pose(station):
    hardware = _hardware(station)
    hardware.connect()
    try:
        hardware.reset(np.asarray(ALOHA.home_rad))
        state = hardware.read()
        np.testing.assert_allclose(state.joint_positions_rad, ALOHA.home_rad, atol=0.03)
        left = station.emulators[("follower", "left")]
        assert left.register("Secondary_ID", "left_elbow_shadow") == 4
        assert left.register("Homing_Offset", "left_shoulder") == left.register(
            "Homing_Offset", "left_shoulder_shadow"
        )
    finally:
        hardware.close()
    assert not any(station.torque_enabled().values())


def test_leaders_are_configured_with_torque_off_and_pwm_arms(station):
    from lerobot_gym.hardware.dynamixel import DynamixelBus

    bus = DynamixelBus(
        station.ports[("leader", "left")],
        arm_motors("leader", "left"),
        shadows=arm_shadows("leader", "left"),
        timeout_ms=200,
    )
    bus.connect()
    limits = {n: (0, 0, 4095) for n in bus.motors}
    configure_arm(bus, "leader", "left", limits)
    emu = station.emulators[("leader", "left")]
    assert emu.register("Operating_Mode", "left_waist") == 16
    assert emu.register("Operating_Mode", "left_gripper") == 3  # XC430: no current mode
    assert emu.register("Drive_Mode", "left_shoulder_shadow") == 1
    assert emu.register("Drive_Mode", "left_shoulder") == 0  # the shadow's stayed its own
    assert not any(s.torque_enabled for s in emu.all_servos)
    bus.close()


def test_a_corrupt_calibration_file_names_the_calibrate_command_and_releases_the_ports(station):
    path = aloha_calibration_path(
        "follower", "aloha", "right", station.calibration_folder("follower")
    )
    path.write_text("{not json")
    hardware = _hardware(station)
    with pytest.raises(CalibrationError, match=r"calibrate --robot.type=aloha_follower"):
        hardware.connect()
    assert not hardware.is_connected
    again = _hardware(station)  # the ports were released: no PortBusyError
    with pytest.raises(CalibrationError):
        again.connect()


def test_a_missing_servo_or_a_busy_port_is_named_at_connect(station):
    station.emulators[("follower", "left")].faults = BusFaults(absent_ids=frozenset({7}))
    with pytest.raises(MotorNotFoundError, match=r"id 7 \(left_wrist_angle\)"):
        _hardware(station, bus_timeout_ms=150.0, bus_retries=1).connect()
    station.emulators[("follower", "left")].faults = BusFaults()
    first = _hardware(station)
    first.connect()
    try:
        with pytest.raises(PortBusyError, match="in use"):
            _hardware(station).connect()
    finally:
        first.close()


def test_record_builds_aloha_leaders_from_teleop_flags(station):
    from lerobot_gym.cli.args import UsageError
    from lerobot_gym.cli.record import TELEOP_TYPES

    make = TELEOP_TYPES["aloha_leaders"]
    with pytest.raises(UsageError, match=r"--teleop.right_port"):
        make({"left_port": "/dev/ttyDXL_master_left"})
    with pytest.raises(UsageError, match=r"--teleop.port is not an aloha_leaders option"):
        make({"port": "/dev/ttyUSB0"})
    leaders = make(
        {
            "left_port": station.ports[("leader", "left")],
            "right_port": station.ports[("leader", "right")],
            "calibration_dir": str(station.calibration_folder("leader")),
        }
    )
    leaders.connect()
    try:
        action = leaders.get_action()
        assert action.shape == (14,)
        # Both leaders hang at the home pose: the followers' home action, grippers normalised.
        np.testing.assert_allclose(action[:6], np.asarray(ALOHA.home_rad)[:6], atol=0.01)
        assert 0.0 <= action[6] <= 1.0 and action[6] == pytest.approx(action[13])
    finally:
        leaders.disconnect()
