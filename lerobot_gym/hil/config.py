"""The HIL-SERL env config file: one JSON (or YAML) file describes the whole env stack.

:func:`load_hil_config` reads it into a :class:`HilConfig`; :func:`lerobot_gym.hil.make_hil_env`
builds the stack from it; ``lerobot-gym record --env.config=FILE --teleop.type=...`` records
with it; ``lerobot-gym find-joint-limits`` and ``lerobot-gym select-roi`` write their results
into it (:func:`update_hil_config`). Sections (all but ``env`` optional; ``null`` or absent
turns a stage off)::

    {
      "env": {"id": "SO101-PickCube-v0", "backend": "emulated", "image_size": [96, 128],
              "fps": 10},                      # gym.make keywords (EnvConfig + the backend's)
      "joint_bounds": {"low": [...6], "high": [...6]},  # joint targets clipped into these
                                               # (boundary units: degrees, gripper 0..100)
      "ee_control": {"step_sizes_m": 0.01, "gripper_step": 0.1,
                     "bounds": {"low": [x, y, z], "high": [x, y, z]}},  # EEDeltaAction
      "image": {"crops": {"front": [top, left, height, width]}, "size": [64, 64]},
      "observation": {"joint_velocity": false, "motor_current": false},
      "reward": {"source": "human", "classifier_path": null, "threshold": null,
                 "success_reward": 1.0, "terminate_on_success": true},
      "intervention": {"on_teleop_lost": "hold"},
      "gripper_penalty": -0.02,
      "episode_time_s": 20
    }

``reward.source`` is ``"human"`` (the operator's success/failure keys, ``HumanLabels``),
``"classifier"`` (``RewardClassifier`` from ``classifier_path``; the operator's keys still
label) or ``"task"`` (the twin's own success, ``SuccessReward``: simulation only).

Decisions:

* Unknown keys are errors naming the key, the section and the file, so a typo cannot silently
  turn a safety bound off.
* YAML needs PyYAML (imported only for ``.yaml``/``.yml``); JSON needs nothing.
* :func:`update_hil_config` rewrites one section and keeps the others as they were, so the
  tools can be run in any order on one file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lerobot_gym.errors import ConfigError, MissingExtraError

__all__ = [
    "REWARD_SOURCES",
    "EEControl",
    "HilConfig",
    "ImageProcessing",
    "RewardConfig",
    "load_hil_config",
    "read_config_file",
    "update_hil_config",
]

REWARD_SOURCES = ("human", "classifier", "task")


def _bounds(value: Any, n: int | None, where: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if not isinstance(value, Mapping) or set(value) != {"low", "high"}:
        raise ConfigError(f"{where} must be {{'low': [...], 'high': [...]}}, got {value!r}")
    low = tuple(float(v) for v in value["low"])
    high = tuple(float(v) for v in value["high"])
    if len(low) != len(high) or (n is not None and len(low) != n):
        raise ConfigError(f"{where}: low and high need {n or 'the same number of'} values each")
    if not all(lo < hi for lo, hi in zip(low, high)):
        raise ConfigError(f"{where}: every low must be below its high; got {low} and {high}")
    return low, high


def _fields(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {data!r}")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where} has unknown key {unknown[0]!r}; keys: {', '.join(known)}")
    return dict(data)


@dataclasses.dataclass(frozen=True)
class EEControl:
    """``EEDeltaAction``'s settings (``bounds`` None: its default box)."""

    step_sizes_m: float | tuple[float, ...] = 0.01
    gripper_step: float = 0.1
    bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None


@dataclasses.dataclass(frozen=True)
class ImageProcessing:
    """``ImageCropResize``'s settings."""

    crops: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    size: tuple[int, int] | None = None


@dataclasses.dataclass(frozen=True)
class RewardConfig:
    """Where success and reward come from (module docstring)."""

    source: str = "human"
    classifier_path: str | None = None
    threshold: float | None = None
    success_reward: float = 1.0
    terminate_on_success: bool = True


