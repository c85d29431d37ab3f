"""`lerobot-gym calibrate --robot.type=aloha_follower|aloha_leader` against the emulated station.

The operator is played by the test, as in test_cli_calibrate.py: at the zero-pose prompt it puts
the emulated arm in Interbotix's zero pose with the gripper closed; at the range prompt it sweeps
every joint and waits until the command has read each pose before pressing Enter. The servos
are mounted off centre and some reversed (robots/aloha/emulated.py), so homing has real work.
"""

from __future__ import annotations

import functools
import math
import re
import time

import numpy as np
import pytest

from lerobot_gym.assets.aloha import ARMS, GRIPPER_POSITION_CLOSE, GRIPPER_POSITION_OPEN
from lerobot_gym.cli.main import main
from lerobot_gym.hardware.dynamixel.packets import INST_BULK_READ, INST_SYNC_READ

pytest.importorskip("dynamixel_sdk")

from lerobot_gym.hardware.dynamixel import DynamixelBus
from lerobot_gym.robots.aloha.calibration import load_arm_calibration
from lerobot_gym.robots.aloha.emulated import AlohaStation, gripper_ticks
from lerobot_gym.robots.aloha.hardware import AlohaHardware, AlohaHardwareConfig
from lerobot_gym.robots.aloha.leader import AlohaLeaders
from lerobot_gym.robots.aloha.spec import ALOHA

TICKS_PER_RAD = 4096 / (2 * math.pi)
AMPLITUDE_RAD = np.array([0.9, 0.6, 0.7, 1.0, 0.8, 1.2])  # the six arm joints' sweep


@pytest.fixture(autouse=True)
def generous_bus(monkeypatch):
    """A loaded machine may delay replies; timeouts are tested in tests/hardware."""
    init = functools.partialmethod(DynamixelBus.__init__, timeout_ms=500, retries=3)
    monkeypatch.setattr(DynamixelBus, "__init__", init)


@pytest.fixture
def station():
    with AlohaStation(ALOHA) as s:
        yield s


def _reads(emu) -> int:
    # The arms mix servo models, so the bus reads them with BULK_READ (SYNC_READ if one model).
    return emu.stats.instructions[INST_SYNC_READ] + emu.stats.instructions[INST_BULK_READ]


def _wait_for_reads(emu, n: int, timeout_s: float = 60.0) -> None:
    target = _reads(emu) + n
    deadline = time.monotonic() + timeout_s
    while _reads(emu) < target:
        assert time.monotonic() < deadline, "the command stopped reading the bus"
        time.sleep(0.005)


def _pose(arm_rad, gripper_m) -> np.ndarray:
    return np.array([*arm_rad, gripper_m], float)


class Operator:
    """Answers prompts in order; poses the arm at the zero-pose prompt and sweeps on ''."""

    def __init__(self, station, kind: str, answers: list[str], zero_error_rad: float = 0.0):
        self.station, self.kind, self.answers = station, kind, list(answers)
        self.zero_error_rad = zero_error_rad
        self.prompts: list[str] = []

    def __call__(self, prompt: str = "") -> str:
        self.prompts.append(prompt)
        if "zero pose" in prompt:
            arm = "right" if " right " in prompt else "left"
            self.arm = arm
            zero = np.full(6, self.zero_error_rad)
            self.station.emulators[(self.kind, arm)].set_actual_positions_rad(
                _pose(zero, GRIPPER_POSITION_CLOSE)
            )
            return ""
        if prompt == "":  # recording ranges: sweep every joint and the gripper, then Enter
            emu = self.station.emulators[(self.kind, self.arm)]
            for pose in (
                _pose(AMPLITUDE_RAD, GRIPPER_POSITION_OPEN),
                _pose(-AMPLITUDE_RAD, GRIPPER_POSITION_CLOSE),
                _pose(0 * AMPLITUDE_RAD, GRIPPER_POSITION_CLOSE),
            ):
                emu.set_actual_positions_rad(pose)
                _wait_for_reads(emu, 2)
            return ""
        return self.answers.pop(0)


def _calibrate(station, tmp_path, kind: str, *extra: str) -> int:
    group = "robot" if kind == "follower" else "teleop"
    ports = [f"--{group}.{arm}_port={station.ports[(kind, arm)]}" for arm in ARMS]
    return main(
        [
            "calibrate",
            f"--{group}.type=aloha_{kind}",
            *ports,
            f"--{group}.id=pair",
            f"--{group}.calibration_dir={tmp_path}",
            *extra,
        ]
    )


