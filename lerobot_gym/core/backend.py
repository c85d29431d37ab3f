"""The Backend protocol: what moves a robot and reads it.

A backend is the only part of an env that does I/O. The twin (:class:`MujocoBackend`), the real
arm over its servo bus and the emulated arm all offer the same five calls, in SI units:

- ``connect()``: open ports / build the physics. Called by the env at the first ``reset()``,
  never by ``gym.make``.
- ``reset(joint_positions_rad, world_init)``: bring the robot to a pose (teleport in simulation,
  a bounded-speed move on hardware) and place the task's props (simulation only).
- ``command(joint_targets_rad)``: send targets and advance one control period (simulation steps
  physics; hardware returns as soon as the targets are written).
- ``read()``: the robot's present state and, when asked, camera images.
- ``close()``: let go (hardware disables torque unless told otherwise).
- ``fail_safe()``: called when ``reset``/``command``/``read`` raised; hardware disables torque.

Backends of a twin may also offer ``randomize(rng)`` (:class:`Randomized`): the env calls it
with its ``np_random`` after drawing the task's reset sample and before ``reset``, so latency,
noise and domain randomisation are seeded like everything else.

``world`` gives tasks access to privileged scene state; it is ``None`` on hardware, where reward
comes from a wrapper (human labels, a reward classifier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lerobot_gym.core.world import World


@dataclass(slots=True)
class RobotState:
    """A snapshot of the robot, SI units.

    Attributes:
        joint_positions_rad: present joint coordinates, in spec order.
        joint_velocities_rad_s: present joint velocities (zeros where not measured).
        images: camera name -> HxWx3 uint8, only for the cameras requested.
        timestamp_s: monotonic time of the reading.
        extras: backend-specific readings (motor currents, loads, temperatures).
    """

    joint_positions_rad: np.ndarray
    joint_velocities_rad_s: np.ndarray
    images: dict[str, np.ndarray] = field(default_factory=dict)
    timestamp_s: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """What every backend offers (see the module docstring)."""

    #: Whether the same seed and actions reproduce a trajectory exactly (simulation: yes).
    deterministic: bool

    @property
    def is_connected(self) -> bool:
        """Whether ``connect()`` has run and ``close()`` has not."""
        ...

    @property
    def world(self) -> World | None:
        """Privileged scene access for tasks (simulation), or None (hardware)."""
        ...

    def connect(self) -> None:
        """Open ports or build the physics."""
        ...

    def reset(self, joint_positions_rad: np.ndarray, world_init: Any | None = None) -> None:
        """Bring the robot to a pose and set up the scene."""
        ...

    def command(self, joint_targets_rad: np.ndarray) -> None:
        """Send joint targets and advance one control period."""
        ...

    def read(self, cameras: tuple[str, ...] = ()) -> RobotState:
        """Read the robot state and the requested camera images."""
        ...

    def render(self, camera: str, height: int, width: int) -> np.ndarray:
        """An image for ``env.render()`` (simulation renders; hardware returns the camera)."""
        ...

    def fail_safe(self) -> None:
        """Make the robot safe after an error in ``reset`` or ``step`` (hardware: torque off)."""
        ...

    def close(self) -> None:
        """Let go of the robot."""
        ...


@runtime_checkable
class Randomized(Protocol):
    """A backend whose twin draws latency, noise or randomisation per episode."""

    def randomize(self, rng: np.random.Generator) -> None:
        """Draw this episode's variation from the env's generator (before ``reset``)."""
        ...
