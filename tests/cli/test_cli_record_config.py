"""`lerobot-gym record --env.config=FILE --teleop.type=...`: HIL-SERL demonstrations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lerobot_gym.cli import record as record_cmd
from lerobot_gym.cli.main import main
from lerobot_gym.dataset import LeRobotDataset, validate
from lerobot_gym.teleop.scripted import ScriptedHuman, intervene_between

CONFIG = {
    "env": {"id": "SO101-PickCube-v0", "image_size": [48, 64]},
    "ee_control": {"step_sizes_m": 0.01},
    "image": {"crops": {"front": [0, 8, 48, 48]}, "size": [32, 32]},
    "reward": {"source": "human"},
    "gripper_penalty": -0.02,
}


def _config(tmp_path: Path, **patch) -> Path:
    path = tmp_path / "hil.json"
    path.write_text(json.dumps({**CONFIG, **patch}))
    return path


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        f"--dataset.root={tmp_path / 'ds'}",
        "--dataset.repo_id=test/hil",
        "--dataset.vcodec=h264",
        "--dataset.episode_time_s=0.5",
        *extra,
    ]


def _column(ds: LeRobotDataset, key: str) -> np.ndarray:
    return np.array([np.asarray(ds[i][key]).reshape(-1)[0] for i in range(len(ds))])


def test_operator_intervention_and_success_land_in_the_dataset(tmp_path: Path) -> None:
    up = np.array([0.0, 0.0, 1.0, 0.0], np.float32)
    # Each episode the operator takes over for steps 2..5; in the first they call success at
    # step 8 (a scripted press happens once), the second runs to the 0.5 s time limit.
    human = ScriptedHuman(
        lambda s: up, intervene_between(2, 6), presses={8: "success"}, action_kind="ee_delta"
    )
    human.connect()
    argv = _args(
        tmp_path, f"--env.config={_config(tmp_path)}", "--teleop.type=keyboard", "--seed=0"
    )
    cfg = record_cmd.PARSER.parse([*argv, "--dataset.num_episodes=2"])
    summary = record_cmd.record(cfg, teleop=human)
    assert (summary.episodes, summary.frames) == (2, 9 + 15)
    assert human.is_connected  # the caller's device: the caller disconnects it
    assert validate(tmp_path / "ds") == []
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    assert ds.meta.features["observation.images.front"]["shape"][:2] == [32, 32]
    assert np.asarray(ds[0]["action"]).shape == (4,)
    pattern = [0, 0, 1, 1, 1, 1] + [0] * 3
    np.testing.assert_array_equal(
        _column(ds, "complementary_info.is_intervention"), pattern + pattern + [0] * 6
    )
    assert _column(ds, "next.success").tolist() == [False] * 8 + [True] + [False] * 15
    assert _column(ds, "next.reward").tolist() == [0.0] * 8 + [1.0] + [0.0] * 15
    done = [False] * 8 + [True] + [False] * 14 + [True]
    assert _column(ds, "next.done").tolist() == done
    actions = np.stack([np.asarray(ds[i]["action"]) for i in range(len(ds))])
    assert (actions[2:6, 2] > 0.5).all() and (actions[:2] == 0).all()  # the operator's "up"


def test_cli_records_with_the_terminal_keyboard_device(tmp_path: Path, capsys) -> None:
    """Through main(): no terminal under pytest, so nobody intervenes; the time limit ends."""
    argv = _args(
        tmp_path,
        f"--env.config={_config(tmp_path)}",
        "--teleop.type=keyboard",
        "--dataset.num_episodes=1",
    )
    assert main(["record", *argv]) == 0
    assert "recorded 1 episodes, 15 frames" in capsys.readouterr().out  # 0.5 s at 30 fps
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    assert (_column(ds, "complementary_info.is_intervention") == 0).all()
    assert ds.meta.features["observation.images.front"]["shape"][:2] == [32, 32]
    assert ds.meta.features["action"]["shape"] == [4]


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ((), 2, "--teleop.type=keyboard|gamepad|so101_leader"),
        (("--teleop.type=joystick",), 2, "unknown --teleop.type='joystick' for --env.config"),
        (("--teleop.type=so101_leader",), 2, "--teleop.port is required"),
        (("--teleop.type=keyboard", "--teleop.fd=3"), 2, "takes no --teleop.* options"),
    ],
)
def test_flag_mistakes_name_the_flag(tmp_path, capsys, extra, code, message) -> None:
    argv = _args(tmp_path, f"--env.config={_config(tmp_path)}", *extra)
    assert main(["record", *argv]) == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_a_missing_or_invalid_config_names_it(tmp_path, capsys) -> None:
    argv = _args(tmp_path, f"--env.config={tmp_path / 'nope.json'}", "--teleop.type=keyboard")
    assert main(["record", *argv]) == 1
    assert "--env.config" in capsys.readouterr().err
    bad = _config(tmp_path, reward={"source": "oracle"})
    assert main(["record", *_args(tmp_path, f"--env.config={bad}", "--teleop.type=keyboard")]) == 1
    assert "reward.source must be one of" in capsys.readouterr().err


def test_an_emulated_leader_intervenes_on_the_emulated_arm_through_the_cli(tmp_path, capsys):
    """The rehearsal rig from the command line: the leader, held away from the follower past
    --teleop.intervention_threshold_deg, takes over; its frames are marked in the dataset."""
    from lerobot_gym.robots.so101.emulated import EmulatedSO101

    config = _config(
        tmp_path,
        env={"id": "SO101-v0", "backend": "emulated", "obs_type": "state"},
        image=None,
    )
    hand_rad = np.append(np.deg2rad([25.0, -40.0, 40.0, 20.0, -30.0]), 0.8)
    with EmulatedSO101("leader", plant="first_order") as arm:
        arm.emulator.set_actual_positions_rad(hand_rad)
        argv = _args(
            tmp_path,
            f"--env.config={config}",
            "--env.max_speed_deg_s=360",
            "--env.lockstep=true",
            "--teleop.type=so101_leader",
            f"--teleop.port={arm.port}",
            f"--teleop.calibration_dir={arm.calibration_dir}",
            "--teleop.intervention_threshold_deg=10",
            "--dataset.num_episodes=1",
            "--dataset.reset_time_s=0",
        )
        assert main(["record", *argv]) == 0, capsys.readouterr().err
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    flags = _column(ds, "complementary_info.is_intervention")
    assert len(flags) == 15 and flags.all()  # the hand was far from the follower throughout
    actions = np.stack([np.asarray(ds[i]["action"]) for i in range(len(ds))])
    assert np.abs(actions[:, :3]).max() > 0.5  # the operator's moves, as end-effector deltas
