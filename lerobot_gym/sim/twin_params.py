"""The twin's actuator and mounting parameters: one JSON file per robot, loaded and validated.

A parameter file says how a robot's twin should move like the physical arm: the servo model of
each joint (:mod:`lerobot_gym.sim.servo`), the bus and processing delay, and how the arm is
mounted on the table. ``gym.make(id, twin_params=PATH)`` loads one (and turns the servo model
on); ``lerobot-gym sysid`` writes one fitted to a recording. The defaults of a robot live next to
its twin, ``lerobot_gym/assets/<robot>/twin_params.json`` (SO-101: its README gives the source
of every number).

File layout (every quantity in SI, the unit in the key's name)::

    {"format_version": 1, "robot": "so101",
     "delay_s": 0.02, "ticks_per_turn": 4096, "profile_updates_per_step": 4,
     "mounting": {"base_height_m": 0.0},
     "joints": {"shoulder_pan": {"kp_nm_per_rad": 12.0, "kd_nms_per_rad": 0.0,
                                 "torque_limit_nm": 3.35, "velocity_limit_rad_s": 4.7,
                                 "acceleration_limit_rad_s2": 39.0, "deadband_rad": 0.0015,
                                 "zero_offset_rad": 0.0}, ...},
     "sources": {...}, "fit": {...}}

``sources`` and ``fit`` are free-form notes (where numbers came from; what a fit measured) and
are kept as read.

Decisions:

- Every number has a valid range (:data:`JOINT_RANGES`, :data:`GLOBAL_RANGES`); a value outside
  it, a missing or unknown key, or a file written for another robot is a
  :class:`~lerobot_gym.errors.TwinParamsError` naming the file, the key and what to do.
- The file names its robot (``robot`` = ``RobotSpec.name``) and its joints; both must match the
  robot it is loaded for, so an SO-101 file never silently drives another arm.
- Plain JSON and a frozen dataclass, no schema library: ``import lerobot_gym`` stays light.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import TwinParamsError

FORMAT_VERSION = 1

#: key -> (low, high), inclusive: the per-joint servo parameters and their valid ranges.
JOINT_RANGES: dict[str, tuple[float, float]] = {
    "kp_nm_per_rad": (0.01, 1e4),
    "kd_nms_per_rad": (0.0, 100.0),
    "torque_limit_nm": (0.01, 100.0),
    "velocity_limit_rad_s": (0.01, 100.0),
    "acceleration_limit_rad_s2": (0.1, 1e4),
    "deadband_rad": (0.0, 0.1),
    "zero_offset_rad": (-0.5, 0.5),
}
#: key -> (low, high): the whole-robot parameters.
GLOBAL_RANGES: dict[str, tuple[float, float]] = {
    "delay_s": (0.0, 0.5),
    "ticks_per_turn": (0.0, 1 << 20),  # 0: no quantisation
    "profile_updates_per_step": (1, 64),
}
MOUNTING_RANGES: dict[str, tuple[float, float]] = {"base_height_m": (-0.1, 0.3)}


@dataclasses.dataclass(frozen=True)
class JointServoParams:
    """One joint's servo model (see :mod:`lerobot_gym.sim.servo`); SI units as named."""

    kp_nm_per_rad: float
    kd_nms_per_rad: float
    torque_limit_nm: float
    velocity_limit_rad_s: float
    acceleration_limit_rad_s2: float
    deadband_rad: float
    zero_offset_rad: float = 0.0


@dataclasses.dataclass(frozen=True)
class TwinParams:
    """A robot's twin parameters (see the module docstring for the file layout).

    Attributes:
        robot: ``RobotSpec.name`` of the robot the file is for.
        joints: joint name -> servo parameters, in the robot's joint order.
        delay_s: bus and processing delay between a command and the servo acting on it.
        ticks_per_turn: encoder resolution (goals and readings are quantised to it; 0: off).
        profile_updates_per_step: how often per control period the servo's motion profile is
            recomputed (more is closer to the firmware, and slower).
        base_height_m: the arm's base above the twin's table top (mounting).
        sources: where the numbers came from (free-form).
        fit: what identified them, and the errors it measured (free-form).
    """

    robot: str
    joints: Mapping[str, JointServoParams]
    delay_s: float = 0.0
    ticks_per_turn: int = 4096
    profile_updates_per_step: int = 4
    base_height_m: float = 0.0
    sources: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    fit: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def array(self, key: str) -> np.ndarray:
        """One per-joint parameter as an array in joint order, e.g. ``array("kp_nm_per_rad")``."""
        return np.array([getattr(j, key) for j in self.joints.values()], dtype=np.float64)

    def replace_joints(self, **arrays: Any) -> TwinParams:
        """A copy with per-joint parameters replaced (``kp_nm_per_rad=array``), validated."""
        joints = {}
        for i, (name, joint) in enumerate(self.joints.items()):
            changes = {k: float(np.asarray(v, dtype=np.float64)[i]) for k, v in arrays.items()}
            joints[name] = dataclasses.replace(joint, **changes)
        params = dataclasses.replace(self, joints=joints)
        params.validate()
        return params

    def validate(self, where: str = "twin parameters") -> None:
        """Raise :class:`TwinParamsError` for any value outside its range."""
        for key, (low, high) in GLOBAL_RANGES.items():
            _check_range(getattr(self, key), low, high, key, where)
        _check_range(self.base_height_m, *MOUNTING_RANGES["base_height_m"], "base_height_m", where)
        for name, joint in self.joints.items():
            for key, (low, high) in JOINT_RANGES.items():
                _check_range(getattr(joint, key), low, high, f"joints.{name}.{key}", where)

    def check_robot(self, robot: RobotSpec, where: str = "twin parameters") -> None:
        """Raise :class:`TwinParamsError` unless these parameters are for ``robot``."""
        if self.robot != robot.name:
            raise TwinParamsError(
                f"{where} are for robot {self.robot!r}, not {robot.name!r}; pass the parameter "
                f"file of {robot.name!r} (its default: lerobot_gym/assets/{robot.name}/"
                "twin_params.json) or fit one with `lerobot-gym sysid`"
            )
        if tuple(self.joints) != tuple(robot.joint_names):
            raise TwinParamsError(
                f"{where} name joints {list(self.joints)} but robot {robot.name!r} has "
                f"{list(robot.joint_names)}; fix the file's 'joints' (same names, same order)"
            )

    def to_json(self) -> dict[str, Any]:
        """The file's content (see the module docstring)."""
        return {
            "format_version": FORMAT_VERSION,
            "robot": self.robot,
            "delay_s": self.delay_s,
            "ticks_per_turn": self.ticks_per_turn,
            "profile_updates_per_step": self.profile_updates_per_step,
            "mounting": {"base_height_m": self.base_height_m},
            "joints": {n: dataclasses.asdict(j) for n, j in self.joints.items()},
            "sources": dict(self.sources),
            "fit": dict(self.fit),
        }

    def save(self, path: str | Path) -> Path:
        """Write the parameter file (JSON), creating its folder."""
        self.validate()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path


