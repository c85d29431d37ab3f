"""`lerobot-gym train` and `lerobot-gym eval --policy.path` end to end on a tiny dataset."""

from __future__ import annotations

import json

from lerobot_gym.cli.main import main

TINY = [
    "--policy.chunk_size=5", "--policy.n_action_steps=5", "--policy.dim_model=32",
    "--policy.n_heads=2", "--policy.dim_feedforward=64", "--policy.n_encoder_layers=1",
    "--policy.n_vae_encoder_layers=1",
]  # fmt: skip


def test_train_then_resume_then_eval_the_checkpoint(state_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    common = [f"--dataset.root={state_dataset}", f"--output_dir={out}", "--batch_size=4",
              "--save_freq=2", "--log_freq=1", "--policy.device=cpu", "--seed=0"]  # fmt: skip
    assert main(["train", "--policy.type=act", "--steps=2", *common, *TINY]) == 0
    assert main(["train", "--policy.type=act", "--steps=2", *common, *TINY]) == 1
    assert "--resume=true" in capsys.readouterr().err
    # Resume needs neither the type nor the dataset again: the run remembers them.
    assert (
        main(["train", f"--output_dir={out}", "--resume=true", "--steps=4", "--save_freq=2"]) == 0
    )
    assert (out / "checkpoints" / "last").resolve().name == "000004"
    assert (out / "loss.png").exists() and (out / "train_log.csv").exists()
    capsys.readouterr()
    ckpt = out / "checkpoints" / "last" / "pretrained_model"
    args = ["eval", "--env.id=SO101-PickCube-v0", "--env.obs_type=state", f"--policy.path={ckpt}",
            "--eval.n_episodes=1", "--eval.n_videos=0", "--eval.max_steps=5",
            f"--output_dir={tmp_path / 'eval'}"]  # fmt: skip
    assert main(args) == 0
    info = json.loads((tmp_path / "eval" / "eval_info.json").read_text())
    assert info["config"]["policy"]["type"] == "act"
    assert info["per_episode"][0]["steps"] == 5
    # Two envs at once: the checkpoint loads once, both envs' policies share its network.
    vector = [a.replace("--eval.n_episodes=1", "--eval.n_episodes=3") for a in args[:-1]]
    assert main([*vector, "--eval.batch_size=2", f"--output_dir={tmp_path / 'vec'}"]) == 0
    info = json.loads((tmp_path / "vec" / "eval_info.json").read_text())
    assert info["config"]["batch_size"] == 2
    assert [ep["seed"] for ep in info["per_episode"]] == [1000, 1001, 1002]
    assert (tmp_path / "vec" / "eval_report.png").is_file()
    # The state-only checkpoint on an env with cameras and no environment_state: typed error.
    bad = [a.replace("--env.obs_type=state", "--env.obs_type=pixels_agent_pos") for a in args]
    assert main(bad) == 1
    assert "environment_state" in capsys.readouterr().err
    assert main([*args[:-1], "--policy.type=diffusion", f"--output_dir={tmp_path}"]) == 2


def test_train_usage_errors(state_dataset, tmp_path, capsys):
    assert main(["train", "--policy.type=act", f"--output_dir={tmp_path}"]) == 2
    assert "--dataset.root is required" in capsys.readouterr().err
    bad = ["train", "--policy.type=act", f"--dataset.root={state_dataset}",
           f"--output_dir={tmp_path / 'x'}", "--policy.chunk_sise=3"]  # fmt: skip
    assert main(bad) == 1
    assert "--policy.chunk_sise is not an option of act" in capsys.readouterr().err
    # SB3 algorithms train online on an env (lerobot_gym.cli.train_sb3), not from a dataset.
    assert main(["train", "--policy.type=ppo", f"--dataset.root={state_dataset}",
                 f"--output_dir={tmp_path / 'y'}"]) == 2  # fmt: skip
    assert "trains online on --env.id" in capsys.readouterr().err
    assert main(["train", "--policy.type=ppx", f"--dataset.root={state_dataset}",
                 f"--output_dir={tmp_path / 'z'}"]) == 1  # fmt: skip
    assert "unknown policy type 'ppx'" in capsys.readouterr().err
