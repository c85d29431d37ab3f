"""ACT (and diffusion beside it) trained on scripted PickCube demonstrations, evaluated on the twin.

Records scripted SO101-PickCube-v0 episodes (state observations: ``agent_pos`` and the cube's
pose in ``environment_state``) as a LeRobot dataset, trains a compact ACT and a compact
Diffusion Policy on it with :func:`lerobot_gym.policies.training.train`, and evaluates each on
fresh seeds of the same env.

Prints, last:
- the scripted demonstrator's success rate on the evaluation seeds (the anchor, this run);
- per policy: success rate (95 % Wilson interval), ratio to the anchor (goal for ACT, full
  run: >= 0.80 absolute over 50 episodes), training wall time, samples/s, s/step, and the
  success-versus-training-time curve (one evaluation per checkpoint).

Usage: ``python benchmarks/act_pickcube.py [--quick] [--policy.device=cpu|cuda]``. ``--quick``
(under 2 minutes on an idle 2-core CPU) records 4 short demonstrations and trains a few dozen
steps: a smoke run of the pipeline, not of the success goal. The full run (50 demos, 10k ACT
steps) takes about 20 minutes of CPU; run it in the background.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import torch

import lerobot_gym  # noqa: F401
from lerobot_gym.policies import evaluate_policy, load_policy, make_policy, wilson_interval
from lerobot_gym.policies.training import TrainConfig, train
from lerobot_gym.wrappers import RecordEpisodes

ENV_ID = "lerobot_gym/SO101-PickCube-v0"
ACT_OPTIONS = {
    "chunk_size": 20,
    "n_action_steps": 20,
    "dim_model": 128,
    "n_heads": 4,
    "dim_feedforward": 512,
    "n_encoder_layers": 2,
    "n_vae_encoder_layers": 2,
    "optimizer_lr": 3e-4,
    "kl_weight": 10.0,
}
DIFFUSION_OPTIONS = {
    "horizon": 16,
    "n_action_steps": 8,
    "down_dims": [64, 128],
    "diffusion_step_embed_dim": 64,
    "noise_scheduler_type": "DDIM",
    "num_inference_steps": 10,
    "optimizer_lr": 3e-4,
    "scheduler_warmup_steps": 50,
}


def record(root: Path, episodes: int, max_steps: int | None) -> float:
    kwargs = {"max_episode_steps": max_steps} if max_steps else {}
    env = RecordEpisodes(
        gym.make(ENV_ID, obs_type="state", **kwargs), root=root, repo_id="bench/pick"
    )
    policy = make_policy("scripted", env)
    successes = 0
    for ep in range(episodes):
        obs, info = env.reset(seed=ep)
        policy.reset(obs, info)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            done = terminated or truncated
        successes += bool(info["is_success"])
    env.close()
    return successes / episodes


def evaluate(factory, n: int, max_steps: int | None) -> tuple[int, int]:
    kwargs = {"max_episode_steps": max_steps} if max_steps else {}
    result = evaluate_policy(
        lambda: gym.make(ENV_ID, obs_type="state", **kwargs), factory, n, seed=100_000
    )
    return sum(ep.success for ep in result.episodes), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--policy.device", dest="device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        demos, max_steps, n_eval, act_steps, diff_steps, batch, saves = 4, None, 2, 40, 20, 8, 2
    else:
        demos, max_steps, n_eval, act_steps, diff_steps, batch, saves = (
            50,
            None,
            50,
            10_000,
            5_000,
            16,
            5,
        )
    work = Path(tempfile.mkdtemp(prefix="act_pickcube_"))
    try:
        t0 = time.perf_counter()
        demo_success = record(work / "demos", demos, max_steps)
        record_s = time.perf_counter() - t0
        anchor, _ = evaluate(lambda env: make_policy("scripted", env), n_eval, max_steps)
        rows = []
        for kind, options, steps in (
            ("act", ACT_OPTIONS, act_steps),
            ("diffusion", DIFFUSION_OPTIONS, diff_steps),
        ):
            out = work / kind
            t0 = time.perf_counter()
            train(
                TrainConfig(
                    kind,
                    work / "demos",
                    out,
                    steps=steps,
                    batch_size=batch,
                    save_freq=max(1, steps // saves),
                    log_freq=max(1, steps // 20),
                    seed=0,
                    device=args.device,
                    policy_options=dict(options),
                )
            )
            train_s = time.perf_counter() - t0
            curve = []
            for ckpt in sorted(p for p in (out / "checkpoints").iterdir() if p.name != "last"):
                path = ckpt / "pretrained_model"
                ok, n = evaluate(
                    lambda env, path=path: _policy(path, env, args.device), n_eval, max_steps
                )
                curve.append((int(ckpt.name), train_s * int(ckpt.name) / steps, ok / n))
            ok, n = round(curve[-1][2] * n_eval), n_eval
            rows.append((kind, ok, n, train_s, steps * batch / train_s, train_s / steps, curve))
        print(
            f"recorded {demos} scripted demos in {record_s:.1f} s "
            f"({100 * demo_success:.0f}% successful)"
        )
        print(f"anchor: scripted success {anchor}/{n_eval} = {anchor / n_eval:.2f}")
        for kind, ok, n, train_s, sps, s_step, curve in rows:
            lo, hi = wilson_interval(ok, n)
            ratio = (ok / n) / (anchor / n_eval) if anchor else math.nan
            print(
                f"{kind}: success {ok}/{n} = {ok / n:.2f} (95% CI {lo:.2f}-{hi:.2f}), "
                f"ratio to scripted {ratio:.2f}, train {train_s:.1f} s, {sps:.1f} samples/s, "
                f"{1000 * s_step:.0f} ms/step (batch {batch})"
            )
            print(
                "  success vs training time: "
                + ", ".join(f"step {s} ({t:.0f} s): {r:.2f}" for s, t, r in curve)
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _policy(path: Path, env: gym.Env, device: str):
    policy = load_policy(path, device=device)
    policy.check_env(env)
    return policy


if __name__ == "__main__":
    main()
