"""Faults end to end: env -> SO101Hardware -> FeetechBus -> pty -> emulator, each a typed error.

Every failure a real SO-101 bus has must reach the caller as a typed error that names the fix,
with the arm made safe (torque off) when it happens during a step.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401
from lerobot_gym.errors import (
    CalibrationError,
    CorruptPacketError,
    HardwareError,
    MotorNotFoundError,
    MotorStatusError,
    MotorTimeoutError,
    PortBusyError,
    PortNotFoundError,
)
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.emulator import BusFaults
from lerobot_gym.hardware.feetech import FeetechBus
from lerobot_gym.robots.so101.emulated import EmulatedSO101
from lerobot_gym.wrappers.control_rate import ControlRate

NAMES = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
ENV_ID = "lerobot_gym/SO101-v0"
HOLD = np.array([0.0, -45.0, 45.0, 45.0, 0.0, 20.0], dtype=np.float32)


def _emulated(**kwargs) -> gym.Env:
    options = {"obs_type": "state", "max_speed_deg_s": 360.0, "plant": "first_order", **kwargs}
    return gym.make(ENV_ID, backend="emulated", disable_env_checker=True, **options)


def _torque_off(emu, timeout_s: float = 0.5) -> bool:
    # Torque is disabled with an unacknowledged SYNC_WRITE: the emulator applies it a moment later.
    deadline = time.monotonic() + timeout_s
    while any(emu.register("Torque_Enable", n) for n in NAMES):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_missing_servo_is_named_at_connect():
    env = _emulated(faults=BusFaults(absent_ids=frozenset({4})))
    try:
        with pytest.raises(MotorNotFoundError, match=r"id 4 \(wrist_flex\)") as err:
            env.reset()
        assert "power" in str(err.value) and "setup-motors" in str(err.value)
        assert err.value.motor_id == 4
    finally:
        env.close()


@pytest.mark.parametrize(
    ("faults", "error", "hint"),
    [
        (BusFaults(corrupt_ids=frozenset({2})), CorruptPacketError, "check the cable"),
        (BusFaults(late_reply_s={5: 0.25}), MotorTimeoutError, "check its power and cable"),
        (BusFaults(error_bits={3: 0x01}), MotorStatusError, "voltage"),
    ],
    ids=["corrupt-packets", "late-replies", "voltage-bit"],
)
def test_bus_faults_during_a_step_raise_typed_errors_with_torque_off(faults, error, hint):
    env = _emulated()
    try:
        env.reset(seed=0)
        emu = env.unwrapped.backend.emulator
        env.step(HOLD)
        emu.faults = faults
        with pytest.raises(error, match=hint) as err:
            for _ in range(3):
                env.step(HOLD)
        if error is MotorStatusError:
            assert "voltage" in err.value.flags and err.value.motor_id == 3
        assert _torque_off(emu)
    finally:
        env.close()


def test_a_port_that_does_not_exist():
    env = gym.make(ENV_ID, backend="real", port="/dev/ttyDOES_NOT_EXIST", obs_type="state")
    with pytest.raises(PortNotFoundError, match="lerobot-gym find-port"):
        env.reset()
    env.close()


def test_a_busy_port_and_a_corrupt_calibration_file():
    with EmulatedSO101("follower", plant="first_order") as arm:
        options = {"port": arm.port, "calibration_dir": arm.calibration_dir, "obs_type": "state"}
        other = FeetechBus(arm.port, {n: Motor(i + 1) for i, n in enumerate(NAMES)})
        other.connect(handshake=False)  # another program holds the arm's port
        try:
            env = gym.make(ENV_ID, backend="real", **options)
            with pytest.raises(PortBusyError, match="in use by another program"):
                env.reset()
            env.close()
        finally:
            other.close(disable_torque=False)

        arm.calibration_file.write_text('{"shoulder_pan": {"id": 1, ')
        env = gym.make(ENV_ID, backend="real", **options)
        with pytest.raises(CalibrationError) as err:
            env.reset()
        env.close()
        message = str(err.value)
        assert "not valid JSON" in message
        assert f"lerobot-gym calibrate --robot.type=so101_follower --robot.port={arm.port}" in (
            message
        )


def test_the_loop_holds_30_hz_through_packet_loss_and_corruption():
    """1 % of packets lost and 0.1 % of replies corrupted, for ~3 s at 30 Hz on the twin."""
    faults = BusFaults(loss_rate=0.01, corruption_rate=0.001)
    env = _emulated(plant="mujoco", faults=faults, bus_timeout_ms=20.0, bus_retries=2)
    env = ControlRate(env, fps=30)
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        backend.bus.reset_stats()
        periods = []
        for _ in range(90):
            *_, info = env.step(HOLD)
            periods.append(info["control_period_s"])
        periods = np.array(periods)
        stats, emulator = backend.bus.stats, backend.emulator.stats
    finally:
        env.close()
    # The rate holds: a lost packet costs one 20 ms reply allowance, inside the 33 ms period.
    # (Tolerances leave room for a shared, loaded CI machine waking the loop late.)
    assert np.median(periods) == pytest.approx(1 / 30, abs=0.0015)
    assert periods.mean() == pytest.approx(1 / 30, rel=0.1)
    assert emulator.dropped > 0  # faults happened ...
    assert stats.timeouts + stats.corrupt_packets > 0  # ... were counted ...
    assert stats.retries == stats.timeouts + stats.corrupt_packets  # ... and each one retried
    assert stats.failures == 0


def test_a_persistent_fault_disables_torque_and_raises_within_100_ms():
    env = ControlRate(_emulated(bus_timeout_ms=20.0, bus_retries=1), fps=30)
    try:
        env.reset(seed=0)
        emu = env.unwrapped.backend.emulator
        injected: list[float] = []

        def servo_3_stops_replying() -> None:
            emu.faults = dataclasses.replace(emu.faults, no_reply_ids=frozenset({3}))
            injected.append(time.perf_counter())

        timer = threading.Timer(0.31, servo_3_stops_replying)  # mid-period, not step-aligned
        timer.start()
        with pytest.raises(MotorTimeoutError) as err:
            for _ in range(60):
                env.step(HOLD)
        latency_s = time.perf_counter() - injected[0]
        timer.join()
        assert err.value.motor_id == 3
        assert latency_s < 0.1, f"fault detected after {latency_s * 1e3:.0f} ms"
        assert _torque_off(emu)
    finally:
        env.close()


def _torque(emu) -> list[int]:
    return [emu.register("Torque_Enable", n) for n in NAMES]


def test_a_squeezing_gripper_reports_overload_and_keeps_the_arm_powered():
    # LeRobot configures the gripper to trip overload when it squeezes an object.
    env = _emulated()
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        emu = backend.emulator
        emu.faults = BusFaults(error_bits={6: 0x20})
        for _ in range(40):  # longer than the default patience: the gripper is tolerated
            env.step(HOLD)
        assert _torque(emu) == [1] * 6
        state = backend.read()
        assert state.extras["status_flags"] == {"gripper": ("overload",)}
        assert backend.bus.status_flags["gripper"] == ("overload",)
        assert backend.bus.status_flags["elbow_flex"] == ()
        emu.faults = BusFaults()
        assert backend.read().extras["status_flags"] == {}
    finally:
        env.close()


def test_a_persistent_overload_on_an_arm_joint_stops_the_arm():
    env = _emulated()
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        backend.status_watch.patience = 4
        emu = backend.emulator
        emu.faults = BusFaults(error_bits={3: 0x20})
        for _ in range(3):  # transient: reported, tolerated
            env.step(HOLD)
        assert _torque(emu) == [1] * 6
        with pytest.raises(MotorStatusError, match="overload on 4 consecutive reads") as err:
            env.step(HOLD)
        assert err.value.motor_id == 3 and err.value.flags == ("overload",)
        assert _torque_off(emu)
    finally:
        env.close()


def test_reset_after_a_fail_safe_stop_re_enables_torque():
    env = _emulated()
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        emu = backend.emulator
        emu.faults = BusFaults(error_bits={2: 0x01})  # low voltage: critical
        with pytest.raises(MotorStatusError, match="voltage"):
            env.step(HOLD)
        assert _torque_off(emu) and backend.torque_released
        with pytest.raises(HardwareError, match=r"env\.reset\(\)"):
            backend.command(np.zeros(6))  # a limp arm takes no goals until reset
        emu.faults = BusFaults()  # the supply is fixed
        obs, _ = env.reset(seed=1)
        assert _torque(emu) == [1] * 6 and not backend.torque_released
        target = obs["agent_pos"].copy()
        target[0] += 20.0
        for _ in range(30):
            obs, *_ = env.step(target)
        time.sleep(0.5)
        obs, *_ = env.step(target)
        assert obs["agent_pos"][0] == pytest.approx(target[0], abs=2.0)
    finally:
        env.close()
