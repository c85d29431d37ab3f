"""`lerobot-gym train --policy.her=true`: SAC with hindsight replay, evaluated on the plain env."""

import csv
import json
import math
import pickle

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.cli.main import main

pytest.importorskip("stable_baselines3")
pytest.importorskip("matplotlib")

ENV = ["--env.id=SO101-Reach-v0", "--env.obs_type=state", "--env.control_mode=joint_delta"]
TINY_HER = [
    "--policy.type=sac",
    "--policy.her=true",
    "--policy.normalize_obs=true",
    "--policy.learning_starts=60",
    "--policy.net_arch=[16,16]",
    "--train.max_episode_steps=20",
    "--batch_size=16",
    "--save_freq=150",
    "--eval_freq=150",
    "--eval.n_episodes=1",
    "--env.max_episode_steps=10",
    "--seed=2",
    "--train.success_bonus=0.5",  # over the goal env: real and relabelled rewards
]


def test_her_trains_saves_resumes_and_the_policy_acts_on_the_plain_env(tmp_path):
    from stable_baselines3 import HerReplayBuffer

    from lerobot_gym.policies.sb3 import load_sb3_policy, normalize_observation
    from lerobot_gym.wrappers.goal_observation import to_goal_observation

    out = tmp_path / "run"
    assert main(["train", *ENV, *TINY_HER, "--steps=300", f"--output_dir={out}"]) == 0
    with (out / "logs" / "000000000" / "progress.csv").open() as f:
        rows = list(csv.DictReader(f))
    critic = [float(r["train/critic_loss"]) for r in rows if r.get("train/critic_loss")]
    assert critic and all(math.isfinite(c) for c in critic)
    with (out / "checkpoints" / "000000300" / "replay_buffer.pkl").open("rb") as f:
        buffer = pickle.load(f)
    assert isinstance(buffer, HerReplayBuffer)
    assert set(buffer.observations) == {"observation", "achieved_goal", "desired_goal"}

    # Resumes with the relabelling buffer (it needs the env back to compute rewards).
    argv = ["train", *ENV, *TINY_HER, "--steps=330", f"--output_dir={out}", "--resume=true"]
    assert main(argv) == 0

    config = json.loads((out / "policy" / "config.json").read_text())
    assert config["goal"] == {"start": 0, "stop": 3}
    assert set(config["obs_norm"]["mean"]) == {"observation", "achieved_goal", "desired_goal"}
    assert set(config["input_features"]) == {"observation.state", "observation.environment_state"}

    # On the plain env (no GoalObservation): the model sees joints and target, mapped and
    # normalised as in training, and ignores the achieved goal it cannot have.
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state", control_mode="joint_delta")
    policy = load_sb3_policy(out / "policy", device="cpu", env=env)
    obs, _ = env.reset(seed=7)
    goal_obs = to_goal_observation(obs, policy.goal)
    expected, _ = policy.model.predict(
        normalize_observation(goal_obs, policy.obs_norm), deterministic=True
    )
    other = normalize_observation({**goal_obs, "achieved_goal": np.ones(3, np.float32)},
                                  policy.obs_norm)  # fmt: skip
    np.testing.assert_array_equal(policy.model.predict(other, deterministic=True)[0], expected)
    action = policy.select_action(obs)
    assert env.action_space.contains(action)
    low, high = env.action_space.low, env.action_space.high
    scaled = low + (np.clip(expected, -1, 1) + 1) / 2 * (high - low)
    np.testing.assert_allclose(action, scaled, atol=1e-4)
    env.close()

    eval_dir = tmp_path / "eval"
    argv = ["eval", *ENV, "--policy.type=sb3", f"--policy.path={out / 'policy'}",
            "--eval.n_episodes=2", "--eval.n_videos=0", "--env.max_episode_steps=10",
            f"--output_dir={eval_dir}"]  # fmt: skip
    assert main(argv) == 0
    info = json.loads((eval_dir / "eval_info.json").read_text())
    assert len(info["per_episode"]) == 2


def test_her_on_a_task_without_a_goal_or_an_on_policy_algorithm_names_the_flag(tmp_path, capsys):
    argv = ["train", "--env.id=SO101-PickCube-v0", "--env.obs_type=state", *TINY_HER,
            "--steps=10", f"--output_dir={tmp_path / 'a'}"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--policy.her=true" in err and "declares no goal" in err
    argv = ["train", *ENV, *[a for a in TINY_HER if a != "--policy.type=sac"],
            "--policy.type=ppo", "--steps=10", f"--output_dir={tmp_path / 'b'}"]  # fmt: skip
    assert main(argv) == 2
    assert "--policy.her=true needs an off-policy algorithm" in capsys.readouterr().err
    argv = ["train", *ENV, *TINY_HER[:-1], "--train.success_bonus=nan", "--steps=10",
            f"--output_dir={tmp_path / 'c'}"]  # fmt: skip
    assert main(argv) == 2
    assert "--train.success_bonus" in capsys.readouterr().err
