"""The emulated ALOHA station: four Dynamixel buses on ptys, in one process, on the twin.

:class:`AlohaStation` runs four :class:`~lerobot_gym.hardware.emulator.DynamixelEmulator`
(left/right ViperX 300 S followers, left/right WidowX 250 S leaders), each on its own pty as
the four U2D2 adapters of a real station, and writes a calibration file for each arm in a
temporary LeRobot-layout folder. :class:`EmulatedAlohaHardware` is
:class:`~lerobot_gym.robots.aloha.hardware.AlohaHardware` that starts a station at
``connect()`` and talks to its follower ptys with the real driver code.

Design decisions:
    * The followers' joints are the ALOHA twin's (the task's :class:`~lerobot_gym.sim.scene.Scene`,
      props and cameras included): one :class:`SharedPlant` owns the scene's physics and each
      follower bus drives its 7 joints through a view of it. The scene is stepped once, up to
      the furthest clock of the two buses, so two emulator threads never double its time; in
      lockstep both advance by one control period per step.
    * The leaders are not in the scene: their joints are a first-order plant that a test (or
      :meth:`AlohaStation.move_leader`) moves by hand; their torque stays off.
    * Servos are mounted a few ticks off centre, and against the joint where Interbotix sets
      Drive_Mode (negative scale), so the calibration's homing and the firmware's reverse both
      have real work to do; shadows are mounted opposite their primaries.
    * The gripper servo's encoder follows the finger (metres) linearly, with ACT's horn angles
      at the CLOSE and OPEN finger positions.

Sources: shared/reference/servo-protocols.md §3.3-4.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.assets.aloha import ARMS, GRIPPER_POSITION_CLOSE, GRIPPER_POSITION_OPEN
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.hardware.camera_devices import FrameSource, make_camera
from lerobot_gym.hardware.emulator import BusFaults, FirstOrderPlant, MujocoPlant
from lerobot_gym.hardware.emulator.dynamixel import DynamixelEmulator
from lerobot_gym.robots.aloha.calibration import (
    TICKS_PER_RAD,
    factory_calibration,
    save_arm_calibration,
)
from lerobot_gym.robots.aloha.hardware import AlohaHardware, AlohaHardwareConfig
from lerobot_gym.robots.aloha.motors import (
    KINDS,
    arm_motors,
    arm_shadows,
    drive_modes,
    gripper_joint_rad,
)

__all__ = ["AlohaStation", "EmulatedAlohaHardware", "SharedPlant"]

_MOUNTING = (57, -83, 41, -66, 92, -35, 28)


class SharedPlant:
    """One plant stepped for several buses: each :meth:`view` drives a subset of its joints.

    Args:
        plant: The plant of all joints (the twin's 14 follower joints).
    """

    def __init__(self, plant: Any) -> None:
        self.plant = plant
        self._lock = threading.Lock()
        n = plant.num_joints
        self._goals = np.zeros(n)
        self._torques = np.zeros(n, bool)
        self._state = plant.step(0.0, self._goals, self._torques)
        self._goals = self._state[0].copy()
        self._clocks: dict[int, float] = {}
        self._time = 0.0

    def view(self, indices: Sequence[int]) -> _PlantView:
        """A plant of the joints ``indices`` (in that order) for one bus."""
        return _PlantView(self, np.asarray(indices, int))

    def _step(self, key: int, dt_s: float, index: np.ndarray, goals: Any, torques: Any) -> Any:
        with self._lock:
            self._goals[index] = goals
            self._torques[index] = torques
            self._clocks[key] = self._clocks.get(key, 0.0) + max(dt_s, 0.0)
            ahead = max(self._clocks.values()) - self._time
            self._time += ahead
            self._state = self.plant.step(ahead, self._goals, self._torques)
            return tuple(a[index].copy() for a in self._state)

    def _set(self, index: np.ndarray, positions: np.ndarray) -> None:
        with self._lock:
            current = self._state[0].copy()
            current[index] = positions
            self.plant.set_positions_rad(current)
            self._goals[index] = positions
            self._state = self.plant.step(0.0, self._goals, self._torques)


class _PlantView:
    def __init__(self, shared: SharedPlant, index: np.ndarray) -> None:
        self.shared, self.index = shared, index

    @property
    def num_joints(self) -> int:
        return len(self.index)

    def step(self, dt_s: float, goal_rad: np.ndarray, torque_enabled: np.ndarray) -> Any:
        return self.shared._step(id(self), dt_s, self.index, goal_rad, torque_enabled)

    def set_positions_rad(self, position_rad: np.ndarray) -> None:
        self.shared._set(self.index, np.asarray(position_rad, float))


def _scales(kind: str, arm: str) -> dict[str, tuple[float, float]]:
    """Each servo's (ticks per unit, unit zero): radians, the gripper in finger metres."""
    closed, opened = gripper_joint_rad(kind)
    per_m = (opened - closed) * TICKS_PER_RAD / (GRIPPER_POSITION_OPEN - GRIPPER_POSITION_CLOSE)
    zero_m = GRIPPER_POSITION_CLOSE - closed * TICKS_PER_RAD / per_m
    scales = {}
    for name, reverse in drive_modes(kind, arm).items():
        per_unit, zero = (per_m, zero_m) if name == f"{arm}_gripper" else (TICKS_PER_RAD, 0.0)
        scales[name] = (-per_unit if reverse else per_unit, zero)
    return scales


def gripper_ticks(kind: str) -> tuple[float, float]:
    """Present ticks (after homing) of the closed and open gripper."""
    closed, opened = gripper_joint_rad(kind)
    return 2048 + closed * TICKS_PER_RAD, 2048 + opened * TICKS_PER_RAD


class AlohaStation:
    """Four emulated ALOHA buses and their calibration files (see the module docstring).

    Args:
        robot: The ALOHA spec (joint order, home pose).
        follower_plant: The plant of the 14 follower joints (None: a first-order plant).
        faults: Faults of every bus from the start (change per bus with ``emulators[...]``).
        rng: Generator for random faults.
        realtime: Advance the plants with the wall clock (else only :meth:`advance`).
        robot_id: Stem of the calibration files.
    """

    def __init__(
        self,
        robot: RobotSpec,
        *,
        follower_plant: Any = None,
        faults: BusFaults | None = None,
        rng: np.random.Generator | None = None,
        realtime: bool = True,
        robot_id: str = "aloha",
    ) -> None:
        self.robot, self.robot_id = robot, robot_id
        self.faults, self.rng, self.realtime = faults, rng, realtime
        self.follower_plant = follower_plant
        self.emulators: dict[tuple[str, str], DynamixelEmulator] = {}
        self.calibration_dir: Path | None = None
        self.shared: SharedPlant | None = None

    @property
    def ports(self) -> dict[tuple[str, str], str]:
        """(kind, arm) -> pty path."""
        return {key: emu.port for key, emu in self.emulators.items()}

    def calibration_folder(self, kind: str) -> Path:
        """The folder holding ``<robot_id>_<arm>.json`` of this kind of arm."""
        assert self.calibration_dir is not None, "start() the station first"
        return self.calibration_dir / kind

    def start(self) -> AlohaStation:
        """Create the emulators, write the calibration files, start serving."""
        if self.emulators:
            return self
        home = np.asarray(self.robot.home_rad, float)
        plant = self.follower_plant
        if plant is None:
            plant = FirstOrderPlant(len(home), initial_rad=home)
        self.shared = SharedPlant(plant)
        self.calibration_dir = Path(tempfile.mkdtemp(prefix="aloha-calibration-"))
        names = list(self.robot.joint_names)
        for kind in KINDS:
            mounting: dict[str, int] = {}
            reversed_motors: set[str] = set()
            for arm in ARMS:
                motors = arm_motors(kind, arm)
                offsets = {
                    n: _MOUNTING[i] * (1 if kind == "follower" else -1)
                    for i, n in enumerate(motors)
                }
                mounting.update(offsets)
                reversed_motors |= {n for n, r in drive_modes(kind, arm).items() if r}
                if kind == "follower":
                    view: Any = self.shared.view([names.index(n) for n in motors])
                else:
                    view = FirstOrderPlant(len(motors), initial_rad=home[: len(motors)])
                emulator = DynamixelEmulator(
                    motors,
                    shadows={n: (s.motor.id, s.primary) for n, s in arm_shadows(kind, arm).items()},
                    scales=_scales(kind, arm),
                    plant=view,
                    faults=self.faults,
                    mounting_offsets_ticks=offsets,
                    rng=self.rng,
                    realtime=self.realtime,
                )
                self.emulators[(kind, arm)] = emulator
            calibration = factory_calibration(
                self.robot, mounting, frozenset(reversed_motors), gripper_ticks(kind)
            )
            for arm in ARMS:
                save_arm_calibration(
                    kind,
                    self.robot_id,
                    arm,
                    {n: c for n, c in calibration.items() if n.startswith(f"{arm}_")},
                    self.calibration_folder(kind),
                )
        for emulator in self.emulators.values():
            emulator.start()
        return self

    def advance(self, dt_s: float) -> None:
        """Advance every bus's plant by ``dt_s`` (the clock when ``realtime=False``)."""
        for emulator in self.emulators.values():
            emulator.advance(dt_s)

    def torque_enabled(self) -> dict[tuple[str, str], bool]:
        """(kind, arm) -> whether any servo of that arm (shadows included) has torque on."""
        return {
            key: any(s.torque_enabled for s in emu.all_servos)
            for key, emu in self.emulators.items()
        }

    def stop(self) -> None:
        """Stop every emulator and delete the calibration files."""
        for emulator in self.emulators.values():
            emulator.stop()
        self.emulators.clear()
        if self.calibration_dir is not None:
            shutil.rmtree(self.calibration_dir, ignore_errors=True)
            self.calibration_dir = None

    def __enter__(self) -> AlohaStation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmulatedAlohaHardware(AlohaHardware):
    """The real ALOHA backend over an emulated station, started at ``connect()``.

    Args:
        robot: The ALOHA spec.
        config: Backend settings; ``ports`` and ``calibration_dir`` are replaced by the
            station's at connect (pass placeholders).
        camera_devices: Camera name -> ``"twin"`` (render the task's scene) or a device.
        fps, image_size: As :class:`AlohaHardware`.
        faults: Bus faults in force from the start (every bus).
        rng: Generator for random faults.
        task: The task whose props the scene holds.
        lockstep: Advance the twin one control period per ``command()``.
    """

    def __init__(
        self,
        robot: RobotSpec,
        config: AlohaHardwareConfig,
        *,
        camera_devices: Mapping[str, Any] | None = None,
        fps: int = 50,
        image_size: tuple[int, int] = (480, 640),
        faults: BusFaults | None = None,
        rng: np.random.Generator | None = None,
        task: Task | None = None,
        lockstep: bool = False,
    ) -> None:
        super().__init__(robot, config, fps=fps, image_size=image_size)
        self.camera_devices = dict(camera_devices or {})
        self.task = task if task is not None else Task()
        self.lockstep = bool(lockstep)
        self.faults, self.rng = faults, rng
        self.scene: Any = None
        self.station: AlohaStation | None = None

    @property
    def world(self) -> Any:
        """The twin scene's world (props), as the MuJoCo backend's."""
        return None if self.scene is None else self.scene.world

    def connect(self) -> None:
        """Build the scene, start the station, then connect to its followers as to real ones."""
        if self.is_connected:
            return
        self._release_lost_buses()
        if self.station is None:
            from lerobot_gym.robots.so101.emulated import TwinScene
            from lerobot_gym.sim.scene import Scene

            scene = Scene(self.robot, self.task, image_size=self.image_size).build(self.fps)
            # At the home pose with the mirrored fingers where their equalities hold them (the
            # scene's reset), props where a reset would put them.
            rest = self.task.sample_reset(self.robot, np.random.default_rng(0))
            scene.reset(np.asarray(self.robot.home_rad, float), rest.world_init)
            self.scene = scene
            plant = MujocoPlant(
                model=scene.model,
                data=scene.data,
                joint_names=self.robot.joint_names,
                lock=scene.lock,
            )
            self.station = AlohaStation(
                self.robot,
                follower_plant=plant,
                faults=self.faults,
                rng=self.rng,
                realtime=not self.lockstep,
                robot_id=self.config.robot_id,
            ).start()
            self._twin = TwinScene(scene, *self.image_size)
        try:
            ports = self.station.ports
            self.config = dataclasses.replace(
                self.config,
                ports={arm: ports[("follower", arm)] for arm in ARMS},
                calibration_dir=self.station.calibration_folder("follower"),
            )
            cameras: dict[str, FrameSource] = {}
            for name, device in self.camera_devices.items():
                if isinstance(device, str) and device == "twin":
                    cameras[name] = self._twin.camera(self.robot.camera(name).mjcf_camera)
                else:
                    cameras[name] = make_camera(name, device, self.image_size, self.fps)
            self.cameras = cameras
            super().connect()
        except BaseException:
            self._stop()
            raise

    def reset(self, joint_positions_rad: np.ndarray, world_init: Any | None = None) -> None:
        """Move the arms as on hardware, then place the task's props in the scene."""
        super().reset(joint_positions_rad)
        if self.scene is not None:
            self.scene.place(world_init)

    def command(self, joint_targets_rad: np.ndarray) -> None:
        """Write the goals; in lockstep, then advance the station one control period."""
        super().command(joint_targets_rad)
        if self.lockstep and self.station is not None:
            self._read_positions()  # one round trip: the servos hold the new goals
            self.station.advance(1.0 / self.fps)

    def close(self) -> None:
        """Let go of the arms (torque off), then stop the station."""
        try:
            super().close()
        finally:
            self._stop()

    def _stop(self) -> None:
        if self.station is not None:
            self.station.stop()
            self.station = None
        if self.scene is not None:
            self.scene.close()
            self.scene = None
