"""The Feetech bus emulator: wire behaviour (raw packets), servo semantics, plants."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest
import serial

from lerobot_gym.assets.so101 import SCENE_XML
from lerobot_gym.errors import ConfigError
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.emulator import (
    BusFaults,
    FeetechEmulator,
    MujocoPlant,
    ScriptedPlant,
    ServoPlant,
)
from lerobot_gym.hardware.feetech import FeetechBus
from lerobot_gym.hardware.feetech.packets import (
    BROADCAST_ID,
    INST_ACTION,
    INST_PING,
    INST_READ,
    INST_REG_WRITE,
    INST_SYNC_READ,
    INST_WRITE,
    instruction_packet,
    status_packet,
)
from lerobot_gym.robots.so101.motors import SO101_JOINT_NAMES

IDS = {name: i + 1 for i, name in enumerate(SO101_JOINT_NAMES)}
TICKS_PER_RAD = 4096 / (2 * math.pi)


@pytest.fixture
def emu():
    with FeetechEmulator(IDS) as emulator:
        for servo in emulator.servos:  # answer at once, as after lerobot's configure
            servo.set("Return_Delay_Time", 0)
        yield emulator


@pytest.fixture
def wire(emu):
    """A raw serial connection to the emulator."""
    with serial.Serial(emu.port, 1_000_000, timeout=0.2) as port:
        yield port


def transact(wire, packet: bytes, expect: int, settle_s: float = 0.03) -> bytes:
    wire.reset_input_buffer()
    wire.write(packet)
    data = wire.read(expect)
    time.sleep(settle_s)  # anything unexpected arrives now
    return data + wire.read(wire.in_waiting)


def test_read_is_answered_only_by_the_addressed_servo(emu, wire):
    emu.servo(2).set("Goal_Position", 1234)
    reply = transact(wire, instruction_packet(2, INST_READ, bytes([42, 2])), 8)
    assert reply == status_packet(2, 0, (1234).to_bytes(2, "little"))
    assert transact(wire, instruction_packet(9, INST_PING), 1) == b""  # nobody has id 9


def test_sync_read_replies_follow_the_requested_order(emu, wire):
    order = [3, 1, 6]
    packet = instruction_packet(BROADCAST_ID, INST_SYNC_READ, bytes([5, 1, *order]))
    reply = transact(wire, packet, 7 * len(order))
    expected = b"".join(status_packet(i, 0, bytes([i])) for i in order)  # register 5 is ID
    assert reply == expected


def test_broadcast_ping_answers_in_id_order_and_broadcast_write_is_silent(emu, wire):
    reply = transact(wire, instruction_packet(BROADCAST_ID, INST_PING), 6 * 6)
    assert reply == b"".join(status_packet(i, 0) for i in range(1, 7))
    write = instruction_packet(BROADCAST_ID, INST_WRITE, bytes([41, 200]))  # Acceleration
    assert transact(wire, write, 1) == b""
    assert [emu.register("Acceleration", i) for i in range(1, 7)] == [200] * 6


def test_response_status_level_zero_silences_writes(emu, wire):
    write = instruction_packet(4, INST_WRITE, bytes([41, 10]))
    assert transact(wire, write, 6) == status_packet(4, 0)
    emu.servo(4).set("Response_Status_Level", 0)
    assert transact(wire, write, 1) == b""
    read = instruction_packet(4, INST_READ, bytes([41, 1]))
    assert transact(wire, read, 7) == status_packet(4, 0, bytes([10]))


def test_reg_write_takes_effect_on_action(emu, wire):
    reg = instruction_packet(5, INST_REG_WRITE, bytes([41, 77]))
    assert transact(wire, reg, 6) == status_packet(5, 0)
    assert emu.register("Acceleration", 5) == 0
    assert transact(wire, instruction_packet(BROADCAST_ID, INST_ACTION), 1) == b""
    assert emu.register("Acceleration", 5) == 77


def test_bad_checksum_is_ignored_and_counted(emu, wire):
    packet = bytearray(instruction_packet(1, INST_PING))
    packet[-1] ^= 0x55
    assert transact(wire, bytes(packet), 1) == b""
    assert emu.stats.checksum_errors == 1
    assert transact(wire, instruction_packet(1, INST_PING), 6) == status_packet(1, 0)


def test_error_bits_and_status_register(emu, wire):
    emu.faults = BusFaults(error_bits={2: 0x20})
    reply = transact(wire, instruction_packet(2, INST_READ, bytes([65, 1])), 7)
    assert reply == status_packet(2, 0x20, bytes([0x20]))
    with pytest.raises(ConfigError, match="0x7F"):
        BusFaults(error_bits={2: 0x80})  # the SDK drops packets with ERR bit 7


def test_id_change_answers_under_the_new_id(emu, wire):
    assert transact(wire, instruction_packet(6, INST_WRITE, bytes([5, 9])), 6) == status_packet(
        6, 0
    )
    assert transact(wire, instruction_packet(9, INST_PING), 6) == status_packet(9, 0)
    assert transact(wire, instruction_packet(6, INST_PING), 1) == b""


def test_calibrate_middle_and_multi_turn_phase(emu):
    servo = emu.servo("wrist_flex")
    servo.write(40, bytes([128]))  # Torque_Enable = 128: the current position becomes 2048
    assert servo.present_ticks() == 2048 and servo.get("Torque_Enable") == 0
    servo.set("Homing_Offset", servo.actual_ticks + 10)
    assert servo.present_ticks() == 4086  # single-turn: wraps into 0..4095
    servo.set("Phase", 0x1C)
    assert servo.present_ticks() == -10  # multi-turn feedback: sign-magnitude, negative


def test_mounting_offsets_map_radians_to_ticks(emu):
    emu.set_actual_positions_rad({"elbow_flex": 0.5})
    servo = emu.servo("elbow_flex")
    expected = round(2048 + 0.5 * TICKS_PER_RAD + servo.mounting_offset_ticks)
    assert servo.get("Present_Position") == expected
    assert emu.servo("shoulder_pan").get("Present_Position") == 2048 + 137


def test_leader_arm_positions_set_by_hand_read_over_the_bus(emu):
    bus = FeetechBus(emu.port, {n: Motor(i) for n, i in IDS.items()}, timeout_ms=100)
    bus.connect()
    bus.disable_torque()
    pose = np.linspace(-0.8, 0.8, 6)
    emu.set_actual_positions_rad(pose)
    ticks = bus.sync_read("Present_Position")
    for name, rad in zip(SO101_JOINT_NAMES, pose):
        offset = emu.servo(name).mounting_offset_ticks
        assert ticks[name] == round(2048 + rad * TICKS_PER_RAD + offset)
    time.sleep(0.05)  # torque off: the arm stays where the hand left it
    assert bus.sync_read("Present_Position") == ticks
    bus.close()


def test_scripted_plant_follows_its_trajectory_in_manual_time():
    plant = ScriptedPlant(lambda t: np.full(6, 0.1 * t))
    assert isinstance(plant, ServoPlant)
    emu = FeetechEmulator(IDS, plant=plant, realtime=False)
    emu.advance(2.0)
    np.testing.assert_allclose(emu.actual_positions_rad(), 0.2)
    emu.set_actual_positions_rad(np.zeros(6))
    emu.advance(1.0)
    np.testing.assert_allclose(emu.actual_positions_rad(), 0.0)


def test_stop_closes_the_pty():
    emu = FeetechEmulator({"a": 1}).start()
    port = emu.port
    assert emu.is_running and os.path.exists(port)
    emu.stop()
    assert not emu.is_running
    with pytest.raises(serial.SerialException):
        serial.Serial(port, 1_000_000, timeout=0.1).read(1)


# ----------------------------------------------------------------------------- MuJoCo twin
@pytest.fixture(scope="module")
def twin_plant():
    return MujocoPlant(SCENE_XML, joint_names=SO101_JOINT_NAMES)


def test_mujoco_plant_loads_the_project_twin(twin_plant):
    assert SCENE_XML.exists()
    assert twin_plant.num_joints == 6 and isinstance(twin_plant, ServoPlant)


def test_goal_written_over_the_bus_moves_the_twin(twin_plant):
    twin_plant.set_positions_rad(np.zeros(6))
    with FeetechEmulator(IDS, plant=twin_plant, realtime=False) as emu:
        bus = FeetechBus(emu.port, {n: Motor(i) for n, i in IDS.items()}, timeout_ms=100)
        bus.connect()
        bus.enable_torque()
        start = bus.sync_read("Present_Position")
        target_rad = np.array([0.4, -0.3, 0.5, 0.3, -0.6, 0.8])
        goals = {
            n: start[n] + round(r * TICKS_PER_RAD) for n, r in zip(SO101_JOINT_NAMES, target_rad)
        }
        bus.sync_write("Goal_Position", goals)
        bus.ping("gripper")  # a round trip: the unanswered sync write has been handled
        np.testing.assert_allclose(emu.goal_positions_rad(), target_rad, atol=2e-3)
        emu.advance(1.5)
        present = bus.sync_read("Present_Position")
        loads = bus.sync_read("Present_Load")
        bus.close()
    qpos = twin_plant.data.qpos[[twin_plant.model.joint(n).qposadr[0] for n in SO101_JOINT_NAMES]]
    np.testing.assert_allclose(qpos, target_rad, atol=0.05)  # the twin itself moved
    for name in SO101_JOINT_NAMES:
        assert abs(present[name] - goals[name]) < 0.05 * TICKS_PER_RAD, name
    assert any(load != 0 for load in loads.values())  # holding against gravity


def test_twin_holds_still_with_torque_off(twin_plant):
    pose = np.array([0.2, 0.1, -0.2, 0.1, 0.0, 0.3])
    twin_plant.set_positions_rad(pose)
    emu = FeetechEmulator(IDS, plant=twin_plant, realtime=False)
    emu.advance(0.5)
    np.testing.assert_allclose(emu.actual_positions_rad(), pose, atol=0.05)


def test_realtime_clock_moves_the_twin_with_wall_time(twin_plant):
    twin_plant.set_positions_rad(np.zeros(6))
    with FeetechEmulator(IDS, plant=twin_plant) as emu:
        servo = emu.servo("elbow_flex")
        servo.write(40, bytes([1]))
        servo.write(42, (servo.get("Present_Position") + 400).to_bytes(2, "little"))
        time.sleep(0.6)  # no bus traffic: the idle tick still advances the twin
        moved = emu.actual_positions_rad()[2]
    assert moved == pytest.approx(400 / TICKS_PER_RAD, abs=0.05)


def test_a_client_that_never_reads_does_not_block_the_emulator(emu, wire):
    ping = instruction_packet(1, INST_PING)
    for _ in range(20):  # ~50 KB of replies, more than a pty buffers
        wire.write(ping * 400)
        time.sleep(0.005)
    deadline = time.monotonic() + 5
    while emu.stats.packets < 8000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emu.stats.packets == 8000 and emu.stats.dropped > 0
    while wire.read(65536):  # drain what the pty buffered (its timeout ends the loop)
        pass
    assert transact(wire, ping, 6) == status_packet(1, 0)


def test_calibrate_middle_at_the_encoder_edge_clamps_the_offset(emu):
    servo = emu.servo("elbow_flex")
    servo.actual_ticks = 0  # the offset would be -2048, one past what the register holds
    servo.write(40, bytes([128]))
    assert servo.get("Homing_Offset") == -2047
    assert servo.present_ticks() == 2047


def test_a_packet_that_fails_to_handle_is_counted_and_the_emulator_carries_on(
    emu, wire, monkeypatch
):
    dispatch = emu._dispatch

    def broken_once(packet, faults):
        monkeypatch.setattr(emu, "_dispatch", dispatch)
        raise RuntimeError("emulator bug")

    monkeypatch.setattr(emu, "_dispatch", broken_once)
    assert transact(wire, instruction_packet(1, INST_PING), 1) == b""  # no answer ...
    assert emu.stats.handler_errors == 1
    assert isinstance(emu.last_handler_error, RuntimeError)
    assert emu.is_running  # ... but the thread lives and answers the next packet
    assert transact(wire, instruction_packet(1, INST_PING), 6) == status_packet(1, 0)
