"""Emulated SO-101 arms: the real driver code over a virtual servo bus.

This module owns what ``backend="emulated"`` (and tests of the leader arm) need around
:class:`~lerobot_gym.hardware.emulator.FeetechEmulator`:

* :class:`EmulatedSO101`: an emulated follower or leader, i.e. a ``FeetechEmulator`` on a pty
  whose joints are moved by a plant (the MuJoCo twin by default), plus a calibration file for
  it in a temporary calibration folder; started and stopped explicitly (or with ``with``).
* :func:`factory_calibration`: the calibration an operator would record on that arm, held at
  the twin's zero pose (mid-range read 2047, ranges at the spec's joint limits, the wrist roll
  over the full turn as LeRobot sets it).
* :class:`TwinScene` / :class:`TwinCamera`: cameras that render the task's
  :class:`~lerobot_gym.sim.scene.Scene` with the emulated arm where it *actually* is, so the
  images of an emulated arm show the arm and the task's props.
* :class:`EmulatedSO101Hardware`: :class:`~lerobot_gym.robots.so101.hardware.SO101Hardware`
  that starts an :class:`EmulatedSO101` in ``connect()`` and stops it in ``close()``; nothing
  happens at construction, so ``gym.make(..., backend="emulated")`` does no I/O.

Design decisions:
    * The servos of a fresh emulator hold the factory registers (no homing offset, limits
      0..4095), so the backend's "servos disagree with the file: write it" path runs on every
      connect, as on a new arm.
    * The emulated arm starts at the spec's home pose (at rest, torque off), so the first reset
      is a short bounded-speed move.
    * With the MuJoCo plant, the emulator's twin *is* the task's scene (robot + props +
      cameras, one :class:`~lerobot_gym.sim.scene.Scene`, as the MuJoCo backend simulates):
      the arm touches the cube the task placed, the cameras render it, and the task's facts
      and reward come from ``backend.world``. The emulator thread steps that scene under the
      scene's lock, which renders and world queries also take. With the numpy plant the scene
      only renders, posed at the emulator's joint positions, and there is no world.
    * ``lockstep=True`` replaces the wall clock by the env's: every ``command()`` waits until
      the servos hold the new goals, then advances the plant by exactly one control period, so
      the same actions give the twin's trajectory up to the bus's tick quantisation.
    * The emulated leader gets different mounting offsets from the follower, so a test that
      passes leader readings to the follower proves both calibrations are applied.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.assets.so101 import SCENE_XML
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.errors import ConfigError
from lerobot_gym.hardware.camera_devices import FrameSource, make_camera
from lerobot_gym.hardware.emulator import (
    DEFAULT_MOUNTING_OFFSETS_TICKS,
    BusFaults,
    FeetechEmulator,
    FirstOrderPlant,
    MujocoPlant,
    ServoPlant,
)
from lerobot_gym.hardware.emulator.servo import TICKS_PER_RAD
from lerobot_gym.robots.so101.calibration import (
    FULL_TURN_MOTORS,
    HALF_TURN_TICK,
    MotorCalibration,
    calibration_path,
    save_calibration,
)
from lerobot_gym.robots.so101.hardware import SO101Hardware, SO101HardwareConfig
from lerobot_gym.robots.so101.motors import STS3215_MAX_TICK, so101_motors
from lerobot_gym.robots.so101.spec import so101_spec

__all__ = [
    "EmulatedSO101",
    "EmulatedSO101Hardware",
    "TwinCamera",
    "TwinScene",
    "factory_calibration",
]

_LEADER_OFFSETS = tuple(-v for v in DEFAULT_MOUNTING_OFFSETS_TICKS)


def factory_calibration(
    robot: RobotSpec, mounting_offsets_ticks: Mapping[str, int]
) -> dict[str, MotorCalibration]:
    """The calibration of an emulated arm as if recorded at its zero pose, over its limits.

    ``Homing_Offset`` makes joint angle 0 read 2047 (the emulator's encoder reads
    ``2048 + offset`` there); each range spans the spec's joint limits, so LeRobot degrees equal
    the twin's joint degrees (to LeRobot's 4095/4096 scale) and the gripper's 0..100 equals the
    spec's percent; the wrist roll gets the full turn 0..4095, as LeRobot's calibration gives it.
    """
    motors = so101_motors()
    out: dict[str, MotorCalibration] = {}
    for joint in robot.joints:
        if joint.name in FULL_TURN_MOTORS:
            low, high = 0, STS3215_MAX_TICK
        else:
            low = HALF_TURN_TICK + round(joint.lower_rad * TICKS_PER_RAD)
            high = HALF_TURN_TICK + round(joint.upper_rad * TICKS_PER_RAD)
        out[joint.name] = MotorCalibration(
            id=motors[joint.name].id,
            drive_mode=0,
            homing_offset=int(mounting_offsets_ticks[joint.name]) + 2048 - HALF_TURN_TICK,
            range_min=low,
            range_max=high,
        )
    return out


class EmulatedSO101:
    """An emulated SO-101 follower or leader: a servo-bus emulator and its calibration file.

    Args:
        kind: ``"follower"`` or ``"leader"`` (where the calibration file goes).
        arm_id: The arm's id, the calibration file's stem (default: ``kind``).
        robot: The spec (default: the SO-101).
        plant: ``"mujoco"`` (the twin), ``"first_order"`` (pure numpy, fast) or a
            :class:`~lerobot_gym.hardware.emulator.ServoPlant`.
        initial_rad: Start pose (default: the spec's home pose).
        faults: Initial bus faults (change them later through :attr:`emulator`).
        mounting_offsets_ticks: Per-motor encoder offsets (default: fixed, different for the
            follower and the leader).
        calibration_dir: Where to write ``<arm_id>.json`` (default: a temporary folder
            removed by :meth:`stop`).
        rng: Generator for random faults (default: seeded with 0).
        realtime: Advance the plant with the wall clock (else only ``emulator.advance`` does).

    Example:
        with EmulatedSO101("leader", plant="first_order") as arm:
            leader = SO101Leader(arm.port, calibration_dir=arm.calibration_dir)
    """

    def __init__(
        self,
        kind: str = "follower",
        *,
        arm_id: str | None = None,
        robot: RobotSpec | None = None,
        plant: str | ServoPlant = "mujoco",
        initial_rad: np.ndarray | None = None,
        faults: BusFaults | None = None,
        mounting_offsets_ticks: Mapping[str, int] | None = None,
        calibration_dir: str | Path | None = None,
        rng: np.random.Generator | None = None,
        realtime: bool = True,
    ) -> None:
        if kind not in ("follower", "leader"):
            raise ConfigError(f"kind must be 'follower' or 'leader', got {kind!r}")
        self.kind = kind
        self.arm_id = arm_id or kind
        self.robot = robot or so101_spec()
        self.plant = plant
        self.initial_rad = self.robot.home_rad if initial_rad is None else np.asarray(initial_rad)
        self.faults = faults
        names = self.robot.joint_names
        default = _LEADER_OFFSETS if kind == "leader" else DEFAULT_MOUNTING_OFFSETS_TICKS
        self.mounting_offsets_ticks = dict(
            mounting_offsets_ticks or {n: default[i % len(default)] for i, n in enumerate(names)}
        )
        self._given_dir = calibration_dir
        self.rng = rng
        self.realtime = realtime
        self.calibration = factory_calibration(self.robot, self.mounting_offsets_ticks)
        self.calibration_dir: Path | None = None
        self.emulator: FeetechEmulator | None = None
        self._tmp: str | None = None

    def _make_plant(self) -> ServoPlant:
        if not isinstance(self.plant, str):
            return self.plant
        n = len(self.robot.joints)
        if self.plant == "mujoco":
            return MujocoPlant(
                self.robot.scene_xml or SCENE_XML,
                joint_names=self.robot.joint_names,
                initial_rad=self.initial_rad,
            )
        if self.plant == "first_order":
            return FirstOrderPlant(n, initial_rad=self.initial_rad)
        raise ConfigError(
            f"plant must be 'mujoco', 'first_order' or a ServoPlant, got {self.plant!r}"
        )

    @property
    def port(self) -> str:
        """The pty the emulated bus answers on (after :meth:`start`)."""
        if self.emulator is None:
            raise ConfigError("the emulated arm is not started; call start() first")
        return self.emulator.port

    @property
    def calibration_file(self) -> Path:
        """The arm's calibration file (after :meth:`start`)."""
        if self.calibration_dir is None:
            raise ConfigError("the emulated arm is not started; call start() first")
        return calibration_path(self.kind, self.arm_id, self.calibration_dir)

    def start(self) -> EmulatedSO101:
        """Write the calibration file and start the emulator; returns ``self``."""
        if self.emulator is not None:
            return self
        if self._given_dir is None:
            self._tmp = tempfile.mkdtemp(prefix=f"lerobot_gym_{self.kind}_cal_")
            self.calibration_dir = Path(self._tmp)
        else:
            self.calibration_dir = Path(self._given_dir)
        path = calibration_path(self.kind, self.arm_id, self.calibration_dir)
        save_calibration(path, self.calibration, so101_motors())
        motors = {j.name: j.motor_id for j in self.robot.joints}
        emulator = FeetechEmulator(
            motors,
            plant=self._make_plant(),
            faults=self.faults,
            mounting_offsets_ticks=self.mounting_offsets_ticks,
            rng=self.rng,
            realtime=self.realtime,
        )
        self.emulator = emulator.start()
        return self

    def stop(self) -> None:
        """Stop the emulator and remove the temporary calibration folder."""
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> EmulatedSO101:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TwinScene:
    """The cameras' view of a :class:`~lerobot_gym.sim.scene.Scene`, rendered offscreen.

    One scene and one renderer per size serve every camera of an emulated arm (creating an
    EGL renderer costs seconds under software rendering); :meth:`camera` gives a
    :class:`TwinCamera` view per camera.

    Args:
        scene: The built scene (robot + the task's props + cameras).
        height: Frame height.
        width: Frame width.
        positions_rad: Where to pose the robot before each render, in the spec's joint order;
            None when the scene's own physics moves the robot (the MuJoCo plant).
    """

    def __init__(
        self,
        scene: Any,
        height: int,
        width: int,
        positions_rad: Callable[[], np.ndarray] | None = None,
    ) -> None:
        self.scene = scene
        self.height, self.width = int(height), int(width)
        self.positions_rad = positions_rad
        self._users = 0

    def camera(self, name: str) -> TwinCamera:
        """A frame source showing the MJCF camera ``name``."""
        return TwinCamera(self, name)

    def open(self) -> None:
        """Count a camera in (the scene is built by its owner)."""
        self._users += 1

    def close(self) -> None:
        """Count a camera out."""
        self._users = max(0, self._users - 1)

    def render(self, camera: str) -> np.ndarray:
        """Render ``camera`` with the robot where it is now."""
        import mujoco

        if self._users == 0 or not self.scene.is_built:
            raise ConfigError(f"twin camera {camera!r} is not connected")
        model = self.scene.model
        if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
            raise ConfigError(f"the twin scene {self.scene.path} has no camera {camera!r}")
        if self.positions_rad is None:
            return self.scene.render(camera, self.height, self.width)
        # Read the emulator before taking the scene's lock: one lock order everywhere.
        q_rad = self.positions_rad()
        return self.scene.render_pose(camera, self.height, self.width, q_rad)


class TwinCamera:
    """One camera of a :class:`TwinScene`, with the frame-source interface of real cameras."""

    def __init__(self, scene: TwinScene, camera: str) -> None:
        self.scene, self.camera = scene, camera
        self._connected = False

    def connect(self) -> None:
        """Open the shared scene."""
        if not self._connected:
            self.scene.open()
            self._connected = True

    def read_latest(self, max_age_s: float | None = None) -> tuple[np.ndarray, float]:
        """Render the camera at the present joint positions (always fresh)."""
        return self.scene.render(self.camera), time.monotonic()

    def disconnect(self) -> None:
        """Release the shared scene."""
        if self._connected:
            self._connected = False
            self.scene.close()


class EmulatedSO101Hardware(SO101Hardware):
    """The real SO-101 backend over an emulated bus, started at ``connect()``.

    Args:
        robot: The SO-101 spec.
        config: Backend settings; ``port`` and ``calibration_dir`` are replaced by the
            emulator's at connect (pass any placeholder, e.g. ``"emulated"``).
        camera_devices: Camera name -> ``"twin"`` (render the task's scene at the arm's pose),
            or a device or camera object as
            :func:`lerobot_gym.hardware.camera_devices.make_camera` takes.
        fps: Control rate.
        image_size: (height, width) of observed images.
        faults: Bus faults in force from the start.
        plant: The emulator's plant (``"mujoco"`` by default, see :class:`EmulatedSO101`).
        rng: Generator for random faults.
        task: The task whose props the scene holds (none: the robot alone).
        lockstep: Advance the plant one control period per ``command()`` instead of with the
            wall clock (see the module docstring).
        knobs: The twin's knobs (:class:`~lerobot_gym.sim.knobs.TwinKnobs`): the scene-side
            ones act on the shared scene (MuJoCo plant), observation latency and reading noise
            on what :meth:`read` returns; ``action_latency_ms`` is the bus's own here.
    """

    def __init__(
        self,
        robot: RobotSpec,
        config: SO101HardwareConfig,
        *,
        camera_devices: Mapping[str, Any] | None = None,
        fps: int = 30,
        image_size: tuple[int, int] = (480, 640),
        faults: BusFaults | None = None,
        plant: str | ServoPlant = "mujoco",
        rng: np.random.Generator | None = None,
        task: Task | None = None,
        lockstep: bool = False,
        knobs: Any = None,
    ) -> None:
        super().__init__(robot, config, fps=fps, image_size=image_size)
        from lerobot_gym.sim.latency import knobs_for_emulated_arm

        self.knobs, self.signals = knobs_for_emulated_arm(knobs)
        #: What the last :meth:`randomize` drew, knob -> values.
        self.variation: dict[str, Any] = {}
        self.camera_devices = dict(camera_devices or {})
        self.task = task if task is not None else Task()
        self.lockstep = bool(lockstep)
        self._plant_choice = plant
        self.scene: Any = None
        self.arm = EmulatedSO101(
            "follower",
            arm_id=config.robot_id,
            robot=robot,
            plant=plant,
            faults=faults,
            rng=rng,
            realtime=not self.lockstep,
        )

    @property
    def emulator(self) -> FeetechEmulator | None:
        """The running emulator (None before ``connect()`` and after ``close()``)."""
        return self.arm.emulator

    @property
    def world(self) -> Any:
        """The scene's world when the twin's physics moves the arm (the MuJoCo plant)."""
        if self.scene is None or self._plant_choice != "mujoco":
            return None
        return self.scene.world

    def _build_scene(self) -> Any:
        """The task's scene; with the MuJoCo plant, also the plant the emulator drives."""
        from lerobot_gym.sim.scene import Scene

        scene = Scene(self.robot, self.task, image_size=self.image_size, knobs=self.knobs)
        scene.build(self.fps)
        # Props start where a reset would put them, never inside the robot at the origin.
        rest = self.task.sample_reset(self.robot, np.random.default_rng(0))
        scene.place(rest.world_init)
        if self._plant_choice == "mujoco":
            self.arm.plant = MujocoPlant(
                model=scene.model,
                data=scene.data,
                joint_names=self.robot.joint_names,
                initial_rad=self.arm.initial_rad,
                lock=scene.lock,
            )
        return scene

    def connect(self) -> None:
        """Build the scene, start the emulated arm, then connect to it as to a real one.

        After the port was lost, this reconnects to the running emulator and its scene.
        """
        if self.is_connected:
            return
        self._release_lost_buses()  # before new cameras replace the old ones
        if self.arm.emulator is None or self.scene is None:
            self.scene = self._build_scene()
        self.arm.start()
        try:
            emulator = self.arm.emulator
            assert emulator is not None  # created by arm.start()
            self.config = dataclasses.replace(
                self.config, port=self.arm.port, calibration_dir=self.arm.calibration_dir
            )
            height, width = self.image_size
            posed_by = None if self.world is not None else emulator.actual_positions_rad
            twin = TwinScene(self.scene, height, width, posed_by)
            cameras: dict[str, FrameSource] = {}
            for name, device in self.camera_devices.items():
                if isinstance(device, str) and device == "twin":
                    cameras[name] = twin.camera(self.robot.camera(name).mjcf_camera)
                else:
                    cameras[name] = make_camera(name, device, self.image_size, self.fps)
            self.cameras = cameras
            super().connect()
        except BaseException:
            self._stop()
            raise

    def randomize(self, rng: np.random.Generator) -> None:
        """Draw this episode's knobs from the env's ``np_random`` (before ``reset``)."""
        if self.knobs is None or self.signals is None or self.scene is None:
            return
        from lerobot_gym.sim.knobs import knob_streams

        streams = knob_streams(rng)
        drawn = self.scene.randomize(streams)
        self.variation = {**drawn, **self.signals.draw(streams, 1.0 / self.fps)}

    def read(self, cameras: tuple[str, ...] = ()) -> Any:
        """The arm's state over the bus, late and noisy as the knobs say."""
        state = super().read(cameras)
        return state if self.signals is None else self.signals.observe(state)

    def reset(self, joint_positions_rad: np.ndarray, world_init: Any | None = None) -> None:
        """Move the arm as on hardware, then place the task's props in the scene."""
        super().reset(joint_positions_rad)
        if self.world is not None:
            self.scene.place(world_init)

    def command(self, joint_targets_rad: np.ndarray) -> None:
        """Write the goals; in lockstep, then advance the emulated arm one control period."""
        super().command(joint_targets_rad)
        emulator = self.arm.emulator
        if self.lockstep and emulator is not None:
            # SYNC_WRITE has no reply: one read round trip proves the servos hold the goals.
            self._read_positions()
            emulator.advance(1.0 / self.fps)

    def close(self) -> None:
        """Let go of the arm (torque off), then stop the emulator."""
        try:
            super().close()
        finally:
            self._stop()

    def _stop(self) -> None:
        self.arm.stop()
        if self.scene is not None:
            self.scene.close()
            self.scene = None
