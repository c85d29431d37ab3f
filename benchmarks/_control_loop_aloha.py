"""The ALOHA case of ``control_loop.py`` (see its docstring): 50 Hz over the emulated station."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from lerobot_gym.wrappers.control_rate import ControlRate

FPS = 50
PERIOD_ANCHOR_S = 1 / FPS
JITTER_GOAL_S = 0.002
CAMERAS = ("top", "angle", "left_wrist", "right_wrist")


def _round_trips(bus: Any, reads: int) -> np.ndarray:
    times = []
    for _ in range(reads):
        t0 = time.perf_counter()
        bus.sync_read("Present_Position")
        times.append(time.perf_counter() - t0)
    return np.array(times)


def run_aloha(quick: bool, camera: Callable[..., Any]) -> None:
    """Run the ALOHA control loop and print its numbers."""
    from lerobot_gym.robots.aloha.leader import AlohaLeaders

    steps = 400 if quick else 3000  # 8 s or 60 s at 50 Hz
    reads = 300 if quick else 2000
    cameras = {name: camera(seed, FPS) for seed, name in enumerate(CAMERAS)}
    env = gym.make(
        "lerobot_gym/Aloha-v0",
        backend="emulated",
        obs_type="pixels_agent_pos",
        cameras=cameras,
        image_size=(480, 640),
        max_speed_deg_s=180.0,
        disable_env_checker=True,
    )
    env = ControlRate(env, fps=FPS)
    try:
        obs, _ = env.reset(seed=0)
        station = env.unwrapped.backend.station
        leaders = AlohaLeaders(
            {arm: station.ports[("leader", arm)] for arm in ("left", "right")},
            calibration_dir=station.calibration_folder("leader"),
        )
        leaders.connect()
        rng = np.random.default_rng(0)
        home = obs["agent_pos"].copy()
        periods = []
        for _ in range(steps):
            leaders.get_action()  # the two leader buses are read every step, as in teleop
            action = home + rng.normal(0.0, 0.01, size=home.shape).astype(np.float32)
            action[[6, 13]] = np.clip(action[[6, 13]], 0.0, 1.0)
            *_, info = env.step(action)
            periods.append(info["control_period_s"])
        periods_arr = np.array(periods[1:])
        buses = {
            f"follower {arm}": bus
            for arm, bus in zip(("left", "right"), env.unwrapped.backend.buses)
        }
        buses.update({f"leader {arm}": bus for arm, bus in leaders.buses.items()})
        round_trips = {name: _round_trips(bus, reads) for name, bus in buses.items()}
        stats = env.unwrapped.backend.bus_stats
        leaders.disconnect()
    finally:
        env.close()

    jitter = np.abs(periods_arr - PERIOD_ANCHOR_S)
    j50, j99 = np.percentile(jitter, [50, 99])
    print(
        f"ALOHA control loop: {len(periods_arr)} periods at {FPS} Hz, 4 emulated buses "
        "(2 written, 4 read), 4 synthetic 640x480 cameras"
    )
    print(
        f"mean period: {periods_arr.mean() * 1e3:6.2f} ms   ratio to anchor 20 ms: "
        f"{periods_arr.mean() / PERIOD_ANCHOR_S:.3f}  (goal 1.00)"
    )
    print(f"jitter p50:  {j50 * 1e3:6.3f} ms   ratio to goal 2 ms: {j50 / JITTER_GOAL_S:.3f}")
    print(
        f"jitter p99:  {j99 * 1e3:6.3f} ms   ratio to goal 2 ms: {j99 / JITTER_GOAL_S:.3f}  "
        "(goal <= 1.0)"
    )
    for name, times in round_trips.items():
        r50, r99 = np.percentile(times, [50, 99])
        print(
            f"{name:15s} sync_read round trip: p50 {r50 * 1e3:.3f} ms, p99 {r99 * 1e3:.3f} ms; "
            f"p99 ratio to the period: {r99 / PERIOD_ANCHOR_S:.3f}"
        )
    print(f"follower bus errors: {stats}")
    load1, _, _ = os.getloadavg()
    print(f"machine load average (1 min): {load1:.2f} on {os.cpu_count()} CPUs")
