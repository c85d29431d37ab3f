"""Scripted ALOHA success rates over seeded episodes, against issue 7's goals.

Prints, for the scripted TransferCube and Insertion policies on the twin (state observations,
seeds 0..N-1): successes out of N, the goal (TransferCube >= 90 of 100, Insertion >= 80 of 100),
the seeds that failed and the episodes per second. The suite runs 20 seeds of each
(``tests/tasks/test_aloha_scripted.py``); this runs the full 100.

Usage: ``python benchmarks/aloha_scripted.py [--quick] [--episodes N]`` (quick: 5 seeds each,
well under 60 s).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym

import lerobot_gym  # noqa: F401
from lerobot_gym.tasks.scripted import make_scripted_policy

GOALS = {"lerobot_gym/Aloha-TransferCube-v0": 0.90, "lerobot_gym/Aloha-Insertion-v0": 0.80}


def success_rate(env_id: str, episodes: int) -> tuple[list[int], float]:
    """Failed seeds and episodes per second of the scripted policy on ``env_id``."""
    env = gym.make(env_id, obs_type="state")
    policy = make_scripted_policy(env)
    failed = []
    t0 = time.perf_counter()
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        policy.reset(obs, info)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            done = terminated or truncated
        if not info["is_success"]:
            failed.append(seed)
    rate = episodes / (time.perf_counter() - t0)
    env.close()
    return failed, rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 seeds per task")
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args()
    episodes = 5 if args.quick else args.episodes
    met = True
    for env_id, goal in GOALS.items():
        failed, rate = success_rate(env_id, episodes)
        successes = episodes - len(failed)
        ok = successes >= goal * episodes
        met &= ok
        print(
            f"{env_id}: scripted success {successes}/{episodes} (goal >= {goal:.0%}: "
            f"{'met' if ok else 'NOT met'}), failed seeds {failed}, {rate:.2f} episodes/s"
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
