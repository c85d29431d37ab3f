"""`lerobot-gym calibrate` end to end against an emulated SO-101 bus on a pty.

The operator is played by the test: ``input`` is replaced by a script that answers the prompts,
and while the command records ranges of motion the script moves the emulated joints (as a hand
moves a torque-off arm) and waits until the command has read each pose before pressing Enter.
"""

from __future__ import annotations

import io
import json
import math
import time

import numpy as np
import pytest

from lerobot_gym.cli.calibrate import LiveTable
from lerobot_gym.cli.main import main
from lerobot_gym.hardware.emulator import FeetechEmulator, FirstOrderPlant
from lerobot_gym.hardware.feetech.packets import INST_SYNC_READ
from lerobot_gym.robots.so101.calibration import HALF_TURN_TICK, load_calibration
from lerobot_gym.robots.so101.motors import SO101_JOINT_NAMES, SO101_MOTOR_IDS

TICKS_PER_RAD = 4096 / (2 * math.pi)
# The hand sweeps joint i through +-AMPLITUDE_RAD[i] around the middle pose (wrist roll too,
# though LeRobot gives it the full turn without recording it).
AMPLITUDE_RAD = np.array([1.2, 1.0, 0.9, 0.8, 1.5, 0.6])
REGISTERS = {
    "homing_offset": "Homing_Offset",
    "range_min": "Min_Position_Limit",
    "range_max": "Max_Position_Limit",
}


@pytest.fixture
def emulator():
    with FeetechEmulator(dict(SO101_MOTOR_IDS), plant=FirstOrderPlant(6)) as emu:
        yield emu


def _wait_for_reads(emu: FeetechEmulator, n: int, timeout_s: float = 5.0) -> None:
    """Block until the command has sent ``n`` more SYNC_READs (so it saw the current pose)."""
    target = emu.stats.instructions[INST_SYNC_READ] + n
    deadline = time.monotonic() + timeout_s
    while emu.stats.instructions[INST_SYNC_READ] < target:
        assert time.monotonic() < deadline, "the command stopped reading the bus"
        time.sleep(0.005)


class Operator:
    """Answers the command's prompts in order; an empty prompt is the 'Enter to stop' wait."""

    def __init__(self, emu: FeetechEmulator, answers: list[str], scale: float = 1.0) -> None:
        self.emu, self.answers, self.scale = emu, list(answers), scale
        self.prompts: list[str] = []

    def __call__(self, prompt: str = "") -> str:
        self.prompts.append(prompt)
        if prompt == "":  # recording ranges: sweep every joint, then press Enter
            for pose in (
                self.scale * AMPLITUDE_RAD,
                -self.scale * AMPLITUDE_RAD,
                0 * AMPLITUDE_RAD,
            ):
                self.emu.set_actual_positions_rad(pose)
                _wait_for_reads(self.emu, 2)
            return ""
        return self.answers.pop(0)


def _calibrate(tmp_path, port: str, *extra: str) -> int:
    return main(
        [
            "calibrate",
            "--robot.type=so101_follower",
            f"--robot.port={port}",
            "--robot.id=arm",
            f"--robot.calibration_dir={tmp_path}",
            *extra,
        ]
    )


def _registers(emu: FeetechEmulator, name: str) -> dict[str, int]:
    return {field: emu.register(reg, name) for field, reg in REGISTERS.items()}


def test_calibrates_a_new_arm_and_saves_lerobots_file(emulator, tmp_path, monkeypatch, capsys):
    operator = Operator(emulator, answers=[""])
    monkeypatch.setattr("builtins.input", operator)
    assert _calibrate(tmp_path, emulator.port) == 0
    out = capsys.readouterr().out
    path = tmp_path / "arm.json"
    assert f"Calibration saved to {path}" in out
    assert "middle of its range of motion" in operator.prompts[0]
    assert "except 'wrist_roll'" in out
    assert "NAME            |    MIN |    POS |    MAX" in out  # the final table (not a tty)

    calibration = load_calibration(path)
    assert list(json.loads(path.read_text())["gripper"]) == [
        "id",
        "drive_mode",
        "homing_offset",
        "range_min",
        "range_max",
    ]
    for i, name in enumerate(SO101_JOINT_NAMES):
        cal = calibration[name]
        assert cal.id == SO101_MOTOR_IDS[name] and cal.drive_mode == 0
        # Homed at the middle pose: the encoder read 2048 + mounting there, homed to 2047.
        mounting = emulator.servo(name).mounting_offset_ticks
        assert cal.homing_offset == 2048 + mounting - HALF_TURN_TICK
        if name == "wrist_roll":
            assert (cal.range_min, cal.range_max) == (0, 4095)
        else:
            span = AMPLITUDE_RAD[i] * TICKS_PER_RAD
            assert abs(cal.range_min - (HALF_TURN_TICK - span)) <= 2, name
            assert abs(cal.range_max - (HALF_TURN_TICK + span)) <= 2, name
        # ... and the servos hold exactly what the file says.
        assert _registers(emulator, name) == {
            "homing_offset": cal.homing_offset,
            "range_min": cal.range_min,
            "range_max": cal.range_max,
        }


