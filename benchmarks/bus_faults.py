"""The SO-101 bus on faults: detection latencies, the control rate, connects under CPU load.

Runs the real driver over the pty servo-bus emulator (``backend="emulated"``, numpy plant).

Prints:
- fault-to-torque-off latency: an ``OSError`` is injected into the live serial port object
  during a step; the time from the failing write to every servo reporting torque off (read in
  the emulator), p50 and max over the repetitions, and as a ratio of one 30 Hz control period
  (the anchor);
- the 30 Hz control loop through 1 % packet loss and 0.1 % corrupt replies (``ControlRate``
  on the MuJoCo twin, a 20 ms reply allowance and 2 retries as on hardware): the median and
  mean control period as ratios of the 33.3 ms anchor (goal 1.00: a lost packet costs one
  20 ms allowance, inside the period), and the faults counted;
- persistent-fault detection latency: a servo stops replying at a random moment of the
  control period (a timer, 20 ms allowance, 1 retry as on hardware); the time until the step
  raises ``MotorTimeoutError``, p50 and max, as ratios of the 100 ms goal (two allowances and
  at most one period);
- connect success under load: ``SO101Hardware.connect()`` (handshake, calibration, registers,
  torque) repeated with two busy processes competing for the CPU, with the emulated backend's
  bus settings (50 ms reply allowance, 2 retries); the success rate is printed against the
  same connects without load (the anchor), with every failure's type. A connect may fail with
  a typed timeout; a wrong reply (another firmware or model) would be a bug.

Usage: ``python benchmarks/bus_faults.py [--quick]`` (quick runs in about a minute).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections import Counter

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401
from lerobot_gym.errors import LeRobotGymError, MotorError, MotorTimeoutError, PortIOError
from lerobot_gym.hardware.emulator import BusFaults
from lerobot_gym.robots.so101.emulated import EmulatedSO101
from lerobot_gym.robots.so101.hardware import SO101Hardware, SO101HardwareConfig
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.wrappers.control_rate import ControlRate

PERIOD_ANCHOR_S = 1 / 30
DETECTION_GOAL_S = 0.1
HARDWARE_BUS = {"bus_timeout_ms": 20.0}  # the real backend's allowance (not the emulated 50 ms)
HOLD = np.array([0.0, -45.0, 45.0, 45.0, 0.0, 20.0], dtype=np.float32)


def _torque_off_latency(repeats: int) -> list[float]:
    env = gym.make(
        "lerobot_gym/SO101-v0",
        backend="emulated",
        obs_type="state",
        plant="first_order",
        max_speed_deg_s=360.0,
        disable_env_checker=True,
    )
    latencies = []
    try:
        for k in range(repeats):
            env.reset(seed=k)
            backend = env.unwrapped.backend
            emu = backend.emulator
            env.step(HOLD)
            port = backend.bus._transport.serial
            real_write, failed_at = port.write, []

            def failing_write(data, real_write=real_write, failed_at=failed_at):
                if not failed_at:
                    failed_at.append(time.perf_counter())
                    raise OSError(5, "Input/output error")
                return real_write(data)

            port.write = failing_write
            try:
                env.step(HOLD)
            except PortIOError:
                pass
            while any(emu.register("Torque_Enable", n) for n in SO101.joint_names):
                time.sleep(0.0002)
            latencies.append(time.perf_counter() - failed_at[0])
    finally:
        env.close()
    return latencies


def _emulated(**kwargs) -> gym.Env:
    options = {"obs_type": "state", "max_speed_deg_s": 360.0, "plant": "first_order"}
    options |= HARDWARE_BUS | kwargs
    return gym.make("lerobot_gym/SO101-v0", backend="emulated", disable_env_checker=True, **options)


def _lossy_loop(steps: int) -> tuple[np.ndarray, dict[str, int]]:
    """Control periods of a 30 Hz loop on a lossy bus, and the bus's counters.

    A step that fails after its retries (a loaded machine can add real lateness to the
    injected faults) is counted in ``failures`` and followed by a reset, as a script would.
    """
    faults = BusFaults(loss_rate=0.01, corruption_rate=0.001)
    env = ControlRate(_emulated(plant="mujoco", faults=faults, bus_retries=2), fps=30)
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        backend.bus.reset_stats()
        periods = []
        while len(periods) < steps:
            try:
                periods.append(env.step(HOLD)[4]["control_period_s"])
            except MotorError:
                env.reset()  # the period after a reset restarts the clock: not counted
        return np.array(periods), backend.bus.stats.as_dict()
    finally:
        env.close()


def _detection_latency(repeats: int) -> list[float]:
    """Servo 3 stops replying mid-period; seconds until the loop's step raises."""
    rng = np.random.default_rng(0)
    latencies = []
    for k in range(repeats):
        env = ControlRate(_emulated(bus_retries=1), fps=30)
        try:
            env.reset(seed=k)
            emu = env.unwrapped.backend.emulator
            injected: list[float] = []

            def servo_3_stops_replying(emu=emu, injected=injected) -> None:
                emu.faults = dataclasses.replace(emu.faults, no_reply_ids=frozenset({3}))
                injected.append(time.perf_counter())

            timer = threading.Timer(0.2 + rng.uniform(0, PERIOD_ANCHOR_S), servo_3_stops_replying)
            timer.start()
            try:
                for _ in range(60):
                    env.step(HOLD)
            except MotorTimeoutError:
                latencies.append(time.perf_counter() - injected[0])
            timer.join()
            emu.faults = BusFaults()  # the servo is back: close() turns its torque off quietly
        finally:
            env.close()
    return latencies


