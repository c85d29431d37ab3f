"""Vectorised evaluation with batched policy inference against one policy per env.

``evaluate_policy(..., batch_size=N)`` runs N twins of SO101-PickCube-v0 (state observations)
in a ``SyncVectorEnv``; a learned policy either acts for all N in one forward pass a step
(``batch_inference=True``, the default) or as N copies stepped one after another (the per-env
path, the anchor, measured in the same run). Policies have random weights (speed does not
depend on training) and the policies' default one inference thread; they are the state
policies of ``benchmarks/support/compact_policies.py``, the ones ``policy_latency.py`` times.

Prints, last: per policy the episodes/s of both paths and their ratio (batched / per-env).

What the ratio depends on: how much of a step is the network. A compact ACT with chunks of 20
runs its network on 1 step in 20, so the twin's physics dominates and batching gains little;
temporal ensembling and diffusion run the network far more often and gain most. Episodes here
all last ``--max_steps`` (random weights never finish the task), so envs stay in phase and every
network call is batched; a trained policy's episodes end at different steps, which puts chunked
policies out of phase (their batches get smaller) but not temporal ensembling or SB3.

Measured 2026-12-07 on the 2-core machine shared with six other agents' jobs (load average
12.3, under ``nice -n 5``), full run (24 episodes of 150 steps over 8 envs, best of 3); the
ratios are batched / per-env episodes per wall second and per CPU second of this process:

* ACT state, chunk 20: 4.59 against 3.90 episodes/s, ratio 1.18 wall, 1.18 CPU;
* ACT state, temporal ensembling: 2.15 against 0.97, ratio 2.21 wall, 2.09 CPU;
* diffusion state, DDIM 10, 8 actions: 1.49 against 0.49, ratio 3.06 wall, 3.09 CPU.

``--quick`` at load 11.7: 1.69 / 1.48, 1.96 / 1.86 and 2.41 / 2.53 (wall / CPU): one run
each, so its wall ratios carry the load's noise.

Usage: ``python benchmarks/batched_eval.py [--quick] [--batch_size=8]``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import torch
from support.compact_policies import POLICIES

import lerobot_gym  # noqa: F401
from lerobot_gym.policies import evaluate_policy

#: The state policies of support/compact_policies.py (policy_latency.py times the same ones).
NAMES = (
    "ACT state, chunk 20",
    "ACT state, temporal ensembling",
    "diffusion state, DDIM 10, 8 actions",
)


def _policies() -> dict[str, object]:
    torch.manual_seed(0)
    return {name: POLICIES[name][1] for name in NAMES}


def _episodes_per_s(build, batch_inference: bool, args) -> tuple[float, float]:
    """(episodes per wall second, episodes per CPU second of this process)."""
    policy = build()

    def make():
        return gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")

    start, cpu = time.perf_counter(), time.process_time()
    result = evaluate_policy(
        make,
        lambda env: policy.spawn(),
        n_episodes=args.episodes,
        seed=0,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        batch_inference=batch_inference,
    )
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return result.n_episodes / wall_s, result.n_episodes / cpu_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch_size", type=int, default=8)
    args = parser.parse_args()
    args.episodes = args.batch_size * (1 if args.quick else 3)
    args.max_steps = 40 if args.quick else 150
    repeats = 1 if args.quick else 3
    rows = []
    for name, build in _policies().items():
        # Alternated, best of `repeats`: the machine's load changes between runs.
        runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(repeats):
            for batched in (False, True):
                runs[batched].append(_episodes_per_s(build, batched, args))
        best = {k: (max(w for w, _ in v), max(c for _, c in v)) for k, v in runs.items()}
        rows.append((name, best[False], best[True]))
    print(
        f"{args.episodes} episodes of {args.max_steps} steps over {args.batch_size} envs, best "
        f"of {repeats}; load average {os.getloadavg()[0]:.1f}; torch threads "
        f"{torch.get_num_threads()}, policy inference threads 1"
    )
    for name, (per_wall, per_cpu), (bat_wall, bat_cpu) in rows:
        print(
            f"{name}: batched {bat_wall:.2f} episodes/s ({bat_cpu:.2f} per CPU s), per-env "
            f"(anchor) {per_wall:.2f} episodes/s ({per_cpu:.2f} per CPU s), ratio "
            f"{bat_wall / per_wall:.2f} wall, {bat_cpu / per_cpu:.2f} CPU"
        )


if __name__ == "__main__":
    main()