@dataclasses.dataclass(frozen=True)
class HilConfig:
    """A parsed env config file (see the module docstring for the file format)."""

    env: dict[str, Any]
    joint_bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    ee_control: EEControl | None = None
    image: ImageProcessing | None = None
    observation: dict[str, bool] = dataclasses.field(default_factory=dict)
    reward: RewardConfig = RewardConfig()
    intervention: dict[str, Any] = dataclasses.field(default_factory=dict)
    gripper_penalty: float | None = None
    episode_time_s: float | None = None
    source: str = "<dict>"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> HilConfig:
        """Validate and parse the file's content (typed errors name the key and the file)."""
        top = _fields(cls, data, source)
        top.pop("source", None)
        env = top.get("env")
        if not isinstance(env, Mapping) or not env.get("id"):
            raise ConfigError(f"{source}: 'env' must be a mapping with an 'id' (the env id)")
        out: dict[str, Any] = {"env": dict(env), "source": source}
        if top.get("joint_bounds") is not None:
            out["joint_bounds"] = _bounds(top["joint_bounds"], None, f"{source}: joint_bounds")
        if top.get("ee_control") is not None:
            ee = _fields(EEControl, top["ee_control"], f"{source}: ee_control")
            if ee.get("bounds") is not None:
                ee["bounds"] = _bounds(ee["bounds"], 3, f"{source}: ee_control.bounds")
            if isinstance(ee.get("step_sizes_m"), list):
                ee["step_sizes_m"] = tuple(ee["step_sizes_m"])
            out["ee_control"] = EEControl(**ee)
        if top.get("image") is not None:
            img = _fields(ImageProcessing, top["image"], f"{source}: image")
            crops = {str(k): tuple(int(v) for v in c) for k, c in (img.get("crops") or {}).items()}
            if any(len(c) != 4 for c in crops.values()):
                raise ConfigError(f"{source}: image.crops are [top, left, height, width] each")
            size = img.get("size")
            out["image"] = ImageProcessing(crops, None if size is None else tuple(size))
        obs = _fields(_Observation, top.get("observation") or {}, f"{source}: observation")
        out["observation"] = {k: bool(v) for k, v in obs.items()}
        reward = RewardConfig(**_fields(RewardConfig, top.get("reward") or {}, f"{source}: reward"))
        if reward.source not in REWARD_SOURCES:
            raise ConfigError(
                f"{source}: reward.source must be one of {REWARD_SOURCES}, got {reward.source!r}"
            )
        if reward.source == "classifier" and not reward.classifier_path:
            raise ConfigError(
                f"{source}: reward.source 'classifier' needs reward.classifier_path (a folder "
                "written by `lerobot-gym train-reward-classifier`)"
            )
        out["reward"] = reward
        out["intervention"] = _fields(
            _Intervention, top.get("intervention") or {}, f"{source}: intervention"
        )
        for key in ("gripper_penalty", "episode_time_s"):
            if top.get(key) is not None:
                out[key] = float(top[key])
        if out.get("episode_time_s") is not None and out["episode_time_s"] <= 0:
            raise ConfigError(f"{source}: episode_time_s must be positive")
        return cls(**out)


@dataclasses.dataclass(frozen=True)
class _Observation:
    joint_velocity: bool = False
    motor_current: bool = False


@dataclasses.dataclass(frozen=True)
class _Intervention:
    on_teleop_lost: str = "hold"


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw content of a JSON or YAML config file.

    Raises:
        ConfigError: the file is missing or not valid JSON/YAML (the message names it).
        MissingExtraError: a YAML file without PyYAML installed.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"env config {path} does not exist; check --env.config")
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise MissingExtraError("pyyaml", "hil", "YAML env configs") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"env config {path} is not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"env config {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"env config {path} must hold a mapping at the top")
    return data


def load_hil_config(path: str | Path) -> HilConfig:
    """Read and validate an env config file."""
    return HilConfig.from_dict(read_config_file(path), str(path))


def update_hil_config(path: str | Path, section: str, value: Any) -> dict[str, Any]:
    """Set one top-level ``section`` (or ``"a.b"`` one key inside it) of a config file.

    Creates the file (with ``{}``) when it does not exist; writes atomically. Returns the new
    content. The result is validated only when it has an ``env`` (a file the tools create
    first may lack it until the user adds it).
    """
    path = Path(path)
    data = read_config_file(path) if path.exists() else {}
    head, _, key = section.partition(".")
    if key:
        inner = data.get(head)
        inner = dict(inner) if isinstance(inner, Mapping) else {}
        inner[key] = value
        data[head] = inner
    else:
        data[head] = value
    if "env" in data:
        HilConfig.from_dict(data, str(path))
    if path.suffix in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False)
    else:
        text = json.dumps(data, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return data
