"""The SO-101 bus on faults: fault-to-torque-off latency and connects under CPU load.

Runs the real driver over the pty servo-bus emulator (``backend="emulated"``, numpy plant).

Prints:
- fault-to-torque-off latency: an ``OSError`` is injected into the live serial port object
  during a step; the time from the failing write to every servo reporting torque off (read in
  the emulator), p50 and max over the repetitions, and as a ratio of one 30 Hz control period
  (the anchor);
- connect success under load: ``SO101Hardware.connect()`` (handshake, calibration, registers,
  torque) repeated with two busy processes competing for the CPU, with the emulated backend's
  bus settings (50 ms reply allowance, 2 retries); the success rate is printed against the
  same connects without load (the anchor), with every failure's type. A connect may fail with
  a typed timeout; a wrong reply (another firmware or model) would be a bug.

Usage: ``python benchmarks/bus_faults.py [--quick]`` (quick runs in about a minute).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401
from lerobot_gym.errors import LeRobotGymError, PortIOError
from lerobot_gym.robots.so101.emulated import EmulatedSO101
from lerobot_gym.robots.so101.hardware import SO101Hardware, SO101HardwareConfig
from lerobot_gym.robots.so101.spec import SO101

PERIOD_ANCHOR_S = 1 / 30
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

    latencies = np.array(_torque_off_latency(repeats))
    p50, worst = np.median(latencies), latencies.max()
    print(
        f"fault-to-torque-off latency over {repeats} OS errors: p50 {p50 * 1e3:.2f} ms, "
        f"max {worst * 1e3:.2f} ms; ratio to one 30 Hz period: p50 {p50 / PERIOD_ANCHOR_S:.3f}, "
        f"max {worst / PERIOD_ANCHOR_S:.3f}"
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
