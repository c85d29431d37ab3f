"""The SO-101's hardware backends: ``"real"`` and ``"emulated"`` builders for its robot type.

:data:`BACKENDS` is what the registry finds for robot type ``so101_follower``
(:func:`lerobot_gym.registry.get_robot_backend`), so ``gym.make(..., backend="real")`` builds
:class:`~lerobot_gym.robots.so101.hardware.SO101Hardware` and ``backend="emulated"``
:class:`~lerobot_gym.robots.so101.emulated.EmulatedSO101Hardware`. Options beyond
:class:`~lerobot_gym.registry.EnvConfig` are :class:`SO101HardwareConfig` fields (``port``,
``robot_id``, ``bus_timeout_ms`` ...), plus ``faults``, ``plant`` and ``rng`` for the emulator.

Design decision: the emulator answers from a thread of this process, sharing the GIL and two
busy CPU cores with the control loop, so it gets the more forgiving reply allowance LeRobot
uses (50 ms, 2 retries). Pass ``bus_timeout_ms=20, bus_retries=1`` to measure fault-detection
latency as on real hardware.
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

__all__ = ["BACKENDS", "make_so101_emulated", "make_so101_real"]

_EMULATED_BUS_DEFAULTS = {"bus_timeout_ms": 50.0, "bus_retries": 2}


def _hardware_options() -> set[str]:
    """Every SO101HardwareConfig field but the port: what gym.make passes through."""
    from lerobot_gym.robots.so101.hardware import SO101HardwareConfig

    return {f.name for f in dataclasses.fields(SO101HardwareConfig)} - {"port"}


def make_so101_real(
    robot: RobotSpec,
    task: Task,
    *,
    fps: int,
    image_size: tuple[int, int],
    config: EnvConfig,
    port: str | None = None,
    **options: Any,
) -> Backend:
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
        ConfigError: No port, an unknown option, or an observed camera without a device.
    """
    del task
    check_keywords(options, _hardware_options() | {"port"}, "backend='real'")
    if not port:
        raise ConfigError(
            "backend='real' needs the arm's serial port: pass port=..., find it with "
            "`lerobot-gym find-port`"
        )
    from lerobot_gym.robots.so101.hardware import SO101Hardware, SO101HardwareConfig

    cameras = real_cameras(robot, config, image_size, fps)
    return SO101Hardware(
        robot,
        SO101HardwareConfig(port=port, **options),
        cameras=cameras,
        fps=fps,
        image_size=image_size,
    )


def make_so101_emulated(
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
    knobs: Any = None,
    **options: Any,
) -> Backend:
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
        knobs: The twin's knobs (:mod:`lerobot_gym.sim.knobs`), in the emulated arm's scene.
        **options: As for :func:`make_so101_real`, except ``port`` and ``calibration_dir``
            (the emulator provides both).
    """
    check_keywords(
        options,
        (_hardware_options() - {"calibration_dir"}) | {"faults", "plant", "rng", "lockstep"},
        "backend='emulated'",
    )
    from lerobot_gym.robots.so101.emulated import EmulatedSO101Hardware
    from lerobot_gym.robots.so101.hardware import SO101HardwareConfig

    devices = emulated_camera_devices(robot, config)
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
        knobs=knobs,
    )


#: Robot type ``so101_follower``'s hardware backends (see the module docstring).
BACKENDS = {"real": make_so101_real, "emulated": make_so101_emulated}
