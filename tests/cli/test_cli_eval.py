"""`lerobot-gym eval`: episodes, success rate, eval_info.json, videos, and error exits."""

from __future__ import annotations

import json

import av
import pytest

from lerobot_gym.cli.main import main

REACH = "--env.id=lerobot_gym/SO101-Reach-v0"


def _decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, pix_fmt = stream.codec_context.name, stream.codec_context.pix_fmt
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return codec, pix_fmt, frames


def test_eval_scripted_reach_writes_results_and_one_video(tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(
        [
            "eval",
            REACH,
            "--env.obs_type=state",
            "--env.image_size=[36,50]",
            "--policy.type=scripted",
            "--eval.n_episodes=2",
            "--eval.n_videos=1",
            "--seed=5",
            f"--output_dir={out}",
        ]
    )
    stdout = capsys.readouterr().out
    assert code == 0
    assert "success rate: 100.0% (2/2 episodes; 95% Wilson interval 34.2-100.0%)" in stdout

    info = json.loads((out / "eval_info.json").read_text())
    assert info["success_rate"] == 1.0
    assert info["aggregated"]["pc_success"] == 100.0 and info["aggregated"]["n_episodes"] == 2
    episodes = info["per_episode"]
    assert [ep["seed"] for ep in episodes] == [5, 6]
    assert [ep["episode_ix"] for ep in episodes] == [0, 1]
    assert all(ep["success"] and ep["steps"] == 100 for ep in episodes)
    assert all(ep["max_reward"] <= ep["sum_reward"] for ep in episodes)
    assert info["config"]["env"] == {
        "id": "lerobot_gym/SO101-Reach-v0",
        "kwargs": {"obs_type": "state", "image_size": [36, 50], "render_mode": "rgb_array"},
    }

    video = out / "videos" / "eval_episode_0.mp4"
    assert info["video_paths"] == [str(video)] and episodes[1]["video_path"] is None
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["eval_episode_0.mp4"]
    codec, pix_fmt, frames = _decode(video)
    assert (codec, pix_fmt) == ("h264", "yuv420p")
    assert len(frames) == 101  # the reset frame and one per step
    assert frames[0].shape == (36, 50, 3)
    assert frames[0].std() > 1.0  # a rendered scene, not a blank frame


def test_eval_random_policy_without_rendering_is_reproducible(tmp_path, capsys):
    def run(out):
        code = main(
            [
                "eval",
                REACH,
                "--env.obs_type=state",
                "--env.render_mode=null",
                "--policy.type=random",
                "--eval.n_episodes=2",
                "--eval.max_steps=15",
                "--seed=3",
                f"--output_dir={out}",
            ]
        )
        assert code == 0
        return json.loads((out / "eval_info.json").read_text())

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    capsys.readouterr()
    assert [ep["steps"] for ep in first["per_episode"]] == [15, 15]
    assert first["video_paths"] == [] and not (tmp_path / "a" / "videos").exists()
    rewards = [ep["sum_reward"] for ep in first["per_episode"]]
    assert rewards == [ep["sum_reward"] for ep in second["per_episode"]]
    assert rewards[0] != rewards[1]  # different seeds, different episodes


def test_env_keywords_reach_gym_make(tmp_path, capsys):
    # The short id is accepted; pixels observations at a chosen size reach the env.
    code = main(
        [
            "eval",
            "--env.id=SO101-Reach-v0",
            "--env.obs_type=pixels_agent_pos",
            "--env.cameras=front",
            "--env.image_size=24,32",
            "--policy.type=random",
            "--eval.n_episodes=1",
            "--eval.max_steps=2",
            "--eval.n_videos=0",
            f"--output_dir={tmp_path}",
        ]
    )
    assert code == 0, capsys.readouterr().err
    kwargs = json.loads((tmp_path / "eval_info.json").read_text())["config"]["env"]["kwargs"]
    assert kwargs == {"obs_type": "pixels_agent_pos", "cameras": ["front"], "image_size": [24, 32]}


def test_vectorised_eval_wilson_interval_and_report(tmp_path, capsys):
    def run(out, batch_size):
        argv = ["eval", REACH, "--env.obs_type=state", "--policy.type=scripted",
                "--eval.n_episodes=3", "--eval.n_videos=0", "--seed=40",
                f"--eval.batch_size={batch_size}", f"--output_dir={out}"]  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
        return json.loads((out / "eval_info.json").read_text())

    one, three = run(tmp_path / "one", 1), run(tmp_path / "three", 3)
    stdout = capsys.readouterr().out
    assert "95% Wilson interval 43.9-100.0%" in stdout
    assert three["config"]["batch_size"] == 3
    keys = ("episode_ix", "seed", "success", "sum_reward", "steps")
    assert [[ep[k] for k in keys] for ep in three["per_episode"]] == [
        [ep[k] for k in keys] for ep in one["per_episode"]
    ]
    assert three["success_rate_ci95"] == pytest.approx([0.43850, 1.0], abs=1e-4)
    report = tmp_path / "three" / "eval_report.png"
    assert report.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {report}" in stdout


@pytest.mark.parametrize(
    ("flags", "code", "message"),
    [
        ([REACH, "--env.obs_type=bogus"], 1, "obs_type 'bogus' does not exist"),
        ([REACH, "--env.not_a_keyword=1"], 1, "unknown keyword argument(s) ['not_a_keyword']"),
        (["--env.id=lerobot_gym/Nope-v0"], 2, "--env.id=lerobot_gym/Nope-v0 is not registered"),
        ([REACH, "--policy.type=act"], 1, "needs a checkpoint: pass --policy.path=DIR"),
        ([REACH, "--policy.type=ppo"], 1, "unknown policy type 'ppo'; available types"),
        ([REACH, "--eval.n_episodes=0"], 1, "n_episodes must be at least 1"),
        ([REACH, "--eval.batch_size=0"], 2, "--eval.batch_size must be at least 1"),
        (
            [REACH, "--env.backend=real", "--eval.batch_size=2"],
            2,
            "one arm runs one episode at a time; use --eval.batch_size=1",
        ),
        ([REACH, "--eval.n_episodes=two"], 2, "--eval.n_episodes: expected an integer"),
        ([REACH, "--eval.bogus=1"], 2, "unknown flag --eval.bogus"),
        (["--policy.type=scripted"], 2, "--env.id is required; registered ids:"),
    ],
)
def test_errors_exit_with_a_message_and_no_traceback(tmp_path, capsys, flags, code, message):
    argv = ["eval", *flags, "--eval.n_videos=0", f"--output_dir={tmp_path}"]
    assert main(argv) == code
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_eval_help_lists_flags(capsys):
    assert main(["eval", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--policy.type", "--eval.n_episodes", "--eval.n_videos", "--seed", "--output_dir"):
        assert flag in out
    assert "--env.<key>" in out and "gym.make" in out
