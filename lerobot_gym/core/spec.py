"""Robots as frozen data: joints, cameras, motors and the MJCF of the twin.

A :class:`RobotSpec` is everything a task, a controller or a backend needs to know about a robot,
and nothing about how it is moved. One spec serves the MuJoCo twin and the real driver; tasks ask
the spec for the arm joints, the gripper, the workspace and the cameras instead of branching on a
robot's name.

Joint limits are stored in SI (radians). Each joint also names its unit at the env boundary
(:mod:`lerobot_gym.core.units`), so observation and action spaces follow from the spec alone,
before any I/O.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.core import units
from lerobot_gym.errors import ConfigError


@dataclass(frozen=True)
class JointSpec:
    """One actuated joint.

    Attributes:
        name: joint (and motor) name, e.g. ``"shoulder_pan"``; also the MJCF joint and
            actuator name.
        lower_rad: lower joint limit in SI units.
        upper_rad: upper joint limit in SI units.
        unit: unit at the env boundary (``"deg"``, ``"rad"``, ``"percent"``, ``"fraction"``).
        home_rad: the rest pose used by resets.
        motor_id: bus id of the servo driving the joint, when the robot has one.
        motor_model: servo model name, e.g. ``"sts3215"``.
        is_gripper: whether this joint opens and closes a gripper.
        closed_rad: joint coordinate of a closed gripper (grippers only; default ``lower_rad``).
    """

    name: str
    lower_rad: float
    upper_rad: float
    unit: units.Unit = "rad"
    home_rad: float = 0.0
    motor_id: int | None = None
    motor_model: str | None = None
    is_gripper: bool = False
    closed_rad: float | None = None

    def __post_init__(self) -> None:
        if not self.lower_rad < self.upper_rad:
            raise ConfigError(f"joint {self.name!r}: lower limit must be below the upper limit")
        if self.unit not in units.UNITS:
            raise ConfigError(f"joint {self.name!r}: unit {self.unit!r} not in {units.UNITS}")
        if not self.lower_rad <= self.home_rad <= self.upper_rad:
            raise ConfigError(f"joint {self.name!r}: home {self.home_rad} outside its limits")

    @property
    def closed_position_rad(self) -> float:
        """Joint coordinate of the closed end (grippers; the lower limit by default)."""
        return self.lower_rad if self.closed_rad is None else self.closed_rad

    @property
    def open_position_rad(self) -> float:
        """Joint coordinate of the open end (the limit opposite the closed one)."""
        return self.upper_rad if self.closed_position_rad == self.lower_rad else self.lower_rad

    def to_user(self, value_rad):
        """SI joint coordinate -> the unit at the env boundary."""
        return units.to_user(
            value_rad, self.unit, closed=self.closed_position_rad, opened=self.open_position_rad
        )

    def from_user(self, value):
        """Value at the env boundary -> SI joint coordinate."""
        return units.from_user(
            value, self.unit, closed=self.closed_position_rad, opened=self.open_position_rad
        )

    def delta_from_user(self, delta):
        """A change in boundary units -> a change in SI (always non-negative scale)."""
        # Every unit map is affine, so the scale is the map of delta minus the map of zero.
        return np.abs(np.asarray(self.from_user(delta)) - self.from_user(0.0))

    @property
    def user_limits(self) -> tuple[float, float]:
        """Joint limits in boundary units, ordered (low, high)."""
        a, b = self.to_user(self.lower_rad), self.to_user(self.upper_rad)
        return (min(a, b), max(a, b))


@dataclass(frozen=True)
class CameraSpec:
    """A camera the robot carries or its station provides.

    Attributes:
        name: key under ``obs["pixels"]`` and in ``observation.images.<name>``.
        mjcf_camera: name of the camera in the twin's scene.
        height: default image height in pixels.
        width: default image width in pixels.
        fps: frame rate of the real camera.
    """

    name: str
    mjcf_camera: str
    height: int = 480
    width: int = 640
    fps: int = 30


@dataclass(frozen=True)
class RobotSpec:
    """A robot defined once, as data.

    Attributes:
        name: registry name, e.g. ``"so101"``.
        robot_type: LeRobot's ``robot_type`` string written into datasets.
        joints: actuated joints in the order of the state and action vectors.
        cameras: cameras available on this robot / station.
        scene_xml: the twin's scene (robot + table + lights + cameras).
        robot_xml: the twin's arm alone, used for kinematics.
        gripper_site: MJCF site at the tool centre point.
        base_site: MJCF site at the robot base frame.
        gripper_geoms: collision geoms of the jaws (for grasp detection).
        workspace_low: lower corner (x, y) of the table region where props are placed, metres.
        workspace_high: upper corner (x, y) of that region, metres.
        table_height_m: world z of the table top.
        fps: default control rate of the real robot.
        max_relative_target: default per-step limit on target changes, in boundary units.
    """

    name: str
    robot_type: str
    joints: tuple[JointSpec, ...]
    cameras: tuple[CameraSpec, ...] = ()
    scene_xml: Path | None = None
    robot_xml: Path | None = None
    gripper_site: str = "gripperframe"
    base_site: str = "baseframe"
    gripper_geoms: tuple[str, ...] = ()
    workspace_low: tuple[float, float] = (-0.1, -0.1)
    workspace_high: tuple[float, float] = (0.1, 0.1)
    table_height_m: float = 0.0
    fps: int = 30
    max_relative_target: float | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        names = [j.name for j in self.joints]
        if len(set(names)) != len(names):
            raise ConfigError(f"robot {self.name!r}: duplicate joint names {names}")

    @property
    def joint_names(self) -> tuple[str, ...]:
        """Joint names in state/action order."""
        return tuple(j.name for j in self.joints)

    @property
    def camera_names(self) -> tuple[str, ...]:
        """Names of the robot's cameras."""
        return tuple(c.name for c in self.cameras)

    @property
    def gripper_index(self) -> int | None:
        """Index of the (first) gripper joint, or None for a robot without one."""
        return next((i for i, j in enumerate(self.joints) if j.is_gripper), None)

    @property
    def lower_rad(self) -> np.ndarray:
        """Lower joint limits, SI."""
        return np.array([j.lower_rad for j in self.joints])

    @property
    def upper_rad(self) -> np.ndarray:
        """Upper joint limits, SI."""
        return np.array([j.upper_rad for j in self.joints])

    @property
    def home_rad(self) -> np.ndarray:
        """Rest pose, SI."""
        return np.array([j.home_rad for j in self.joints])

    @functools.cached_property
    def _user_affine(self) -> tuple[np.ndarray, np.ndarray]:
        # Every boundary unit is an affine map of SI (units.py), so a whole joint vector converts
        # with one multiply-add; this is on the env's per-step path.
        offset = np.array([j.to_user(0.0) for j in self.joints])
        scale = np.array([j.to_user(1.0) for j in self.joints]) - offset
        return scale, offset

    def to_user(self, q_rad: np.ndarray) -> np.ndarray:
        """A joint vector in SI -> boundary units (float64)."""
        scale, offset = self._user_affine
        return np.asarray(q_rad, dtype=np.float64) * scale + offset

    def from_user(self, q_user: np.ndarray) -> np.ndarray:
        """A joint vector in boundary units -> SI (float64)."""
        scale, offset = self._user_affine
        return (np.asarray(q_user, dtype=np.float64) - offset) / scale

    def user_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Joint limits in boundary units as two arrays (low, high)."""
        lims = np.array([j.user_limits for j in self.joints])
        return lims[:, 0], lims[:, 1]

    def state_names(self) -> list[str]:
        """LeRobot feature names of the state/action vector, e.g. ``"shoulder_pan.pos"``."""
        return [f"{n}.pos" for n in self.joint_names]

    def camera(self, name: str) -> CameraSpec:
        """Look a camera up by name, with an error listing the ones that exist."""
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise ConfigError(
            f"robot {self.name!r} has no camera {name!r}; choose from {list(self.camera_names)}"
        )


def check_image_size(image_size: Any) -> tuple[int, int]:
    """Validate an image size given as (height, width) (a list from the CLI is fine).

    Sizes are whole numbers of pixels: ``240.5`` or ``"240"`` are refused rather than truncated
    (a string would otherwise be read digit by digit, ``"24"`` as (2, 4)); ``240.0`` is 240.
    """
    example = "e.g. image_size=(480, 640)"
    if isinstance(image_size, (str, bytes)) or not hasattr(image_size, "__len__"):
        raise ConfigError(f"image_size must be (height, width), {example}; got {image_size!r}")
    if len(image_size) != 2:
        raise ConfigError(f"image_size must be (height, width), {example}; got {image_size!r}")
    sizes = []
    for value in image_size:
        whole = isinstance(value, (int, np.integer)) or (
            isinstance(value, (float, np.floating)) and float(value).is_integer()
        )
        if isinstance(value, (bool, np.bool_)) or not whole:
            raise ConfigError(
                f"image_size values must be whole numbers of pixels, {example}; got {image_size!r}"
            )
        sizes.append(int(value))
    height, width = sizes
    if height <= 0 or width <= 0 or height > 4096 or width > 4096:
        raise ConfigError(f"image_size {image_size!r} must be positive and at most 4096")
    return height, width
