"""FeetechBus end to end over the pty emulator, through the real scservo_sdk code path."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from lerobot_gym.errors import (
    ConfigError,
    CorruptPacketError,
    MotorError,
    MotorNotFoundError,
    MotorStatusError,
    MotorTimeoutError,
    NotConnectedError,
    PortBusyError,
    PortNotFoundError,
)
from lerobot_gym.hardware.bus import Motor, MotorBus
from lerobot_gym.hardware.emulator import BusFaults, FeetechEmulator, FirstOrderPlant
from lerobot_gym.hardware.feetech import FeetechBus
from lerobot_gym.robots.so101.registers import configure_so101_follower, configure_so101_leader

NAMES = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
IDS = {name: i + 1 for i, name in enumerate(NAMES)}
MOTORS = {name: Motor(i) for name, i in IDS.items()}
# The test machine is shared; a generous timeout keeps scheduling hiccups from failing tests
# that are not about timeouts.
TIMEOUT_MS = 100


@pytest.fixture
def emu():
    with FeetechEmulator(IDS) as emulator:
        yield emulator


@pytest.fixture
def bus(emu):
    bus = FeetechBus(emu.port, MOTORS, timeout_ms=TIMEOUT_MS)
    bus.connect()
    yield bus
    bus.close()


def _fault_bus(emu, **kwargs):
    """A bus with short timeouts for tests that wait for timeouts."""
    bus = FeetechBus(emu.port, MOTORS, timeout_ms=kwargs.pop("timeout_ms", 15), **kwargs)
    bus.connect(handshake=False)
    return bus


def test_the_feetech_bus_is_a_motor_bus_and_refuses_models_it_cannot_drive():
    assert isinstance(FeetechBus("/dev/null", MOTORS), MotorBus)
    with pytest.raises(ConfigError, match=r"unsupported Feetech model.*xm430"):
        FeetechBus("/dev/null", {"waist": Motor(1, "xm430-w350")})
    with pytest.raises(ConfigError, match=r"0\.\.252"):
        Motor(253)


def test_handshake_pings_every_motor(bus, emu):
    assert bus.is_connected
    assert all(bus.ping(name) == 777 for name in NAMES)
    assert emu.stats.instructions[0x01] >= 2 * len(NAMES)  # handshake + the pings above
    assert bus.stats.failures == 0


def test_single_read_write_round_trip(bus, emu):
    bus.write("P_Coefficient", "elbow_flex", 16)
    assert bus.read("P_Coefficient", "elbow_flex") == 16
    assert emu.register("P_Coefficient", "elbow_flex") == 16
    assert emu.register("P_Coefficient", "wrist_flex") == 32  # only the addressed servo


def test_sync_write_drives_the_plant_and_sync_read_follows(bus, emu):
    start = bus.sync_read("Present_Position")
    assert set(start) == set(NAMES)
    # Mounting offsets: raw positions are not all at the centre (calibration has work to do).
    assert len(set(start.values())) > 1 and start["shoulder_pan"] != 2048
    bus.enable_torque()
    goals = {name: start[name] + 300 * (-1) ** i for i, name in enumerate(NAMES)}
    bus.sync_write("Goal_Position", goals)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        present = bus.sync_read("Present_Position")
        if all(abs(present[n] - goals[n]) <= 3 for n in NAMES):
            break
        time.sleep(0.02)
    assert all(abs(present[n] - goals[n]) <= 3 for n in NAMES), (present, goals)
    assert emu.stats.instructions[0x83] == 1  # one SYNC_WRITE packet, unanswered


def test_sync_read_registers_reads_velocity_load_and_current_while_moving():
    plant = FirstOrderPlant(len(NAMES), time_constant_s=0.05, max_velocity_rad_s=1.0)
    with FeetechEmulator(IDS, plant=plant, realtime=False) as emu:
        bus = FeetechBus(emu.port, MOTORS, timeout_ms=TIMEOUT_MS)
        bus.connect()
        bus.enable_torque(["elbow_flex"])
        start = bus.read("Present_Position", "elbow_flex")
        bus.write("Goal_Position", "elbow_flex", start - 600)
        emu.advance(0.05)  # halfway there, still moving at the speed limit
        values = bus.sync_read_registers(
            ["Present_Position", "Present_Velocity", "Present_Load", "Present_Current"]
        )
        bus.close()
    ticks_per_rad = 4096 / (2 * np.pi)
    assert values["Present_Position"]["elbow_flex"] == pytest.approx(start - 50 / 1000 * 652, abs=3)
    assert values["Present_Velocity"]["elbow_flex"] == pytest.approx(-ticks_per_rad, abs=2)
    assert values["Present_Load"]["elbow_flex"] < -500  # signed (bit 10): pushing backwards
    assert values["Present_Current"]["elbow_flex"] > 0
    assert values["Present_Velocity"]["gripper"] == 0 and values["Present_Load"]["gripper"] == 0


def test_torque_enable_writes_lock_and_goal_starts_at_present(bus, emu):
    assert emu.register("Lock", "gripper") == 1  # factory default
    bus.disable_torque(["gripper"])
    assert emu.register("Torque_Enable", "gripper") == 0 and emu.register("Lock", "gripper") == 0
    bus.enable_torque(["gripper"])
    assert emu.register("Torque_Enable", "gripper") == 1 and emu.register("Lock", "gripper") == 1
    # Enabling torque must not make the joint jump to a stale goal.
    assert bus.read("Goal_Position", "gripper") == bus.read("Present_Position", "gripper")


def test_homing_offset_is_applied_with_its_sign(bus, emu):
    bus.disable_torque()
    raw = bus.sync_read("Present_Position")
    homings = {name: raw[name] - 2047 for name in NAMES}  # lerobot's half-turn homing
    assert any(h < 0 for h in homings.values()) and any(h > 0 for h in homings.values())
    for name, homing in homings.items():
        bus.write("Homing_Offset", name, homing)
    assert bus.sync_read("Present_Position") == dict.fromkeys(NAMES, 2047)
    negative = next(n for n, h in homings.items() if h < 0)
    assert emu.register("Homing_Offset", negative) == homings[negative]
    assert emu.servo(negative).table[32] & 0x08  # sign at bit 11 (bit 3 of the high byte)


def test_eeprom_writes_persist_only_when_unlocked(bus, emu):
    bus.enable_torque(["wrist_roll"])  # Lock = 1: EEPROM writes take effect but are not saved
    bus.write("Max_Position_Limit", "wrist_roll", 3000)
    assert bus.read("Max_Position_Limit", "wrist_roll") == 3000
    emu.power_cycle()
    assert bus.read("Max_Position_Limit", "wrist_roll") == 4095
    bus.disable_torque(["wrist_roll"])  # Lock = 0: saved
    bus.write("Max_Position_Limit", "wrist_roll", 3000)
    emu.power_cycle()
    assert bus.read("Max_Position_Limit", "wrist_roll") == 3000


def test_goal_is_clamped_to_the_position_limits(bus, emu):
    bus.disable_torque(["shoulder_pan"])
    bus.write("Min_Position_Limit", "shoulder_pan", 1000)
    bus.write("Max_Position_Limit", "shoulder_pan", 3000)
    bus.write("Goal_Position", "shoulder_pan", 3500)
    assert bus.read("Goal_Position", "shoulder_pan") == 3000
    bus.write("Goal_Position", "shoulder_pan", 10)
    assert bus.read("Goal_Position", "shoulder_pan") == 1000


def test_read_only_registers_ignore_writes(bus, emu):
    bus.write("Model_Number", "gripper", 1234)  # acknowledged, as the firmware does
    assert bus.read("Model_Number", "gripper") == 777
    assert emu.servo("gripper").ignored_writes == 2


def test_configure_follower_and_leader_write_lerobots_registers(bus, emu):
    emu.servo("elbow_flex").set("Phase", 0x1C)  # multi-turn feedback on: configure clears it
    configure_so101_follower(bus)
    for name in NAMES:
        assert emu.register("Return_Delay_Time", name) == 0
        assert emu.register("Acceleration", name) == 254
        assert emu.register("Maximum_Acceleration", name) == 254
        assert emu.register("Phase", name) & 0x10 == 0
        assert emu.register("Operating_Mode", name) == 0
        p_i_d = [emu.register(r, name) for r in ("P_Coefficient", "I_Coefficient", "D_Coefficient")]
        assert p_i_d == [16, 0, 32]
        assert emu.register("Torque_Enable", name) == 1  # re-enabled afterwards
    assert emu.register("Max_Torque_Limit", "gripper") == 500
    assert emu.register("Protection_Current", "gripper") == 250
    assert emu.register("Overload_Torque", "gripper") == 25
    assert emu.register("Max_Torque_Limit", "elbow_flex") == 1000
    configure_so101_leader(bus)
    assert all(emu.register("Torque_Enable", n) == 0 for n in NAMES)


def test_close_disables_torque_and_blocks_further_use(emu):
    bus = FeetechBus(emu.port, MOTORS, timeout_ms=TIMEOUT_MS)
    with bus:
        bus.enable_torque()
    assert not bus.is_connected
    assert all(emu.register("Torque_Enable", n) == 0 for n in NAMES)
    with pytest.raises(NotConnectedError, match="connect"):
        bus.read("Present_Position", "gripper")
    with pytest.raises(ConfigError, match="unknown motor"):
        FeetechBus(emu.port, MOTORS).write("Goal_Position", "elbow", 0)


# ----------------------------------------------------------------------------- faults
def test_missing_servo_names_its_id():
    with FeetechEmulator(IDS, faults=BusFaults(absent_ids={4})) as emu:
        bus = FeetechBus(emu.port, MOTORS, timeout_ms=15, retries=1)
        with pytest.raises(MotorNotFoundError, match=r"id 4 \(wrist_flex\)") as info:
            bus.connect()
        assert info.value.motor_id == 4
        assert not bus.is_connected  # a failed handshake releases the port


def test_wrong_model_fails_the_handshake():
    with FeetechEmulator(IDS, model="sts3250") as emu:
        bus = FeetechBus(emu.port, MOTORS, timeout_ms=TIMEOUT_MS)
        with pytest.raises(MotorNotFoundError, match="2825"):
            bus.connect()


def test_persistent_corruption_raises_after_retries_and_transient_recovers(emu):
    bus = _fault_bus(emu, retries=2)
    emu.faults = BusFaults(corrupt_ids={3})
    with pytest.raises(CorruptPacketError, match=r"id 3 \(elbow_flex\).*3 attempt") as info:
        bus.sync_read("Present_Position")
    assert info.value.motor_id == 3
    assert bus.stats.corrupt_packets == 3 and bus.stats.retries == 2 and bus.stats.failures == 1
    # Corruption of about one packet in three: retries recover most reads.
    emu.faults = BusFaults(corruption_rate=0.3)
    ok = 0
    for _ in range(20):
        try:
            bus.read("Present_Position", "gripper")
            ok += 1
        except CorruptPacketError:
            pass
    assert ok >= 17 and bus.stats.corrupt_packets > 3
    bus.close(disable_torque=False)


def test_late_reply_times_out(emu):
    bus = _fault_bus(emu, retries=1)
    emu.faults = BusFaults(late_reply_s={5: 0.1})
    started = time.monotonic()
    with pytest.raises(MotorTimeoutError, match=r"id 5 \(wrist_roll\)"):
        bus.read("Present_Position", "wrist_roll")
    assert time.monotonic() - started < 0.5
    assert bus.stats.timeouts == 2
    bus.close(disable_torque=False)


def test_stale_late_reply_is_discarded(emu):
    """A reply arriving after its timeout must not answer the next request (SDK clearPort)."""
    bus = _fault_bus(emu, retries=0, timeout_ms=20)
    bus.write("Torque_Enable", "gripper", 0)
    emu.faults = BusFaults(late_reply_s={6: 0.06})
    with pytest.raises(MotorTimeoutError):
        bus.read("Present_Position", "gripper")
    time.sleep(0.15)  # the late reply is now waiting in the input buffer
    emu.faults = BusFaults()
    emu.set_actual_positions_rad({"gripper": 0.5})
    expected = emu.register("Present_Position", "gripper")
    assert bus.read("Present_Position", "gripper") == expected
    bus.close(disable_torque=False)


def test_overload_bit_raises_status_error_with_flags(bus, emu):
    emu.faults = BusFaults(error_bits={6: 0x20})
    with pytest.raises(MotorStatusError, match="overload") as info:
        bus.sync_read("Present_Position")
    assert info.value.flags == ("overload",) and info.value.motor_id == 6
    with pytest.raises(MotorStatusError) as info:
        bus.read("Present_Position", "gripper")
    assert "overload" in info.value.flags
    assert bus.ping("gripper") == 777  # still present
    assert bus.read("Status", "shoulder_pan") == 0
    emu.faults = BusFaults(error_bits={1: 0x01 | 0x04})
    with pytest.raises(MotorStatusError) as info:
        bus.read("Status", "shoulder_pan")
    assert info.value.flags == ("voltage", "overheat")
    # Counted even where not raised (the ping above).
    assert bus.stats.status_errors == 4
    bus.raise_on_status_error = False
    assert bus.read("Status", "shoulder_pan") == 0x05  # the Status register mirrors the bits
    assert bus.stats.status_errors == 5


def test_missing_port_names_find_port(tmp_path):
    bus = FeetechBus(str(tmp_path / "ttyACM9"), MOTORS)
    with pytest.raises(PortNotFoundError, match="lerobot-gym find-port"):
        bus.connect()


def test_port_held_by_another_bus_is_busy(bus, emu):
    other = FeetechBus(emu.port, MOTORS)
    with pytest.raises(PortBusyError, match="in use"):
        other.connect()
    assert bus.read("ID", "gripper") == 6  # the first bus is unaffected


def test_lossy_bus_mostly_succeeds_and_counts_errors():
    faults = BusFaults(loss_rate=0.01, corruption_rate=0.001)
    with FeetechEmulator(IDS, faults=faults, rng=np.random.default_rng(7)) as emu:
        # A lost packet is noticed at the timeout; 100 ms (not a USB adapter's 20) keeps a
        # loaded machine's late replies from counting as losses.
        bus = FeetechBus(emu.port, MOTORS, timeout_ms=100, retries=2)
        bus.connect(handshake=False)
        failures = 0
        next_tick = time.monotonic()
        for _ in range(300):  # 10 s of a 30 Hz control loop
            try:
                bus.sync_read("Present_Position")
            except (MotorTimeoutError, CorruptPacketError):
                failures += 1
            next_tick += 1 / 30
            time.sleep(max(0.0, next_tick - time.monotonic()))
        bus.close(disable_torque=False)
    # 7 packets per sync read at 1 % loss: ~7 % of first attempts fail, retries recover them.
    assert failures <= 3
    assert bus.stats.retries >= 5
    # Every failed attempt is either retried or the last attempt of a failure.
    assert bus.stats.timeouts + bus.stats.corrupt_packets == bus.stats.retries + failures
    assert bus.stats.failures == failures
    assert emu.stats.dropped >= 5


def test_the_emulator_honours_return_delay_time(bus, emu):
    # How fast a 6-motor sync read is (p50 ~0.3 ms here) is benchmarks/control_loop.py's figure.
    for name in NAMES:
        bus.write("Return_Delay_Time", name, 0)
    assert len(bus.sync_read("Present_Position")) == len(NAMES)
    # The factory Return_Delay_Time (250 = 0.5 ms per reply) delays every reply.
    emu.servo("gripper").set("Return_Delay_Time", 250)
    started = time.perf_counter()
    bus.read("Present_Position", "gripper")
    assert time.perf_counter() - started >= 0.0005


@pytest.mark.parametrize("field", ["no_reply_ids", "absent_ids"])
def test_faults_are_runtime_settable(emu, field):
    bus = _fault_bus(emu, retries=0)
    assert bus.read("ID", "elbow_flex") == 3
    emu.faults = dataclasses.replace(emu.faults, **{field: frozenset({3})})
    with pytest.raises(MotorTimeoutError):
        bus.read("ID", "elbow_flex")
    bus.sync_write("Acceleration", dict.fromkeys(NAMES, 99))
    bus.read("ID", "gripper")  # others still answer (and the sync write has been handled)
    # A silent servo still hears the bus; an absent one does not.
    assert emu.register("Acceleration", "elbow_flex") == (99 if field == "no_reply_ids" else 0)
    emu.faults = BusFaults()
    assert bus.read("ID", "elbow_flex") == 3
    bus.close(disable_torque=False)


def test_wire_latency_delays_every_reply(emu):
    bus = _fault_bus(emu, timeout_ms=100)
    emu.faults = BusFaults(wire_latency_s=0.02)
    started = time.perf_counter()
    bus.read("ID", "gripper")
    assert time.perf_counter() - started >= 0.02
    bus.close(disable_torque=False)


# ----------------------------------------------------------------------------- torque safety
def test_close_turns_every_servo_off_past_a_silent_and_an_overheating_one(emu):
    bus = _fault_bus(emu, retries=0)
    bus.enable_torque()
    assert all(emu.register("Torque_Enable", n) == 1 for n in NAMES)
    # The elbow hears packets but never answers; the shoulder answers with overheat.
    emu.faults = BusFaults(no_reply_ids=frozenset({3}), error_bits={1: 0x04})
    bus.close()
    assert not bus.is_connected
    assert {n: emu.register("Torque_Enable", n) for n in NAMES} == dict.fromkeys(NAMES, 0)


def test_disable_torque_tries_every_servo_then_reports_the_failures(emu):
    bus = _fault_bus(emu, retries=0)
    try:
        bus.enable_torque()
        # Absent servos do not even hear the broadcast: only the others can be turned off.
        emu.faults = BusFaults(absent_ids=frozenset({2, 4}))
        with pytest.raises(MotorError, match=r"servo ids \[2, 4\]") as err:
            bus.disable_torque()
        assert "shoulder_lift" in str(err.value) and "wrist_flex" in str(err.value)
        assert [emu.register("Torque_Enable", n) for n in NAMES] == [0, 1, 0, 1, 0, 0]
        assert [emu.register("Lock", n) for n in NAMES] == [0, 1, 0, 1, 0, 0]
        emu.faults = BusFaults(absent_ids=frozenset({5}))
        with pytest.raises(MotorTimeoutError) as one:  # a single failure keeps its type
            bus.disable_torque()
        assert one.value.motor_id == 5
    finally:
        emu.faults = BusFaults()
        bus.close()


def test_torque_disabled_keeps_torque_off_when_its_body_fails(bus, emu):
    bus.enable_torque()
    with pytest.raises(KeyError, match="body failed"), bus.torque_disabled():
        raise KeyError("body failed")
    assert all(emu.register("Torque_Enable", n) == 0 for n in NAMES)
    with bus.torque_disabled(["gripper"]):
        assert emu.register("Torque_Enable", "gripper") == 0
    assert emu.register("Torque_Enable", "gripper") == 1


def test_enable_torque_can_hold_the_present_position_first(bus, emu, monkeypatch):
    writes: list[tuple[str, str, int]] = []
    original = FeetechBus.write

    def recording_write(self, register, motor, value, **kwargs):
        writes.append((register, motor, value))
        original(self, register, motor, value, **kwargs)

    monkeypatch.setattr(FeetechBus, "write", recording_write)
    present = bus.sync_read("Present_Position")
    bus.enable_torque(["elbow_flex", "gripper"], hold_position=True)
    assert writes[:2] == [
        ("Goal_Position", "elbow_flex", present["elbow_flex"]),
        ("Goal_Position", "gripper", present["gripper"]),
    ]
    # Register by register, so consecutive acknowledged writes go to different servos.
    assert writes[2:] == [
        ("Torque_Enable", "elbow_flex", 1),
        ("Torque_Enable", "gripper", 1),
        ("Lock", "elbow_flex", 1),
        ("Lock", "gripper", 1),
    ]
    assert bus.stats.fences == 0


def test_status_bits_can_be_recorded_instead_of_raised(bus, emu):
    emu.faults = BusFaults(error_bits={6: 0x20, 2: 0x04})
    values = bus.sync_read_registers(["Present_Position", "Present_Velocity"], check_status=False)
    assert set(values["Present_Position"]) == set(NAMES)
    assert bus.status_flags["gripper"] == ("overload",)
    assert bus.status_flags["shoulder_lift"] == ("overheat",)
    assert bus.status_flags["elbow_flex"] == ()
    assert bus.stats.status_errors == 2  # one per status packet with bits set
    assert bus.read("Present_Position", "gripper", check_status=False) >= 0
    with pytest.raises(MotorStatusError, match="shoulder_lift"):
        bus.sync_read("Present_Position")  # the default still raises, first servo first
    emu.faults = BusFaults()
    bus.sync_read("Present_Position")
    assert all(flags == () for flags in bus.status_flags.values())
