"""OS-level faults of the serial port itself (not of a servo): each is a typed error, the port
is released, torque goes off on a fresh transaction, and the bus and the env recover.

The faults are injected into the real pyserial port object the bus holds (``termios.error``
from the input flush, ``OSError`` from a write or a read), as a USB serial adapter that glitches
or is briefly reset produces them.
"""

from __future__ import annotations

import termios

import gymnasium as gym
import numpy as np
import pytest
import serial

import lerobot_gym  # noqa: F401
from lerobot_gym.errors import HardwareError, NotConnectedError, PortIOError
from lerobot_gym.hardware.bus import Motor
from lerobot_gym.hardware.emulator import FeetechEmulator
from lerobot_gym.hardware.feetech import FeetechBus

NAMES = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
IDS = {name: i + 1 for i, name in enumerate(NAMES)}
MOTORS = {name: Motor(i) for name, i in IDS.items()}
HOLD = np.array([0.0, -45.0, 45.0, 45.0, 0.0, 20.0], dtype=np.float32)


class _Glitch:
    """Make one method of the bus's live ``serial.Serial`` raise for its next ``times`` calls."""

    def __init__(self, port: serial.Serial, method: str, error: BaseException, times: int = 1):
        self.port, self.method, self.error, self.times = port, method, error, times
        self.real = getattr(port, method)
        self.raised = 0
        setattr(port, method, self)

    def __call__(self, *args, **kwargs):
        if self.raised < self.times:
            self.raised += 1
            raise self.error
        return self.real(*args, **kwargs)


def _serial(bus: FeetechBus) -> serial.Serial:
    return bus._transport.serial  # the live pyserial object the bus talks through


_FAULTS = [
    ("reset_input_buffer", termios.error(5, "Input/output error")),
    ("write", OSError(5, "Input/output error")),
    ("read", OSError(5, "Input/output error")),
    ("read", serial.SerialException("device reports readiness to read but returned no data")),
]
_FAULT_IDS = ["flush-termios", "write-oserror", "read-oserror", "read-serialexception"]


@pytest.fixture
def emu():
    with FeetechEmulator(IDS) as emulator:
        yield emulator


@pytest.mark.parametrize(("method", "error"), _FAULTS, ids=_FAULT_IDS)
def test_an_os_error_is_a_typed_error_and_the_bus_keeps_working(emu, method, error):
    bus = FeetechBus(emu.port, MOTORS, timeout_ms=100)
    bus.connect()
    bus.enable_torque()
    glitch = _Glitch(_serial(bus), method, error)
    with pytest.raises(PortIOError, match=emu.port) as err:
        bus.sync_read("Present_Position")
    assert glitch.raised == 1
    assert "cable" in str(err.value)  # names the fix
    assert isinstance(err.value, HardwareError)
    # The port is not left "in use": the next transactions go through.
    assert set(bus.sync_read("Present_Position")) == set(NAMES)
    bus.write("Goal_Position", "gripper", 2000)
    bus.close()
    assert all(emu.register("Torque_Enable", n) == 0 for n in NAMES)


def test_torque_off_survives_os_errors_by_reopening_the_port(emu):
    bus = FeetechBus(emu.port, MOTORS, timeout_ms=100)
    bus.connect()
    bus.enable_torque()
    # Every write on this port object fails (the adapter was reset): torque off must reopen
    # the port and send it on a fresh one.
    glitch = _Glitch(_serial(bus), "write", OSError(5, "Input/output error"), times=10**6)
    bus.disable_torque()
    assert glitch.raised >= 1
    assert all(emu.register("Torque_Enable", n) == 0 for n in NAMES)
    assert bus.stats.port_reopens >= 1
    bus.close()


def test_a_port_that_cannot_be_reopened_is_released_so_a_new_bus_can_connect(emu, monkeypatch):
    bus = FeetechBus(emu.port, MOTORS, timeout_ms=100)
    bus.connect()
    _Glitch(_serial(bus), "write", OSError(5, "Input/output error"), times=10**6)
    # ... and the device cannot be reopened for now (unplugged).
    real_open = serial.Serial.open

    def unplugged(self):
        raise serial.SerialException(2, "could not open port: No such file or directory")

    monkeypatch.setattr(serial.Serial, "open", unplugged)
    with pytest.raises(PortIOError):
        bus.emergency_torque_off()
    assert not bus.is_connected  # the handle (and its exclusive lock) was let go
    with pytest.raises(NotConnectedError):
        bus.sync_read("Present_Position")
    bus.close()  # closing a bus that lost its port is fine
    monkeypatch.setattr(serial.Serial, "open", real_open)  # plugged back in
    again = FeetechBus(emu.port, MOTORS, timeout_ms=100)
    again.connect()
    assert set(again.sync_read("Present_Position")) == set(NAMES)
    again.close()


# ----------------------------------------------------------------------------- the env
def _env() -> gym.Env:
    return gym.make(
        "lerobot_gym/SO101-v0",
        backend="emulated",
        obs_type="state",
        plant="first_order",
        max_speed_deg_s=360.0,
        disable_env_checker=True,
    )


def _torque(emu) -> list[int]:
    return [emu.register("Torque_Enable", n) for n in NAMES]


@pytest.mark.parametrize(("method", "error"), _FAULTS, ids=_FAULT_IDS)
def test_a_step_with_an_os_error_stops_the_arm_and_the_env_resets_and_closes(method, error):
    env = _env()
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        emu = backend.emulator
        env.step(HOLD)
        assert _torque(emu) == [1] * 6
        # A sync write fails on write(); the sync read on the flush and on read().
        _Glitch(_serial(backend.bus), method, error)
        with pytest.raises(PortIOError):
            env.step(HOLD)
        # fail_safe's SYNC_WRITE is unacknowledged: confirm servo by servo over the bus.
        assert backend.bus.sync_read("Torque_Enable") == dict.fromkeys(NAMES, 0)
        env.reset(seed=1)
        assert _torque(emu) == [1] * 6
        env.step(HOLD)
    finally:
        env.close()
    assert _torque(emu) == [0] * 6


def test_the_env_reconnects_after_the_port_was_lost(monkeypatch):
    env = _env()
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        emu = backend.emulator
        _Glitch(_serial(backend.bus), "write", OSError(5, "Input/output error"), times=10**6)
        real_open = serial.Serial.open

        def unplugged(self):
            raise serial.SerialException(2, "could not open port: No such file or directory")

        monkeypatch.setattr(serial.Serial, "open", unplugged)
        with pytest.raises(PortIOError):
            env.step(HOLD)
        assert not backend.is_connected  # the lost port was released
        monkeypatch.setattr(serial.Serial, "open", real_open)  # plugged back in
        env.reset(seed=1)  # reconnects: handshake, calibration, torque on
        assert backend.is_connected and _torque(emu) == [1] * 6
        env.step(HOLD)
    finally:
        env.close()
    assert _torque(emu) == [0] * 6
