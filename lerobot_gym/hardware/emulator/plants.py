"""Plants: what moves the emulated servos' joints.

A plant is anything with the :class:`ServoPlant` shape: it takes goal angles and torque flags,
advances by ``dt_s`` and returns joint positions, velocities and a signed load fraction, all in
SI units (radians), one entry per servo in the emulator's motor order. The emulator converts
to and from ticks; plants never see registers.

Provided:
    * :class:`FirstOrderPlant`: pure numpy, rate-limited first-order lag (fast unit tests).
    * :class:`ScriptedPlant`: ignores goals and follows a trajectory (a leader arm moved by a
      hand).
    * :class:`MujocoPlant`: a robot's MuJoCo twin (the scene and joints it is given); goals go
      to the position actuators.

Design decision: with torque off a real STS servo is back-drivable and the arm sags under
gravity. The plants *hold* instead (the twin's actuator target follows the current position),
so a leader arm stays where a test put it; tests that need motion with torque off set positions
with :meth:`ServoPlant.set_positions_rad`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lerobot_gym.errors import ConfigError, MissingExtraError

PlantState = tuple[np.ndarray, np.ndarray, np.ndarray]


@runtime_checkable
class ServoPlant(Protocol):
    """The joints behind an emulated servo bus."""

    @property
    def num_joints(self) -> int:
        """Number of joints (one per servo)."""
        ...

    def step(self, dt_s: float, goal_rad: np.ndarray, torque_enabled: np.ndarray) -> PlantState:
        """Advance by ``dt_s`` seconds (0 only reads) toward ``goal_rad`` where torque is on.

        Returns:
            ``(position_rad, velocity_rad_s, load_fraction)``, each of shape ``(num_joints,)``;
            the load fraction is signed, in [-1, 1] of the servo's maximum torque.
        """
        ...

    def set_positions_rad(self, position_rad: np.ndarray) -> None:
        """Put the joints at ``position_rad`` at rest (a hand moving a leader arm)."""
        ...


class FirstOrderPlant:
    """Joints that follow their goals with a first-order lag and a speed limit.

    Args:
        num_joints: Number of joints.
        initial_rad: Start positions (zeros by default).
        time_constant_s: Lag time constant.
        max_velocity_rad_s: Speed limit (an STS3215 at 7.4 V turns about 4.7 rad/s unloaded).
        stall_error_rad: Position error at which the load reads 100 %.
    """

    def __init__(
        self,
        num_joints: int,
        *,
        initial_rad: Sequence[float] | np.ndarray | None = None,
        time_constant_s: float = 0.05,
        max_velocity_rad_s: float = 4.7,
        stall_error_rad: float = 0.3,
    ) -> None:
        self._pos = np.zeros(num_joints) if initial_rad is None else np.array(initial_rad, float)
        if self._pos.shape != (num_joints,):
            raise ConfigError(f"initial_rad must have {num_joints} values")
        self._vel = np.zeros(num_joints)
        self._load = np.zeros(num_joints)
        self.time_constant_s = time_constant_s
        self.max_velocity_rad_s = max_velocity_rad_s
        self.stall_error_rad = stall_error_rad

    @property
    def num_joints(self) -> int:
        """Number of joints."""
        return self._pos.shape[0]

    def step(self, dt_s: float, goal_rad: np.ndarray, torque_enabled: np.ndarray) -> PlantState:
        """Advance by ``dt_s``; see :meth:`ServoPlant.step`."""
        torque = np.asarray(torque_enabled, bool)
        error = np.where(torque, np.asarray(goal_rad, float) - self._pos, 0.0)
        if dt_s > 0:
            delta = error * (1.0 - np.exp(-dt_s / self.time_constant_s))
            limit = self.max_velocity_rad_s * dt_s
            delta = np.clip(delta, -limit, limit)
            self._pos = self._pos + delta
            self._vel = delta / dt_s
            error = error - delta
        self._load = np.clip(error / self.stall_error_rad, -1.0, 1.0)
        return self._pos.copy(), self._vel.copy(), self._load.copy()

    def set_positions_rad(self, position_rad: np.ndarray) -> None:
        """Teleport the joints; see :meth:`ServoPlant.set_positions_rad`."""
        self._pos = np.array(position_rad, float).reshape(self.num_joints)
        self._vel = np.zeros(self.num_joints)


class ScriptedPlant:
    """Joints that follow ``trajectory(t_s)`` whatever the goals (a leader arm held by a hand).

    Args:
        trajectory: Time since start in seconds -> joint positions in radians.
    """

    def __init__(self, trajectory: Callable[[float], np.ndarray]) -> None:
        self._trajectory = trajectory
        self._t = 0.0
        self._pos = np.array(trajectory(0.0), float)
        self._vel = np.zeros_like(self._pos)

    @property
    def num_joints(self) -> int:
        """Number of joints."""
        return self._pos.shape[0]

    def step(self, dt_s: float, goal_rad: np.ndarray, torque_enabled: np.ndarray) -> PlantState:
        """Advance the script by ``dt_s``; goals and torque are ignored."""
        if dt_s > 0:
            self._t += dt_s
            pos = np.array(self._trajectory(self._t), float)
            self._vel = (pos - self._pos) / dt_s
            self._pos = pos
        return self._pos.copy(), self._vel.copy(), np.zeros(self.num_joints)

    def set_positions_rad(self, position_rad: np.ndarray) -> None:
        """Replace the script by holding ``position_rad``."""
        held = np.array(position_rad, float).reshape(self.num_joints)
        self._trajectory = lambda _t: held
        self._pos, self._vel = held.copy(), np.zeros(self.num_joints)


def _import_mujoco() -> Any:
    try:
        import mujoco
    except ImportError as exc:
        raise MissingExtraError("mujoco", "sim", "the MuJoCo-backed servo plant") from exc
    return mujoco


class MujocoPlant:
    """The MuJoCo twin behind the servos: goals drive its position actuators.

    Args:
        model_path: MJCF scene to load (or pass ``model``).
        joint_names: Joints in servo order (required); each needs a position actuator of the
            same name (otherwise the first actuator driving the joint is used).
        model: An existing ``mujoco.MjModel`` to drive instead of loading ``model_path``.
        data: An existing ``mujoco.MjData`` (for example a simulation's) to drive.
        initial_rad: Start positions (the model's ``qpos0`` by default).
        lock: Held while the plant touches ``data``: the lock of a scene whose ``data`` other
            threads read (a task's facts, camera renders) while the emulator steps it.

    The twin advances by the ``dt_s`` it is given, in whole physics steps; the remainder is
    carried to the next call so the simulated time tracks the emulator's clock. The emulator
    steps the plant from its own thread: when ``data`` is shared with a simulation, do not step
    that simulation concurrently (hold the emulator's clock with ``realtime=False`` instead).
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        joint_names: Sequence[str] = (),
        *,
        model: Any = None,
        data: Any = None,
        initial_rad: Sequence[float] | np.ndarray | None = None,
        lock: Any = None,
    ) -> None:
        if not joint_names:
            raise ConfigError("pass joint_names=(...), the twin's joints in servo order")
        mujoco = _import_mujoco()
        self._lock = lock if lock is not None else contextlib.nullcontext()
        self._mujoco = mujoco
        if model is None:
            if model_path is None:
                raise ConfigError("pass model_path= (an MJCF scene) or model= to the plant")
            path = Path(model_path)
            if not path.exists():
                raise ConfigError(f"MJCF scene {path} not found; pass model_path= to the plant")
            model = mujoco.MjModel.from_xml_path(str(path))
        self.model = model
        self.data = data if data is not None else mujoco.MjData(model)
        self._qpos_adr, self._dof_adr, self._actuators = [], [], []
        for name in joint_names:
            joint_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
            if joint_id < 0:
                raise ConfigError(f"joint {name!r} not found in the MuJoCo model")
            self._qpos_adr.append(int(model.jnt_qposadr[joint_id]))
            self._dof_adr.append(int(model.jnt_dofadr[joint_id]))
            self._actuators.append(self._actuator_for(name, joint_id))
        act = np.array(self._actuators)
        force_max = np.abs(model.actuator_forcerange[act]).max(axis=1)
        self._force_max = np.where(force_max > 0, force_max, 1.0)
        self._residual_s = 0.0
        if initial_rad is not None:
            self.set_positions_rad(np.asarray(initial_rad, float))
        else:
            mujoco.mj_forward(model, self.data)

    def _actuator_for(self, name: str, joint_id: int) -> int:
        mujoco, model = self._mujoco, self.model
        actuator_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, name)
        if actuator_id >= 0:
            return actuator_id
        for i in range(model.nu):
            if model.actuator_trntype[i] == mujoco.mjtTrn.mjTRN_JOINT and (
                model.actuator_trnid[i, 0] == joint_id
            ):
                return i
        raise ConfigError(f"no actuator drives joint {name!r} in the MuJoCo model")

    @property
    def num_joints(self) -> int:
        """Number of servo-driven joints."""
        return len(self._qpos_adr)

    def _state(self) -> PlantState:
        d = self.data
        load = d.actuator_force[self._actuators] / self._force_max
        return (
            d.qpos[self._qpos_adr].copy(),
            d.qvel[self._dof_adr].copy(),
            np.clip(load, -1.0, 1.0),
        )

    def step(self, dt_s: float, goal_rad: np.ndarray, torque_enabled: np.ndarray) -> PlantState:
        """Write actuator targets and advance the twin by ``dt_s``; see :meth:`ServoPlant.step`."""
        d = self.data
        torque = np.asarray(torque_enabled, bool)
        self._residual_s += max(dt_s, 0.0)
        # A control period is a whole number of timesteps (the scene fits its timestep to the
        # fps); the tolerance keeps 1/30 s from rounding down to 15 of 16 substeps.
        steps = int(self._residual_s / self.model.opt.timestep + 1e-9)
        with self._lock:
            d.ctrl[self._actuators] = np.where(torque, goal_rad, d.qpos[self._qpos_adr])
            if steps:
                self._residual_s = max(0.0, self._residual_s - steps * self.model.opt.timestep)
                self._mujoco.mj_step(self.model, d, nstep=steps)
            return self._state()

    def set_positions_rad(self, position_rad: np.ndarray) -> None:
        """Put the joints at ``position_rad`` at rest (targets follow)."""
        d = self.data
        pos = np.asarray(position_rad, float).reshape(self.num_joints)
        with self._lock:
            d.qpos[self._qpos_adr] = pos
            d.qvel[self._dof_adr] = 0.0
            d.ctrl[self._actuators] = pos
            self._mujoco.mj_forward(self.model, d)
