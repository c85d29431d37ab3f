"""`lerobot-gym record`: policy or leader-arm datasets, resume, keyboard controls, errors."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import termios

import numpy as np
import pytest
from rerun import chunk as rerun_chunk

from lerobot_gym.cli import record as record_cmd
from lerobot_gym.cli.main import main
from lerobot_gym.dataset import LeRobotDataset, validate
from lerobot_gym.dataset.meta import DatasetMeta
from lerobot_gym.policies import base as policy_base
from lerobot_gym.teleop.keyboard import TerminalKeyboard

PICK = "--env.id=lerobot_gym/SO101-PickCube-v0"
REACH = "--env.id=lerobot_gym/SO101-Reach-v0"


def _record_args(root, *extra):
    return [
        "record",
        f"--dataset.root={root}",
        "--dataset.repo_id=test/rec",
        "--dataset.vcodec=h264",
        *extra,
    ]


def _episode_lengths(root) -> list[int]:
    meta = DatasetMeta.load(root)
    return [int(ep["length"]) for ep in meta.episodes]


def test_scripted_pick_with_cameras_then_resume_appends(tmp_path, capsys):
    root = tmp_path / "pick"
    args = _record_args(
        root,
        PICK,
        "--env.image_size=[48,64]",
        "--policy.type=scripted",
        "--dataset.num_episodes=2",
        "--dataset.episode_time_s=1",
        "--dataset.single_task=pick, then lift",
        "--seed=7",
    )
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "recorded 2 episodes, 60 frames" in out
    assert f"dataset test/rec at {root}: 2 episodes, 60 frames" in out

    assert validate(root) == []
    dataset = LeRobotDataset(root, format="numpy")
    try:
        assert (dataset.num_episodes, len(dataset), dataset.fps) == (2, 60, 30)
        first, last = dataset[0], dataset[29]
        assert first["task"] == "pick, then lift"  # a comma in a str flag stays text
        assert first["observation.images.front"].shape == (3, 48, 64)
        assert first["observation.images.wrist"].std() > 0.01  # a rendered view, not blank
        # The episode time is a time limit: the last frame is marked done, the others not.
        assert not bool(np.asarray(first["next.done"]).any())
        assert bool(np.asarray(last["next.done"]).all())
        # The scripted policy moves the arm: recorded actions are not constant.
        actions = np.stack([dataset[i]["action"] for i in range(30)])
        assert np.ptp(actions, axis=0).max() > 1.0
        state_ep1 = dataset[30]["observation.state"]
    finally:
        dataset.close()

    # Recording again without --resume refuses to touch the dataset.
    assert main(args) == 1
    assert "--resume=true" in capsys.readouterr().err

    resumed = [a for a in args if not a.startswith("--dataset.num_episodes")]
    assert main([*resumed, "--dataset.num_episodes=1", "--resume=true"]) == 0
    out = capsys.readouterr().out
    assert "recorded 1 episodes, 30 frames" in out and "3 episodes, 90 frames" in out
    assert validate(root) == []
    assert _episode_lengths(root) == [30, 30, 30]
    dataset = LeRobotDataset(root, format="numpy")
    try:
        # Episode i is seeded seed + i, so the resumed episode 2 starts elsewhere than episode 1.
        assert not np.allclose(dataset[60]["observation.state"], state_ep1)
        assert dataset[60]["episode_index"] == 2
    finally:
        dataset.close()


class _PressingPolicy:
    """Holds the arm still and presses keys on a keyboard at given calls of each episode."""

    def __init__(self, keyboard: TerminalKeyboard, presses: list[dict[int, str]]) -> None:
        self.keyboard, self.presses = keyboard, presses
        self.episode, self.calls = -1, 0

    def reset(self, obs, info) -> None:
        self.episode += 1
        self.calls = 0

    def __call__(self, obs):
        self.calls += 1
        if self.episode < len(self.presses):
            key = self.presses[self.episode].get(self.calls)
            if key is not None:
                self.keyboard.press(key)
        return np.asarray(obs["agent_pos"], dtype=np.float32)


def _record_with_keys(monkeypatch, root, presses, *extra, episode_time_s=1.0):
    keyboard = TerminalKeyboard(fd=None)
    monkeypatch.setitem(
        policy_base.POLICY_TYPES,
        "pressing",
        lambda env, seed=None: _PressingPolicy(keyboard, presses),
    )
    cfg = record_cmd.PARSER.parse(
        [
            REACH,
            "--env.obs_type=state",
            "--policy.type=pressing",
            f"--dataset.root={root}",
            "--dataset.repo_id=test/keys",
            f"--dataset.episode_time_s={episode_time_s}",
            "--seed=0",
            *extra,
        ]
    )
    return record_cmd.record(cfg, keyboard=keyboard)


def test_keys_rerecord_end_early_and_stop(tmp_path, monkeypatch, capsys):
    root = tmp_path / "keys"
    presses = [
        {5: "left"},  # episode 0, first take: discarded after 5 frames
        {10: "right"},  # episode 0 again: ended after 10 frames
        {3: "esc"},  # episode 1: saved with 3 frames, then the session stops
    ]
    summary = _record_with_keys(monkeypatch, root, presses, "--dataset.num_episodes=3")
    out = capsys.readouterr().out
    assert "episode 0: discarded, recording it again" in out
    assert (summary.episodes, summary.frames, summary.rerecorded) == (2, 13, 1)
    assert summary.stopped
    assert _episode_lengths(root) == [10, 3]
    assert validate(root) == []


def test_a_press_after_an_episode_ended_does_not_cut_the_next(tmp_path, monkeypatch):
    root = tmp_path / "late"
    # Pressed at the 30th (last) step: the time limit has already ended episode 0.
    summary = _record_with_keys(monkeypatch, root, [{30: "right"}], "--dataset.num_episodes=2")
    assert not summary.stopped
    assert _episode_lengths(root) == [30, 30]


def test_interrupt_keeps_saved_episodes_and_drops_the_partial_one(tmp_path, monkeypatch, capsys):
    class Interrupting(_PressingPolicy):
        def __call__(self, obs):
            if self.episode == 1 and self.calls == 7:
                raise KeyboardInterrupt
            return super().__call__(obs)

    keyboard = TerminalKeyboard(fd=None)
    monkeypatch.setitem(
        policy_base.POLICY_TYPES, "interrupting", lambda env, seed=None: Interrupting(keyboard, [])
    )
    root = tmp_path / "interrupted"
    code = main(
        _record_args(
            root,
            REACH,
            "--env.obs_type=state",
            "--policy.type=interrupting",
            "--dataset.num_episodes=3",
            "--dataset.episode_time_s=0.5",
        )
    )
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert _episode_lengths(root) == [15]
    assert validate(root) == []


def test_display_save_writes_a_rerun_file(tmp_path, capsys):
    rrd = tmp_path / "run.rrd"
    code = main(
        _record_args(
            tmp_path / "shown",
            REACH,
            "--env.obs_type=state",
            "--policy.type=scripted",
            "--dataset.num_episodes=1",
            "--dataset.episode_time_s=0.3",
            f"--display_save={rrd}",
        )
    )
    assert code == 0
    assert "recorded 1 episodes, 9 frames" in capsys.readouterr().out
    counts = collections.Counter()
    for chunk in rerun_chunk.RrdReader(rrd).stream():
        if not chunk.is_static:
            counts[chunk.entity_path] += chunk.num_rows
    # What was recorded is what was shown: the reset observation and 9 steps.
    assert counts["/observation/state/shoulder_pan.pos"] == 10
    assert counts["/action/gripper.pos"] == 9
    assert counts["/next/done"] == 9


def test_push_to_hub_after_recording(tmp_path, monkeypatch, capsys):
    import huggingface_hub

    uploads = []

    class FakeApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, **kwargs):
            uploads.append(("repo", repo_id, kwargs["private"]))

        def upload_folder(self, **kwargs):
            uploads.append(("folder", kwargs["folder_path"]))
            return "https://huggingface.co/datasets/test/rec/commit/1"

        def create_tag(self, repo_id, **kwargs):
            uploads.append(("tag", kwargs["tag"]))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    root = tmp_path / "pushed"
    args = _record_args(
        root,
        REACH,
        "--env.obs_type=state",
        "--policy.type=random",
        "--dataset.num_episodes=1",
        "--dataset.episode_time_s=0.1",
        "--dataset.push_to_hub=true",
        "--dataset.private=true",
    )
    assert main(args) == 0
    assert "pushed to https://huggingface.co/datasets/test/rec/commit/1" in capsys.readouterr().out
    assert uploads == [("repo", "test/rec", True), ("folder", str(root)), ("tag", "v3.0")]


def test_leader_arm_drives_the_twin(tmp_path, capsys):
    from lerobot_gym.robots.so101.emulated import EmulatedSO101
    from lerobot_gym.robots.so101.spec import SO101

    pose_rad = np.append(np.deg2rad([20.0, -30.0, 25.0, 15.0, -20.0]), 0.6)
    root = tmp_path / "teleop"
    with EmulatedSO101("leader", plant="first_order") as arm:
        arm.emulator.set_actual_positions_rad(pose_rad)
        code = main(
            _record_args(
                root,
                REACH,
                "--env.obs_type=state",
                "--teleop.type=so101_leader",
                f"--teleop.port={arm.port}",
                f"--teleop.calibration_dir={arm.calibration_dir}",
                "--dataset.num_episodes=1",
                "--dataset.episode_time_s=0.5",
            )
        )
    assert code == 0, capsys.readouterr().err
    dataset = LeRobotDataset(root, format="numpy")
    try:
        assert len(dataset) == 15
        actions = np.stack([dataset[i]["action"] for i in range(15)])
        final_state = dataset[14]["observation.state"]
    finally:
        dataset.close()
    # Every recorded action is the leader's pose, in the follower's boundary units ...
    np.testing.assert_allclose(actions, np.tile(SO101.to_user(pose_rad), (15, 1)), atol=0.3)
    # ... and the twin followed it (targets are reached within the episode).
    np.testing.assert_allclose(final_state[:5], actions[-1, :5], atol=3.0)


@pytest.mark.parametrize(
    ("flags", "code", "message"),
    [
        ([], 2, "--policy.type=... or --teleop.type=..."),
        (["--policy.type=scripted", "--teleop.type=so101_leader"], 2, "not both"),
        (
            ["--teleop.type=joystick"],
            2,
            "unknown --teleop.type='joystick'; known: aloha_leaders, so101_leader",
        ),
        (["--teleop.type=so101_leader"], 2, "--teleop.port is required"),
        (["--teleop.type=so101_leader", "--teleop.baud=9600"], 2, "--teleop.baud is not an"),
        (["--policy.type=scripted", "--teleop.port=/dev/x"], 2, "need --teleop.type"),
        (["--policy.type=scripted", "--dataset.num_episodes=0"], 2, "must be positive"),
        (["--policy.type=scripted", "--display_serve=front"], 2, "--display_serve: expected"),
        # Errors found once the env exists (exit 1) leave no files behind either.
        (["--policy.type=nonesuch"], 1, "unknown policy type 'nonesuch'"),
        # A missing arm is found at the first reset, after the dataset was created.
        (
            [
                "--policy.type=scripted",
                "--env.obs_type=state",
                "--env.backend=real",
                "--env.port=/dev/ttyNONE0",
            ],
            1,
            "/dev/ttyNONE0",
        ),
    ],
)
def test_errors_leave_no_dataset(tmp_path, capsys, flags, code, message):
    root = tmp_path / "never"
    assert main(_record_args(root, REACH, *flags)) == code
    assert message in capsys.readouterr().err
    assert not root.exists()


def test_esc_typed_in_the_terminal_stops_a_long_run(tmp_path):
    """End to end: the command reads its own stdin (a pty), and leaves the terminal as it was."""
    root = tmp_path / "esc"
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    errors = tmp_path / "stderr.txt"
    with open(errors, "w") as stderr:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-u", "-m", "lerobot_gym.cli", "record", REACH),
                *("--env.obs_type=state", "--policy.type=scripted", f"--dataset.root={root}"),
                *("--dataset.repo_id=test/esc", "--dataset.num_episodes=1000"),
            ],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout.readline().startswith("keys: right arrow = end episode"), (
            errors.read_text()
        )
        assert not termios.tcgetattr(slave)[3] & termios.ICANON  # cbreak while recording
        assert proc.stdout.readline().startswith("episode 0: saved")
        os.write(master, b"\x1b")
        out, _ = proc.communicate(timeout=60)
        after = termios.tcgetattr(slave)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, errors.read_text()
    assert "(stopped by the operator)" in out
    saved = DatasetMeta.load(root).num_episodes
    assert 1 <= saved < 1000
    assert f"dataset test/esc at {root}: {saved} episodes" in out
    assert after == before  # cbreak mode undone on exit


def test_reset_phase_waits_between_episodes_and_the_right_arrow_skips_it(
    tmp_path, monkeypatch, capsys
):
    summary = _record_with_keys(
        monkeypatch,
        tmp_path / "waits",
        [],
        "--dataset.num_episodes=2",
        "--dataset.reset_time_s=0.5",
        episode_time_s=0.2,
    )
    out = capsys.readouterr().out
    assert out.count("reset the scene (0.5 s; right arrow when ready)") == 1  # not after the last
    assert summary.episodes == 2 and summary.elapsed_s >= 0.5

    summary = _record_with_keys(
        monkeypatch,
        tmp_path / "skips",
        [{6: "right"}],  # at the last step of episode 0: lands in the reset phase
        "--dataset.num_episodes=2",
        "--dataset.reset_time_s=30",
        episode_time_s=0.2,
    )
    assert "reset the scene (30 s" in capsys.readouterr().out
    assert summary.episodes == 2 and summary.elapsed_s < 5
    assert _episode_lengths(tmp_path / "skips") == [6, 6]


def _files(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for sub in ("data", "videos")
        for p in sorted((root / sub).rglob("*"))
        if p.is_file()
    }


def _record_reach(root, *extra, episodes=2):
    return _record_args(
        root,
        REACH,
        "--env.obs_type=state",
        "--policy.type=random",
        f"--dataset.num_episodes={episodes}",
        "--dataset.episode_time_s=0.3",
        "--seed=0",
        *extra,
    )


@pytest.mark.parametrize("damage", ["episodes", "tasks"])
def test_resume_refuses_lost_metadata_and_deletes_nothing(tmp_path, capsys, damage):
    import shutil

    root = tmp_path / "reach"
    assert main(_record_reach(root)) == 0
    before = _files(root)
    if damage == "episodes":
        shutil.rmtree(root / "meta" / "episodes")
    else:
        (root / "meta" / "tasks.parquet").unlink()
    capsys.readouterr()
    assert main(_record_reach(root, "--resume=true")) == 1
    err = capsys.readouterr().err
    assert f"lerobot-gym dataset rebuild-meta --dataset.root={root}" in err
    assert ("meta/episodes" if damage == "episodes" else "tasks.parquet is missing") in err
    assert _files(root) == before

    assert main(["dataset", "rebuild-meta", f"--dataset.root={root}"]) == 0
    assert main(_record_reach(root, "--resume=true", episodes=1)) == 0
    assert _episode_lengths(root) == [9, 9, 9] and validate(root) == []


def test_root_that_is_a_file_is_a_typed_error(tmp_path, capsys):
    root = tmp_path / "a_file"
    root.write_text("not a dataset")
    for extra in ([], ["--resume=true"]):
        assert main(_record_reach(root, *extra)) == 1
        err = capsys.readouterr().err
        assert f"--dataset.root={root} is a file, not a folder" in err
        assert "Traceback" not in err
    assert root.read_text() == "not a dataset"


def test_resume_into_a_folder_that_is_not_a_dataset_is_refused(tmp_path, capsys):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "todo.txt").write_text("buy cubes")
    assert main(_record_reach(root, "--resume=true")) == 1
    assert "holds files but no meta/info.json" in capsys.readouterr().err
    assert [p.name for p in root.iterdir()] == ["todo.txt"]


def test_root_without_write_permission_is_a_typed_error(capsys):
    # sysfs refuses new entries even to root, where a chmod-ed folder would not.
    root = "/sys/lerobot_gym_test_dataset"
    assert main(_record_reach(root)) == 1
    err = capsys.readouterr().err
    assert f"cannot write the dataset at --dataset.root={root}" in err
    assert "Traceback" not in err


def test_resume_with_another_vcodec_is_refused(tmp_path, capsys):
    root = tmp_path / "pick"
    args = _record_args(
        root,
        PICK,
        "--env.image_size=[24,32]",
        "--policy.type=random",
        "--dataset.num_episodes=1",
        "--dataset.episode_time_s=0.2",
    )
    assert main(args) == 0  # h264
    capsys.readouterr()
    other = [a.replace("=h264", "=libsvtav1") for a in args]
    assert main([*other, "--resume=true"]) == 1
    err = capsys.readouterr().err
    assert "--dataset.vcodec=libsvtav1 differs" in err and "--dataset.vcodec=h264" in err
    assert _episode_lengths(root) == [6]
    # The same codec, or none, appends.
    no_codec = [a for a in args if not a.startswith("--dataset.vcodec")]
    assert main([*no_codec, "--resume=true"]) == 0
    assert main([*args, "--resume=true"]) == 0
    assert _episode_lengths(root) == [6, 6, 6] and validate(root) == []
    codecs = {av_codec(p) for p in (root / "videos").rglob("*.mp4")}
    assert codecs == {"h264"}


def av_codec(path) -> str:
    import av

    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.name
