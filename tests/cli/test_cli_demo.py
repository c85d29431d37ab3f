"""`lerobot-gym demo`: scripted PickCube on the twin, a front-camera video, the success rate."""

from __future__ import annotations

import json

import av

from lerobot_gym.cli import demo
from lerobot_gym.cli.main import main
from lerobot_gym.dataset import LeRobotDataset


def test_demo_films_pick_cube_and_reports_success_rate(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(
        [
            "demo",
            f"--output_dir={out}",
            "--demo.n_episodes=1",
            "--demo.n_record=2",
            "--env.image_size=[48,64]",
        ]
    )
    stdout = capsys.readouterr().out
    assert code == 0

    info = json.loads((out / "eval_info.json").read_text())
    assert info["config"]["env"]["id"] == "lerobot_gym/SO101-PickCube-v0"
    assert info["config"]["env"]["kwargs"]["render_camera"] == "front"
    assert info["config"]["policy"]["type"] == "scripted"
    assert info["success_rate"] == 1.0
    assert f"success rate: {100 * info['success_rate']:.0f}%" in stdout
    assert "[1/" in stdout and "demo outputs:" in stdout

    video = out / "videos" / "eval_episode_0.mp4"
    assert str(video) in stdout
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == info["per_episode"][0]["steps"] + 1
    assert frames[0].shape == (48, 64, 3)


def test_demo_steps_are_a_table_of_named_functions():
    assert next(title for title, _ in demo.STEPS).startswith("scripted pick-cube")
    assert all(callable(step) for _, step in demo.STEPS)


def test_demo_rejects_unknown_flags(capsys):
    assert main(["demo", "--demo.episodes=2"]) == 2
    assert "unknown flag --demo.episodes" in capsys.readouterr().err


def test_demo_records_replays_and_saves_a_rerun_file(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", f"--output_dir={out}", "--demo.n_episodes=1", "--demo.n_record=2"]
    assert main([*argv, "--env.image_size=[48,64]"]) == 0
    stdout = capsys.readouterr().out

    dataset = LeRobotDataset(out / "dataset")
    assert dataset.meta.info["total_episodes"] == 2
    assert set(dataset.meta.video_keys) == {
        "observation.images.front",
        "observation.images.wrist",
    }
    assert "overall RMS" in stdout  # the replay's tracking-error table
    rrd = out / "episode_0.rrd"
    assert rrd.is_file() and rrd.stat().st_size > 0


def test_demo_films_a_scripted_aloha_transfer_cube_from_top(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", f"--output_dir={out}", "--demo.n_episodes=1", "--demo.n_record=1"]
    assert main([*argv, "--env.image_size=[48,64]"]) == 0
    stdout = capsys.readouterr().out
    info = json.loads((out / "aloha_transfer_cube" / "eval_info.json").read_text())
    assert info["config"]["env"]["id"] == "lerobot_gym/Aloha-TransferCube-v0"
    assert info["config"]["env"]["kwargs"]["render_camera"] == "top"
    assert info["success_rate"] == 1.0
    assert "ALOHA transfer-cube (seed 0): success" in stdout
    video = out / "aloha_transfer_cube" / "videos" / "eval_episode_0.mp4"
    assert str(video) in stdout
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 401 and frames[0].shape == (48, 64, 3)