def _check_range(value: Any, low: float, high: float, key: str, where: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:
        raise TwinParamsError(
            f"{where}: {key} = {value!r} is outside its valid range [{low:g}, {high:g}]; "
            "correct it in the file (units are in the key's name)"
        )


def twin_params_from_json(content: Mapping[str, Any], where: str = "twin parameters") -> TwinParams:
    """Build and validate :class:`TwinParams` from a parsed file."""
    if not isinstance(content, Mapping):
        raise TwinParamsError(f"{where} must be a JSON object; see lerobot_gym.sim.twin_params")
    version = content.get("format_version")
    if version != FORMAT_VERSION:
        raise TwinParamsError(
            f"{where}: format_version {version!r} is not supported (this lerobot_gym reads "
            f"{FORMAT_VERSION}); refit with `lerobot-gym sysid` or upgrade lerobot_gym"
        )
    known = {"format_version", "robot", "mounting", "joints", "sources", "fit", *GLOBAL_RANGES}
    unknown = sorted(set(content) - known)
    if unknown:
        raise TwinParamsError(f"{where}: unknown key(s) {unknown}; accepted: {sorted(known)}")
    joints_in = content.get("joints")
    if not isinstance(joints_in, Mapping) or not joints_in:
        raise TwinParamsError(f"{where}: 'joints' must map each joint name to its parameters")
    names = [f.name for f in dataclasses.fields(JointServoParams)]
    joints = {}
    for name, values in joints_in.items():
        if not isinstance(values, Mapping):
            raise TwinParamsError(f"{where}: joints.{name} must be an object of {names}")
        missing = sorted(set(names) - set(values) - {"zero_offset_rad"})
        extra = sorted(set(values) - set(names))
        if missing or extra:
            raise TwinParamsError(
                f"{where}: joints.{name} is missing {missing} / has unknown {extra}; "
                f"each joint needs {names}"
            )
        joints[name] = JointServoParams(**{k: values[k] for k in names if k in values})
    mounting = content.get("mounting", {})
    params = TwinParams(
        robot=str(content.get("robot")),
        joints=joints,
        delay_s=content.get("delay_s", 0.0),
        ticks_per_turn=content.get("ticks_per_turn", 4096),
        profile_updates_per_step=content.get("profile_updates_per_step", 4),
        base_height_m=mounting.get("base_height_m", 0.0) if isinstance(mounting, Mapping) else 0,
        sources=content.get("sources", {}),
        fit=content.get("fit", {}),
    )
    params.validate(where)
    return params


def load_twin_params(path: str | Path, robot: RobotSpec | None = None) -> TwinParams:
    """Read a parameter file; with ``robot``, check that it is that robot's.

    Raises:
        TwinParamsError: no such file, not JSON, a bad key or value, or another robot's file.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise TwinParamsError(
            f"twin parameter file {path} not found; pass twin_params= the path of a file "
            "written by `lerobot-gym sysid` (or a robot's assets/<robot>/twin_params.json)"
        )
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TwinParamsError(f"twin parameter file {path} is not valid JSON: {exc}") from None
    params = twin_params_from_json(content, where=f"twin parameter file {path}")
    if robot is not None:
        params.check_robot(robot, where=f"twin parameter file {path}")
    return params


def default_twin_params_path(robot: RobotSpec) -> Path:
    """Where a robot's default parameter file lives (next to its twin's scene)."""
    if robot.scene_xml is None:
        raise TwinParamsError(f"robot {robot.name!r} has no twin, so no default parameters")
    return Path(robot.scene_xml).parent / "twin_params.json"


def resolve_twin_params(value: str | Path | TwinParams | None, robot: RobotSpec) -> TwinParams:
    """Resolve ``twin_params=`` as given to ``gym.make``.

    A path, a :class:`TwinParams`, or None for the robot's default file.
    """
    if value is None:
        path = default_twin_params_path(robot)
        if not path.is_file():
            raise TwinParamsError(
                f"robot {robot.name!r} ships no default twin parameters ({path}); pass "
                "twin_params= a file written by `lerobot-gym sysid`, or actuator='ideal'"
            )
        return load_twin_params(path, robot)
    if isinstance(value, TwinParams):
        value.validate()
        value.check_robot(robot)
        return value
    if isinstance(value, (str, Path)):
        return load_twin_params(value, robot)
    raise TwinParamsError(
        f"twin_params must be a path to a parameter file or a TwinParams; got {type(value)!r}"
    )
