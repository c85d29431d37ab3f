"""``lerobot-gym sysid``: fits, prints the table, writes a loadable file and a plot; bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from sysid_data import smooth_actions, twin_recording, write_dataset

import lerobot_gym  # noqa: F401
from lerobot_gym.cli.main import main
from lerobot_gym.cli.sysid import default_split
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.sim.twin_params import load_twin_params, resolve_twin_params


def test_sysid_writes_a_parameter_file_gym_make_loads_and_a_plot(tmp_path, capsys):
    actions, states = twin_recording(resolve_twin_params(None, SO101), episodes=2, frames=40)
    root = write_dataset(tmp_path / "rec", actions, states)
    out = tmp_path / "fit" / "params.json"
    code = main(
        [
            "sysid",
            f"--dataset.root={root}",
            "--fit_episodes=[0]",
            "--check_episodes=[1]",
            f"--output={out}",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "dataset is in degrees" in printed
    assert "shoulder_pan.pos" in printed and "ratio" in printed
    params = load_twin_params(out, SO101)
    assert params.fit["episodes"] == [0] and params.fit["check_episodes"] == [1]
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    env = gym.make("lerobot_gym/SO101-v0", obs_type="state", twin_params=str(out))
    env.reset(seed=0)
    assert env.unwrapped.backend.servo.params.delay_s == params.delay_s
    env.close()


def test_sysid_without_a_calibration_states_the_one_it_assumed(tmp_path, capsys):
    acts = [smooth_actions(20, 0) / 2, smooth_actions(20, 1) / 2]
    root = write_dataset(tmp_path / "m100", acts, acts)
    # Only the units line is checked: stop at once with an impossible episode choice.
    code = main(
        ["sysid", f"--dataset.root={root}", "--dataset.use_degrees=false", "--fit_episodes=[7]"]
    )
    assert code == 2
    assert "do not exist" in capsys.readouterr().err
    from lerobot_gym.sim import sysid

    note = sysid.load_recording(root, SO101, [0], use_degrees=False).units_note
    assert "assumed" in note


def test_sysid_refuses_a_dataset_without_states(tmp_path, capsys):
    acts = [smooth_actions(10, 0)]
    root = write_dataset(tmp_path / "noobs", acts, acts, features=("action",))
    code = main(["sysid", f"--dataset.root={root}", f"--output={tmp_path / 'p.json'}"])
    assert code == 1
    assert "no 'observation.state' feature" in capsys.readouterr().err


def test_sysid_calibration_needs_the_m100_units(tmp_path, capsys):
    acts = [smooth_actions(10, 0)]
    root = write_dataset(tmp_path / "ds", acts, acts)
    code = main(["sysid", f"--dataset.root={root}", "--dataset.calibration=cal.json"])
    assert code == 2
    assert "--dataset.use_degrees=false" in capsys.readouterr().err


def test_default_split_is_disjoint_and_small():
    fit, check = default_split(50)
    assert len(fit) == 3 and 1 <= len(check) <= 5
    assert not set(fit) & set(check)
    assert default_split(1) == ([0], [])
    assert np.all(np.array(fit + check) < 50)
