"""Every reply is matched to its request: late, duplicated and split replies never give a wrong
value (issue 13: under CPU load, a reply to an earlier, retried request was taken as the answer
to the next one).

The bus runs against the pty emulator with :class:`BusFaults` that delay (``jitter_s``),
duplicate and split status packets at random while keeping the wire order of a real bus.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lerobot_gym.errors import MotorError, MotorNotFoundError, MotorTimeoutError
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.emulator import BusFaults, FeetechEmulator
from lerobot_gym.hardware.feetech import FeetechBus

NAMES = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
IDS = {name: i + 1 for i, name in enumerate(NAMES)}
MOTORS = {name: Motor(i) for name, i in IDS.items()}
# Registers nothing else writes, of one and two bytes, adjacent and not.
REGISTERS = {
    "Max_Temperature_Limit": 0xFF,
    "P_Coefficient": 0xFF,
    "D_Coefficient": 0xFF,
    "Minimum_Startup_Force": 0xFFFF,
    "CW_Dead_Zone": 0xFF,
    "CCW_Dead_Zone": 0xFF,
    "Protection_Current": 0xFFFF,
}


def _read_until_answered(bus: FeetechBus, register: str, motor: str) -> int:
    """Repeat a read that times out (a loaded machine may delay replies past every retry):
    the outcome under test is the value once one is returned."""
    for _ in range(20):
        try:
            return bus.ping(motor) if register == "ping" else bus.read(register, motor)
        except (MotorTimeoutError, MotorNotFoundError):  # a ping's timeout is "not found"
            continue
    pytest.fail(f"no answer to {register} of {motor} in 20 operations")


def test_a_late_reply_to_a_retried_read_does_not_answer_the_next_one():
    """The handshake read firmware major, then minor: a late major answered the minor."""
    with FeetechEmulator(IDS) as emu:
        # Servo 1 answers 60 ms late: the first read times out (20 ms), its retry is answered
        # by the first reply, and the retry's own reply then arrives during the next read.
        emu.faults = BusFaults(late_reply_s={1: 0.06})
        bus = FeetechBus(emu.port, MOTORS, timeout_ms=20, retries=3)
        bus.connect(handshake=False)
        for register, value in [("Firmware_Major_Version", 3), ("Firmware_Minor_Version", 10)] * 2:
            assert _read_until_answered(bus, register, "shoulder_pan") == value
        # The late replies did reach the bus and were discarded (on a loaded machine the last
        # ones may still be on their way: a few reads of a prompt servo take them in).
        deadline = time.monotonic() + 10.0
        while bus.stats.stale_bytes == 0 and time.monotonic() < deadline:
            bus.read("Firmware_Major_Version", "shoulder_lift")
            time.sleep(0.02)
        assert bus.stats.timeouts >= 1 and bus.stats.stale_bytes > 0
        bus.close(disable_torque=False)


def test_a_late_ping_reply_does_not_break_the_model_read():
    """scservo_sdk's ping read the model number from a late PING reply: IndexError."""
    with FeetechEmulator(IDS) as emu:
        emu.faults = BusFaults(late_reply_s={2: 0.06})
        bus = FeetechBus(emu.port, MOTORS, timeout_ms=20, retries=3)
        bus.connect(handshake=False)
        for _ in range(3):
            assert _read_until_answered(bus, "ping", "shoulder_lift") == 777
        bus.close(disable_torque=False)


def test_repeated_reads_alternate_their_span_so_duplicates_cannot_match():
    with FeetechEmulator(IDS) as emu:
        emu.faults = BusFaults(duplicate_rate=1.0)  # every reply twice
        bus = FeetechBus(emu.port, MOTORS, timeout_ms=50)
        bus.connect(handshake=False)
        for value in (11, 22, 33, 44):
            emu.servo("gripper").set("P_Coefficient", value)
            assert bus.read("P_Coefficient", "gripper") == value
            emu.servo("gripper").set("CW_Dead_Zone", value + 1)
            assert bus.sync_read("CW_Dead_Zone")["gripper"] == value + 1
        # Two writes in a row to one servo are told apart by a fence read in between.
        bus.write("Goal_Position", "gripper", 2000)
        bus.write("Goal_Position", "gripper", 2100)
        assert bus.stats.fences >= 1
        bus.close(disable_torque=False)


@pytest.fixture(scope="module")
def faulty_bus():
    with FeetechEmulator(IDS, realtime=False) as emu:
        bus = FeetechBus(emu.port, MOTORS, timeout_ms=8, retries=2)
        bus.connect(handshake=False)
        yield emu, bus
        bus.close(disable_torque=False)


