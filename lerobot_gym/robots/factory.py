"""Backend factories for ``backend="real"`` and ``backend="emulated"``, for any robot.

``gym.make(id, backend="real", port="/dev/ttyACM0", cameras={"front": 0})`` reaches
:func:`make_real_backend`, ``backend="emulated"`` :func:`make_emulated_backend`; each hands the
robot to the builder its robot type declares (``robots/<name>/backends.py``, found through
:func:`lerobot_gym.registry.get_robot_backend`). Builders only *build* a backend: ports open and
emulators start at the env's first ``reset()``.

This module names no robot. It also holds what every robot's builders share: which cameras the
env observes (:func:`observed_cameras`) and the check that a real arm has a device for each
(:func:`require_camera_devices`).

Cameras: ``config.cameras`` is either names (a tuple, as in simulation) or a mapping name ->
device (``0``, ``"/dev/video2"``, ``"synthetic"``, a camera object, and for an emulated arm
``"twin"``). The env's spaces only see the names, so the same names give the same spaces on
every backend. With ``obs_type="state"`` no camera is opened (unless ``render_mode`` asks for
one).
"""

from __future__ import annotations

from typing import Any

from lerobot_gym.core.backend import Backend
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.errors import ConfigError
from lerobot_gym.registry import EnvConfig, get_robot_backend

__all__ = [
    "emulated_camera_devices",
    "make_emulated_backend",
    "make_real_backend",
    "observed_cameras",
    "real_cameras",
    "require_camera_devices",
]


def observed_cameras(robot: RobotSpec, config: EnvConfig) -> dict[str, Any]:
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


def require_camera_devices(devices: dict[str, Any]) -> None:
    """A real robot needs a device for every observed camera.

    Raises:
        ConfigError: Naming the cameras without a device and how to pass them.
    """
    missing = [name for name, device in devices.items() if device is None]
    if missing:
        example = ", ".join(f"{n!r}: {i}" for i, n in enumerate(devices))
        raise ConfigError(
            f"backend='real' needs a device for camera(s) {missing}: pass "
            f"cameras={{{example}}} (device indices or paths; `lerobot-gym find-cameras` "
            "lists them), or obs_type='state'"
        )


def real_cameras(
    robot: RobotSpec, config: EnvConfig, image_size: tuple[int, int], fps: int
) -> dict[str, Any]:
    """Camera name -> frame source for every camera a real robot's env observes.

    Raises:
        ConfigError: An unknown camera, or an observed camera without a device.
    """
    from lerobot_gym.hardware.camera_devices import make_camera

    devices = observed_cameras(robot, config)
    require_camera_devices(devices)
    return {name: make_camera(name, dev, image_size, fps) for name, dev in devices.items()}


def emulated_camera_devices(robot: RobotSpec, config: EnvConfig) -> dict[str, Any]:
    """Camera name -> device for an emulated robot: the twin's render where none was given."""
    return {
        name: "twin" if device is None else device
        for name, device in observed_cameras(robot, config).items()
    }


def make_real_backend(
    robot: RobotSpec,
    task: Task,
    *,
    fps: int,
    image_size: tuple[int, int],
    config: EnvConfig,
    **options: Any,
) -> Backend:
    """The robot's real hardware backend (its type's ``"real"`` builder; no I/O yet).

    Raises:
        ConfigError: The robot has no real backend, or its builder rejects an option.
    """
    builder = get_robot_backend(robot, "real")
    return builder(robot, task, fps=fps, image_size=image_size, config=config, **options)


def make_emulated_backend(
    robot: RobotSpec,
    task: Task,
    *,
    fps: int,
    image_size: tuple[int, int],
    config: EnvConfig,
    **options: Any,
) -> Backend:
    """The robot's real driver over an emulated bus (its type's ``"emulated"`` builder).

    Raises:
        ConfigError: The robot has no emulated backend, or its builder rejects an option.
    """
    builder = get_robot_backend(robot, "emulated")
    return builder(robot, task, fps=fps, image_size=image_size, config=config, **options)
