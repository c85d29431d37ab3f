"""`lerobot-gym dataset`: info, validate (exit codes), stats, merge, delete-episodes, push,
and the progress bars of the long ones."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lerobot_gym.cli.main import main
from lerobot_gym.dataset import DatasetMeta, LeRobotDataset, LeRobotDatasetWriter, validate

FPS = 10
NAMES = [f"j{i}.pos" for i in range(3)]
FEATURES = {
    "observation.state": {"dtype": "float32", "shape": [3], "names": NAMES},
    "action": {"dtype": "float32", "shape": [3], "names": NAMES},
    "observation.images.front": {
        "dtype": "video",
        "shape": [16, 24, 3],
        "names": ["height", "width", "channels"],
    },
}


def _make(root, lengths, *, offset: float = 0.0, task: str = "stack the blocks"):
    """A small dataset; frame i of episode e has state (offset + 100e + i) * [1, 2, 3]."""
    with LeRobotDatasetWriter.create(
        root, repo_id="test/ds", fps=FPS, features=FEATURES, vcodec="h264", robot_type="toy"
    ) as writer:
        for ep, n in enumerate(lengths):
            for i in range(n):
                state = np.float32(offset + 100 * ep + i) * np.array([1, 2, 3], np.float32)
                writer.add_frame(
                    {
                        "observation.state": state,
                        "action": -state,
                        "observation.images.front": np.full((16, 24, 3), 10 * i, np.uint8),
                    },
                    task=task,
                )
            writer.save_episode()
    return root


@pytest.fixture
def ds(tmp_path):
    return _make(tmp_path / "ds", [6, 4, 5])


def test_info_prints_a_readable_summary(ds, capsys):
    assert main(["dataset", "info", f"--dataset.root={ds}"]) == 0
    out = capsys.readouterr().out
    assert f"dataset {ds}" in out
    assert "robot toy, 10 fps" in out
    assert "3 episodes, 15 frames (1.5 s)" in out and "MB on disk" in out
    assert "0: stack the blocks" in out
    assert "observation.images.front" in out and "(h264)" in out
    assert "observation.state" in out and "float32  [3]" in out


def test_info_json_and_root_from_repo_id(ds, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_LEROBOT_HOME", str(tmp_path))  # $HF_LEROBOT_HOME/<repo_id> = ds
    (tmp_path / "me").mkdir()
    ds.rename(tmp_path / "me" / "ds")
    assert main(["dataset", "info", "--dataset.repo_id=me/ds", "--json=true"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["episodes"], summary["frames"], summary["fps"]) == (3, 15, 10)
    assert summary["features"]["action"] == {"dtype": "float32", "shape": [3]}


def test_validate_exit_codes(ds, capsys):
    assert main(["dataset", "validate", f"--dataset.root={ds}"]) == 0
    assert "ok:" in capsys.readouterr().out

    data_file = next((ds / "data").rglob("*.parquet"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    assert main(["dataset", "validate", f"--dataset.root={ds}"]) == 1
    out = capsys.readouterr().out
    relative = str(data_file.relative_to(ds))
    lines = [line for line in out.splitlines() if line.startswith(relative + ": ")]
    assert lines, out  # the broken file is named, relative to the root, with its problem
    assert out.rstrip().endswith(f"in {ds}") and "problem" in out.splitlines()[-1]


def test_validate_names_a_missing_video(ds, capsys):
    video = next((ds / "videos").rglob("*.mp4"))
    video.unlink()
    assert main(["dataset", "validate", f"--dataset.root={ds}"]) == 1
    assert str(video.relative_to(ds)) in capsys.readouterr().out


def test_validate_a_missing_dataset_is_an_error(tmp_path, capsys):
    assert main(["dataset", "validate", f"--dataset.root={tmp_path / 'nothing'}"]) == 1
    assert "nothing" in capsys.readouterr().out


def test_stats_recomputes_and_prints(ds, capsys):
    stats_path = ds / "meta" / "stats.json"
    stats_path.unlink()
    assert main(["dataset", "stats", f"--dataset.root={ds}"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {stats_path}" in out
    stats = json.loads(stats_path.read_text())
    # Every state of the dataset, as _make wrote them.
    states = np.array(
        [(100 * ep + i) * np.array([1, 2, 3]) for ep, n in enumerate([6, 4, 5]) for i in range(n)],
        dtype=np.float64,
    )
    np.testing.assert_allclose(stats["observation.state"]["mean"], states.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats["action"]["min"], -states.max(0), rtol=1e-6)
    line = next(line for line in out.splitlines() if line.strip().startswith("observation.state"))
    assert "mean [" in line and "max [" in line


def test_merge_then_delete_episodes(ds, tmp_path, capsys):
    other = _make(tmp_path / "other", [3, 7], offset=1000, task="unstack them")
    merged = tmp_path / "merged"
    argv = ["dataset", "merge", f"--dataset.roots=[{ds},{other}]", f"--output_dir={merged}"]
    assert main(argv) == 0
    assert "merged 2 datasets" in capsys.readouterr().out
    assert main(argv) == 1  # never into a directory that holds files
    assert "not empty" in capsys.readouterr().err
    assert validate(merged) == []
    meta = DatasetMeta.load(merged)
    assert (meta.num_episodes, meta.num_frames) == (5, 25)
    assert meta.tasks == ["stack the blocks", "unstack them"]

    # Delete into a new directory: the source is untouched.
    kept = tmp_path / "kept"
    argv = ["dataset", "delete-episodes", f"--dataset.root={merged}", "--dataset.episodes=[1,3]"]
    assert main([*argv, f"--output_dir={kept}"]) == 0
    assert DatasetMeta.load(merged).num_episodes == 5
    assert [int(e["length"]) for e in DatasetMeta.load(kept).episodes] == [6, 5, 7]

    # In place.
    assert main(argv) == 0
    assert "deleted episodes [1, 3] in place: 3 episodes, 18 frames remain" in (
        capsys.readouterr().out
    )
    assert validate(merged) == []
    dataset = LeRobotDataset(merged, format="numpy")
    try:
        # Episode 2 is the old episode 4 (other's second), re-indexed; its frames kept.
        start, _ = dataset.episode_range(2)
        item = dataset[start]
        assert item["episode_index"] == 2 and item["task"] == "unstack them"
        np.testing.assert_allclose(item["observation.state"], 1100 * np.array([1, 2, 3]))
    finally:
        dataset.close()


class RecordingBar:
    """Stands in for tqdm: remembers the totals and positions the CLI drove it through."""

    bars: list[RecordingBar] = []

    def __init__(self, *, desc, unit, file, leave) -> None:
        self.desc, self.unit, self.leave = desc, unit, leave
        self.total, self.n, self.positions, self.closed = None, 0, [], False
        RecordingBar.bars.append(self)

    def update(self, k: int) -> None:
        self.n += k
        self.positions.append((self.n, self.total))

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def bars(monkeypatch):
    import tqdm.auto

    RecordingBar.bars = []
    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    return RecordingBar.bars


def test_long_subcommands_draw_progress_bars(ds, tmp_path, bars, capsys):
    other = _make(tmp_path / "other", [3, 7], offset=1000)
    merged = tmp_path / "merged"
    commands = [
        (["validate", f"--dataset.root={ds}"], "file", 4),  # 1 data file + 3 MP4s
        (["stats", f"--dataset.root={ds}"], "episode", 3),
        (["merge", f"--dataset.roots=[{ds},{other}]", f"--output_dir={merged}"], "episode", 5),
        (["delete-episodes", f"--dataset.root={merged}", "--dataset.episodes=[0]"], "episode", 4),
    ]
    for argv, unit, total in commands:
        assert main(["dataset", *argv]) == 0, capsys.readouterr().err
        bar = bars[-1]
        assert bar.unit == unit and bar.closed and not bar.leave
        # 0, then one step per unit of work up to total, the total known from the start.
        assert bar.positions == [(n, total) for n in range(total + 1)], argv[0]
    assert len(bars) == len(commands)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["merge", "--dataset.roots=[a]", "--output_dir=o"], "two or more"),
        (["delete-episodes", "--dataset.root=x", "--dataset.episodes=[a]"], "episode indices"),
        (["frobnicate"], "unknown subcommand 'frobnicate'"),
        ([], "a subcommand is needed"),
        (["info"], "--dataset.root"),
    ],
)
def test_usage_errors(argv, message, capsys):
    assert main(["dataset", *argv]) == 2
    assert message in capsys.readouterr().err


def test_delete_a_missing_episode_is_an_error(ds, capsys):
    argv = ["dataset", "delete-episodes", f"--dataset.root={ds}", "--dataset.episodes=[7]"]
    assert main(argv) == 1
    assert "[7] do not exist" in capsys.readouterr().err
    assert DatasetMeta.load(ds).num_episodes == 3


def test_help_lists_subcommands(capsys):
    assert main(["dataset", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("info", "validate", "stats", "merge", "delete-episodes", "push", "rebuild-meta"):
        assert f"  {name} " in out
    assert main(["dataset", "merge", "--help"]) == 0
    assert "--dataset.roots" in capsys.readouterr().out


def test_push_goes_through_huggingface_hub(ds, monkeypatch, capsys):
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))
            return "https://huggingface.co/datasets/me/ds/commit/abc"

        def create_tag(self, repo_id, **kwargs):
            calls.append(("create_tag", repo_id, kwargs))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    argv = ["dataset", "push", f"--dataset.root={ds}", "--dataset.repo_id=me/ds", "--private"]
    assert main(argv) == 0
    assert "pushed" in capsys.readouterr().out
    names = [c[0] for c in calls]
    assert names == ["init", "create_repo", "upload_folder", "create_tag"]
    assert calls[1][1] == "me/ds" and calls[1][2]["private"] is True
    assert calls[1][2]["repo_type"] == "dataset"
    assert calls[2][1]["folder_path"] == str(ds) and calls[2][1]["repo_id"] == "me/ds"
    assert calls[3][2]["tag"] == "v3.0"


def test_lost_episodes_table_info_stats_refuse_then_rebuild_meta_recovers(ds, capsys):
    import shutil

    stats_before = (ds / "meta" / "stats.json").read_bytes()
    shutil.rmtree(ds / "meta" / "episodes")
    for sub in ("info", "stats"):
        assert main(["dataset", sub, f"--dataset.root={ds}"]) == 1, sub
        err = capsys.readouterr().err
        assert f"`lerobot-gym dataset rebuild-meta --dataset.root={ds}`" in err, sub
        assert "Traceback" not in err
    assert (ds / "meta" / "stats.json").read_bytes() == stats_before
    assert main(["dataset", "repair", f"--dataset.root={ds}"]) == 1
    assert "nothing was changed" in capsys.readouterr().err

    assert main(["dataset", "rebuild-meta", f"--dataset.root={ds}"]) == 0
    assert "3 episodes, 15 frames, 1 tasks" in capsys.readouterr().out
    assert main(["dataset", "validate", f"--dataset.root={ds}"]) == 0
    assert main(["dataset", "info", f"--dataset.root={ds}"]) == 0
    assert "3 episodes, 15 frames" in capsys.readouterr().out


def test_rebuild_meta_takes_task_texts_when_all_are_lost(ds, capsys):
    import shutil

    shutil.rmtree(ds / "meta" / "episodes")
    (ds / "meta" / "tasks.parquet").unlink()
    assert main(["dataset", "rebuild-meta", f"--dataset.root={ds}"]) == 1
    assert "--tasks=[" in capsys.readouterr().err
    argv = ["dataset", "rebuild-meta", f"--dataset.root={ds}", "--tasks=[stack the blocks]"]
    assert main(argv) == 0
    assert DatasetMeta.load(ds).tasks == ["stack the blocks"]
    assert validate(ds) == []


def test_repair_removes_an_interrupted_save_and_says_what(ds, capsys):
    import shutil

    videos = sorted((ds / "videos" / "observation.images.front" / "chunk-000").glob("*.mp4"))
    leftover = videos[-1].with_name("file-003.mp4")  # what a save killed after its video leaves
    shutil.copy(videos[-1], leftover)
    assert main(["dataset", "validate", f"--dataset.root={ds}", "--check_videos=false"]) == 1
    assert "lerobot-gym dataset repair" in capsys.readouterr().out
    assert main(["dataset", "repair", f"--dataset.root={ds}"]) == 0
    out = capsys.readouterr().out
    assert "videos/observation.images.front/chunk-000/file-003.mp4: removed" in out
    assert not leftover.exists() and validate(ds) == []
    assert main(["dataset", "repair", f"--dataset.root={ds}"]) == 0
    assert "nothing to repair" in capsys.readouterr().out


def test_validate_without_decoding_names_missing_and_lfs_videos(ds, capsys):
    videos = sorted((ds / "videos").rglob("*.mp4"))
    videos[0].unlink()
    videos[1].write_text("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n")
    assert main(["dataset", "validate", f"--dataset.root={ds}", "--check_videos=false"]) == 1
    out = capsys.readouterr().out
    assert f"{videos[0].relative_to(ds)}: missing" in out
    assert f"{videos[1].relative_to(ds)}: a Git LFS pointer" in out and "git lfs pull" in out


def test_merge_with_a_missing_input_video_leaves_no_output(ds, tmp_path, capsys):
    other = _make(tmp_path / "other", [3, 7], offset=1000)
    video = sorted((other / "videos").rglob("*.mp4"))[1]
    saved = video.read_bytes()
    video.unlink()
    merged = tmp_path / "merged"
    argv = ["dataset", "merge", f"--dataset.roots=[{ds},{other}]", f"--output_dir={merged}"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert str(video) in err and "missing" in err and "Traceback" not in err
    assert not merged.exists()
    video.write_bytes(saved)
    assert main(argv) == 0  # the rerun is not blocked
    assert validate(merged) == []
