"""SO-101 calibration (file format, location, procedure) and normalisation (normalization.py).

The procedure is tested against a tiny in-test register model of a Feetech bus
(``Present = Actual - Homing_Offset``); the pty emulator end-to-end test lives elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lerobot_gym.errors import CalibrationError, ConfigError
from lerobot_gym.hardware.bus import NormMode
from lerobot_gym.robots.so101.calibration import (
    MotorCalibration,
    calibrate_command,
    calibration_path,
    calibration_root,
    load_calibration,
    save_calibration,
)
from lerobot_gym.robots.so101.calibration_procedure import (
    build_calibration,
    is_calibrated,
    read_calibration_from_bus,
    record_ranges_of_motion,
    set_half_turn_homings,
    write_calibration,
)
from lerobot_gym.robots.so101.motors import SO101_JOINT_NAMES, so101_motors
from lerobot_gym.robots.so101.normalization import normalize, unnormalize

# The example from lerobot-interfaces.md §2.3, byte for byte in structure and keys.
LEROBOT_EXAMPLE = """{
  "shoulder_pan":  {"id": 1, "drive_mode": 0, "homing_offset": 2023,  "range_min": 865,  "range_max": 3280},
  "shoulder_lift": {"id": 2, "drive_mode": 0, "homing_offset": -2008, "range_min": 817,  "range_max": 3361},
  "elbow_flex":    {"id": 3, "drive_mode": 0, "homing_offset": -1928, "range_min": 852,  "range_max": 3047},
  "wrist_flex":    {"id": 4, "drive_mode": 0, "homing_offset": -1345, "range_min": 824,  "range_max": 3167},
  "wrist_roll":    {"id": 5, "drive_mode": 0, "homing_offset": 1052,  "range_min": 0,    "range_max": 4095},
  "gripper":       {"id": 6, "drive_mode": 0, "homing_offset": 1565,  "range_min": 1973, "range_max": 3449}
}
"""  # noqa: E501


@pytest.fixture
def example_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_arm.json"
    path.write_text(LEROBOT_EXAMPLE)
    return path


# ------------------------------------------------------------------------------ file format


def test_lerobot_example_loads_unchanged(example_file: Path) -> None:
    cal = load_calibration(example_file)
    assert list(cal) == list(SO101_JOINT_NAMES)
    assert cal["shoulder_lift"] == MotorCalibration(2, 0, -2008, 817, 3361)
    assert cal["wrist_roll"].range_max == 4095


def test_save_writes_lerobot_keys_and_round_trips(example_file: Path, tmp_path: Path) -> None:
    cal = load_calibration(example_file)
    out = save_calibration(tmp_path / "sub" / "dir" / "copy.json", cal)
    saved = json.loads(out.read_text())
    assert saved == json.loads(LEROBOT_EXAMPLE)
    assert list(saved["gripper"]) == ["id", "drive_mode", "homing_offset", "range_min", "range_max"]
    assert load_calibration(out) == cal
    assert [p.name for p in out.parent.iterdir()] == ["copy.json"]  # no temp file left


def test_save_is_atomic_when_replace_fails(
    example_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "target.json"
    target.write_text(LEROBOT_EXAMPLE)
    cal = load_calibration(example_file)
    changed = {**cal, "gripper": replace(cal["gripper"], range_max=4000)}

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_calibration(target, changed)
    assert target.read_text() == LEROBOT_EXAMPLE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_arm.json", "target.json"]


def test_save_refuses_invalid_calibration_and_writes_nothing(
    example_file: Path, tmp_path: Path
) -> None:
    cal = load_calibration(example_file)
    bad = {**cal, "elbow_flex": replace(cal["elbow_flex"], range_min=3047)}
    with pytest.raises(CalibrationError, match="elbow_flex"):
        save_calibration(tmp_path / "new.json", bad)
    assert not (tmp_path / "new.json").exists()


def _mutate(text: str, motor: str, **changes: object) -> str:
    data = json.loads(text)
    for key, value in changes.items():
        if value is _DELETE:
            del data[motor][key]
        else:
            data[motor][key] = value
    return json.dumps(data)


_DELETE = object()
CORRUPT_CASES = {
    "not json": ("{'shoulder_pan': ", "not valid JSON"),
    "top-level list": ("[1, 2]", "JSON object"),
    "missing key": (_mutate(LEROBOT_EXAMPLE, "gripper", range_max=_DELETE), "exactly the keys"),
    "extra key": (_mutate(LEROBOT_EXAMPLE, "gripper", offset=3), "exactly the keys"),
    "string value": (_mutate(LEROBOT_EXAMPLE, "gripper", range_min="1973"), "integer"),
    "float value": (_mutate(LEROBOT_EXAMPLE, "gripper", range_min=1973.5), "integer"),
    "bool value": (_mutate(LEROBOT_EXAMPLE, "gripper", drive_mode=True), "integer"),
    "min == max": (_mutate(LEROBOT_EXAMPLE, "elbow_flex", range_min=3047), "range_min < range_max"),
    "min > max": (_mutate(LEROBOT_EXAMPLE, "elbow_flex", range_min=3500), "range_min < range_max"),
    "range past 4095": (_mutate(LEROBOT_EXAMPLE, "elbow_flex", range_max=4096), "4095"),
    "offset too big": (_mutate(LEROBOT_EXAMPLE, "wrist_roll", homing_offset=2048), "2047"),
    "offset too small": (_mutate(LEROBOT_EXAMPLE, "wrist_roll", homing_offset=-2100), "2047"),
    "bad drive mode": (_mutate(LEROBOT_EXAMPLE, "wrist_roll", drive_mode=2), "drive_mode"),
    "wrong id": (_mutate(LEROBOT_EXAMPLE, "gripper", id=7), "id 7"),
    "missing motor": (
        json.dumps({k: v for k, v in json.loads(LEROBOT_EXAMPLE).items() if k != "gripper"}),
        "missing ['gripper']",
    ),
    "renamed motor": (LEROBOT_EXAMPLE.replace('"gripper"', '"jaw"'), "unexpected ['jaw']"),
}


@pytest.mark.parametrize("case", list(CORRUPT_CASES))
def test_corrupt_files_raise_naming_file_and_fix(case: str, tmp_path: Path) -> None:
    text, expected = CORRUPT_CASES[case]
    path = tmp_path / "follower_a.json"
    path.write_text(text)
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "lerobot-gym calibrate --robot.type=so101_follower" in message
    assert "--robot.id=follower_a" in message


def test_missing_file_says_to_calibrate(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match=r"no calibration file .*lerobot-gym calibrate"):
        load_calibration(tmp_path / "nope.json")


def test_other_arm_tables_are_checked_by_name(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"a": json.loads(LEROBOT_EXAMPLE)["shoulder_pan"]}))
    assert load_calibration(path, motors=["a"])["a"].id == 1
    with pytest.raises(CalibrationError, match="missing"):
        load_calibration(path, motors=["a", "b"])


# ------------------------------------------------------------------------------ location


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in ("HF_LEROBOT_CALIBRATION", "HF_LEROBOT_HOME", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_calibration_root_follows_lerobot_precedence(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = clean_env / "home"
    assert calibration_root() == home / ".cache/huggingface/lerobot/calibration"
    monkeypatch.setenv("XDG_CACHE_HOME", str(clean_env / "xdg"))
    assert calibration_root() == clean_env / "xdg/huggingface/lerobot/calibration"
    monkeypatch.setenv("HF_HOME", str(clean_env / "hf"))
    assert calibration_root() == clean_env / "hf/lerobot/calibration"
    monkeypatch.setenv("HF_LEROBOT_HOME", str(clean_env / "lr"))
    assert calibration_root() == clean_env / "lr/calibration"
    monkeypatch.setenv("HF_LEROBOT_CALIBRATION", str(clean_env / "cal"))
    assert calibration_root() == clean_env / "cal"


def test_calibration_path_uses_current_lerobot_folders(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_LEROBOT_CALIBRATION", str(clean_env / "cal"))
    root = clean_env / "cal"
    assert calibration_path("follower", "arm1") == root / "robots/so_follower/arm1.json"
    assert calibration_path("so101_follower", "arm1") == root / "robots/so_follower/arm1.json"
    assert calibration_path("leader", "l") == root / "teleoperators/so_leader/l.json"
    assert calibration_path("so101_leader", "l", clean_env / "x") == clean_env / "x/l.json"


def test_calibration_path_falls_back_to_pre_2026_folder(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_LEROBOT_CALIBRATION", str(clean_env / "cal"))
    legacy = clean_env / "cal/robots/so101_follower/arm1.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(LEROBOT_EXAMPLE)
    assert calibration_path("follower", "arm1") == legacy
    current = clean_env / "cal/robots/so_follower/arm1.json"
    save_calibration(current, load_calibration(legacy))  # migrating: the current file wins
    assert calibration_path("follower", "arm1") == current


def test_calibration_path_for_write_is_always_the_current_folder(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_LEROBOT_CALIBRATION", str(clean_env / "cal"))
    legacy = clean_env / "cal/teleoperators/so101_leader/l1.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(LEROBOT_EXAMPLE)
    assert calibration_path("leader", "l1") == legacy  # read: the old file is still found
    current = calibration_path("leader", "l1", for_write=True)
    assert current == clean_env / "cal/teleoperators/so_leader/l1.json"
    save_calibration(current, load_calibration(legacy))
    assert calibration_path("leader", "l1") == current  # saving migrated it
    assert calibration_path("leader", "l1", clean_env / "x", for_write=True) == (
        clean_env / "x/l1.json"
    )


def test_calibrate_command_names_port_id_and_a_custom_folder(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_LEROBOT_CALIBRATION", str(clean_env / "cal"))
    assert calibrate_command("follower", "f1", port="/dev/ttyACM0") == (
        "`lerobot-gym calibrate --robot.type=so101_follower --robot.port=/dev/ttyACM0 "
        "--robot.id=f1`"
    )
    assert calibrate_command("so101_leader", "l1", calibration_dir="/cal") == (
        "`lerobot-gym calibrate --teleop.type=so101_leader --teleop.port=PORT --teleop.id=l1 "
        "--teleop.calibration_dir=/cal`"
    )
    # Derived from a file's path: a file in the default folder needs no calibration_dir ...
    default = calibration_path("follower", "f1", for_write=True)
    default.parent.mkdir(parents=True)
    default.write_text("{")
    with pytest.raises(CalibrationError) as err:
        load_calibration(default)
    assert "calibration_dir" not in str(err.value)
    # ... one elsewhere does.
    custom = clean_env / "elsewhere/f1.json"
    custom.parent.mkdir()
    custom.write_text("{")
    with pytest.raises(CalibrationError) as err:
        load_calibration(custom)
    assert f"--robot.calibration_dir={custom.parent}" in str(err.value)


@pytest.mark.parametrize(
    ("kind", "arm_id"), [("gantry", "a"), ("follower", "../a"), ("leader", "")]
)
def test_calibration_path_rejects_bad_arguments(kind: str, arm_id: str) -> None:
    with pytest.raises(ConfigError):
        calibration_path(kind, arm_id)


# ------------------------------------------------------------------------------ normalisation


def lerobot_normalize(raw: int, cal: MotorCalibration, mode: NormMode) -> float:
    """Scalar transcription of LeRobot's ``MotorsBus._normalize`` to compare against."""
    lo, hi = cal.range_min, cal.range_max
    bounded = min(hi, max(lo, raw))
    if mode is NormMode.RANGE_M100_100:
        norm = ((bounded - lo) / (hi - lo)) * 200 - 100
        return -norm if cal.drive_mode else norm
    if mode is NormMode.RANGE_0_100:
        norm = ((bounded - lo) / (hi - lo)) * 100
        return 100 - norm if cal.drive_mode else norm
    return (raw - (lo + hi) / 2) * 360 / 4095


