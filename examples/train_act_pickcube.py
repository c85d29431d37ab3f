"""Record scripted SO101-PickCube demonstrations, train ACT on them, evaluate it on the twin.

    python examples/train_act_pickcube.py                      # 50 demos, 10k steps: CPU-hours
    python examples/train_act_pickcube.py --demos 2 --steps 20 --episodes 2     # a smoke run

The same from the shell: ``lerobot-gym record --policy.type=scripted ...``, then
``lerobot-gym train --policy.type=act --dataset.root=DIR`` and
``lerobot-gym eval --policy.path=OUTPUT/checkpoints/last/pretrained_model --eval.batch_size=5``.
"""

import argparse
from pathlib import Path

import gymnasium as gym
import torch

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.policies import evaluate_policy, load_policy, make_policy
from lerobot_gym.policies.training import TrainConfig, train
from lerobot_gym.wrappers import RecordEpisodes

ENV_ID = "lerobot_gym/SO101-PickCube-v0"
# A compact ACT: state observations (joints + the cube's pose) need no image backbone.
ACT_OPTIONS = {"chunk_size": 20, "n_action_steps": 20, "dim_model": 128, "n_heads": 4,
               "dim_feedforward": 512, "n_encoder_layers": 2, "n_vae_encoder_layers": 2,
               "optimizer_lr": 3e-4, "kl_weight": 10.0}  # fmt: skip


def record_demos(root: Path, n: int) -> None:
    env = RecordEpisodes(gym.make(ENV_ID, obs_type="state"), root=root, repo_id="examples/pick")
    scripted = make_policy("scripted", env)
    for seed in range(n):
        obs, info = env.reset(seed=seed)
        scripted.reset(obs, info)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(scripted(obs))
            done = terminated or truncated
    env.close()  # saves the last episode


def main(demos: int, steps: int, episodes: int, output_dir: str) -> None:
    torch.set_num_threads(1)  # a compact model on a shared CPU: one thread is fastest
    out = Path(output_dir)
    record_demos(out / "demos", demos)
    config = TrainConfig("act", out / "demos", out / "act", steps=steps, batch_size=16,
                         save_freq=steps, log_freq=max(1, steps // 20), seed=0,
                         policy_options=ACT_OPTIONS)  # fmt: skip
    checkpoint = train(config)  # loss curve in OUTPUT/act/loss.png

    policy = load_policy(checkpoint)
    result = evaluate_policy(
        lambda: gym.make(ENV_ID, obs_type="state"),
        lambda env: policy.spawn(),  # one episode state per env, one network
        n_episodes=episodes,
        seed=100_000,  # seeds the demonstrations never used
        batch_size=min(episodes, 5),  # five envs stepped together (a SyncVectorEnv)
    )
    low, high = result.success_ci95
    print(f"ACT success {result.n_successes}/{episodes} = {100 * result.success_rate:.0f}% "
          f"(95% interval {100 * low:.0f}-{100 * high:.0f}%)")  # fmt: skip
    print(f"checkpoint: {checkpoint}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demos", type=int, default=50)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--output_dir", default="outputs/act_pickcube")
    args = parser.parse_args()
    main(args.demos, args.steps, args.episodes, args.output_dir)
