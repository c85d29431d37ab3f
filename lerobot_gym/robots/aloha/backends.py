"""The ALOHA's ``backend="real"`` and ``backend="emulated"`` builders: not supported yet.

Real ALOHA hardware (four Dynamixel buses: two ViperX followers, two WidowX leaders; see
shared/reference/servo-protocols.md section 3.3) is a later issue. Until it lands these builders
answer with a :class:`~lerobot_gym.errors.ConfigError` that says which ports the real robot will
need and what to use today (``backend="sim"``), so a user is never left with a generic error or
a silent fallback. :data:`BACKENDS` is what the registry finds for robot type ``aloha``
(:func:`lerobot_gym.registry.get_robot_backend`); the builders build nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.errors import ConfigError

#: The serial ports a real ALOHA follower pair needs, by arm (the leaders come with teleop).
FOLLOWER_PORTS = ("left", "right")
_PORTS_EXAMPLE = "ports={'left': '/dev/ttyDXL_puppet_left', 'right': '/dev/ttyDXL_puppet_right'}"
_LATER = (
    "real ALOHA hardware is not supported yet (it is a later lerobot_gym issue); use "
    "backend='sim' (the MuJoCo twin) for now"
)


def make_real_backend(robot: RobotSpec, task: Task, *, ports: Any = None, **options: Any) -> Any:
    """Refuse ``backend="real"`` for the ALOHA, naming the ports it will need."""
    del task, options
    if not isinstance(ports, dict) or set(ports) != set(FOLLOWER_PORTS):
        raise ConfigError(
            f"backend='real' for robot {robot.name!r} needs one serial port per follower arm, "
            f"e.g. {_PORTS_EXAMPLE} (find them with `lerobot-gym find-port`); and {_LATER}"
        )
    raise ConfigError(f"ports given, but {_LATER}")


def make_emulated_backend(robot: RobotSpec, task: Task, **options: Any) -> Any:
    """Refuse ``backend="emulated"`` for the ALOHA (its Dynamixel emulator comes with it)."""
    del task, options
    raise ConfigError(
        f"backend='emulated' for robot {robot.name!r}: the emulated ALOHA arrives with its "
        f"hardware driver; {_LATER}"
    )


#: Builders by backend name, for robot type ``aloha``.
BACKENDS: dict[str, Callable[..., Any]] = {
    "real": make_real_backend,
    "emulated": make_emulated_backend,
}
