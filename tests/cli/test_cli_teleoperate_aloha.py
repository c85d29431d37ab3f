"""`lerobot-gym teleoperate` with the ALOHA: two emulated WidowX leaders drive the two emulated
ViperX followers of one emulated station through the real driver (robots/aloha/)."""

from __future__ import annotations

import numpy as np
import pytest

from lerobot_gym.assets.aloha import ARMS, GRIPPER_POSITION_CLOSE, GRIPPER_POSITION_OPEN
from lerobot_gym.cli.main import main
from lerobot_gym.cli.teleoperate import PARSER, follower_env_config, make_leader

pytest.importorskip("dynamixel_sdk")

from lerobot_gym.robots.aloha.emulated import AlohaStation
from lerobot_gym.robots.aloha.spec import ALOHA

# A leader pose near the followers' home (the reset move to it is short), grippers 60 % open.
ARM_DELTA = np.array([0.15, -0.1, 0.1, 0.2, -0.15, 0.1])
GRIP_M = GRIPPER_POSITION_CLOSE + 0.6 * (GRIPPER_POSITION_OPEN - GRIPPER_POSITION_CLOSE)


@pytest.fixture
def station():
    with AlohaStation(ALOHA) as s:
        yield s


def _flags(station) -> list[str]:
    return [
        "--robot.type=aloha_follower",
        *(f"--robot.{arm}_port={station.ports[('follower', arm)]}" for arm in ARMS),
        f"--robot.calibration_dir={station.calibration_folder('follower')}",
        "--teleop.type=aloha_leaders",
        *(f"--teleop.{arm}_port={station.ports[('leader', arm)]}" for arm in ARMS),
        f"--teleop.calibration_dir={station.calibration_folder('leader')}",
        "--env.bus_timeout_ms=200",
        "--env.bus_retries=3",
    ]


def test_leaders_drive_the_followers_and_let_go(station, capsys):
    home = np.asarray(ALOHA.home_rad, float)
    for i, arm in enumerate(ARMS):
        pose = np.append(home[7 * i : 7 * i + 6] + ARM_DELTA, GRIP_M)
        station.emulators[("leader", arm)].set_actual_positions_rad(pose)
    argv = ["teleoperate", *_flags(station), "--fps=50", "--duration_s=1.0"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "lerobot_gym/Aloha-v0" in out and "joints (radians, gripper 0..1)" in out
    assert "final follower-leader error:" in out
    for i, arm in enumerate(ARMS):
        follower = station.emulators[("follower", arm)]
        reached = follower.actual_positions_rad()
        np.testing.assert_allclose(reached[:6], home[7 * i : 7 * i + 6] + ARM_DELTA, atol=0.03)
        # The leader's 60 % open gripper is the follower's 60 % open finger.
        assert abs(reached[6] - GRIP_M) < 0.002
        assert all(s.torque_enabled is False for s in follower.all_servos)


def test_aloha_flags_build_the_pair_env_and_the_leaders(station):
    cfg = PARSER.parse(_flags(station))
    env_id, kwargs = follower_env_config(cfg)
    assert env_id == "lerobot_gym/Aloha-v0" and kwargs["backend"] == "real"
    assert kwargs["ports"] == {arm: station.ports[("follower", arm)] for arm in ARMS}
    leaders = make_leader(cfg)
    assert leaders.ports == {arm: station.ports[("leader", arm)] for arm in ARMS}


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--robot.type=aloha_follower", "--robot.left_port=/dev/a", "--teleop.port=/dev/c"],
            "missing: --robot.right_port",
        ),
        (
            ["--env.id=Aloha-v0", "--teleop.type=aloha_leaders", "--teleop.port=/dev/c"],
            "one port per arm",
        ),
        (["--robot.type=koch_follower", "--robot.port=/dev/a"], "must be one of"),
    ],
)
def test_usage_errors(argv, message, capsys):
    assert main(["teleoperate", *argv]) == 2
    assert message in capsys.readouterr().err