def test_existing_file_enter_writes_it_and_c_recalibrates(tmp_path, monkeypatch, capsys):
    with FeetechEmulator(dict(SO101_MOTOR_IDS), plant=FirstOrderPlant(6)) as first:
        monkeypatch.setattr("builtins.input", Operator(first, answers=[""]))
        assert _calibrate(tmp_path, first.port) == 0
    saved = load_calibration(tmp_path / "arm.json")

    # The same arm on a fresh bus (factory registers): Enter restores the file's calibration.
    with FeetechEmulator(dict(SO101_MOTOR_IDS), plant=FirstOrderPlant(6)) as emu:
        assert emu.register("Max_Position_Limit", "elbow_flex") == 4095
        operator = Operator(emu, answers=[""])
        monkeypatch.setattr("builtins.input", operator)
        assert _calibrate(tmp_path, emu.port) == 0
        assert "type 'c'" in operator.prompts[0] and len(operator.prompts) == 1
        assert "Wrote the calibration of 'arm'" in capsys.readouterr().out
        for name, cal in saved.items():
            assert _registers(emu, name)["range_max"] == cal.range_max
            assert _registers(emu, name)["homing_offset"] == cal.homing_offset

        # 'c' recalibrates: a narrower sweep gives narrower ranges, in the file and the servos.
        operator = Operator(emu, answers=["c", ""], scale=0.5)
        monkeypatch.setattr("builtins.input", operator)
        assert _calibrate(tmp_path, emu.port) == 0
        assert len(operator.prompts) == 3
        again = load_calibration(tmp_path / "arm.json")
        half = 0.5 * AMPLITUDE_RAD[2] * TICKS_PER_RAD
        assert abs(again["elbow_flex"].range_max - (HALF_TURN_TICK + half)) <= 2
        assert emu.register("Max_Position_Limit", "elbow_flex") == again["elbow_flex"].range_max


def test_corrupt_file_is_replaced_by_a_new_calibration(emulator, tmp_path, monkeypatch, capsys):
    (tmp_path / "arm.json").write_text("{not json")
    monkeypatch.setattr("builtins.input", Operator(emulator, answers=[""]))
    assert _calibrate(tmp_path, emulator.port) == 0
    assert "cannot be used" in capsys.readouterr().out
    assert load_calibration(tmp_path / "arm.json")["gripper"].range_min < HALF_TURN_TICK


def test_leader_via_teleop_flags_saves_in_lerobots_location(
    emulator, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HF_LEROBOT_CALIBRATION", str(tmp_path / "root"))
    monkeypatch.setattr("builtins.input", Operator(emulator, answers=[""]))
    code = main(
        [
            "calibrate",
            "--teleop.type=so101_leader",
            f"--teleop.port={emulator.port}",
            "--teleop.id=blue",
        ]
    )
    assert code == 0
    path = tmp_path / "root" / "teleoperators" / "so_leader" / "blue.json"
    assert f"Calibration saved to {path}" in capsys.readouterr().out
    assert load_calibration(path)["shoulder_pan"].id == 1


def test_pose_at_the_end_of_a_turn_names_the_joint_and_saves_nothing(tmp_path, monkeypatch, capsys):
    offsets = dict.fromkeys(SO101_JOINT_NAMES, 0) | {"elbow_flex": 2047}  # reads 4095 there
    with FeetechEmulator(
        dict(SO101_MOTOR_IDS), plant=FirstOrderPlant(6), mounting_offsets_ticks=offsets
    ) as emu:
        monkeypatch.setattr("builtins.input", Operator(emu, answers=[""]))
        assert _calibrate(tmp_path, emu.port) == 1
    err = capsys.readouterr().err
    assert "cannot home elbow_flex" in err and "nearer the middle" in err
    assert "Traceback" not in err
    assert not (tmp_path / "arm.json").exists()


def test_a_joint_that_never_moved_is_named(emulator, tmp_path, monkeypatch, capsys):
    def lazy_operator(prompt: str = "") -> str:
        if prompt == "":  # only the gripper is moved (and back: recording may start late)
            for angle in (0.4, 0.0):
                emulator.set_actual_positions_rad({"gripper": angle})
                _wait_for_reads(emulator, 2)
        return ""

    monkeypatch.setattr("builtins.input", lazy_operator)
    assert _calibrate(tmp_path, emulator.port) == 1
    err = capsys.readouterr().err
    assert "shoulder_pan, shoulder_lift, elbow_flex, wrist_flex did not move" in err
    assert not (tmp_path / "arm.json").exists()


def test_closed_stdin_stops_with_a_usage_error(emulator, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))  # one Enter, then end of input
    assert _calibrate(tmp_path, emulator.port) == 2
    assert "stdin closed" in capsys.readouterr().err
    assert not (tmp_path / "arm.json").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give one arm"),
        (["--robot.port=/dev/x", "--teleop.port=/dev/y"], "(both given)"),
        (["--robot.type=koch_follower", "--robot.port=/dev/x"], "--robot.type must be one of"),
        (["--teleop.type=so101_follower", "--teleop.port=/dev/x"], "--teleop.type must be"),
        (["--robot.type=so101_follower"], "--robot.port is required"),
    ],
)
def test_usage_errors(argv, message, capsys):
    assert main(["calibrate", *argv]) == 2
    assert message in capsys.readouterr().err


def test_missing_port_is_a_hardware_error(tmp_path, capsys):
    assert _calibrate(tmp_path, str(tmp_path / "ttyACM9")) == 1
    assert "lerobot-gym calibrate: error:" in capsys.readouterr().err


def test_live_table_redraws_in_place_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    table = LiveTable(stream, period_s=0.0)
    table.update({"gripper": 2000}, {"gripper": 1990}, {"gripper": 2000})
    table.update({"gripper": 2500}, {"gripper": 1990}, {"gripper": 2500})
    table.finish(echoed_lines=1)  # the Enter that stopped it moved the cursor one line down
    text = stream.getvalue()
    assert text.count("\x1b[3F") == 1  # back over the 3 lines drawn before
    assert text.count("\x1b[4F") == 1  # ... and over the echoed Enter too
    assert text.rstrip().endswith("2500\x1b[K")
