"""`lerobot-gym teleoperate`: an emulated leader arm drives the twin and an emulated follower.

The leader is an SO-101 leader on an emulated bus (a pty); the test plays the operator's hand by
setting its joint angles. Once the loop is running (counted in the leader's bus reads, not in
wall time, so a loaded machine cannot reorder things) the hand moves to a new pose, and the
follower must end there.
"""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest

from lerobot_gym.cli.main import main
from lerobot_gym.cli.teleoperate import PARSER, teleoperate
from lerobot_gym.hardware.feetech.packets import INST_SYNC_READ
from lerobot_gym.robots.so101.emulated import EmulatedSO101
from lerobot_gym.robots.so101.leader import SO101Leader
from lerobot_gym.robots.so101.spec import SO101

POSE_A_RAD = np.array([0.3, -0.5, 0.4, 0.2, -0.3, 0.5])
POSE_B_RAD = np.array([-0.3, -0.2, 0.7, -0.2, 0.3, 0.9])
POSE_B_USER = SO101.to_user(POSE_B_RAD)  # degrees, gripper 0..100
FPS = 30


@pytest.fixture
def leader_arm():
    with EmulatedSO101("leader", plant="first_order", initial_rad=POSE_A_RAD) as arm:
        yield arm


@pytest.fixture
def follower_arm():
    with EmulatedSO101("follower", arm_id="black", plant="first_order") as arm:
        yield arm


def _move_hand_once_running(arm: EmulatedSO101, after_reads: int = 10) -> threading.Thread:
    """Move the leader to pose B once the command has read it ``after_reads`` times."""
    emulator = arm.emulator

    def hand() -> None:
        start = emulator.stats.instructions[INST_SYNC_READ]
        deadline = time.monotonic() + 20.0
        while emulator.stats.instructions[INST_SYNC_READ] < start + after_reads:
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
        emulator.set_actual_positions_rad(POSE_B_RAD)

    thread = threading.Thread(target=hand, daemon=True)
    thread.start()
    return thread


def _leader_flags(arm: EmulatedSO101) -> list[str]:
    return [
        "--teleop.type=so101_leader",
        f"--teleop.port={arm.port}",
        "--teleop.id=leader",
        f"--teleop.calibration_dir={arm.calibration_dir}",
    ]


def _robot_flags(arm: EmulatedSO101) -> list[str]:
    return [
        "--robot.type=so101_follower",
        f"--robot.port={arm.port}",
        "--robot.id=black",
        f"--robot.calibration_dir={arm.calibration_dir}",
    ]


def test_leader_drives_the_twin_across_episodes(leader_arm):
    hand = _move_hand_once_running(leader_arm)
    cfg = PARSER.parse(
        [
            *_leader_flags(leader_arm),
            "--env.id=SO101-v0",
            "--env.max_episode_steps=12",  # episodes end while teleoperating
            f"--fps={FPS}",
            "--duration_s=1.2",
        ]
    )
    report = teleoperate(cfg)
    hand.join(timeout=1.0)
    assert report.env_id == "lerobot_gym/SO101-v0" and report.stopped_by == "duration"
    assert report.steps >= 0.7 * FPS * 1.2
    assert abs(report.rate_hz - FPS) < 0.1 * FPS
    assert report.episodes >= 3  # each truncation is followed by a reset to the leader's pose
    np.testing.assert_allclose(report.leader, POSE_B_USER, atol=0.5)  # the hand, read back
    np.testing.assert_allclose(report.follower[:5], POSE_B_USER[:5], atol=2.0)
    assert abs(report.follower[5] - POSE_B_USER[5]) < 3.0


def test_real_arm_flags_drive_an_emulated_follower_with_rerun(
    leader_arm, follower_arm, tmp_path, capsys
):
    hand = _move_hand_once_running(leader_arm)
    rrd = tmp_path / "teleop.rrd"
    argv = ["teleoperate", *_robot_flags(follower_arm), *_leader_flags(leader_arm)]
    argv += [f"--fps={FPS}", "--duration_s=1.2", "--display_data=true", f"--display_rrd={rrd}"]
    assert main(argv) == 0
    hand.join(timeout=1.0)
    out = capsys.readouterr().out
    assert "Stopped (the duration passed) after" in out
    rate_hz = float(re.search(r"^rate ([0-9.]+) Hz", out, re.M).group(1))
    assert abs(rate_hz - FPS) < 0.1 * FPS
    assert "final follower-leader error:" in out
    # The follower's servos (not just its observation) ended at the hand's pose ...
    emulator = follower_arm.emulator
    np.testing.assert_allclose(emulator.actual_positions_rad()[:5], POSE_B_RAD[:5], atol=0.04)
    # ... and the arm was let go at the end.
    assert all(emulator.register("Torque_Enable", n) == 0 for n in SO101.joint_names)
    assert rrd.stat().st_size > 1000


def test_ctrl_c_stops_cleanly_and_lets_go_of_the_follower(
    leader_arm, follower_arm, monkeypatch, capsys
):
    read = SO101Leader.get_action
    calls = {"n": 0}

    def interrupted_after_ten(self):
        calls["n"] += 1
        if calls["n"] > 10:
            raise KeyboardInterrupt
        return read(self)

    monkeypatch.setattr(SO101Leader, "get_action", interrupted_after_ten)
    assert main(["teleoperate", *_robot_flags(follower_arm), *_leader_flags(leader_arm)]) == 0
    assert "Stopped (Ctrl-C) after 9 steps" in capsys.readouterr().out
    emulator = follower_arm.emulator
    assert all(emulator.register("Torque_Enable", n) == 0 for n in SO101.joint_names)


def test_leader_problems_fail_before_the_follower_moves(leader_arm, tmp_path, capsys):
    no_port = ["--env.id=SO101-v0", f"--teleop.port={tmp_path / 'ttyACM9'}"]
    assert main(["teleoperate", *no_port]) == 1
    assert "lerobot-gym teleoperate: error:" in capsys.readouterr().err
    no_file = ["--env.id=SO101-v0", f"--teleop.port={leader_arm.port}"]
    no_file.append(f"--teleop.calibration_dir={tmp_path}")
    assert main(["teleoperate", *no_file]) == 1
    captured = capsys.readouterr()
    assert "lerobot-gym calibrate --teleop.type=so101_leader" in captured.err
    assert "Moving the follower" not in captured.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--teleop.port=/dev/x"], "give the follower"),
        (["--robot.type=koch_follower", "--teleop.port=/dev/x"], "--robot.type must be"),
        (["--robot.type=so101_follower", "--teleop.port=/dev/x"], "--robot.port is required"),
        (
            ["--robot.port=/dev/a", "--env.backend=sim", "--teleop.port=/dev/x"],
            "--env.backend=sim",
        ),
        (
            ["--env.id=SO101-v0", "--env.control_mode=joint_delta", "--teleop.port=/dev/x"],
            "control_mode=joint_pos",
        ),
        (["--env.id=SO101-v0", "--teleop.type=keyboard", "--teleop.port=/dev/x"], "--teleop.type"),
        (["--env.id=SO101-v0"], "--teleop.port is required"),
        (["--env.id=SO101-v0", "--teleop.port=/dev/x", "--fps=0"], "--fps must be positive"),
    ],
)
def test_usage_errors(argv, message, capsys):
    assert main(["teleoperate", *argv]) == 2
    assert message in capsys.readouterr().err