def lerobot_unnormalize(val: float, cal: MotorCalibration, mode: NormMode) -> int:
    """Scalar transcription of LeRobot's ``MotorsBus._unnormalize``."""
    lo, hi = cal.range_min, cal.range_max
    if mode is NormMode.RANGE_M100_100:
        val = -val if cal.drive_mode else val
        return int(((min(100.0, max(-100.0, val)) + 100) / 200) * (hi - lo) + lo)
    if mode is NormMode.RANGE_0_100:
        val = 100 - val if cal.drive_mode else val
        return int((min(100.0, max(0.0, val)) / 100) * (hi - lo) + lo)
    return int((val * 4095 / 360) + (lo + hi) / 2)


@st.composite
def calibrated_reading(draw: st.DrawFn) -> tuple[MotorCalibration, NormMode, int]:
    lo = draw(st.integers(0, 4094))
    hi = draw(st.integers(lo + 1, 4095))
    cal = MotorCalibration(1, draw(st.integers(0, 1)), 0, lo, hi)
    return cal, draw(st.sampled_from(list(NormMode))), draw(st.integers(lo, hi))


@settings(max_examples=300, deadline=None)
@given(calibrated_reading())
def test_round_trip_within_one_tick_and_matches_lerobot(
    case: tuple[MotorCalibration, NormMode, int],
) -> None:
    cal, mode, raw = case
    value = normalize({"m": raw}, {"m": cal}, mode)["m"]
    assert value == pytest.approx(lerobot_normalize(raw, cal, mode), abs=1e-9)
    back = unnormalize({"m": value}, {"m": cal}, mode)["m"]
    assert abs(back - raw) <= 1
    assert back == lerobot_unnormalize(value, cal, mode)


