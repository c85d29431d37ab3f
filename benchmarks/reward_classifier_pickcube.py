"""Reward classifier on twin-rendered PickCube: held-out accuracy against the twin's ground truth.

Records PickCube episodes on the MuJoCo twin with ``RecordEpisodes`` (the same recorder a
real-arm session uses), in three kinds, in turn: the scripted grasp-and-lift (success from about
step 78 on), a miss (the same motion with the jaws held open: the cube stays on the table) and a
drop (the grasp, then the jaws open at step 95: success, then failure). ``next.success`` is the
twin's ground truth (cube >= 5 cm up and held by both pads). Then the training of
``lerobot-gym train-reward-classifier`` (``reward_training.train_reward_classifier``) fits the
classifier on 80 % of the episodes and evaluates it on the other 20 %.

Prints, last:
- held-out accuracy, precision and recall against the twin's ground truth (goal: accuracy
  >= 95 %), from the classifier's ``report.json``;
- the anchor measured in the same run: the accuracy of always answering the majority class on
  the same held-out frames, and the classifier's error as a ratio of the anchor's error;
- an online check: the ``RewardClassifier`` wrapper on fresh seeds (episodes not recorded),
  the fraction of steps where its ``is_success`` agrees with the twin's.

Usage: ``python benchmarks/reward_classifier_pickcube.py [--quick] [--output_dir DIR]``
(``--quick``: 9 episodes and 300 steps, a smoke run; the goal is not expected there).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401
from lerobot_gym.policies import make_policy
from lerobot_gym.wrappers import RecordEpisodes

ENV_ID = "lerobot_gym/SO101-PickCube-v0"
IMAGE_SIZE = (64, 64)
EPISODE_STEPS = 120
DROP_AT = 95
GRIPPER = 5  # the SO-101's gripper in the joint action (0 closed .. 100 open)
KINDS = ("success", "miss", "drop")
GOAL_ACCURACY = 0.95


def _env() -> gym.Env:
    return gym.make(ENV_ID, image_size=IMAGE_SIZE, max_episode_steps=EPISODE_STEPS)


def _run(env: gym.Env, kind: str, seed: int, on_step=None) -> None:
    policy = make_policy("scripted", env, seed=seed)
    obs, info = env.reset(seed=seed)
    policy.reset(obs, info)
    for t in range(EPISODE_STEPS):
        action = np.array(policy(obs), dtype=np.float32)
        if kind == "miss" or (kind == "drop" and t >= DROP_AT):
            action[GRIPPER] = 100.0
        obs, _, terminated, truncated, info = env.step(action)
        if on_step is not None:
            on_step(info)
        if terminated or truncated:
            break


def record(root: Path, episodes: int, seed: int) -> None:
    env = RecordEpisodes(_env(), root, repo_id="bench/pick_labels", use_videos=True)
    try:
        for i in range(episodes):
            _run(env, KINDS[i % len(KINDS)], seed + i)
    finally:
        env.close()


def online_agreement(classifier_dir: Path, episodes: int, seed: int) -> float:
    from lerobot_gym.wrappers import RewardClassifier

    env = RewardClassifier(_env(), classifier_dir, terminate_on_success=False)
    agree = []
    for i in range(episodes):
        _run(
            env,
            KINDS[i % len(KINDS)],
            seed + i,
            lambda info: agree.append(info["is_success"] == info["task_is_success"]),
        )
    env.close()
    return float(np.mean(agree))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output_dir", default=None)
    parser.add_argument("--episodes", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--cameras", default="front,wrist")
    args = parser.parse_args()
    episodes = args.episodes or (9 if args.quick else 45)
    steps = args.steps or (300 if args.quick else 1500)
    cameras = [c for c in args.cameras.split(",") if c]

    import torch

    torch.set_num_threads(1)  # a shared 2-core machine: more threads contend, not help
    from lerobot_gym.policies.reward_training import (
        classifier_metrics,
        load_labelled_frames,
        train_reward_classifier,
    )

    tmp = Path(tempfile.mkdtemp(prefix="reward_clf_"))
    out = Path(args.output_dir) if args.output_dir else tmp / "classifier"
    try:
        t0 = time.perf_counter()
        record(tmp / "dataset", episodes, seed=0)
        t_record = time.perf_counter() - t0
        frames = load_labelled_frames(tmp / "dataset", cameras=cameras)
        result = train_reward_classifier(frames, out, steps=steps, batch_size=32, seed=0)
        m = result.metrics
        held = frames.select(np.isin(frames.episodes, result.held_out_episodes))
        majority = held.labels.mean() >= 0.5
        anchor = classifier_metrics(np.full(len(held.labels), majority), held.labels)
        online = online_agreement(out, 3 if args.quick else 9, seed=10_000)
        report = json.loads((out / "report.json").read_text())
        print(
            f"recorded {episodes} episodes ({len(frames.labels)} labelled frames, "
            f"{frames.labels.mean():.0%} success) in {t_record:.0f} s; trained {steps} steps in "
            f"{result.elapsed_s:.0f} s on cameras {cameras} at {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}"
        )
        print(
            f"held-out episodes {result.held_out_episodes} ({m.frames} frames): accuracy "
            f"{m.accuracy:.3f} (goal >= {GOAL_ACCURACY}), precision {m.precision:.3f}, recall "
            f"{m.recall:.3f}  [report.json: {report['held_out']['accuracy']:.3f}]"
        )
        err_ratio = (1 - m.accuracy) / max(1 - anchor.accuracy, 1e-9)
        print(
            f"anchor (majority class on the same frames): accuracy {anchor.accuracy:.3f}; "
            f"classifier error / anchor error = {err_ratio:.3f}"
        )
        print(f"online, fresh seeds: is_success agrees with the twin on {online:.1%} of steps")
        verdict = "MET" if m.accuracy >= GOAL_ACCURACY else "NOT met"
        print(f"goal {verdict}{' (quick run: not expected)' if args.quick else ''}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
