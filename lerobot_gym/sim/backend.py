"""The MuJoCo backend: the twin as a Backend.

Decisions:

- The physics is a :class:`~lerobot_gym.sim.scene.Scene` (robot + task props + cameras,
  compiled once with ``mujoco.MjSpec`` at ``connect()``), the same object the emulators' twin
  moves, so every backend that simulates sees the same scene.
- One ``command()`` advances exactly one control period, ``1 / fps`` seconds, in a single
  ``mj_step(nstep=substeps)`` call (the scene fits its timestep to ``fps``).
- Only the requested cameras are rendered, at the requested size, all of a step's cameras in one
  pass (:class:`~lerobot_gym.sim.tiled.TiledRenderer`: one buffer holding them as tiles), with
  shadows, reflections and multisampling off by default (software rendering spends most of its
  time on them: 128x128 took 24 ms with a 1280x720 4x-MSAA buffer, 10 ms without, on a loaded
  2-core machine); all can be turned back on.
- ``actuator="servo"`` drives the arm through :class:`~lerobot_gym.sim.servo.ServoModel` (the
  STS3215 position loop, delay and quantisation, from the robot's twin parameters); the default
  ``"ideal"`` keeps the stiff actuators of the twin's MJCF.
- ``knobs=`` (:mod:`lerobot_gym.sim.knobs`) add latency, reading noise and domain
  randomisation, drawn in :meth:`MujocoBackend.randomize` from the env's ``np_random`` before
  every reset: the scene-side knobs act on the :class:`~lerobot_gym.sim.scene.Scene`, latency
  and noise here (:mod:`lerobot_gym.sim.latency`). Without knobs every path is as before.
- Rendering is offscreen. ``lerobot_gym`` sets ``MUJOCO_GL=egl`` before mujoco is imported
  when the user has not chosen a GL backend and there is no display.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.errors import NotConnectedError
from lerobot_gym.sim.knobs import TwinKnobs, knob_streams
from lerobot_gym.sim.latency import CommandDelay, SignalKnobs
from lerobot_gym.sim.scene import Scene
from lerobot_gym.sim.servo import ServoModel
from lerobot_gym.sim.tiled_threads import RenderWorkers
from lerobot_gym.sim.twin_params import TwinParams
from lerobot_gym.sim.world import MujocoWorld


class MujocoBackend:
    """Simulates a robot spec's twin, with a task's props.

    Args:
        robot: the robot; its ``scene_xml`` is loaded unless ``model_path`` is given.
        task: the task whose props are added to the scene.
        fps: control rate.
        image_size: (height, width) of observed images.
        shadows: render shadows.
        reflections: render reflections.
        model_path: an alternative scene file with the same joint, actuator and camera names.
        render_samples: multisample anti-aliasing samples (0: off, as a camera delivers).
        twin_params: with these, the arm is driven by the servo model (module docstring);
            None: the ideal actuators.
        render_workers: threads drawing a step's cameras (``"auto"``, the default: two for
            three or more cameras on a machine with two cores, else one; 1: one pass through
            one buffer). The images are the same.
        knobs: latency, noise and domain randomisation (None: off).
    """

    #: The same seed and actions give the same trajectory.
    deterministic = True

    def __init__(
        self,
        robot: RobotSpec,
        task: Task,
        *,
        fps: int = 30,
        image_size: tuple[int, int] = (480, 640),
        shadows: bool = False,
        reflections: bool = False,
        model_path: str | Path | None = None,
        render_samples: int = 0,
        twin_params: TwinParams | None = None,
        render_workers: RenderWorkers = "auto",
        knobs: TwinKnobs | None = None,
    ) -> None:
        self.robot, self.task = robot, task
        self.fps = int(fps)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.scene = Scene(
            robot,
            task,
            image_size=self.image_size,
            render_samples=render_samples,
            shadows=shadows,
            reflections=reflections,
            model_path=model_path,
            render_workers=render_workers,
            knobs=knobs,
            shared=False,  # stepped, read and queried by the env's thread alone
        )
        self.knobs = knobs if knobs is not None and knobs.any else None
        self.signals = SignalKnobs(self.knobs) if self.knobs is not None else None
        self._command_delay = CommandDelay()
        #: What the last :meth:`randomize` drew, knob -> values.
        self.variation: dict[str, Any] = {}
        self.scene_path = self.scene.path
        self.servo = None if twin_params is None else ServoModel(twin_params, robot)
        self._mjcf_cameras: dict[tuple[str, ...], tuple[str, ...]] = {}

    @property
    def model(self) -> mujoco.MjModel | None:
        """The compiled scene (None before ``connect()``)."""
        return self.scene.model

    @property
    def data(self) -> mujoco.MjData | None:
        """The scene's state (None before ``connect()``)."""
        return self.scene.data

    @property
    def substeps(self) -> int:
        """Physics steps per control period."""
        return self.scene.substeps

    # -- Backend protocol -------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self.scene.is_built

    @property
    def world(self) -> MujocoWorld | None:
        return self.scene.world

    def connect(self) -> None:
        """Compile the scene with the task's props."""
        self.scene.build(self.fps)
        if self.servo is not None:
            self.servo.attach(self.scene.model, self.scene.actuators, self.scene.qpos_adr)
            self.scene.record_nominal()  # the servo's gains are the nominal ones

    def randomize(self, rng: np.random.Generator) -> None:
        """Draw this episode's knobs from the env's ``np_random`` (called before ``reset``).

        Without knobs nothing is drawn and ``rng`` is left as it was.
        """
        if self.knobs is None or self.signals is None:
            return
        model, _ = self.scene.require()
        streams = knob_streams(rng)
        drawn = self.scene.randomize(streams)
        drawn = {**drawn, **self.signals.draw(streams, float(model.opt.timestep))}
        self._command_delay.delay_substeps = self.signals.action_delay_substeps
        if self.servo is not None:
            self.servo.extra_delay_substeps = self.signals.action_delay_substeps
        self.variation = drawn

    def reset(
        self, joint_positions_rad: np.ndarray, world_init: dict[str, Any] | None = None
    ) -> None:
        """Teleport the arm to a pose (at rest, targets equal to the pose) and place props."""
        if self.servo is not None:  # the pose is a reading: the twin's joints sit offset
            joint_positions_rad = self.servo.to_twin(joint_positions_rad)
            self.servo.reset(joint_positions_rad)
        self._command_delay.reset()
        self.scene.reset(joint_positions_rad, world_init)

    def command(self, joint_targets_rad: np.ndarray) -> None:
        """Set position targets and simulate one control period."""
        scene = self.scene
        data = scene.data
        if data is None:
            raise NotConnectedError("the simulation is not built yet; call env.reset() first")
        if self.servo is not None:
            self.servo.step(scene.model, data, joint_targets_rad, scene.substeps)
            return
        if self._command_delay.delay_substeps:
            self._command_delay.step(
                scene.model, data, scene.ctrl_index, joint_targets_rad, scene.substeps
            )
            return
        scene.ctrl_view[scene.ctrl_index] = joint_targets_rad
        mujoco.mj_step(scene.model, data, nstep=scene.substeps)

    def read(self, cameras: tuple[str, ...] = ()) -> RobotState:
        """Joint positions and velocities, plus images of the requested cameras."""
        scene = self.scene
        data = scene.data
        if data is None:
            raise NotConnectedError("the simulation is not built yet; call env.reset() first")
        arm = scene.arm_views
        if arm is not None and not cameras and self.servo is None and self.signals is None:
            # The state-only twin's per-step path: two copies.
            return RobotState(
                arm[0].copy(), arm[1].copy(), {}, time.monotonic(), {"sim_time_s": data.time}
            )
        images = {}
        if cameras:
            mjcf = self._mjcf_cameras.get(cameras)
            if mjcf is None:
                mjcf = tuple(self.robot.camera(name).mjcf_camera for name in cameras)
                self._mjcf_cameras[cameras] = mjcf
            views = scene.render_views(mjcf, *self.image_size)
            images = dict(zip(cameras, views, strict=True))
        if arm is None:
            q, qd = scene.qpos_view[scene.qpos_index], scene.qvel_view[scene.dof_index]
        else:
            q, qd = arm
        state = RobotState(
            joint_positions_rad=q.copy() if self.servo is None else self.servo.reading(q),
            joint_velocities_rad_s=qd.copy(),
            images=images,
            timestamp_s=time.monotonic(),
            extras={"sim_time_s": float(data.time)},
        )
        return state if self.signals is None else self.signals.observe(state)

    def render(self, camera: str, height: int, width: int) -> np.ndarray:
        """Render one camera offscreen (HxWx3 uint8)."""
        return self.scene.render(self.robot.camera(camera).mjcf_camera, height, width)

    def fail_safe(self) -> None:
        """Nothing to make safe in simulation."""

    def close(self) -> None:
        """Free the renderers and the physics."""
        self.scene.close()