@settings(max_examples=100, deadline=None)
@given(calibrated_reading(), st.floats(-400, 400))
def test_unnormalize_matches_lerobot_out_of_range(
    case: tuple[MotorCalibration, NormMode, int], value: float
) -> None:
    cal, mode, _ = case
    assert unnormalize([value], {"m": cal}, mode)[0] == lerobot_unnormalize(value, cal, mode)


def test_so101_mixed_modes_on_arrays_and_batches(example_file: Path) -> None:
    cal = load_calibration(example_file)
    motors = so101_motors()
    mids = np.array([(c.range_min + c.range_max) / 2 for c in cal.values()])
    raw = np.stack([mids, mids + 4095 / 4])  # batch of two readings
    out = normalize(raw, cal, motors)
    assert out.shape == (2, 6)
    np.testing.assert_allclose(out[0, :5], 0.0, atol=1e-12)  # degrees: zero at mid-range
    np.testing.assert_allclose(out[1, :5], 90.0)  # a quarter turn (4095/4 ticks) is 90°
    assert out[0, 5] == pytest.approx(50.0)  # the gripper half open
    assert out[1, 5] == 100.0  # clipped to the range in RANGE_0_100
    ticks = unnormalize(out[0], cal, motors)
    assert ticks.dtype == np.int64
    assert np.all(np.abs(ticks - mids) <= 1)


