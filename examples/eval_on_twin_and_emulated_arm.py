"""Evaluate one trained policy on the MuJoCo twin and on the emulated arm, side by side.

The emulated arm runs the real SO-101 driver (the Feetech SDK on a serial port) against a servo
bus emulator whose motors are the twin: a policy that does well here meets the real driver's
units, rates and clamps, and ``backend="real", port="/dev/ttyACM0"`` is the next step.

    python examples/sac_reach.py --output_dir outputs/sac_reach        # a Reach policy first
    python examples/eval_on_twin_and_emulated_arm.py --policy_path outputs/sac_reach

Any checkpoint works (ours, LeRobot's, SB3's) whose inputs the env gives; the object pose of
PickCube's ``obs_type="state"`` exists only in simulation, so use camera policies there.
"""

import argparse
from pathlib import Path

import gymnasium as gym

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.policies import evaluate_policy, load_policy
from lerobot_gym.policies.eval_report import write_eval_report

# lockstep: the emulated arm advances one control period per step, not with the wall clock,
# so both backends see the same physics per step and the comparison is about the driver path.
# The emulator shares this CPU with the twin and the policy: allow it 0.5 s per bus reply.
EMULATED = {"backend": "emulated", "lockstep": True, "bus_timeout_ms": 500.0}
BACKENDS = {"twin": {"backend": "sim"}, "emulated arm": EMULATED}


def main(policy_path: str, env_id: str, obs_type: str, episodes: int, output_dir: str) -> None:
    policy = load_policy(policy_path)
    results = {}
    for name, options in BACKENDS.items():
        results[name] = evaluate_policy(
            lambda options=options: gym.make(env_id, obs_type=obs_type, **options),
            lambda env: policy.spawn(),
            n_episodes=episodes,
            seed=2_000,  # the same episodes on both
        )
    print(f"{'':14}{'success':>10}{'95% interval':>16}{'avg return':>12}{'s/episode':>11}")
    for name, r in results.items():
        low, high = r.success_ci95
        print(f"{name:14}{100 * r.success_rate:>9.0f}%{100 * low:>9.0f}-{100 * high:.0f}%"
              f"{r.avg_sum_reward:>12.2f}{r.elapsed_s / r.n_episodes:>11.2f}")  # fmt: skip
    report = write_eval_report(results, Path(output_dir) / "twin_vs_emulated.png", title=env_id)
    print(f"wrote {report}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy_path", required=True)
    parser.add_argument("--env_id", default="lerobot_gym/SO101-Reach-v0")
    parser.add_argument("--obs_type", default="state")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--output_dir", default="outputs/twin_vs_emulated")
    args = parser.parse_args()
    main(args.policy_path, args.env_id, args.obs_type, args.episodes, args.output_dir)
