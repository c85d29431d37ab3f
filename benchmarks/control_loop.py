"""Real-time control loop on the emulated SO-101: period jitter and bus round trip.

Runs ``SO101-v0`` with ``backend="emulated"`` (the real driver over the pty servo-bus emulator
backed by the MuJoCo twin) and two synthetic 640x480 cameras, paced by ``ControlRate`` at 30 Hz.

Prints:
- the mean control period against its anchor, 33.3 ms (ratio, goal 1.00);
- p50 and p99 of the period jitter ``|period - 33.3 ms|`` against the 2 ms goal (ratio, goal
  <= 1.0 for p99);
- p50 and p99 of the 6-motor ``sync_read("Present_Position")`` round trip, in ms, and as a
  ratio of the control period (the share of each period the bus read costs).

With ``--robot=aloha``: ``Aloha-v0`` over the emulated ALOHA station (four Dynamixel buses on
ptys backed by the ALOHA twin) at 50 Hz with four synthetic 640x480 cameras; each step writes
the two followers and reads all four arms (the followers through the env, the two leaders as
bimanual teleoperation does). Prints the same period and jitter lines against 20 ms, and the
per-bus ``sync_read("Present_Position")`` round trip (9 servos, shadows never read).

The ALOHA station runs in a process of its own by default (``--station=inline``: in the loop's
process, ``backend="emulated"``); see ``_control_loop_aloha.py``.

Usage: ``python benchmarks/control_loop.py [--quick] [--robot=so101|aloha]
[--station=process|inline]`` (quick runs in well under 30 s).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401
from lerobot_gym.hardware.synthetic_camera import SyntheticCamera
from lerobot_gym.wrappers.control_rate import ControlRate

FPS = 30
PERIOD_ANCHOR_S = 1 / FPS
JITTER_GOAL_S = 0.002


def _camera(seed: int, fps: int = FPS) -> SyntheticCamera:
    """A 640x480 camera at 30 fps whose frames cost what a USB camera's do: next to nothing.

    The default synthetic render computes a full-frame gradient per frame (tens of ms of CPU);
    a real camera's capture thread only copies a frame the driver already decoded, so frames
    are drawn here from a few precomputed ones.
    """
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(4)]
    return SyntheticCamera(640, 480, fps=fps, render=lambda i, _t: frames[i % len(frames)])


def _control_loop(env: gym.Env, steps: int) -> np.ndarray:
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    home = env.unwrapped.robot.to_user(env.unwrapped.robot.home_rad)
    periods = []
    for _ in range(steps):
        action = (home + rng.normal(0.0, 2.0, size=home.shape)).astype(np.float32)
        *_, info = env.step(action)
        periods.append(info["control_period_s"])
    return np.array(periods[1:])  # the first period follows reset's settling reads


def _sync_read_round_trips(env: gym.Env, reads: int) -> np.ndarray:
    bus = env.unwrapped.backend.bus
    times = []
    for _ in range(reads):
        t0 = time.perf_counter()
        bus.sync_read("Present_Position")
        times.append(time.perf_counter() - t0)
    return np.array(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (< 30 s)")
    parser.add_argument("--robot", choices=("so101", "aloha"), default="so101")
    parser.add_argument(
        "--station",
        choices=("process", "inline"),
        default="process",
        help="aloha: the emulated station in its own process (as real arms are) or in the loop's",
    )
    args = parser.parse_args()
    if args.robot == "aloha":
        from _control_loop_aloha import run_aloha

        run_aloha(args.quick, _camera, args.station)
        return
    steps = 240 if args.quick else 1800  # 8 s or 60 s at 30 Hz
    reads = 500 if args.quick else 3000

    cameras = {name: _camera(seed) for seed, name in enumerate(("front", "wrist"))}
    env = gym.make(
        "lerobot_gym/SO101-v0",
        backend="emulated",
        obs_type="pixels_agent_pos",
        cameras=cameras,
        image_size=(480, 640),
        max_speed_deg_s=180.0,
        disable_env_checker=True,
    )
    env = ControlRate(env, fps=FPS)
    try:
        periods = _control_loop(env, steps)
        round_trips = _sync_read_round_trips(env, reads)
        stats = env.unwrapped.backend.bus_stats
    finally:
        env.close()

    jitter = np.abs(periods - PERIOD_ANCHOR_S)
    j50, j99 = np.percentile(jitter, [50, 99])
    r50, r99 = np.percentile(round_trips, [50, 99])
    print(f"control loop: {len(periods)} periods at {FPS} Hz, 2 synthetic 640x480 cameras")
    print(
        f"mean period: {periods.mean() * 1e3:6.2f} ms   ratio to anchor 33.3 ms: "
        f"{periods.mean() / PERIOD_ANCHOR_S:.3f}  (goal 1.00)"
    )
    print(f"jitter p50:  {j50 * 1e3:6.3f} ms   ratio to goal 2 ms: {j50 / JITTER_GOAL_S:.3f}")
    print(
        f"jitter p99:  {j99 * 1e3:6.3f} ms   ratio to goal 2 ms: {j99 / JITTER_GOAL_S:.3f}  "
        "(goal <= 1.0)"
    )
    print(
        f"6-motor sync_read round trip: p50 {r50 * 1e3:.3f} ms, p99 {r99 * 1e3:.3f} ms; "
        f"p99 ratio to the period: {r99 / PERIOD_ANCHOR_S:.3f}"
    )
    print(f"bus errors: {stats}")
    load1, _, _ = os.getloadavg()
    print(f"machine load average (1 min): {load1:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
