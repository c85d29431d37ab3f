"""Backend factories for ``backend="real"`` and ``backend="emulated"``.

``gym.make(id, backend="real", port="/dev/ttyACM0", cameras={"front": 0})`` reaches
:func:`make_real_backend`; ``backend="emulated"`` reaches :func:`make_emulated_backend`, which
runs the same driver over a servo-bus emulator backed by the twin. Both only *build* a backend:
ports open and emulators start at the env's first ``reset()``.

Cameras: ``config.cameras`` is either names (a tuple, as in simulation) or a mapping name ->
device (``0``, ``"/dev/video2"``, ``"synthetic"``, a camera object, and for the emulated arm
``"twin"``). The env's spaces only see the names, so the same names give the same spaces on
every backend. On the real arm every observed camera needs a device; on the emulated arm a
camera without a device renders the twin at the emulated arm's actual pose. With
``obs_type="state"`` no camera is opened (unless ``render_mode`` asks for one).

Only the SO-101 has hardware support so far; other robots raise
:class:`~lerobot_gym.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.errors import ConfigError
from lerobot_gym.registry import EnvConfig, check_keywords

_SUPPORTED = ("so101_follower",)


# Backend options (gym.make keywords beyond EnvConfig) -> SO101HardwareConfig fields.
def _hardware_options() -> set[str]:
    """Every SO101HardwareConfig field but the port: what gym.make passes through."""
    from lerobot_gym.robots.so101.hardware import SO101HardwareConfig

    return {f.name for f in dataclasses.fields(SO101HardwareConfig)} - {"port"}


# The emulator answers from a thread of this process, sharing the GIL and two busy CPU cores
# with the control loop, so it gets the more forgiving reply allowance LeRobot uses. Pass
# bus_timeout_ms=20, bus_retries=1 to measure fault-detection latency as on real hardware.
_EMULATED_BUS_DEFAULTS = {"bus_timeout_ms": 50.0, "bus_retries": 2}


def _check_robot(robot: RobotSpec, backend: str) -> None:
    if robot.robot_type not in _SUPPORTED:
        raise ConfigError(
            f"backend={backend!r} supports the SO-101 only so far; robot {robot.name!r} "
            f"({robot.robot_type}) runs with backend='sim'"
        )


def _observed_cameras(robot: RobotSpec, config: EnvConfig) -> dict[str, Any]:
    """Camera name -> device (None where not given) for the cameras the env will read."""
    if isinstance(config.cameras, dict):
        devices = dict(config.cameras)
    else:
        names = robot.camera_names if config.cameras is None else tuple(config.cameras)
        devices = dict.fromkeys(names)
    for name in devices:
        robot.camera(name)  # typed error listing the robot's cameras
    if config.obs_type == "state":
        rendered = config.render_camera or (robot.camera_names or (None,))[0]
        keep = {rendered} if config.render_mode is not None else set()
        devices = {n: d for n, d in devices.items() if n in keep}
    return devices


def make_camera(name: str, device: Any, image_size: tuple[int, int], fps: int) -> Any:
    """A frame source for one observed camera from what the user passed in ``cameras={...}``.

    Args:
        name: Camera name (for errors).
        device: A device index (``0``), a device or video-file path (``"/dev/video2"``),
            ``"synthetic"`` (a generated test pattern), or an object with ``connect``,
            ``disconnect`` and ``read_latest`` (used as is).
        image_size: (height, width) the camera is opened at.
        fps: Frame rate asked of the camera.
    """
    from lerobot_gym.hardware.cameras import OpenCVCamera
    from lerobot_gym.hardware.synthetic_camera import SyntheticCamera

    height, width = image_size
    if all(hasattr(device, attr) for attr in ("connect", "disconnect", "read_latest")):
        return device
    if isinstance(device, str) and device == "synthetic":
        return SyntheticCamera(width, height, fps=fps)
    if isinstance(device, (int, str, Path)) and not isinstance(device, bool):
        return OpenCVCamera(device, width, height, fps)
    raise ConfigError(
        f"camera {name!r}: device {device!r} is not a device index, a path, 'synthetic' or a "
        "camera object; e.g. cameras={'front': 0, 'wrist': '/dev/video2'}"
    )


def make_real_backend(
    robot: RobotSpec,
    task: Task,
    *,
    fps: int,
    image_size: tuple[int, int],
    config: EnvConfig,
    port: str | None = None,
    **options: Any,
):
    """Build the SO-101 follower backend (no I/O until the env's first reset).

    Args:
        robot: The robot spec (the SO-101).
        task: The task (unused: the real arm has no props).
        fps: Control rate.
        image_size: (height, width) of observed images.
        config: The env's configuration (``cameras`` maps names to devices here).
        port: The arm's serial port, e.g. ``/dev/ttyACM0`` (required).
        **options: :class:`~lerobot_gym.robots.so101.hardware.SO101HardwareConfig` fields:
            ``robot_id``, ``calibration_dir``, ``use_degrees``, ``disable_torque_on_close``,
            ``max_speed_deg_s``, ``settle_tolerance_deg``, ``settle_timeout_s``,
            ``bus_timeout_ms``, ``bus_retries``, ``camera_max_age_s``.

    Raises:
        ConfigError: No port, an unknown option, a robot without hardware support, or an
            observed camera without a device.
    """
    del task
    check_keywords(options, _hardware_options() | {"port"}, "backend='real'")
    _check_robot(robot, "real")
    if not port:
        raise ConfigError(
            "backend='real' needs the arm's serial port: pass port=..., find it with "
            "`lerobot-gym find-port`"
        )
    from lerobot_gym.robots.so101.hardware import SO101Hardware, SO101HardwareConfig

    devices = _observed_cameras(robot, config)
    missing = [name for name, device in devices.items() if device is None]
    if missing:
        example = ", ".join(f"{n!r}: {i}" for i, n in enumerate(devices))
        raise ConfigError(
            f"backend='real' needs a device for camera(s) {missing}: pass "
            f"cameras={{{example}}} (device indices or paths; `lerobot-gym find-cameras` "
            "lists them), or obs_type='state'"
        )
    cameras = {name: make_camera(name, dev, image_size, fps) for name, dev in devices.items()}
    return SO101Hardware(
        robot,
        SO101HardwareConfig(port=port, **options),
        cameras=cameras,
        fps=fps,
        image_size=image_size,
    )


def make_emulated_backend(
    robot: RobotSpec,
    task: Task,
    *,
    fps: int,
    image_size: tuple[int, int],
    config: EnvConfig,
    faults: Any = None,
    plant: Any = "mujoco",
    rng: Any = None,
    lockstep: bool = False,
    **options: Any,
):
    """Build the SO-101 backend over an emulated servo bus (started at the first reset).

    Args:
        robot: The robot spec (the SO-101).
        task: The task: its props are in the emulated arm's scene (MuJoCo plant).
        fps: Control rate.
        image_size: (height, width) of observed images.
        config: The env's configuration.
        faults: :class:`~lerobot_gym.hardware.emulator.BusFaults` in force from the start.
        plant: The emulator's plant: ``"mujoco"`` (the twin, default) or ``"first_order"``.
        rng: ``numpy.random.Generator`` for random bus faults (seeded with 0 by default).
        lockstep: Advance the emulated arm one control period per step instead of with the
            wall clock (same actions, same trajectory as the twin, up to tick quantisation).
        **options: As for :func:`make_real_backend`, except ``port`` and ``calibration_dir``
            (the emulator provides both).
    """
    check_keywords(
        options,
        (_hardware_options() - {"calibration_dir"}) | {"faults", "plant", "rng", "lockstep"},
        "backend='emulated'",
    )
    _check_robot(robot, "emulated")
    from lerobot_gym.robots.so101.emulated import EmulatedSO101Hardware
    from lerobot_gym.robots.so101.hardware import SO101HardwareConfig

    devices = {
        name: "twin" if device is None else device
        for name, device in _observed_cameras(robot, config).items()
    }
    return EmulatedSO101Hardware(
        robot,
        SO101HardwareConfig(port="emulated", **{**_EMULATED_BUS_DEFAULTS, **options}),
        camera_devices=devices,
        fps=fps,
        image_size=image_size,
        faults=faults,
        plant=plant,
        rng=rng,
        task=task,
        lockstep=lockstep,
    )
