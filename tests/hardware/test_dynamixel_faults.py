"""Each fault of the emulated Dynamixel bus is a typed error naming its fix (or is recovered)."""

from __future__ import annotations

import os

import pytest

from lerobot_gym.errors import (
    CorruptPacketError,
    MotorNotFoundError,
    MotorStatusError,
    MotorTimeoutError,
    PortBusyError,
    PortNotFoundError,
)
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.dynamixel import DynamixelBus
from lerobot_gym.hardware.emulator import BusFaults
from lerobot_gym.hardware.emulator.dynamixel import DynamixelEmulator

pytest.importorskip("dynamixel_sdk")

MOTORS = {"waist": Motor(1, "xm540-w270"), "wrist": Motor(8, "xm430-w350")}


@pytest.fixture
def emu():
    with DynamixelEmulator(MOTORS) as emulator:
        yield emulator


def _bus(emu, timeout_ms=15.0, **kwargs):
    bus = DynamixelBus(emu.port, MOTORS, timeout_ms=timeout_ms, **kwargs)
    bus.connect(handshake=False)
    return bus


def test_a_servo_that_never_replies_is_a_timeout_after_retries(emu):
    bus = _bus(emu, retries=2)
    emu.faults = BusFaults(no_reply_ids=frozenset({8}))
    with pytest.raises(
        MotorTimeoutError, match=r"id 8 \(wrist\).*after 3 attempt.*power and cable"
    ):
        bus.sync_read("Present_Position")
    assert bus.stats.retries == 2 and bus.stats.timeouts == 3
    emu.faults = BusFaults(absent_ids=frozenset({8}))
    with pytest.raises(MotorNotFoundError, match=r"id 8 \(wrist\).*find-port"):
        bus.ping("wrist")
    bus.close(disable_torque=False)


def test_corrupt_replies_are_typed_and_a_clean_retry_recovers(emu):
    bus = _bus(emu, retries=4)
    emu.faults = BusFaults(corrupt_ids=frozenset({1}))
    with pytest.raises(CorruptPacketError, match=r"id 1 \(waist\).*check the cable"):
        bus.read("Present_Position", "waist")
    emu.faults = BusFaults(corruption_rate=0.2)
    for _ in range(20):
        assert bus.read("Model_Number", "waist") == 1120
    assert bus.stats.corrupt_packets > 1
    bus.close(disable_torque=False)


def _until_answered(read):
    """Repeat a read that times out; the outcome under test is the value once one arrives."""
    for _ in range(20):
        try:
            return read()
        except MotorTimeoutError:
            continue
    pytest.fail("no answer in 20 operations")


def test_a_late_reply_never_answers_the_next_request(emu):
    bus = _bus(emu, timeout_ms=20, retries=3)
    bus.write("Profile_Velocity", "waist", 77)
    bus.write("Profile_Acceleration", "waist", 55)
    # Servo 1 answers 60 ms late: reads time out, and their replies arrive during later reads
    # of another 4-byte register with the same (id, LEN) as theirs.
    emu.faults = BusFaults(late_reply_s={1: 0.06})
    for register, value in [("Profile_Velocity", 77), ("Profile_Acceleration", 55)] * 2:
        assert _until_answered(lambda r=register: bus.read(r, "waist")) == value
    assert bus.stats.timeouts >= 1  # late replies were in flight during later reads
    bus.close(disable_torque=False)


def test_a_hardware_error_names_its_alert_bits_and_the_servo_shuts_down(emu):
    bus = _bus(emu, timeout_ms=50)
    bus.enable_torque()
    emu.faults = BusFaults(error_bits={8: 0x20 | 0x04})
    with pytest.raises(
        MotorStatusError, match=r"id 8 \(wrist\).*alert, overheat, overload.*reboot"
    ) as info:
        bus.sync_read("Present_Position")
    assert info.value.flags == ("alert", "overheat", "overload")
    assert emu.register("Torque_Enable", "wrist") == 0  # Shutdown register: torque off
    values = bus.sync_read("Present_Position", check_status=False)
    assert set(values) == set(MOTORS) and bus.status_flags["wrist"] == ("alert",)
    emu.faults = BusFaults()
    emu.power_cycle()
    bus.sync_read("Present_Position")
    bus.close()


def test_lost_packets_and_latency_are_recovered_by_retries(emu):
    bus = _bus(emu, timeout_ms=100, retries=4)
    emu.faults = BusFaults(loss_rate=0.2, wire_latency_s=0.002, jitter_s=0.002)
    expected = {n: emu.register("Present_Position", n) for n in MOTORS}
    for _ in range(30):
        assert bus.sync_read("Present_Position") == expected
    assert bus.stats.retries > 0 and bus.stats.failures == 0
    bus.close(disable_torque=False)


def test_a_missing_or_busy_port_is_a_typed_error(emu, tmp_path):
    with pytest.raises(PortNotFoundError, match="find-port"):
        DynamixelBus(str(tmp_path / "ttyDXL"), MOTORS).connect()
    first = _bus(emu)
    with pytest.raises(PortBusyError, match="in use by another program"):
        DynamixelBus(emu.port, MOTORS).connect(handshake=False)
    first.close(disable_torque=False)
    assert os.path.exists(emu.port)
    DynamixelBus(emu.port, MOTORS).connect(handshake=False)  # released: a new bus can take it