def _connects(count: int) -> Counter:
    outcomes: Counter = Counter()
    with EmulatedSO101("follower", plant="first_order") as arm:
        for _ in range(count):
            config = SO101HardwareConfig(
                port=arm.port,
                calibration_dir=arm.calibration_dir,
                bus_timeout_ms=50.0,
                bus_retries=2,
            )
            backend = SO101Hardware(SO101, config, fps=30, image_size=(24, 32))
            try:
                backend.connect()
                outcomes["ok"] += 1
            except LeRobotGymError as exc:
                outcomes[type(exc).__name__] += 1
            except Exception as exc:  # an untyped error is a bug: show it
                outcomes[f"untyped {type(exc).__name__}"] += 1
            finally:
                backend.close()
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeats, connects = (10, 20) if args.quick else (50, 100)
    steps = 150 if args.quick else 900  # 5 s or 30 s at 30 Hz

    latencies = np.array(_torque_off_latency(repeats))
    p50, worst = np.median(latencies), latencies.max()
    print(
        f"fault-to-torque-off latency over {repeats} OS errors: p50 {p50 * 1e3:.2f} ms, "
        f"max {worst * 1e3:.2f} ms; ratio to one 30 Hz period: p50 {p50 / PERIOD_ANCHOR_S:.3f}, "
        f"max {worst / PERIOD_ANCHOR_S:.3f}"
    )

    periods, stats = _lossy_loop(steps)
    median, mean = np.median(periods), periods.mean()
    print(
        f"30 Hz loop, 1 % loss + 0.1 % corruption, {steps} steps: median period "
        f"{median * 1e3:.2f} ms, mean {mean * 1e3:.2f} ms; ratio to anchor 33.3 ms: median "
        f"{median / PERIOD_ANCHOR_S:.3f}, mean {mean / PERIOD_ANCHOR_S:.3f} (goal 1.00); "
        f"timeouts {stats['timeouts']}, corrupt {stats['corrupt_packets']}, "
        f"retries {stats['retries']}, failures {stats['failures']}"
    )

    detections = np.array(_detection_latency(repeats))
    d50, dmax = np.median(detections), detections.max()
    print(
        f"persistent no-reply fault to MotorTimeoutError over {len(detections)} faults: p50 "
        f"{d50 * 1e3:.1f} ms, max {dmax * 1e3:.1f} ms; ratio to the 100 ms goal: p50 "
        f"{d50 / DETECTION_GOAL_S:.3f}, max {dmax / DETECTION_GOAL_S:.3f} (goal <= 1.0)"
    )

    idle = _connects(connects // 4)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        loaded = _connects(connects)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    idle_rate = idle["ok"] / sum(idle.values())
    loaded_rate = loaded["ok"] / sum(loaded.values())
    print(
        f"connects without load: {idle['ok']}/{sum(idle.values())} ({dict(idle)}); with two "
        f"busy processes: {loaded['ok']}/{sum(loaded.values())} ({dict(loaded)}); ratio "
        f"{loaded_rate / idle_rate:.3f}"
    )


if __name__ == "__main__":
    main()