_op = st.tuples(st.sampled_from(sorted(REGISTERS)), st.sampled_from((*NAMES, "all")))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    jitter_ms=st.floats(0.0, 25.0),
    duplicate_rate=st.floats(0.0, 0.6),
    split_rate=st.floats(0.0, 0.6),
    ops=st.lists(_op, min_size=1, max_size=12),
    data=st.data(),
)
def test_every_read_is_the_right_servos_right_value_or_a_typed_error(
    faulty_bus, seed, jitter_ms, duplicate_rate, split_rate, ops, data
):
    emu, bus = faulty_bus
    emu.rng = np.random.default_rng(seed)
    emu.faults = BusFaults(
        jitter_s=jitter_ms / 1000, duplicate_rate=duplicate_rate, split_rate=split_rate
    )
    # New values every example: a stale reply from an earlier example carries an old one.
    expected: dict[str, dict[str, int]] = {}
    for register, top in REGISTERS.items():
        expected[register] = {}
        for name in NAMES:
            value = data.draw(st.integers(0, top))
            emu.servo(name).set(register, value)
            expected[register][name] = value
    for register, motor in ops:
        try:
            if motor == "all":
                assert bus.sync_read(register) == expected[register]
            else:
                assert bus.read(register, motor) == expected[register][motor]
        except (MotorTimeoutError, MotorError):
            pass  # a typed error is an allowed outcome; a wrong value is not
    # With the faults gone the bus works again (late replies still queued are skipped).
    emu.faults = BusFaults()
    for _ in range(50):
        try:
            assert bus.sync_read("P_Coefficient") == expected["P_Coefficient"]
            break
        except MotorTimeoutError:
            continue
    else:
        pytest.fail("the bus did not recover once the faults were cleared")


# ----------------------------------------------------------------------------- late replies
def _is_timeout(exc: BaseException) -> bool:
    timeouts = (MotorTimeoutError, MotorNotFoundError)
    return isinstance(exc, timeouts) or isinstance(exc.__cause__, timeouts)


# A load generator that yields: busy 10 ms, asleep 10 ms, and gone after BUSY_S even if the
# test is killed, so it cannot starve a shared machine for long.
BUSY_S = 30.0
_BUSY = (
    "import time\n"
    f"end = time.monotonic() + {BUSY_S}\n"
    "while time.monotonic() < end:\n"
    "    burst = time.monotonic() + 0.01\n"
    "    while time.monotonic() < burst: pass\n"
    "    time.sleep(0.01)\n"
)


def _connect_outcomes(faults: BusFaults | None, count: int, max_s: float) -> list[str]:
    """Connect ``count`` times (fewer if ``max_s`` passes first) with a 2 ms reply allowance.

    Each connect must succeed or fail with a typed timeout: a wrong reply (another firmware
    or model, an IndexError) fails here. Returns "ok", "late" (connected after timeouts) or
    "timeout" for each.
    """
    from lerobot_gym.robots.so101.emulated import EmulatedSO101
    from lerobot_gym.robots.so101.hardware import SO101Hardware, SO101HardwareConfig
    from lerobot_gym.robots.so101.spec import SO101

    outcomes: list[str] = []
    deadline = time.monotonic() + max_s
    with EmulatedSO101("follower", plant="first_order", faults=faults) as arm:
        while len(outcomes) < count and (len(outcomes) < 1 or time.monotonic() < deadline):
            config = SO101HardwareConfig(
                port=arm.port,
                calibration_dir=arm.calibration_dir,
                bus_timeout_ms=2.0,  # late replies are the point
                bus_retries=2,
            )
            backend = SO101Hardware(SO101, config, fps=30, image_size=(24, 32))
            try:
                backend.connect()
                outcomes.append("late" if backend.bus_stats["timeouts"] else "ok")
            except MotorError as exc:
                # Typed, and about a missing reply (torque off reports its timeouts as
                # their cause); a wrong reply (another firmware or model) fails here.
                assert _is_timeout(exc), exc
                outcomes.append("timeout")
            finally:
                backend.close()
    return outcomes


def test_connects_with_late_replies_never_mistake_one():
    """Replies 0-10 ms late (injected) against a 2 ms allowance: most are late, and every
    connect succeeds or fails with a typed timeout, never with a wrong reply."""
    outcomes = _connect_outcomes(BusFaults(jitter_s=0.01), count=8, max_s=math.inf)
    assert len(outcomes) == 8
    assert set(outcomes) - {"ok"}, outcomes  # late replies did happen


def test_connects_under_cpu_load_never_mistake_a_late_reply():
    """The same with real lateness: two load processes compete for the CPU (bounded: busy
    half the time, gone after BUSY_S; at most 6 connects or 20 s of them)."""
    busy = [subprocess.Popen([sys.executable, "-c", _BUSY]) for _ in range(2)]
    try:
        outcomes = _connect_outcomes(None, count=6, max_s=20.0)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert 1 <= len(outcomes) <= 6  # anything else (firmware mismatch, IndexError) raised above
