"""The command line on LeRobot v2.1 datasets and on datasets without their videos:
`dataset convert`, `replay` (v2.1, Git LFS pointer videos) and `viz --dataset.video=false`."""

from __future__ import annotations

import collections
import shutil
from pathlib import Path

import pytest
from v21_synth import write_v21

from lerobot_gym.cli.main import main
from lerobot_gym.dataset import LeRobotDataset

REACH = "--env.id=lerobot_gym/SO101-Reach-v0"
POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n"


@pytest.fixture(scope="module")
def v21_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_v21(tmp_path_factory.mktemp("v21cli") / "ds", (8, 5))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scripted Reach episode of 9 frames with a 48x64 front camera (H.264)."""
    root = tmp_path_factory.mktemp("lfs") / "reach"
    code = main(
        [
            "record",
            REACH,
            "--env.cameras=front",
            "--env.image_size=[48,64]",
            "--policy.type=scripted",
            f"--dataset.root={root}",
            "--dataset.repo_id=test/lfs",
            "--dataset.num_episodes=1",
            "--dataset.episode_time_s=0.3",
            "--dataset.vcodec=h264",
        ]
    )
    assert code == 0
    return root


@pytest.fixture
def pointer_videos(recorded: Path, tmp_path: Path) -> Path:
    """``recorded`` as a `git clone` without `git lfs pull` leaves it: MP4s are LFS pointers."""
    root = tmp_path / "clone"
    shutil.copytree(recorded, root)
    for mp4 in root.glob("videos/**/*.mp4"):
        mp4.write_text(POINTER)
    return root


def test_convert_writes_v30_that_validates(v21_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "v30"
    argv = ["dataset", "convert", f"--dataset.root={v21_root}", f"--output={out}"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"converted {v21_root} into {out}: LeRobot v3.0, 2 episodes, 13 frames" in printed
    assert main(["dataset", "validate", f"--dataset.root={out}"]) == 0
    assert main(["dataset", "info", f"--dataset.root={out}"]) == 0
    assert "format v3.0" in capsys.readouterr().out
    assert len(LeRobotDataset(out, format="numpy")) == 13


def test_convert_usage_errors_name_the_flag(v21_root: Path, tmp_path: Path, capsys) -> None:
    taken = tmp_path / "taken"
    (taken / "file").mkdir(parents=True)
    argv = ["dataset", "convert", f"--dataset.root={v21_root}", f"--output={taken}"]
    assert main(argv) == 2
    assert f"--output={taken}: {taken} already exists" in capsys.readouterr().err
    out = tmp_path / "v30"
    assert main(["dataset", "convert", f"--dataset.root={v21_root}", f"--output={out}"]) == 0
    capsys.readouterr()
    assert main(["dataset", "convert", f"--dataset.root={out}", f"--output={tmp_path / 'x'}"]) == 2
    assert f"--dataset.root={out} is a LeRobot v3.0 dataset" in capsys.readouterr().err
    assert main(["dataset", "convert", f"--dataset.root={v21_root}"]) == 2
    assert "--output" in capsys.readouterr().err


def test_replay_reads_a_v21_dataset(v21_root: Path, capsys) -> None:
    argv = ["replay", REACH, f"--dataset.root={v21_root}", "--dataset.episode=1"]
    assert main(argv) == 0
    assert f"replayed episode 1 of {v21_root}" in capsys.readouterr().out


def test_replay_needs_no_videos(pointer_videos: Path, capsys) -> None:
    argv = ["replay", REACH, f"--dataset.root={pointer_videos}", "--dataset.episode=0"]
    assert main(argv) == 0
    assert "overall RMS" in capsys.readouterr().out


def test_viz_without_videos(pointer_videos: Path, tmp_path: Path, capsys) -> None:
    from rerun import chunk as rerun_chunk

    rrd = tmp_path / "ep0.rrd"
    argv = ["viz", f"--dataset.root={pointer_videos}", "--episode=0", f"--save={rrd}"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "is a Git LFS pointer" in err and "git lfs pull" in err
    assert "--dataset.video=false" in err
    assert main([*argv, "--dataset.video=false"]) == 0
    counts: collections.Counter[str] = collections.Counter()
    for chunk in rerun_chunk.RrdReader(rrd).stream():
        if not chunk.is_static:
            counts[chunk.entity_path] += chunk.num_rows
    assert counts["/observation/state/gripper.pos"] == 9
    assert not any("images" in entity for entity in counts)


def test_replay_of_an_lfs_pointer_data_file_names_git_lfs(pointer_videos: Path, capsys) -> None:
    for parquet in pointer_videos.glob("data/**/*.parquet"):
        parquet.write_text(POINTER)
    argv = ["replay", REACH, f"--dataset.root={pointer_videos}", "--dataset.episode=0"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "is a Git LFS pointer" in err and "run `git lfs pull`" in err
