"""System identification: lags, mounting, recovery of known parameters, bad input, real data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from sysid_data import smooth_actions, twin_recording, write_dataset

from lerobot_gym.errors import CalibrationError, DatasetMismatchError
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.sim import sysid


def test_tracking_error_finds_each_joints_lag():
    actions = smooth_actions(120, seed=0).astype(np.float64)
    states = np.empty_like(actions)
    for j, lag in enumerate([0, 1, 2, 3, 4, 5]):
        states[:, j] = np.concatenate([np.full(lag, actions[0, j]), actions[: 120 - lag, j]])
    error, lag = sysid.tracking_error([states], [actions])
    assert lag.tolist() == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(error, 0.0, atol=1e-12)


def test_fit_base_height_lifts_all_but_the_lowest_percent_above_the_table():
    lowest = np.concatenate([np.full(990, 0.05), np.full(10, -0.5), np.linspace(-0.02, 0, 9000)])
    height = sysid.fit_base_height(lowest, table_z=0.0, current_m=0.0)
    assert np.mean(lowest + height < 0.0) <= sysid.TABLE_QUANTILE + 1e-9
    assert height < 0.025


def test_identify_recovers_the_delay_and_gains_of_a_known_twin(tmp_path, default_params):
    truth = dataclasses.replace(default_params, delay_s=1 / 30).replace_joints(
        kp_nm_per_rad=np.full(6, 12.0)
    )
    actions, states = twin_recording(truth, episodes=1, frames=60)
    root = write_dataset(tmp_path / "twin", actions, states)
    recording = sysid.load_recording(root, SO101, [0])
    start = dataclasses.replace(default_params, delay_s=0.0).replace_joints(
        kp_nm_per_rad=np.full(6, 48.0)
    )
    fitted, notes = sysid.identify(recording, SO101, start)
    assert fitted.delay_s == pytest.approx(1 / 30, abs=1 / 120)
    kp = fitted.array("kp_nm_per_rad")[:5]
    assert np.all((kp > 12.0 / 2.1) & (kp < 12.0 * 2.1)), kp
    assert notes["replays"] < 60


def test_load_recording_refuses_a_dataset_without_actions(tmp_path):
    acts = [smooth_actions(10, 0)]
    root = write_dataset(tmp_path / "noact", acts, acts, features=("observation.state",))
    with pytest.raises(DatasetMismatchError, match="no 'action' feature"):
        sysid.load_recording(root, SO101, [0])


def test_load_recording_refuses_a_calibration_for_other_joints(tmp_path):
    acts = [smooth_actions(10, 0)]
    root = write_dataset(tmp_path / "ds", acts, acts)
    cal = sysid.assumed_calibration(SO101)
    other = {("elbow" if k == "elbow_flex" else k): v for k, v in cal.items()}
    path = tmp_path / "cal.json"
    _write_cal(path, other)
    with pytest.raises(CalibrationError):
        sysid.load_recording(root, SO101, [0], use_degrees=False, calibration=path)
    # A valid SO-101 calibration against a dataset whose joints are named otherwise.
    _write_cal(path, cal)
    renamed = write_dataset(tmp_path / "renamed", acts, acts, names=[f"m{i}" for i in range(6)])
    with pytest.raises(CalibrationError, match="dataset's joints"):
        sysid.load_recording(renamed, SO101, [0], use_degrees=False, calibration=path)


def _write_cal(path: Path, cal: dict) -> None:
    path.write_text(json.dumps({k: dataclasses.asdict(v) for k, v in cal.items()}))


def test_without_a_calibration_the_assumed_one_is_stated_and_spans_the_joint_ranges(tmp_path):
    acts = [np.tile(np.array([100, -100, 50, 0, 0, 30], np.float32), (5, 1))]
    root = write_dataset(tmp_path / "m100", acts, acts)
    recording = sysid.load_recording(root, SO101, [0], use_degrees=False)
    assert "assumed" in recording.units_note and "shoulder_pan" in recording.units_note
    low, high = SO101.user_limits()
    row = recording.actions[0][0]
    assert row[0] == pytest.approx(high[0], abs=0.1)
    assert row[1] == pytest.approx(low[1], abs=0.1)
    assert row[5] == pytest.approx(30.0)


def _real_recording_root() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        root = parent / "shared/reference/real-so10x/pick_place_tape"
        if root.is_dir():
            return root
    return None


@pytest.mark.slow
@pytest.mark.skipif(_real_recording_root() is None, reason="needs ../shared/reference/real-so10x")
def test_fit_on_real_episodes_matches_the_real_arm_on_held_out_ones(default_params):
    root = _real_recording_root()
    fitting = sysid.load_recording(root, SO101, [0, 17, 33], use_degrees=False)
    checking = sysid.load_recording(root, SO101, [5, 24, 43], use_degrees=False)
    fitted, _ = sysid.identify(fitting, SO101, default_params)
    report = sysid.check(checking, SO101, None, fitted)
    arm = slice(0, 5)
    ratio = report.ratio("after")[arm]
    assert np.all((ratio > 0.7) & (ratio < 1.3)), report.table()
    assert np.all(np.abs(report.after.lag[arm] - report.real_lag[arm]) <= 1), report.table()
    assert report.after.inside_table < 0.05
    assert report.recorded_inside_after < 0.05
