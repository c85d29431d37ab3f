"""Train SAC (stable-baselines3) on SO101-Reach with state observations, then evaluate it.

    python examples/sac_reach.py --steps 30000      # success figures: benchmarks/sac_reach.py

The same run from the shell: ``lerobot-gym train --policy.type=sac --env.id=SO101-Reach-v0
--env.obs_type=state --env.control_mode=joint_delta --train.max_episode_steps=40
--policy.normalize_obs=true --policy.gamma=0.9 --policy.ent_coef=auto_0.1
--policy.gradient_steps=4``.
"""

import argparse

import gymnasium as gym
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.policies import evaluate_policy
from lerobot_gym.policies.sb3 import SB3Policy, make_sb3_env, obs_norm_of

ENV_ID = "lerobot_gym/SO101-Reach-v0"


def main(steps: int, episodes: int, output_dir: str) -> None:
    torch.set_num_threads(1)  # small networks: one thread is fastest
    # Joint-delta actions rescaled to [-1, 1], the observation flattened to one Box for
    # MlpPolicy; 40-step training episodes show the agent more goals than the id's 100.
    env = make_sb3_env(ENV_ID, obs_type="state", control_mode="joint_delta", max_episode_steps=40)
    # Joint angles (degrees) and the target (metres) differ 1000x in scale: normalise them.
    vec = VecNormalize(DummyVecEnv([lambda: env]), norm_reward=False)
    model = SAC(
        "MlpPolicy",
        vec,
        gamma=0.9,
        ent_coef="auto_0.1",  # SB3's 1.0 outweighs a reward below 1 per step for a long time
        gradient_steps=4,  # four updates per env step: the run that reached 90 % in 30k
        learning_rate=1e-3,
        batch_size=128,
        learning_starts=min(1000, steps // 2),
        policy_kwargs={"net_arch": [128, 128]},
        seed=0,
    )
    model.learn(total_timesteps=steps)

    # The trained model as a policy on the env's own observations and actions.
    policy = SB3Policy.from_env(model, env, obs_norm=obs_norm_of(vec))
    policy.save(output_dir)  # then: lerobot-gym eval --policy.type=sb3 --policy.path=...
    result = evaluate_policy(
        lambda: gym.make(ENV_ID, obs_type="state", control_mode="joint_delta"),
        lambda _env: policy,
        n_episodes=episodes,
        seed=10_000,
    )
    print(f"success rate {100 * result.success_rate:.0f}% over {episodes} episodes")
    print(f"policy saved in {output_dir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--output_dir", default="outputs/sac_reach")
    args = parser.parse_args()
    main(args.steps, args.episodes, args.output_dir)