def test_drive_mode_inverts_range_modes_but_not_degrees() -> None:
    cal = {"m": MotorCalibration(1, 1, 0, 1000, 3000)}
    assert normalize([1500], cal, NormMode.RANGE_M100_100)[0] == 50.0
    assert normalize([1500], cal, NormMode.RANGE_0_100)[0] == 75.0
    assert normalize([1500], cal, NormMode.DEGREES)[0] == pytest.approx(-500 * 360 / 4095)
    assert normalize([500], cal, NormMode.DEGREES)[0] < -130  # degrees are not clipped


def test_normalize_rejects_bad_inputs() -> None:
    cal = {"m": MotorCalibration(1, 0, 0, 1000, 3000)}
    with pytest.raises(CalibrationError, match="no calibration"):
        normalize({"x": 1}, cal, NormMode.DEGREES)
    with pytest.raises(ConfigError, match="last axis"):
        normalize([1, 2], cal, NormMode.DEGREES)
    with pytest.raises(ConfigError, match="non-finite"):
        unnormalize([float("nan")], cal, NormMode.DEGREES)
    with pytest.raises(CalibrationError, match="range_min must be below"):
        normalize([1], {"m": MotorCalibration(1, 0, 0, 5, 5)}, NormMode.DEGREES)


# ------------------------------------------------------------------------------ procedure


