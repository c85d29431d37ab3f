"""The ALOHA case of ``control_loop.py`` (see its docstring): 50 Hz over the emulated station.

By default the station (four Dynamixel bus emulators and their plants) runs in a process of its
own and the loop drives it with ``backend="real"``, as it drives a real station: the arms are
other machines, and an in-process emulator would charge its own Python (and the GIL) to the
loop's jitter. ``--station=inline`` measures ``backend="emulated"`` (the station in the loop's
process, its followers on the MuJoCo twin) instead.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
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


def _serve_station(conn: Any) -> None:
    """Child process: run an emulated station until the parent says stop (or goes away)."""
    from lerobot_gym.robots.aloha.emulated import AlohaStation
    from lerobot_gym.robots.aloha.spec import ALOHA

    with AlohaStation(ALOHA) as station:
        conn.send(
            {
                "ports": station.ports,
                "calibration": {
                    k: str(station.calibration_folder(k)) for k in ("follower", "leader")
                },
            }
        )
        with contextlib.suppress(EOFError):
            conn.recv()


@contextlib.contextmanager
def _station_process() -> Iterator[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve_station, args=(child,), daemon=True)
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(timeout=10)


def run_aloha(quick: bool, camera: Callable[..., Any], station_mode: str = "process") -> None:
    """Run the ALOHA control loop and print its numbers."""
    with contextlib.ExitStack() as stack:
        if station_mode == "process":
            station = stack.enter_context(_station_process())
            follower_ports = {arm: station["ports"][("follower", arm)] for arm in ARMS}
            backend = {
                "backend": "real",
                "ports": follower_ports,
                "calibration_dir": station["calibration"]["follower"],
                # The station shares two cores with the loop: a forgiving handshake (replies
                # in a healthy loop come in well under a millisecond, see the round trips).
                "bus_timeout_ms": 100.0,
                "bus_retries": 3,
            }
        else:
            station, backend = None, {"backend": "emulated"}
        _run(quick, camera, station, backend)


ARMS = ("left", "right")


def _run(
    quick: bool, camera: Callable[..., Any], station: dict[str, Any] | None, backend: dict[str, Any]
) -> None:
    from lerobot_gym.robots.aloha.leader import AlohaLeaders

    steps = 400 if quick else 3000  # 8 s or 60 s at 50 Hz
    reads = 300 if quick else 2000
    cameras = {name: camera(seed, FPS) for seed, name in enumerate(CAMERAS)}
    env = gym.make(
        "lerobot_gym/Aloha-v0",
        obs_type="pixels_agent_pos",
        cameras=cameras,
        image_size=(480, 640),
        max_speed_deg_s=180.0,
        disable_env_checker=True,
        **backend,
    )
    env = ControlRate(env, fps=FPS)
    try:
        obs, _ = env.reset(seed=0)
        if station is None:
            inline = env.unwrapped.backend.station
            leader_ports = {arm: inline.ports[("leader", arm)] for arm in ARMS}
            leader_calibration: Any = inline.calibration_folder("leader")
        else:
            leader_ports = {arm: station["ports"][("leader", arm)] for arm in ARMS}
            leader_calibration = station["calibration"]["leader"]
        leaders = AlohaLeaders(leader_ports, calibration_dir=leader_calibration)
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
    where = "in its own process" if station is not None else "in the loop's process"
    print(
        f"ALOHA control loop: {len(periods_arr)} periods at {FPS} Hz, 4 emulated buses "
        f"(2 written, 4 read; the station {where}), 4 synthetic 640x480 cameras"
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