@pytest.mark.parametrize("kind", ["follower", "leader"])
def test_calibrates_both_arms_like_the_factory_and_saves_lerobots_files(
    station, tmp_path, monkeypatch, capsys, kind
):
    operator = Operator(station, kind, answers=[])
    monkeypatch.setattr("builtins.input", operator)
    assert _calibrate(station, tmp_path, kind) == 0
    out = capsys.readouterr().out
    closed, opened = gripper_ticks(kind)
    for arm in ARMS:
        path = tmp_path / f"pair_{arm}.json"
        assert f"Calibration of the {arm} {kind} saved to {path}" in out
        ours = load_arm_calibration(kind, "pair", arm, tmp_path)
        # The station's own files are what an operator's perfect calibration would give.
        factory = load_arm_calibration(kind, "aloha", arm, station.calibration_folder(kind))
        for i, name in enumerate(ours):
            assert abs(ours[name].homing_offset - factory[name].homing_offset) <= 1, name
            if name.endswith("gripper"):
                assert (
                    abs(ours[name].range_min - closed) <= 2
                    and abs(ours[name].range_max - opened) <= 2
                )
            else:
                span = AMPLITUDE_RAD[i] * TICKS_PER_RAD
                assert abs(ours[name].range_min - (2048 - span)) <= 2, name
                assert abs(ours[name].range_max - (2048 + span)) <= 2, name
        # ... and the servos hold exactly what the file says.
        emu = station.emulators[(kind, arm)]
        for name, cal in ours.items():
            assert emu.register("Homing_Offset", name) == cal.homing_offset
            assert emu.register("Min_Position_Limit", name) == cal.range_min
            assert emu.register("Max_Position_Limit", name) == cal.range_max


def test_a_calibrated_follower_pair_reads_the_twins_pose(station, tmp_path, monkeypatch):
    monkeypatch.setattr("builtins.input", Operator(station, "follower", answers=[]))
    assert _calibrate(station, tmp_path, "follower") == 0
    ports = {arm: station.ports[("follower", arm)] for arm in ARMS}
    config = AlohaHardwareConfig(
        ports=ports, robot_id="pair", calibration_dir=tmp_path, bus_timeout_ms=200, bus_retries=3
    )
    hardware = AlohaHardware(ALOHA, config, fps=50)
    pose = np.array([0.3, -0.4, 0.5, 0.2, -0.3, 0.6, 0.04] * 2)
    for arm in ARMS:  # placed by hand before torque holds it there
        station.emulators[("follower", arm)].set_actual_positions_rad(pose[:7])
    hardware.connect()
    try:
        read = hardware.read().joint_positions_rad
        np.testing.assert_allclose(read, pose, atol=2 / TICKS_PER_RAD + 1e-4)
    finally:
        hardware.close()


def test_calibrated_leaders_give_the_followers_action(station, tmp_path, monkeypatch):
    monkeypatch.setattr("builtins.input", Operator(station, "leader", answers=[]))
    assert _calibrate(station, tmp_path, "leader") == 0
    ports = {arm: station.ports[("leader", arm)] for arm in ARMS}
    leaders = AlohaLeaders(ports, robot_id="pair", calibration_dir=tmp_path, bus_timeout_ms=200)
    leaders.connect()
    try:
        for arm in ARMS:
            station.emulators[("leader", arm)].set_actual_positions_rad(
                _pose([0.2, -0.1, 0.3, 0.4, -0.2, 0.1], GRIPPER_POSITION_OPEN)
            )
        action = leaders.get_action()
        expected = np.array([0.2, -0.1, 0.3, 0.4, -0.2, 0.1, 1.0] * 2)
        np.testing.assert_allclose(action, expected, atol=0.01)
    finally:
        leaders.disconnect()


def test_an_existing_file_is_written_with_enter_and_c_recalibrates(station, tmp_path, monkeypatch):
    monkeypatch.setattr("builtins.input", Operator(station, "follower", answers=[]))
    assert _calibrate(station, tmp_path, "follower") == 0
    saved = load_arm_calibration("follower", "pair", "left", tmp_path)
    emu = station.emulators[("follower", "left")]
    emu.servo("left_elbow").set("Max_Position_Limit", 4095)  # as if the servo was reset
    operator = Operator(station, "follower", answers=["", ""])
    monkeypatch.setattr("builtins.input", operator)
    assert _calibrate(station, tmp_path, "follower") == 0
    assert all("type 'c'" in p for p in operator.prompts) and len(operator.prompts) == 2
    assert emu.register("Max_Position_Limit", "left_elbow") == saved["left_elbow"].range_max

    operator = Operator(station, "follower", answers=["c", ""])
    monkeypatch.setattr("builtins.input", operator)
    assert _calibrate(station, tmp_path, "follower") == 0
    assert any("zero pose" in p for p in operator.prompts)


def test_a_pose_far_from_zero_names_the_joints_and_saves_nothing(
    station, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(
        "builtins.input", Operator(station, "follower", answers=[], zero_error_rad=1.2)
    )
    assert _calibrate(station, tmp_path, "follower") != 0
    err = capsys.readouterr().err
    # 1.2 rad is 69 degrees; the servo's mounting adds a few.
    assert "not at its zero pose" in err and re.search(r"left_waist is \+7\d deg away", err)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--robot.type=aloha_follower"], "--robot.left_port and/or --robot.right_port"),
        (
            ["--robot.type=aloha_follower", "--robot.port=/dev/x"],
            "one port per arm",
        ),
        (["--teleop.type=aloha_follower", "--teleop.left_port=/dev/x"], "must be one of"),
    ],
)
def test_usage_errors(argv, message, capsys):
    assert main(["calibrate", *argv]) == 2
    assert message in capsys.readouterr().err
