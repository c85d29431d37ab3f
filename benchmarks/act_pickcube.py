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
CAMERA = "front"
IMAGE = (96, 96)
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

#: the camera variant: a compact ResNet (one block per stage, 16-128 channels) trained from
#: scratch at the transformer's learning rate (LeRobot's 1e-5 backbone rate suits pretrained
#: weights, which this machine cannot fetch).
BACKBONE = "resnet10_w16"
ACT_CAMERA_OPTIONS = {
    **ACT_OPTIONS,
    "vision_backbone": BACKBONE,
    "optimizer_lr_backbone": ACT_OPTIONS["optimizer_lr"],
}
DIFFUSION_CAMERA_OPTIONS = {**DIFFUSION_OPTIONS, "vision_backbone": BACKBONE}


def env_kwargs(obs: str, max_steps: int | None) -> dict:
    """``gym.make`` keywords: state (agent_pos + cube pose) or one 96x96 camera + agent_pos."""
    kwargs: dict = {"max_episode_steps": max_steps} if max_steps else {}
    if obs == "state":
        return {**kwargs, "obs_type": "state"}
    return {**kwargs, "obs_type": "pixels_agent_pos", "cameras": (CAMERA,), "image_size": IMAGE}


def record(root: Path, episodes: int, max_steps: int | None, obs: str) -> float:
    env = RecordEpisodes(
        gym.make(ENV_ID, **env_kwargs(obs, max_steps)), root=root, repo_id="bench/pick"
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


def evaluate(factory, n: int, max_steps: int | None, obs: str) -> tuple[int, int]:
    kwargs = env_kwargs(obs, max_steps)
    result = evaluate_policy(lambda: gym.make(ENV_ID, **kwargs), factory, n, seed=100_000)
    return sum(ep.success for ep in result.episodes), n


def log(message: str) -> None:
    """A progress line, flushed at once: the full run is watched through its log file."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--policy.device", dest="device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--obs",
        choices=("state", "camera"),
        default="state",
        help="state: agent_pos + cube pose; camera: one 96x96 front camera + agent_pos",
    )
    parser.add_argument(
        "--policies", default="act,diffusion", help="comma-separated: act, diffusion"
    )
    parser.add_argument("--act_steps", type=int, default=None, help="default 10000 (full)")
    parser.add_argument("--diffusion_steps", type=int, default=None, help="default 5000 (full)")
    parser.add_argument("--saves", type=int, default=None, help="checkpoints (curve points)")
    parser.add_argument(
        "--curve_episodes",
        type=int,
        default=None,
        help="episodes per intermediate curve point (default: as many as the final evaluation)",
    )
    parser.add_argument("--output_dir", default=None, help="keep demos and checkpoints here")
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
    act_steps = args.act_steps or act_steps
    diff_steps = args.diffusion_steps or diff_steps
    saves = args.saves or saves
    kinds = [k.strip() for k in args.policies.split(",") if k.strip()]
    options = {
        "act": ACT_CAMERA_OPTIONS if args.obs == "camera" else ACT_OPTIONS,
        "diffusion": DIFFUSION_CAMERA_OPTIONS if args.obs == "camera" else DIFFUSION_OPTIONS,
    }
    steps_of = {"act": act_steps, "diffusion": diff_steps}
    if args.output_dir:
        work = Path(args.output_dir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="act_pickcube_"))
    try:
        t0 = time.perf_counter()
        if _recorded(work / "demos", demos):  # an --output_dir of an earlier run: reuse its demos
            demo_success = math.nan
        else:
            demo_success = record(work / "demos", demos, max_steps, args.obs)
        record_s = time.perf_counter() - t0
        log(f"recorded {demos} demos ({args.obs}) in {record_s:.1f} s, {demo_success:.2f} ok")
        # The scripted policy reads the simulator, not the observation: its anchor runs on state
        # observations (same seeds, same episodes) and skips the camera's rendering.
        anchor, _ = evaluate(lambda env: make_policy("scripted", env), n_eval, max_steps, "state")
        log(f"scripted anchor {anchor}/{n_eval}")
        rows = []
        for kind in kinds:
            rows.append(
                train_and_evaluate(
                    kind, options[kind], steps_of[kind], work, batch, saves, n_eval, max_steps, args
                )
            )
        print(
            f"recorded {demos} scripted demos ({args.obs} observations) in {record_s:.1f} s "
            f"({100 * demo_success:.0f}% successful); load average "
            + " ".join(f"{x:.2f}" for x in os.getloadavg())
        )
        print(f"anchor: scripted success {anchor}/{n_eval} = {anchor / n_eval:.2f}")
        for kind, ok, n, train_s, cpu_s, sps, steps, curve in rows:
            lo, hi = wilson_interval(ok, n)
            ratio = (ok / n) / (anchor / n_eval) if anchor else math.nan
            print(
                f"{kind} ({args.obs}): success {ok}/{n} = {ok / n:.2f} (95% CI {lo:.2f}-{hi:.2f}), "
                f"ratio to scripted {ratio:.2f}, {steps} steps in {train_s:.1f} s wall / "
                f"{cpu_s:.1f} s CPU, {sps:.1f} samples/s, "
                f"{1000 * train_s / steps:.0f} ms/step (batch {batch})"
            )
            print(
                "  success vs training time: "
                + ", ".join(
                    f"step {s} ({t:.0f} s wall, {c:.0f} s CPU): {r:.2f} of {n}"
                    for s, t, c, r, n in curve
                ),
                flush=True,
            )
    finally:
        if not args.output_dir:
            shutil.rmtree(work, ignore_errors=True)


def train_and_evaluate(
    kind: str,
    options: dict,
    steps: int,
    work: Path,
    batch: int,
    saves: int,
    n_eval: int,
    max_steps: int | None,
    args: argparse.Namespace,
) -> tuple:
    """Train one policy, evaluating it on ``n_eval`` episodes every ``steps // saves`` steps."""
    curve: list[tuple[int, float, float, float, int]] = []
    clock = {"t0": 0.0, "c0": 0.0, "eval_wall": 0.0, "eval_cpu": 0.0}

    def progress(p) -> None:
        if p.step % max(1, p.total_steps // 50) == 0 or p.step == p.total_steps:
            losses = " ".join(f"{k}={v:.4f}" for k, v in p.losses.items())
            log(f"{kind} step {p.step}/{p.total_steps} {losses} {p.samples_per_s:.1f} samples/s")

    def checkpoint_eval(policy, step: int) -> dict[str, float]:
        n_episodes = n_eval if step == steps else (args.curve_episodes or n_eval)
        # Evaluated inside the loop so each curve point reaches the log at once (a run cut
        # short keeps its curve so far); evaluation time is kept out of training time.
        e0, ec0 = time.perf_counter(), time.process_time()
        wall = e0 - clock["t0"] - clock["eval_wall"]
        cpu = ec0 - clock["c0"] - clock["eval_cpu"]
        policy.reset()
        ok, n = evaluate(lambda env: _checked(policy, env), n_episodes, max_steps, args.obs)
        curve.append((step, wall, cpu, ok / n, n))
        clock["eval_wall"] += time.perf_counter() - e0
        clock["eval_cpu"] += time.process_time() - ec0
        log(
            f"{kind} step {step}: success {ok}/{n} after {wall:.0f} s wall, {cpu:.0f} s CPU of "
            f"training (load average {os.getloadavg()[0]:.1f})"
        )
        return {"success_rate": ok / n}

    every = max(1, steps // saves)
    clock["t0"], clock["c0"] = time.perf_counter(), time.process_time()
    last = train(
        TrainConfig(
            kind,
            work / "demos",
            work / kind,
            steps=steps,
            batch_size=batch,
            save_freq=every,
            log_freq=max(1, steps // 100),
            seed=0,
            device=args.device,
            policy_options=dict(options),
            eval_freq=every,
        ),
        progress=progress,
        evaluate=checkpoint_eval,
    )
    train_s = time.perf_counter() - clock["t0"] - clock["eval_wall"]
    cpu_s = time.process_time() - clock["c0"] - clock["eval_cpu"]
    log(f"{kind} trained {steps} steps: {train_s:.0f} s wall, {cpu_s:.0f} s CPU")
    if not curve or curve[-1][0] != steps:  # the last step is not a multiple of eval_freq
        clock["t0"] = time.perf_counter() - train_s
        clock["c0"] = time.process_time() - cpu_s
        clock["eval_wall"] = clock["eval_cpu"] = 0.0
        checkpoint_eval(load_policy(last, device=args.device), steps)
    ok = round(curve[-1][3] * n_eval)
    return kind, ok, n_eval, train_s, cpu_s, steps * batch / train_s, steps, curve


def _recorded(root: Path, episodes: int) -> bool:
    """Whether ``root`` holds a complete recording of ``episodes`` successful demos."""
    import json

    info = root / "meta" / "info.json"
    return info.exists() and json.loads(info.read_text())["total_episodes"] == episodes


def _checked(policy, env: gym.Env):
    policy.check_env(env)
    return policy


if __name__ == "__main__":
    main()
