"""Props that tasks add to a twin's scene with ``mujoco.MjSpec``, and yaw helpers."""

from __future__ import annotations

import mujoco
import numpy as np


def add_free_box(
    scene: mujoco.MjSpec,
    name: str,
    half_size_m: float,
    *,
    mass_kg: float,
    rgba: tuple[float, float, float, float],
    friction: tuple[float, float, float] = (1.0, 0.005, 0.0001),
) -> None:
    """A free-floating cube named ``name`` (body and geom share the name)."""
    body = scene.worldbody.add_body(name=name, pos=[0.0, 0.0, half_size_m])
    body.add_freejoint(name=f"{name}_joint")
    body.add_geom(
        name=name,
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[half_size_m] * 3,
        mass=mass_kg,
        rgba=list(rgba),
        friction=list(friction),
        condim=4,
    )


def add_marker(
    scene: mujoco.MjSpec,
    name: str,
    *,
    geom_type: mujoco.mjtGeom,
    size: tuple[float, ...],
    rgba: tuple[float, float, float, float],
) -> None:
    """A mocap body with a visual-only geom (no collisions), moved by ``MujocoWorld.place``."""
    body = scene.worldbody.add_body(name=name, mocap=True)
    body.add_geom(
        name=name,
        type=geom_type,
        size=list(size) + [0.0] * (3 - len(size)),
        rgba=list(rgba),
        contype=0,
        conaffinity=0,
        group=1,
    )


def yaw_quat(yaw_rad: float) -> np.ndarray:
    """(w, x, y, z) quaternion of a rotation about world z."""
    return np.array([np.cos(yaw_rad / 2), 0.0, 0.0, np.sin(yaw_rad / 2)])


def quat_yaw(quat: np.ndarray) -> float:
    """Yaw about world z of a (w, x, y, z) quaternion."""
    w, x, y, z = quat
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
