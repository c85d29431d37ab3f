"""`lerobot-gym train --policy.type=sac`: checkpoints, resume, curves, then `lerobot-gym eval`."""

import csv
import json

import pytest

from lerobot_gym.cli.main import main

pytest.importorskip("stable_baselines3")
pytest.importorskip("matplotlib")

ENV = ["--env.id=SO101-Reach-v0", "--env.obs_type=state", "--env.max_episode_steps=20"]
TINY = [
    "--policy.type=sac",
    "--policy.learning_starts=10",
    "--policy.net_arch=[16,16]",
    "--batch_size=8",
    "--save_freq=30",
    "--eval_freq=30",
    "--eval.n_episodes=1",
    "--seed=3",
]


def _steps(out):
    with (out / "eval.csv").open() as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def test_train_checkpoints_resumes_and_the_policy_evaluates(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *ENV, *TINY, "--steps=60", f"--output_dir={out}"]) == 0
    assert (out / "checkpoints" / "last").read_text().strip() == "000000060"
    for step in ("000000030", "000000060"):
        assert (out / "checkpoints" / step / "model.zip").is_file()
        assert (out / "checkpoints" / step / "replay_buffer.pkl").is_file()
    assert _steps(out) == [30, 60]
    with (out / "logs" / "000000000" / "progress.csv").open() as f:
        assert "train/critic_loss" in next(csv.reader(f))  # SB3's logger wrote the losses
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A second run in the same folder continues from step 60 (model and replay buffer).
    assert main(["train", *ENV, *TINY, "--steps=90", f"--output_dir={out}"]) == 2
    assert "--resume=true" in capsys.readouterr().err
    argv = ["train", *ENV, *TINY, "--steps=90", f"--output_dir={out}", "--resume=true"]
    assert main(argv) == 0
    assert _steps(out) == [30, 60, 90]
    assert (out / "checkpoints" / "last").read_text().strip() == "000000090"

    # The final policy directory runs in `lerobot-gym eval` like any policy.
    eval_dir = tmp_path / "eval"
    argv = [
        "eval",
        *ENV,
        "--policy.type=sb3",
        f"--policy.path={out / 'policy'}",
        "--eval.n_episodes=2",
        "--eval.n_videos=0",
        f"--output_dir={eval_dir}",
    ]
    assert main(argv) == 0
    info = json.loads((eval_dir / "eval_info.json").read_text())
    assert len(info["per_episode"]) == 2


def test_bad_flags_name_the_flag(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", *ENV, "--policy.type=sac", "--policy.gama=0.9", f"--output_dir={out}"]
    assert main(argv) == 2
    assert "--policy.* options not accepted by sac" in capsys.readouterr().err
    argv = ["train", *ENV, "--policy.type=sac", f"--output_dir={out}", "--resume=true"]
    assert main(argv) == 2
    assert "no checkpoint to resume from" in capsys.readouterr().err


def test_train_max_episode_steps_shortens_training_episodes_only(tmp_path, monkeypatch):
    import pickle

    import lerobot_gym.policies as policies_module

    eval_steps = []
    real_evaluate = policies_module.evaluate_policy

    def spy(*args, **kwargs):
        result = real_evaluate(*args, **kwargs)
        eval_steps.extend(ep.steps for ep in result.episodes)
        return result

    monkeypatch.setattr(policies_module, "evaluate_policy", spy)
    out = tmp_path / "run"
    argv = ["train", *ENV, *TINY, "--steps=30", "--train.max_episode_steps=5",
            f"--output_dir={out}"]  # fmt: skip
    assert main(argv) == 0
    with (out / "checkpoints" / "000000030" / "replay_buffer.pkl").open("rb") as f:
        buffer = pickle.load(f)
    assert int(buffer.timeouts[:30].sum()) == 6  # 30 training steps in 5-step episodes
    assert eval_steps and set(eval_steps) == {20}  # evaluation kept --env.max_episode_steps
    assert main([*argv[:-1], "--train.max_episode_steps=0", f"--output_dir={tmp_path / 'b'}"]) == 2


def test_wandb_gets_sb3_losses_and_evaluations_only_when_asked(tmp_path, monkeypatch, capsys):
    import sys
    import types

    calls = []

    class FakeRun:
        id = "sb3run"

        def log(self, metrics, step):
            calls.append(("log", step, dict(metrics)))

        def finish(self):
            calls.append(("finish",))

    module = types.ModuleType("wandb")
    module.init = lambda **kwargs: calls.append(("init", kwargs)) or FakeRun()
    monkeypatch.setitem(sys.modules, "wandb", module)

    out = tmp_path / "run"
    argv = ["train", *ENV, *TINY, f"--output_dir={out}"]
    assert main([*argv, "--steps=60"]) == 0
    assert calls == []  # installed but not asked for: nothing
    wandb = ["--wandb.enable=true", "--wandb.project=p", "--wandb.mode=offline"]
    assert main([*argv, "--steps=90", "--resume=true", *wandb]) == 0
    init = calls[0][1]
    assert (init["project"], init["mode"], init["dir"]) == ("p", "offline", str(out))
    assert init["config"]["policy"]["type"] == "sac" and init["config"]["steps"] == 90
    logs = [c for c in calls if c[0] == "log"]
    evals = [c for c in logs if "eval/success_rate" in c[2]]
    assert [c[1] for c in evals] == [90]  # the evaluation at step 90, at its step
    assert any("train/critic_loss" in c[2] for c in logs)
    assert calls[-1] == ("finish",)
    assert (out / "wandb_run_id").read_text().strip() == "sb3run"

    # A resumed run continues the same W&B run.
    calls.clear()
    assert main([*argv, "--steps=120", "--resume=true", *wandb]) == 0
    assert calls[0][1]["id"] == "sb3run" and calls[0][1]["resume"] == "allow"

    bad = [*argv, "--steps=150", "--resume=true", "--wandb.enable=true", "--wandb.mode=cloud"]
    assert main(bad) == 2
    assert "--wandb.mode=cloud is not a W&B mode" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed
    assert main([*argv, "--steps=150", "--resume=true", "--wandb.enable=true"]) == 1
    assert "--wandb.enable=true" in capsys.readouterr().err


def test_the_last_evaluation_row_is_the_saved_final_policy(tmp_path):
    # SB3 runs the gradient steps of the last env step after the callback: an evaluation made
    # inside that callback would describe a model one update older than the one saved.
    import gymnasium as gym

    from lerobot_gym.policies import evaluate_policy
    from lerobot_gym.policies.sb3 import load_sb3_policy

    out = tmp_path / "run"
    argv = ["train", *ENV, *TINY, "--steps=60", f"--output_dir={out}"]
    assert main(argv) == 0
    with (out / "eval.csv").open() as f:
        last = list(csv.DictReader(f))[-1]
    assert int(last["step"]) == 60
    policy = load_sb3_policy(out / "policy", device="cpu")
    result = evaluate_policy(
        lambda: gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state", max_episode_steps=20),
        lambda env: policy,
        n_episodes=1,  # --eval.n_episodes=1
        seed=3 + 1_000_000,  # --seed=3: the episodes training evaluates on
    )
    assert result.avg_sum_reward == pytest.approx(float(last["avg_sum_reward"]), abs=1e-9)