class FakeFeetechBus:
    """Registers per motor, with the Feetech rule ``Present = Actual - Homing_Offset``."""

    def __init__(self, actual: Mapping[str, int]) -> None:
        self.actual = dict(actual)
        self.regs = {
            m: {"Homing_Offset": 0, "Min_Position_Limit": 0, "Max_Position_Limit": 4095}
            for m in actual
        }
        self.torque = dict.fromkeys(actual, True)
        self.writes: list[tuple[str, str, int]] = []
        self.sync_reads: list[tuple[str, tuple[str, ...]]] = []

    def read(self, register: str, motor: str) -> int:
        if register == "Present_Position":
            return (self.actual[motor] - self.regs[motor]["Homing_Offset"]) % 4096
        return self.regs[motor][register]

    def write(self, register: str, motor: str, value: int) -> None:
        assert not self.torque[motor], "EEPROM written with torque on"
        self.writes.append((register, motor, value))
        self.regs[motor][register] = value

    def sync_read(self, register: str, motors: Sequence[str] | None = None) -> dict[str, int]:
        motors = list(self.actual) if motors is None else list(motors)
        self.sync_reads.append((register, tuple(motors)))
        return {m: self.read(register, m) for m in motors}

    def sync_write(self, register: str, values: Mapping[str, int]) -> None:
        for motor, value in values.items():
            self.write(register, motor, value)

    def disable_torque(self, motors: Sequence[str] | None = None) -> None:
        for m in self.actual if motors is None else motors:
            self.torque[m] = False

    def enable_torque(self, motors: Sequence[str] | None = None) -> None:
        for m in self.actual if motors is None else motors:
            self.torque[m] = True


MID_POSE = {"shoulder_pan": 4070, "shoulder_lift": 39, "elbow_flex": 119}
MID_POSE.update(wrist_flex=702, wrist_roll=3099, gripper=3612)


def test_half_turn_homing_makes_every_motor_read_2047() -> None:
    bus = FakeFeetechBus(MID_POSE)
    bus.regs["elbow_flex"]["Homing_Offset"] = 777  # a stale calibration is reset first
    offsets = set_half_turn_homings(bus, so101_motors())
    assert offsets == {m: pos - 2047 for m, pos in MID_POSE.items()}
    assert bus.sync_read("Present_Position") == dict.fromkeys(MID_POSE, 2047)
    assert not any(bus.torque.values())


def test_half_turn_homing_checks_offsets_before_writing_any() -> None:
    bus = FakeFeetechBus({**MID_POSE, "wrist_flex": 4095})
    with pytest.raises(CalibrationError) as info:
        set_half_turn_homings(bus, so101_motors())
    message = str(info.value)
    assert "wrist_flex" in message and "+2048" in message and "middle" in message
    assert "elbow_flex" not in message
    assert all(v == 0 for r, _, v in bus.writes if r == "Homing_Offset")


