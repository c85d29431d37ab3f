"""The HIL-SERL env config file: parsing, typed errors naming the key, and in-place updates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lerobot_gym.errors import ConfigError
from lerobot_gym.hil.config import HilConfig, load_hil_config, update_hil_config

FULL = {
    "env": {"id": "SO101-PickCube-v0", "backend": "emulated", "image_size": [96, 128]},
    "joint_bounds": {"low": [-90, -90, -90, -90, -150, 0], "high": [90, 90, 90, 90, 150, 100]},
    "ee_control": {
        "step_sizes_m": [0.01, 0.01, 0.005],
        "gripper_step": 0.2,
        "bounds": {"low": [0.1, -0.2, 0.01], "high": [0.35, 0.2, 0.25]},
    },
    "image": {"crops": {"front": [10, 20, 64, 64]}, "size": [48, 48]},
    "observation": {"joint_velocity": True},
    "reward": {"source": "classifier", "classifier_path": "outputs/clf", "threshold": 0.7},
    "intervention": {"on_teleop_lost": "limp"},
    "gripper_penalty": -0.02,
    "episode_time_s": 15,
}


def test_a_full_config_parses_into_typed_sections(tmp_path: Path) -> None:
    path = tmp_path / "hil.json"
    path.write_text(json.dumps(FULL))
    cfg = load_hil_config(path)
    assert cfg.env["backend"] == "emulated"
    assert cfg.ee_control is not None and cfg.ee_control.bounds == (
        (0.1, -0.2, 0.01),
        (0.35, 0.2, 0.25),
    )
    assert cfg.ee_control.step_sizes_m == (0.01, 0.01, 0.005)
    assert cfg.image is not None and cfg.image.crops == {"front": (10, 20, 64, 64)}
    assert cfg.image.size == (48, 48)
    assert cfg.reward.source == "classifier" and cfg.reward.threshold == 0.7
    assert cfg.observation == {"joint_velocity": True}
    assert cfg.intervention == {"on_teleop_lost": "limp"}
    assert (cfg.gripper_penalty, cfg.episode_time_s) == (-0.02, 15.0)
    assert cfg.source == str(path)


def test_yaml_gives_the_same_config(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    (tmp_path / "hil.yaml").write_text(yaml.safe_dump(FULL))
    (tmp_path / "hil.json").write_text(json.dumps(FULL))
    a, b = load_hil_config(tmp_path / "hil.yaml"), load_hil_config(tmp_path / "hil.json")
    assert {**a.__dict__, "source": None} == {**b.__dict__, "source": None}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"ee_controll": {}}, "unknown key 'ee_controll'"),
        ({"ee_control": {"step_size": 0.01}}, "ee_control has unknown key 'step_size'"),
        ({"ee_control": {"bounds": {"low": [0, 0, 0], "high": [1, 1]}}}, "ee_control.bounds"),
        ({"ee_control": {"bounds": {"low": [0, 0, 1], "high": [1, 1, 0]}}}, "below its high"),
        ({"reward": {"source": "oracle"}}, "reward.source must be one of"),
        ({"reward": {"source": "classifier"}}, "needs reward.classifier_path"),
        ({"image": {"crops": {"front": [0, 0, 10]}}}, "top, left, height, width"),
        ({"env": {"backend": "sim"}}, "'env' must be a mapping with an 'id'"),
        ({"episode_time_s": 0}, "episode_time_s must be positive"),
        ({"intervention": {"on_lost": "hold"}}, "intervention has unknown key 'on_lost'"),
    ],
)
def test_mistakes_are_typed_errors_naming_the_key_and_file(patch, message, tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**FULL, **patch}))
    with pytest.raises(ConfigError, match=message) as err:
        load_hil_config(path)
    assert "bad.json" in str(err.value)


def test_missing_or_malformed_files_name_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--env\.config"):
        load_hil_config(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_hil_config(tmp_path / "broken.json")


def test_update_sets_one_section_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "hil.json"
    path.write_text(json.dumps(FULL))
    update_hil_config(path, "image.crops", {"wrist": [0, 0, 32, 32]})
    update_hil_config(path, "joint_bounds", {"low": [-1] * 6, "high": [1] * 6})
    data = json.loads(path.read_text())
    assert data["image"] == {"crops": {"wrist": [0, 0, 32, 32]}, "size": [48, 48]}
    assert data["joint_bounds"] == {"low": [-1] * 6, "high": [1] * 6}
    assert data["ee_control"] == FULL["ee_control"] and data["reward"] == FULL["reward"]
    # A new file is created; an update that breaks the config is refused and not written.
    update_hil_config(tmp_path / "new.json", "ee_control.bounds", FULL["ee_control"]["bounds"])
    assert json.loads((tmp_path / "new.json").read_text())["ee_control"]["bounds"]
    with pytest.raises(ConfigError, match="below its high"):
        update_hil_config(path, "ee_control.bounds", {"low": [1, 1, 1], "high": [0, 0, 0]})
    assert json.loads(path.read_text())["ee_control"] == FULL["ee_control"]


def test_a_dict_config_needs_no_file() -> None:
    cfg = HilConfig.from_dict({"env": {"id": "SO101-Reach-v0"}})
    assert cfg.reward.source == "human" and cfg.ee_control is None and cfg.image is None
