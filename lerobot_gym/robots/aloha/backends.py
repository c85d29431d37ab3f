"""The ALOHA's ``backend="real"`` and ``backend="emulated"`` builders for its robot type.

:data:`BACKENDS` is what the registry finds for robot type ``aloha``
(:func:`lerobot_gym.registry.get_robot_backend`): ``gym.make("lerobot_gym/Aloha-v0",
backend="real", ports={...})`` builds :class:`~lerobot_gym.robots.aloha.hardware.AlohaHardware`
(two ViperX 300 S followers on their Dynamixel buses) and ``backend="emulated"``
:class:`~lerobot_gym.robots.aloha.emulated.EmulatedAlohaHardware` (the same driver code over an
emulated four-bus station on the ALOHA twin). Nothing is opened until the env's first reset.

Design decision: as for the SO-101, the emulated station answers from threads of this process
sharing the GIL with the control loop, so it gets LeRobot's more forgiving reply allowance
(50 ms, 2 retries) unless ``bus_timeout_ms`` / ``bus_retries`` are passed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lerobot_gym.core.backend import Backend
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.errors import ConfigError
from lerobot_gym.registry import EnvConfig, check_keywords
from lerobot_gym.robots.factory import emulated_camera_devices, real_cameras

__all__ = ["BACKENDS", "make_aloha_emulated", "make_aloha_real"]

_EMULATED_BUS_DEFAULTS = {"bus_timeout_ms": 50.0, "bus_retries": 2}
_PORTS_EXAMPLE = "ports={'left': '/dev/ttyDXL_puppet_left', 'right': '/dev/ttyDXL_puppet_right'}"


def _hardware_options() -> set[str]:
    from lerobot_gym.robots.aloha.hardware import AlohaHardwareConfig

    return {f.name for f in dataclasses.fields(AlohaHardwareConfig)} - {"ports"}


def make_aloha_real(
    robot: RobotSpec,
    task: Task,
    *,
    fps: int,
    image_size: tuple[int, int],
    config: EnvConfig,
    ports: Any = None,
    **options: Any,
) -> Backend:
    """Build the ALOHA followers' backend (no I/O until the env's first reset).

    Args:
        robot: The ALOHA spec.
        task: The task (unused: real arms have no simulated props).
        fps: Control rate.
        image_size: (height, width) of observed images.
        config: The env's configuration (``cameras`` maps names to devices here).
        ports: Arm -> serial port of its follower bus, e.g. ``{"left": ..., "right": ...}``.
        **options: :class:`~lerobot_gym.robots.aloha.hardware.AlohaHardwareConfig` fields.

    Raises:
        ConfigError: Missing ports, an unknown option, or an observed camera without a device.
    """
    del task
    check_keywords(options, _hardware_options(), "backend='real'")
    if not isinstance(ports, dict) or set(ports) != {"left", "right"}:
        raise ConfigError(
            f"backend='real' for robot {robot.name!r} needs one serial port per follower arm, "
            f"e.g. {_PORTS_EXAMPLE} (find them with `lerobot-gym find-port`)"
        )
    from lerobot_gym.robots.aloha.hardware import AlohaHardware, AlohaHardwareConfig

    cameras = real_cameras(robot, config, image_size, fps)
    return AlohaHardware(
        robot,
        AlohaHardwareConfig(ports=ports, **options),
        cameras=cameras,
        fps=fps,
        image_size=image_size,
    )


def make_aloha_emulated(
    robot: RobotSpec,
    task: Task,
    *,
    fps: int,
    image_size: tuple[int, int],
    config: EnvConfig,
    faults: Any = None,
    rng: Any = None,
    lockstep: bool = False,
    **options: Any,
) -> Backend:
    """Build the ALOHA backend over an emulated station (started at the first reset).

    Args:
        robot: The ALOHA spec.
        task: The task: its props are in the station's twin scene.
        fps: Control rate.
        image_size: (height, width) of observed images.
        config: The env's configuration (cameras render the twin unless given a device).
        faults: :class:`~lerobot_gym.hardware.emulator.BusFaults` of every bus from the start.
        rng: ``numpy.random.Generator`` for random bus faults.
        lockstep: Advance the twin one control period per step instead of the wall clock.
        **options: As for :func:`make_aloha_real`, except ``ports`` and ``calibration_dir``.
    """
    check_keywords(options, _hardware_options() - {"calibration_dir"}, "backend='emulated'")
    from lerobot_gym.robots.aloha.emulated import EmulatedAlohaHardware
    from lerobot_gym.robots.aloha.hardware import AlohaHardwareConfig

    devices = emulated_camera_devices(robot, config)
    placeholder = {"left": "emulated", "right": "emulated"}
    return EmulatedAlohaHardware(
        robot,
        AlohaHardwareConfig(ports=placeholder, **{**_EMULATED_BUS_DEFAULTS, **options}),
        camera_devices=devices,
        fps=fps,
        image_size=image_size,
        faults=faults,
        rng=rng,
        task=task,
        lockstep=lockstep,
    )


#: Robot type ``aloha``'s hardware backends.
BACKENDS = {"real": make_aloha_real, "emulated": make_aloha_emulated}