def _sweeping_bus(trajectory: list[dict[str, int]]) -> FakeFeetechBus:
    """A bus whose joints follow ``trajectory``, one step per Present_Position sync read."""
    bus = FakeFeetechBus(trajectory[0])
    steps = iter(trajectory)
    original = bus.sync_read

    def sync_read(register: str, motors: Sequence[str] | None = None) -> dict[str, int]:
        bus.actual.update(next(steps, bus.actual))
        return original(register, motors)

    bus.sync_read = sync_read  # type: ignore[method-assign]
    return bus


def test_record_ranges_tracks_min_max_and_forces_wrist_roll() -> None:
    names = list(so101_motors())
    rng = np.random.default_rng(0)
    trajectory = [dict(zip(names, rng.integers(500, 3500, size=6).tolist())) for _ in range(20)]
    bus = _sweeping_bus(trajectory)
    reads: list[int] = []
    updates: list[dict[str, int]] = []
    mins, maxes = record_ranges_of_motion(
        bus,
        so101_motors(),
        stop=lambda: len(reads) >= 19,
        on_update=lambda pos, lo, hi: (reads.append(1), updates.append(dict(pos))),
    )
    swept = [m for m in names if m != "wrist_roll"]
    for m in swept:
        assert mins[m] == min(step[m] for step in trajectory)
        assert maxes[m] == max(step[m] for step in trajectory)
    assert (mins["wrist_roll"], maxes["wrist_roll"]) == (0, 4095)
    assert all("wrist_roll" not in motors for _, motors in bus.sync_reads)
    assert len(updates) == 19 and set(updates[0]) == set(swept)
    assert list(mins) == names


def test_record_ranges_raises_for_a_joint_that_never_moved() -> None:
    bus = FakeFeetechBus(MID_POSE)
    with pytest.raises(CalibrationError, match=r"shoulder_pan.*did not move"):
        record_ranges_of_motion(bus, so101_motors(), stop=lambda: True)


def test_full_procedure_then_write_read_and_check(tmp_path: Path) -> None:
    motors = so101_motors()
    low = {m: p - 600 for m, p in MID_POSE.items()}
    high = {m: p + 500 for m, p in MID_POSE.items()}
    bus = _sweeping_bus([MID_POSE, MID_POSE, low, high])  # homing read, range start, sweep
    offsets = set_half_turn_homings(bus, motors)
    calls = iter([False, True])
    mins, maxes = record_ranges_of_motion(bus, motors, stop=lambda: next(calls))
    assert mins["elbow_flex"] == 2047 - 600 and maxes["elbow_flex"] == 2047 + 500
    cal = build_calibration(motors, offsets, mins, maxes)
    path = save_calibration(calibration_path("follower", "f1", tmp_path), cal)

    fresh = FakeFeetechBus(MID_POSE)
    assert not is_calibrated(fresh, cal)
    fresh.disable_torque()
    write_calibration(fresh, load_calibration(path))
    assert is_calibrated(fresh, cal)
    assert read_calibration_from_bus(fresh, motors) == cal
    present = fresh.sync_read("Present_Position")
    degrees = normalize(present, cal, motors)
    # The homing pose sits at -50 ticks from the middle of [-600, +500] around it.
    assert degrees["elbow_flex"] == pytest.approx(50 * 360 / 4095)
    fresh.regs["gripper"]["Max_Position_Limit"] -= 1
    assert not is_calibrated(fresh, cal)


def test_write_calibration_disables_torque_and_validates_first() -> None:
    bus = FakeFeetechBus(MID_POSE)
    cal = build_calibration(
        so101_motors(),
        dict.fromkeys(MID_POSE, 0),
        dict.fromkeys(MID_POSE, 10),
        dict.fromkeys(MID_POSE, 10),
    )
    with pytest.raises(CalibrationError, match="range_min < range_max"):
        write_calibration(bus, cal)
    assert bus.writes == [] and all(bus.torque.values())
    good = {m: replace(c, range_max=20) for m, c in cal.items()}
    write_calibration(bus, good)  # the fake bus asserts torque is off on every write
    assert len(bus.writes) == 18
