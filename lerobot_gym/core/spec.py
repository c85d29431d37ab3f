"""Robots as frozen data: joints, arms, cameras, motors and the MJCF of the twin.

A :class:`RobotSpec` is everything a task, a controller or a backend needs to know about a robot,
and nothing about how it is moved. One spec serves the MuJoCo twin and the real driver; tasks ask
the spec for the arm joints, the gripper, the workspace and the cameras instead of branching on a
robot's name.

Decisions:

- A robot is one or more arms (:class:`ArmSpec`): each names its joints (a run of the robot's
  joint vector), its gripper joint, its gripper and base sites, its jaw pad geoms and its
  workspace. The joint vector stays flat and robot-wide (what datasets store); an arm is a view
  onto it (:meth:`RobotSpec.arm_slice`). A single-arm robot is the one-arm case, and a spec built
  without ``arms`` gets one arm spanning every joint.
- The one-arm shortcuts (``robot.gripper_site``, ``robot.workspace_low``, ``gripper_index``...)
  stay for single-arm robots and raise :class:`~lerobot_gym.errors.ConfigError` on a robot with
  several arms, where "the gripper" means nothing; tasks use ``robot.arms[i]``.

Joint limits are stored in SI (radians). Each joint also names its unit at the env boundary
(:mod:`lerobot_gym.core.units`), so observation and action spaces follow from the spec alone,
before any I/O.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

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
        strict_range: refuse (ActionError) absolute targets outside the range instead of
            clamping them: for normalised grippers, whose value means nothing outside
            0..full scale.
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
    strict_range: bool = False

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

    @overload
    def to_user(self, value_rad: float) -> float: ...
    @overload
    def to_user(self, value_rad: np.ndarray) -> np.ndarray: ...
    def to_user(self, value_rad: float | np.ndarray) -> float | np.ndarray:
        """SI joint coordinate -> the unit at the env boundary."""
        return units.to_user(
            value_rad, self.unit, closed=self.closed_position_rad, opened=self.open_position_rad
        )

    @overload
    def from_user(self, value: float) -> float: ...
    @overload
    def from_user(self, value: np.ndarray) -> np.ndarray: ...
    def from_user(self, value: float | np.ndarray) -> float | np.ndarray:
        """Value at the env boundary -> SI joint coordinate."""
        return units.from_user(
            value, self.unit, closed=self.closed_position_rad, opened=self.open_position_rad
        )

    def delta_from_user(self, delta: float | np.ndarray) -> np.ndarray:
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
class ArmSpec:
    """One arm of a robot, as data: which joints are its own and where its tool is.

    Attributes:
        name: the arm's name, e.g. ``"main"`` (single arm), ``"left"``, ``"right"``.
        joint_names: the arm's joints (its gripper included), a consecutive run of the robot's
            joint vector, in that order; empty in a spec means "every joint of the robot".
        gripper_joint: the joint that opens and closes its gripper (None: no gripper).
        gripper_site: MJCF site at the tool centre point.
        base_site: MJCF site at the arm's base frame.
        pad_geoms: collision geoms of the jaws (for grasp detection).
        workspace_low: lower corner (x, y) of the table region this arm reaches, metres.
        workspace_high: upper corner (x, y) of that region, metres.
        prefix: the prefix of its joint and site names in a multi-arm twin, e.g. ``"left_"``.
        approach_axis: the axis of the gripper site's frame the jaws point along (a top-down
            grasp points it down).
        jaw_axis: the axis of the gripper site's frame the jaws close along.
    """

    name: str = "main"
    joint_names: tuple[str, ...] = ()
    gripper_joint: str | None = None
    gripper_site: str = "gripperframe"
    base_site: str = "baseframe"
    pad_geoms: tuple[str, ...] = ()
    workspace_low: tuple[float, float] = (-0.1, -0.1)
    workspace_high: tuple[float, float] = (0.1, 0.1)
    prefix: str = ""
    approach_axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    jaw_axis: tuple[float, float, float] = (0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        if self.gripper_joint is not None and self.joint_names:
            if self.gripper_joint not in self.joint_names:
                raise ConfigError(
                    f"arm {self.name!r}: gripper_joint {self.gripper_joint!r} is not one of its "
                    f"joint_names {list(self.joint_names)}"
                )
        for axis_name in ("approach_axis", "jaw_axis"):
            axis = np.asarray(getattr(self, axis_name), dtype=np.float64)
            if axis.shape != (3,) or not np.isclose(np.linalg.norm(axis), 1.0):
                raise ConfigError(
                    f"arm {self.name!r}: {axis_name} must be a unit 3-vector in the gripper "
                    f"site's frame, e.g. (1.0, 0.0, 0.0); got {getattr(self, axis_name)!r}"
                )
        if not all(lo < hi for lo, hi in zip(self.workspace_low, self.workspace_high, strict=True)):
            raise ConfigError(
                f"arm {self.name!r}: workspace_low {self.workspace_low} must be below "
                f"workspace_high {self.workspace_high} in x and y"
            )


@dataclass(frozen=True)
class RobotSpec:
    """A robot defined once, as data.

    Attributes:
        name: registry name, e.g. ``"so101"``.
        robot_type: LeRobot's ``robot_type`` string written into datasets.
        joints: actuated joints in the order of the state and action vectors.
        arms: the robot's arms (see :class:`ArmSpec`); empty: one arm over every joint, with
            the only ``is_gripper`` joint as its gripper.
        cameras: cameras available on this robot / station.
        scene_xml: the twin's scene (robot + table + lights + cameras).
        robot_xml: the twin's robot alone, used for kinematics.
        table_height_m: world z of the table top.
        fps: default control rate of the real robot.
        max_relative_target: default per-step limit on target changes, in boundary units.
    """

    name: str
    robot_type: str
    joints: tuple[JointSpec, ...]
    arms: tuple[ArmSpec, ...] = ()
    cameras: tuple[CameraSpec, ...] = ()
    scene_xml: Path | None = None
    robot_xml: Path | None = None
    table_height_m: float = 0.0
    fps: int = 30
    max_relative_target: float | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    # Arm name -> its slice of the joint vector; derived from ``arms`` in __post_init__.
    _arm_slices: dict[str, slice] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        names = [j.name for j in self.joints]
        if len(set(names)) != len(names):
            raise ConfigError(f"robot {self.name!r}: duplicate joint names {names}")
        object.__setattr__(self, "arms", self._complete_arms(tuple(self.arms)))
        slices = {}
        for arm in self.arms:
            slices[arm.name] = self._check_arm(arm, names)
        covered = sorted(i for s in slices.values() for i in range(s.start, s.stop))
        if len(covered) != len(set(covered)):
            raise ConfigError(
                f"robot {self.name!r}: arms {[a.name for a in self.arms]} share joints; each "
                "joint belongs to at most one arm"
            )
        object.__setattr__(self, "_arm_slices", slices)

    def _complete_arms(self, arms: tuple[ArmSpec, ...]) -> tuple[ArmSpec, ...]:
        """The arms with defaults filled in: one arm over every joint when none is given."""
        if not arms:
            arms = (ArmSpec(),)
        if len(arms) == 1 and not arms[0].joint_names:
            grippers = [j.name for j in self.joints if j.is_gripper]
            gripper = arms[0].gripper_joint
            if gripper is None and len(grippers) == 1:
                gripper = grippers[0]
            arms = (
                dataclasses.replace(arms[0], joint_names=self.joint_names, gripper_joint=gripper),
            )
        arm_names = [a.name for a in arms]
        if len(set(arm_names)) != len(arm_names):
            raise ConfigError(f"robot {self.name!r}: duplicate arm names {arm_names}")
        return arms

    def _check_arm(self, arm: ArmSpec, names: list[str]) -> slice:
        """The arm's slice of the joint vector; typed errors for joints it cannot own."""
        if not arm.joint_names:
            raise ConfigError(
                f"robot {self.name!r}: arm {arm.name!r} names no joints; set ArmSpec.joint_names "
                "(every arm of a multi-arm robot needs them)"
            )
        missing = [n for n in arm.joint_names if n not in names]
        if missing:
            raise ConfigError(
                f"robot {self.name!r}: arm {arm.name!r} names joints {missing} the robot lacks; "
                f"its joints are {names}"
            )
        start = names.index(arm.joint_names[0])
        if tuple(names[start : start + len(arm.joint_names)]) != arm.joint_names:
            raise ConfigError(
                f"robot {self.name!r}: arm {arm.name!r} joints {list(arm.joint_names)} must be a "
                f"consecutive run of the robot's joints {names}, in that order"
            )
        if arm.gripper_joint is not None:
            joint = self.joints[names.index(arm.gripper_joint)]
            if not joint.is_gripper:
                raise ConfigError(
                    f"robot {self.name!r}: arm {arm.name!r} gripper_joint {joint.name!r} is not "
                    "marked is_gripper=True in its JointSpec"
                )
        return slice(start, start + len(arm.joint_names))

    # -- arms ---------------------------------------------------------------------------------
    def arm(self, arm: int | str | ArmSpec) -> ArmSpec:
        """An arm by index, by name, or itself; an error lists the arms that exist."""
        if isinstance(arm, ArmSpec):
            if arm not in self.arms:
                raise ConfigError(f"robot {self.name!r} has no arm {arm.name!r}")
            return arm
        if isinstance(arm, int) and not isinstance(arm, bool):
            if -len(self.arms) <= arm < len(self.arms):
                return self.arms[arm]
        else:
            for candidate in self.arms:
                if candidate.name == arm:
                    return candidate
        raise ConfigError(
            f"robot {self.name!r} has no arm {arm!r}; its arms are "
            f"{[a.name for a in self.arms]} (or index 0..{len(self.arms) - 1})"
        )

    def arm_slice(self, arm: int | str | ArmSpec = 0) -> slice:
        """The arm's joints as a slice of the robot's joint (state and action) vector."""
        return self._arm_slices[self.arm(arm).name]

    def arm_joints(self, arm: int | str | ArmSpec = 0) -> tuple[JointSpec, ...]:
        """The arm's joint specs, in vector order."""
        return self.joints[self.arm_slice(arm)]

    def arm_home_rad(self, arm: int | str | ArmSpec = 0) -> np.ndarray:
        """The arm's rest pose, SI."""
        return self.home_rad[self.arm_slice(arm)]

    def gripper_joint_index(self, arm: int | str | ArmSpec = 0) -> int | None:
        """Index in the robot's joint vector of the arm's gripper joint, or None."""
        gripper = self.arm(arm).gripper_joint
        return None if gripper is None else self.joint_names.index(gripper)

    def single_arm(self, what: str = "a single-arm shortcut") -> ArmSpec:
        """The arm of a single-arm robot; a :class:`ConfigError` naming ``what`` otherwise."""
        if len(self.arms) != 1:
            raise ConfigError(
                f"robot {self.name!r} has {len(self.arms)} arms "
                f"{[a.name for a in self.arms]}, so {what} is ambiguous; ask one arm, "
                f"e.g. robot.arms[0]"
            )
        return self.arms[0]

    @property
    def gripper_site(self) -> str:
        """The gripper site of a single-arm robot (multi-arm: ``robot.arms[i].gripper_site``)."""
        return self.single_arm("RobotSpec.gripper_site").gripper_site

    @property
    def base_site(self) -> str:
        """The base site of a single-arm robot (multi-arm: ``robot.arms[i].base_site``)."""
        return self.single_arm("RobotSpec.base_site").base_site

    @property
    def gripper_geoms(self) -> tuple[str, ...]:
        """The jaw pad geoms of a single-arm robot (multi-arm: ``robot.arms[i].pad_geoms``)."""
        return self.single_arm("RobotSpec.gripper_geoms").pad_geoms

    @property
    def workspace_low(self) -> tuple[float, float]:
        """Workspace lower corner of a single-arm robot (multi-arm: ask ``robot.arms[i]``)."""
        return self.single_arm("RobotSpec.workspace_low").workspace_low

    @property
    def workspace_high(self) -> tuple[float, float]:
        """Workspace upper corner of a single-arm robot (multi-arm: ask ``robot.arms[i]``)."""
        return self.single_arm("RobotSpec.workspace_high").workspace_high

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
        """Index of a single-arm robot's gripper joint, or None for an arm without one.

        Multi-arm robots raise :class:`ConfigError`: use ``gripper_joint_index(arm)``.
        """
        return self.gripper_joint_index(self.single_arm("RobotSpec.gripper_index"))

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
    def user_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """``(scale, offset)`` with ``to_user(q) == q * scale + offset`` (read-only arrays)."""
        # Every boundary unit is an affine map of SI (units.py), so a whole joint vector converts
        # with one multiply-add; this is on the env's per-step path.
        offset = np.array([j.to_user(0.0) for j in self.joints])
        scale = np.array([j.to_user(1.0) for j in self.joints]) - offset
        scale.flags.writeable = offset.flags.writeable = False  # shared by every caller
        return scale, offset

    def to_user(self, q_rad: np.ndarray) -> np.ndarray:
        """A joint vector in SI -> boundary units (float64)."""
        scale, offset = self.user_affine
        if type(q_rad) is not np.ndarray:  # arrays of any real dtype upcast in the multiply
            q_rad = np.asarray(q_rad, dtype=np.float64)
        user = q_rad * scale
        user += offset
        return user

    def from_user(self, q_user: np.ndarray) -> np.ndarray:
        """A joint vector in boundary units -> SI (float64)."""
        scale, offset = self.user_affine
        if type(q_user) is not np.ndarray:  # arrays of any real dtype upcast in the subtraction
            q_user = np.asarray(q_user, dtype=np.float64)
        q_rad = q_user - offset
        q_rad /= scale
        return q_rad

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
