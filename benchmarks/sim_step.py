"""Env step throughput on the SO-101 twin, against a raw mj_step loop measured in the same run.

Prints:
- SO101-PickCube state-obs env steps/s divided by a raw ``mj_step`` loop on the same compiled
  model with the same substeps (goal >= 0.80): the cost of everything lerobot_gym adds.
- steps/s with one 128x128 camera (goal >= 500).

Usage: ``python benchmarks/sim_step.py [--quick]`` (quick runs in well under 30 s).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import mujoco
import numpy as np

import lerobot_gym  # noqa: F401


def _env_rate(env: gym.Env, steps: int) -> float:
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    low, high = env.action_space.low, env.action_space.high
    actions = rng.uniform(low, high, size=(steps, *low.shape)).astype(np.float32)
    t0 = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = env.step(actions[i])
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t0)


def _raw_rate(env: gym.Env, steps: int) -> float:
    backend = env.unwrapped.backend
    model, data, substeps = backend.model, backend.data, backend.substeps
    rng = np.random.default_rng(0)
    low, high = env.unwrapped.robot.lower_rad, env.unwrapped.robot.upper_rad
    ctrls = rng.uniform(low, high, size=(steps, len(low)))
    t0 = time.perf_counter()
    for i in range(steps):
        data.ctrl[:6] = ctrls[i]
        mujoco.mj_step(model, data, nstep=substeps)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (< 30 s)")
    args = parser.parse_args()
    steps = 1500 if args.quick else 10000
    repeats = 3 if args.quick else 5

    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state", disable_env_checker=True)
    env.reset(seed=0)
    # Interleave the two loops so machine noise hits both alike; keep the best of each.
    env_rates, raw_rates = [], []
    for _ in range(repeats):
        raw_rates.append(_raw_rate(env, steps))
        env_rates.append(_env_rate(env, steps))
    env_rate, raw_rate = max(env_rates), max(raw_rates)
    print(f"raw mj_step loop ({env.unwrapped.backend.substeps} substeps): {raw_rate:9.1f} steps/s")
    print(f"SO101-PickCube state env:          {env_rate:9.1f} steps/s")
    print(f"ratio env/raw: {env_rate / raw_rate:.3f}  (goal >= 0.80)")
    env.close()

    cam_env = gym.make(
        "lerobot_gym/SO101-PickCube-v0",
        obs_type="pixels",
        cameras=("front",),
        image_size=(128, 128),
        disable_env_checker=True,
    )
    cam_steps = 300 if args.quick else 2000
    cam_rate = _env_rate(cam_env, cam_steps)
    print(f"SO101-PickCube 1x128x128 camera:   {cam_rate:9.1f} steps/s")
    print(f"ratio camera env/goal 500: {cam_rate / 500:.3f}  (goal >= 1.0)")
    cam_env.close()


if __name__ == "__main__":
    main()
