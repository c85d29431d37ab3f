"""ALOHA step throughput: our twin against gym-aloha's ``AlohaInsertion-v0``, measured in one run.

Prints:
- gym-aloha ``AlohaInsertion-v0`` ``env.step`` rate (its 480x640 ``top`` camera, plus the two
  other 480x640 renders its task does every step), run in its own venv through
  ``benchmarks/support/gym_aloha_side.py``;
- our registered ``lerobot_gym/Aloha-Insertion-v0`` (``gym.make`` defaults: 50 Hz, the task's
  peg and socket, its staged reward, safety, one 480x640 ``top`` camera,
  ``obs_type="pixels_agent_pos"``) stepped through ``env.step``, and the ratio to gym-aloha
  (issue goal >= 10x);
- the same id with ``obs_type="state"`` (no rendering), and its ratio.

Both sides are driven by the same slow random walk of joint targets around the start pose.

Usage: ``python benchmarks/aloha_vs_gym_aloha.py [--quick]`` (quick: under 60 s). Needs the
gym-aloha venv (``make bench-venv-aloha``); without it, prints why and exits 0.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401  (registers the ids)

ROOT = Path(__file__).resolve().parents[1]
GYM_ALOHA_PYTHON = Path(
    os.environ.get("LEROBOT_GYM_ALOHA_PYTHON", ROOT / "benchmarks/.venv-gym-aloha/bin/python")
)
SIDE_SCRIPT = ROOT / "benchmarks/support/gym_aloha_side.py"
CONTROL_DT = 0.02  # 50 Hz, gym-aloha's DT


def _gym_aloha_rate(seconds: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.npz"
        subprocess.run(
            [str(GYM_ALOHA_PYTHON), str(SIDE_SCRIPT), "bench", str(out), "--seconds", str(seconds)],
            check=True,
            capture_output=True,
        )
        result = np.load(out)
        return float(result["steps"]) / float(result["seconds"])


def _targets(steps: int) -> np.ndarray:
    """A slow random walk around the start pose, in action units (gripper 0..1, open)."""
    rng = np.random.default_rng(0)
    home = np.array([0, -0.96, 1.16, 0, -0.3, 0, 0.9] * 2)
    walk = np.cumsum(rng.normal(0, 0.01, (steps, 14)), axis=0)
    walk[:, [6, 13]] *= 0.05
    return home + walk


def _our_rate(seconds: float, obs_type: str) -> float:
    """``env.step`` rate of the registered Aloha-Insertion-v0 (its default top camera)."""
    env = gym.make("lerobot_gym/Aloha-Insertion-v0", obs_type=obs_type)
    low, high = env.action_space.low, env.action_space.high
    targets = np.clip(_targets(100_000), low, high).astype(np.float32)
    env.reset(seed=0)
    steps, t0 = 0, time.perf_counter()
    try:
        while time.perf_counter() - t0 < seconds:
            _, _, terminated, truncated, _ = env.step(targets[steps % len(targets)])
            steps += 1
            if terminated or truncated:
                env.reset()
        return steps / (time.perf_counter() - t0)
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (< 60 s)")
    args = parser.parse_args()
    seconds = 8.0 if args.quick else 30.0
    if not GYM_ALOHA_PYTHON.exists():
        print(f"skipped: gym-aloha venv absent ({GYM_ALOHA_PYTHON}); run make bench-venv-aloha")
        return
    theirs = _gym_aloha_rate(seconds)
    ours_pixels = _our_rate(seconds, obs_type="pixels_agent_pos")
    ours_state = _our_rate(seconds / 4, obs_type="state")
    print(f"gym-aloha AlohaInsertion-v0 (480x640 top + 2 renders): {theirs:9.1f} steps/s")
    print(f"lerobot_gym/Aloha-Insertion-v0, one 480x640 top:      {ours_pixels:9.1f} steps/s")
    print(f"lerobot_gym/Aloha-Insertion-v0, state only:           {ours_state:9.1f} steps/s")
    print(f"ratio pixels ours/gym-aloha: {ours_pixels / theirs:.1f}x  (goal >= 10x)")
    print(f"ratio state  ours/gym-aloha: {ours_state / theirs:.1f}x")


if __name__ == "__main__":
    main()
