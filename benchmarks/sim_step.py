"""Env step throughput on the SO-101 twin, against a raw mj_step loop measured in the same run.

Prints:
- SO101-PickCube state-obs env steps/s divided by a raw ``mj_step`` loop on the same compiled
  model with the same substeps (goal >= 0.80): the cost of everything lerobot_gym adds.
- the same env with the servo model on (``actuator="servo"``: STS3215 loop, delay, ticks)
  divided by a raw ``mj_step`` loop on the servo env's own model (its gains and torque limits
  set, the targets written straight to ``ctrl``): what the profile, delay, deadband and
  quantisation cost on top of the physics (goal >= 0.60). The servo model's softer actuators
  also change the physics itself (the arm meets the table and the cube differently under
  random targets), which the ratio against the ideal raw loop shows too.
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


def _actions(env: gym.Env, steps: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    low, high = env.action_space.low, env.action_space.high
    return rng.uniform(low, high, size=(steps, *low.shape)).astype(np.float32)


def _env_rate(env: gym.Env, actions: np.ndarray) -> float:
    env.reset(seed=0)
    t0 = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - t0)


def _raw_rate(env: gym.Env, actions: np.ndarray) -> float:
    """The same episodes in plain MuJoCo: the same joint targets (converted once, up front) and
    the same episode starts (the env's own reset, on the time limit's schedule)."""
    robot_env = env.unwrapped
    backend = robot_env.backend
    model, data, substeps = backend.model, backend.data, backend.substeps
    robot = robot_env.robot
    ctrls = np.clip(robot.from_user(actions), robot.lower_rad, robot.upper_rad)
    arm = slice(0, ctrls.shape[1])
    horizon = env.spec.max_episode_steps
    env.reset(seed=0)
    t0 = time.perf_counter()
    for i, ctrl in enumerate(ctrls):
        data.ctrl[arm] = ctrl
        mujoco.mj_step(model, data, nstep=substeps)
        if i % horizon == horizon - 1:
            env.reset()
    return len(ctrls) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (< 30 s)")
    args = parser.parse_args()
    steps = 3000 if args.quick else 10000
    repeats = 3 if args.quick else 5

    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state", disable_env_checker=True)
    env.reset(seed=0)
    actions = _actions(env, steps)
    # Interleave the two loops so machine noise hits both alike; keep the best of each.
    env_rates, raw_rates = [], []
    for _ in range(repeats):
        raw_rates.append(_raw_rate(env, actions))
        env_rates.append(_env_rate(env, actions))
    servo_env = gym.make(
        "lerobot_gym/SO101-PickCube-v0",
        obs_type="state",
        actuator="servo",
        disable_env_checker=True,
    )
    servo_env.reset(seed=0)
    servo_rates, servo_raw_rates = [], []
    for _ in range(repeats):
        servo_raw_rates.append(_raw_rate(servo_env, actions))
        servo_rates.append(_env_rate(servo_env, actions))
    env_rate, raw_rate, servo_rate = max(env_rates), max(raw_rates), max(servo_rates)
    servo_raw = max(servo_raw_rates)
    print(f"raw mj_step loop ({env.unwrapped.backend.substeps} substeps): {raw_rate:9.1f} steps/s")
    print(f"SO101-PickCube state env:          {env_rate:9.1f} steps/s")
    print(f"ratio env/raw: {env_rate / raw_rate:.3f}  (goal >= 0.80)")
    print(f"raw mj_step loop, servo's model:   {servo_raw:9.1f} steps/s")
    print(f"SO101-PickCube state env, servo:   {servo_rate:9.1f} steps/s")
    print(f"ratio servo env/raw (servo's model): {servo_rate / servo_raw:.3f}  (goal >= 0.60)")
    print(f"ratio servo env/raw (ideal model):   {servo_rate / raw_rate:.3f}  (no goal)")
    env.close()
    servo_env.close()

    cam_env = gym.make(
        "lerobot_gym/SO101-PickCube-v0",
        obs_type="pixels",
        cameras=("front",),
        image_size=(128, 128),
        disable_env_checker=True,
    )
    cam_steps = 300 if args.quick else 2000
    cam_rate = _env_rate(cam_env, _actions(cam_env, cam_steps))
    print(f"SO101-PickCube 1x128x128 camera:   {cam_rate:9.1f} steps/s")
    print(f"ratio camera env/goal 500: {cam_rate / 500:.3f}  (goal >= 1.0)")
    cam_env.close()


if __name__ == "__main__":
    main()
