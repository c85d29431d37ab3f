"""The MuJoCo backend: the twin as a Backend.

Decisions:

- The scene is assembled with ``mujoco.MjSpec``: the robot's ``scene.xml`` (or a user's
  ``model_path``, e.g. a model with the official meshes) plus the task's props, compiled once at
  ``connect()``.
- One ``command()`` advances exactly one control period, ``1 / fps`` seconds, in a single
  ``mj_step(nstep=substeps)`` call: substeps are the fewest that keep the model's timestep (the
  timestep is shortened to make them add up when ``fps`` does not divide it).
- Only the requested cameras are rendered, at the requested size, into an offscreen buffer of
  exactly that size, with shadows, reflections and multisampling off by default (software
  rendering spends most of its time on them: 128x128 took 24 ms with a 1280x720 4x-MSAA buffer,
  10 ms without, on a loaded 2-core machine); all can be turned back on.
- Rendering is offscreen. ``lerobot_gym`` sets ``MUJOCO_GL=egl`` before mujoco is imported
  when the user has not chosen a GL backend and there is no display.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.errors import ConfigError, NotConnectedError
from lerobot_gym.sim.rendering import make_renderer
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
    ) -> None:
        self.robot, self.task = robot, task
        self.fps = int(fps)
        self.image_size = tuple(image_size)
        self.shadows, self.reflections = bool(shadows), bool(reflections)
        self.render_samples = int(render_samples)
        path = Path(model_path) if model_path is not None else robot.scene_xml
        if path is None or not Path(path).is_file():
            raise ConfigError(f"twin scene {path} not found; pass model_path= to a scene XML file")
        self.scene_path = Path(path)
        self.model: mujoco.MjModel | None = None
        self.data: mujoco.MjData | None = None
        self._world: MujocoWorld | None = None
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}

    # -- Backend protocol -------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self.model is not None

    @property
    def world(self) -> MujocoWorld | None:
        return self._world

    def connect(self) -> None:
        """Compile the scene with the task's props."""
        spec = mujoco.MjSpec.from_file(str(self.scene_path))
        self.task.build_scene(spec, self.robot)
        # Software GL pays for every pixel of the offscreen buffer and every MSAA sample on every
        # render: size the buffer to the images we render and multisample only when asked.
        spec.visual.global_.offheight = self.image_size[0]
        spec.visual.global_.offwidth = self.image_size[1]
        spec.visual.quality.offsamples = self.render_samples
        model = spec.compile()
        names = self.robot.joint_names
        mjcf_joints = [j.mjcf_joint_name for j in self.robot.joints]
        try:
            self._qpos_adr = np.array([model.joint(n).qposadr[0] for n in mjcf_joints])
            self._dof_adr = np.array([model.joint(n).dofadr[0] for n in mjcf_joints])
            self._actuators = np.array([model.actuator(n).id for n in names])
        except KeyError as exc:
            raise ConfigError(
                f"scene {self.scene_path} lacks a joint or actuator named as the spec's joints "
                f"{list(names)}: {exc}"
            ) from None
        # Whole substeps of at most the model's timestep, the timestep then shortened so they
        # add up to exactly one control period (30 fps: 16 x 1/480 s as written; 50 fps: 10 x
        # 1/500 s), so the sim's clock and the env's fps never drift apart.
        self.substeps = max(1, math.ceil(1.0 / (self.fps * model.opt.timestep) - 1e-9))
        model.opt.timestep = 1.0 / (self.fps * self.substeps)
        # Reads happen every step: use plain slices when the arm's coordinates are contiguous.
        self._qpos_index = _as_slice(self._qpos_adr)
        self._dof_index = _as_slice(self._dof_adr)
        self._ctrl_index = _as_slice(self._actuators)
        self.model, self.data = model, mujoco.MjData(model)
        self._world = MujocoWorld(model, self.data)

    def reset(self, joint_positions_rad: np.ndarray, world_init: dict[str, Any] | None = None):
        """Teleport the arm to a pose (at rest, targets equal to the pose) and place props."""
        model, data = self._require()
        mujoco.mj_resetData(model, data)
        data.qpos[self._qpos_adr] = joint_positions_rad
        data.ctrl[self._actuators] = joint_positions_rad
        _follow_joint_couplings(model, data)
        for name, placement in (world_init or {}).items():
            assert self._world is not None  # loaded with the model
            self._world.place(name, placement)
        mujoco.mj_forward(model, data)

    def command(self, joint_targets_rad: np.ndarray) -> None:
        """Set position targets and simulate one control period."""
        model, data = self.model, self.data
        if data is None:
            raise NotConnectedError("the simulation is not built yet; call env.reset() first")
        data.ctrl[self._ctrl_index] = joint_targets_rad
        mujoco.mj_step(model, data, nstep=self.substeps)

    def read(self, cameras: tuple[str, ...] = ()) -> RobotState:
        """Joint positions and velocities, plus images of the requested cameras."""
        data = self.data
        if data is None:
            raise NotConnectedError("the simulation is not built yet; call env.reset() first")
        images = {name: self.render(name, *self.image_size) for name in cameras}
        return RobotState(
            joint_positions_rad=data.qpos[self._qpos_index].copy(),
            joint_velocities_rad_s=data.qvel[self._dof_index].copy(),
            images=images,
            timestamp_s=time.monotonic(),
            extras={"sim_time_s": float(data.time)},
        )

    def render(self, camera: str, height: int, width: int) -> np.ndarray:
        """Render one camera offscreen (HxWx3 uint8)."""
        _, data = self._require()
        renderer = self._renderer(height, width)
        renderer.update_scene(data, camera=self.robot.camera(camera).mjcf_camera)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = self.shadows
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = self.reflections
        return renderer.render()

    def fail_safe(self) -> None:
        """Nothing to make safe in simulation."""

    def close(self) -> None:
        """Free the renderers and the physics."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
        self.model = self.data = self._world = None

    # -- helpers ----------------------------------------------------------------------------
    def _require(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        if self.model is None or self.data is None:
            raise NotConnectedError("the simulation is not built yet; call env.reset() first")
        return self.model, self.data

    def _renderer(self, height: int, width: int) -> mujoco.Renderer:
        key = (int(height), int(width))
        if key not in self._renderers:
            model, _ = self._require()
            if height > model.vis.global_.offheight or width > model.vis.global_.offwidth:
                raise ConfigError(
                    f"render size {key} exceeds the offscreen buffer "
                    f"({model.vis.global_.offheight}, {model.vis.global_.offwidth}); "
                    "pass image_size= at gym.make"
                )
            self._renderers[key] = make_renderer(model, key[0], key[1])
        return self._renderers[key]


def _follow_joint_couplings(model: mujoco.MjModel, data: mujoco.MjData) -> None:
    """Put joints driven by a joint equality where it holds them (e.g. a mirrored finger).

    The spec sets only the driving joint; without this a coupled joint would start at its
    ``qpos0`` (possibly outside its range) and be yanked across during the first steps.
    """
    for eq in range(model.neq):
        if model.eq_type[eq] != mujoco.mjtEq.mjEQ_JOINT or model.eq_obj2id[eq] < 0:
            continue
        follower = model.jnt_qposadr[model.eq_obj1id[eq]]
        driver = model.jnt_qposadr[model.eq_obj2id[eq]]
        x = data.qpos[driver] - model.qpos0[driver]
        coef = model.eq_data[eq, :5]
        data.qpos[follower] = model.qpos0[follower] + sum(c * x**k for k, c in enumerate(coef))


def _as_slice(index: np.ndarray) -> slice | np.ndarray:
    """A slice equal to a run of consecutive indices (cheaper to index with), else the array."""
    if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        return slice(int(index[0]), int(index[0]) + len(index))
    return index
