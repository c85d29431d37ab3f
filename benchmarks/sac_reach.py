"""SB3 SAC on SO101-Reach (state observations): success within 30k env steps, and wall time.

Trains through ``lerobot-gym train`` itself (the same flags a user passes), evaluating every
``--eval_freq`` steps on seeded episodes with the same evaluation as ``lerobot-gym eval``
(success = ``info["is_success"]`` at the final step: the gripper within 2 cm of the target).

Prints, last:
- SAC's best and final success rate, the env steps at which it first reached 90 % (goal: within
  30k steps), and the wall time;
- the same evaluation episodes run by the scripted Reach policy (the anchor, measured in this
  run) and by a random policy, and SAC's success as a ratio of the scripted policy's.

Hyperparameters (dense reward ``1 - tanh(10 d)``, the id's default), chosen from the runs in
the table below, none tuned on the evaluation episodes:

* joint-delta actions (``--env.control_mode=joint_delta``, 5 degrees per step at most, rescaled
  to [-1, 1]): the policy is a feedback controller that corrects what it sees, where absolute
  targets ask it to learn the arm's inverse kinematics to 2 cm from the critic alone;
* 40-step training episodes (``--train.max_episode_steps=40``; evaluation keeps the id's 100):
  the arm gets to a target in about 20 delta steps, so a 100-step episode spends most of its
  samples holding one goal; shorter ones show the agent 2.5x more goals for the same steps;
* observations normalised by running mean/std (``--policy.normalize_obs``: joint angles in
  degrees would drown the target in metres), gamma 0.9, learning rate 1e-3, two 128-unit
  layers, batch 128, 1000 random steps first, entropy coefficient starting at 0.1
  (``auto_0.1``; SB3's 1.0 outweighs a per-step reward below 1 for the first thousands of
  updates), two gradient steps per env step (``--policy.gradient_steps=2``).

Evaluation success (20 episodes) at 2.5k / 5k / 7.5k / 10k / 12.5k / 15k steps, measured on the
shared 2-core machine (load 6-14):

* absolute targets, 100-step episodes, gamma 0.9 (the first version): 0 / 5 / 5 / 15 / 10 / 30 %;
* absolute, 15-step training episodes, gamma 0.5: 0 / 0 / 5 / 15 / 0 %;
* joint delta, 100-step episodes, gamma 0.95, [256, 256], entropy from 1.0: 0 / 5 / 20 / 10 /
  20 / 30 %;
* the same with one gradient step per env step: 0 / 30 / 25 / 20 / 40 / 35 %, then 35 / 55 /
  30 / 40 / 40 / 60 % at 17.5k-30k (30k steps in 2013 s at load 10-14); its final policy over
  50 fresh episodes: 26/50 = 52 % (95 % Wilson 38.5-65.2 %). Returns levelled off near 78 of
  100 (the arm ended 2-3 cm from the target: precision, not direction, was missing).
  Appending the gripper position to the observation (as FetchReach does; a throw-away wrapper,
  not in the package) gave 5 / 10 / 20 / 30 / 20 / 40 % at 2.5k-15k: no better;
* this configuration (two gradient steps): 5 / 10 / 50 / 50 / 40 / 55 %, then 60 / 55 / 70 /
  85 / 75 / 85 % at 17.5k-30k, 30k steps in 841 s at load 6-7; its final policy over 50 fresh
  episodes (``lerobot-gym eval --eval.batch_size=5 --seed=5000``): 38/50 = 76 % (95 % Wilson
  62.6-85.7 %). The 90 % goal is not met yet. Untried: hindsight relabelling, a reward sharper
  inside 3 cm, more gradient steps.

Usage: ``python benchmarks/sac_reach.py [--quick] [--output_dir DIR] [--policy.device cpu]``
(``--quick``: 1.2k steps, a smoke run under 2 minutes; the goal is not expected there).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym

import lerobot_gym  # noqa: F401
from lerobot_gym.cli.train_sb3 import PARSER, train
from lerobot_gym.policies import EvalResult, evaluate_policy, make_policy

ENV_ID = "lerobot_gym/SO101-Reach-v0"
ENV_KWARGS = {"obs_type": "state", "control_mode": "joint_delta"}
GOAL_SUCCESS, GOAL_STEPS = 0.90, 30_000
FRESH_SEED = 5000  # far from the training evaluations' seed + 1_000_000 and the training env's


def _evaluate(policy_type: str, n: int, seed: int, **policy_args: str) -> EvalResult:
    """``lerobot-gym eval``'s evaluation: ``n`` episodes seeded ``seed, seed + 1, ...``."""
    return evaluate_policy(
        lambda: gym.make(ENV_ID, **ENV_KWARGS),
        lambda env: make_policy(policy_type, env, seed=seed, **policy_args),
        n_episodes=n,
        seed=seed,
        batch_size=min(n, 5),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output_dir", default=None)
    parser.add_argument("--policy.device", dest="device", default="cpu")
    parser.add_argument(
        "--fresh_episodes",
        type=int,
        default=None,
        help="episodes (seeded from 5000, never seen in training) for the final policy's "
        "figure; default 50 (--quick: 4)",
    )
    args = parser.parse_args()
    quick = args.quick
    steps, eval_freq, n_eval = (1_200, 600, 4) if quick else (GOAL_STEPS, 2_500, 20)
    n_fresh = args.fresh_episodes or (4 if quick else 50)
    out = args.output_dir or tempfile.mkdtemp(prefix="sac_reach_")
    if args.output_dir is None:
        shutil.rmtree(out)
    seed = 0
    argv = [
        "--policy.type=sac",
        f"--policy.device={args.device}",
        f"--env.id={ENV_ID}",
        "--env.obs_type=state",
        "--env.control_mode=joint_delta",
        "--train.max_episode_steps=40",
        f"--steps={steps}",
        "--batch_size=64" if quick else "--batch_size=128",
        f"--eval_freq={eval_freq}",
        f"--save_freq={steps}",
        f"--eval.n_episodes={n_eval}",
        f"--seed={seed}",
        f"--output_dir={out}",
        "--policy.learning_rate=0.001",
        "--policy.gamma=0.9",
        "--policy.ent_coef=auto_0.1",
        "--policy.gradient_steps=2",
        "--policy.normalize_obs=true",
        f"--policy.learning_starts={400 if quick else 1000}",
        f"--policy.buffer_size={steps}",
        "--policy.net_arch=[64,64]" if quick else "--policy.net_arch=[128,128]",
    ]
    start = time.perf_counter()
    report = train(PARSER.parse(argv))
    wall_s = time.perf_counter() - start
    evals = report["evaluations"]
    reached = next((e["step"] for e in evals if e["success_rate"] >= GOAL_SUCCESS), None)
    best = max(e["success_rate"] for e in evals)
    final = evals[-1]["success_rate"]
    eval_seed = seed + 1_000_000  # the episodes training evaluates on
    scripted = _evaluate("scripted", n_eval, eval_seed).success_rate
    random = _evaluate("random", n_eval, eval_seed).success_rate
    fresh = _evaluate("sb3", n_fresh, FRESH_SEED, path=str(report["policy_dir"]))
    low, high = fresh.success_ci95

    print(f"output: {report['output_dir']} (plot: {report['plot']})")
    for e in evals:
        print(f"  step {e['step']:>6}: success {100 * e['success_rate']:5.1f}%")
    print(
        f"SAC steps: {report['steps']}, wall time {wall_s:.0f} s "
        f"({report['steps'] / wall_s:.0f} env steps/s including updates and evaluations; "
        f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(
        f"anchor: scripted success {100 * scripted:.1f}%, random {100 * random:.1f}% "
        f"({n_eval} episodes)"
    )
    ratio = final / scripted if scripted > 0 else float("nan")
    print(
        f"SAC success: best {100 * best:.1f}%, final {100 * final:.1f}% "
        f"({ratio:.2f}x scripted); first >= 90 % at step {reached} "
        f"(goal: <= {GOAL_STEPS}{', quick run: not expected' if quick else ''})"
    )
    print(
        f"final policy on {n_fresh} fresh episodes (seeds {FRESH_SEED}-"
        f"{FRESH_SEED + n_fresh - 1}): {fresh.n_successes}/{n_fresh} = "
        f"{100 * fresh.success_rate:.1f}% (95% Wilson {100 * low:.1f}-{100 * high:.1f}%), "
        f"goal >= {100 * GOAL_SUCCESS:.0f}%"
    )


if __name__ == "__main__":
    main()
