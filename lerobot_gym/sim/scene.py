"""The scene: a robot's twin, the task's props and the cameras, compiled once from MjSpec.

One :class:`Scene` is what the MuJoCo backend simulates and what the emulators' twin moves, so
an emulated arm sees and touches what the task placed, its cameras render the props, and the
task's facts are read from the same physics (:attr:`Scene.world`).

Decisions:

- Assembled with ``mujoco.MjSpec``: the robot's ``scene.xml`` (or a user's ``model_path``, e.g.
  a model with the official meshes) plus ``task.build_scene``, compiled once by :meth:`build`.
- Rendering goes through :class:`~lerobot_gym.sim.tiled.TiledRenderer`: every camera of one
  request (a step's observed cameras) is drawn into one offscreen buffer sized to hold them as
  tiles and read back at once; one renderer is kept per (cameras, size) asked for. Multisampling
  only when asked: software GL pays for every pixel and every sample on every render.
- ``build(fps)`` shortens the model's timestep so that whole substeps add up to exactly one
  control period (30 fps: 16 x 1/480 s as written; 50 fps: 10 x 1/500 s); the sim's clock and
  the env's fps never drift apart, and an emulator advancing the plant by ``1/fps`` steps the
  same physics as the backend does.
- :attr:`lock` guards ``data`` where two threads can meet: an emulator steps the plant from its
  own thread while the env reads facts and renders. The world's queries and :meth:`render`
  take it; the backend's own per-step calls run on one thread and do not. A scene only its
  owner's thread steps (``shared=False``: the MuJoCo backend's) hands out a world whose queries
  skip the lock: taking it costs ~0.2 us a query, four queries per step of the cube tasks.
- Domain randomisation (``knobs=``, :mod:`lerobot_gym.sim.knobs`) lives here, not in a backend,
  so the emulators' twin gets it too: :meth:`randomize` restores the nominal model and redraws
  (:mod:`lerobot_gym.sim.randomize`); :meth:`place` lifts a resized object onto the table.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.errors import ConfigError, NotConnectedError
from lerobot_gym.sim.knobs import TwinKnobs
from lerobot_gym.sim.randomize import SceneRandomizer
from lerobot_gym.sim.tiled import TiledRenderer, View
from lerobot_gym.sim.tiled_threads import RenderWorkers, ThreadedTiledRenderer, tiled_renderer
from lerobot_gym.sim.world import MujocoWorld


class Scene:
    """Robot + task props + cameras as one compiled MuJoCo model (see the module docstring).

    Args:
        robot: the robot; its ``scene_xml`` is loaded unless ``model_path`` is given.
        task: the task whose props are added (``task.build_scene``).
        image_size: (height, width) of the images rendered: the model's own offscreen buffer
            (for a plain ``mujoco.Renderer``); the scene's tiled renderers size their own.
        render_samples: multisample anti-aliasing samples (0: off, as a camera delivers).
        shadows: render shadows.
        reflections: render reflections.
        model_path: an alternative scene file with the same joint, actuator and camera names.
        render_workers: threads drawing the cameras of one request (1: one pass through one
            buffer; more: :class:`~lerobot_gym.sim.tiled_threads.ThreadedTiledRenderer`, the
            cameras interleaved over the threads; ``"auto"``: two threads for three or more
            cameras when the process has two cores, see
            :func:`~lerobot_gym.sim.tiled_threads.resolve_workers`).
        knobs: domain randomisation (its scene-side knobs), drawn by :meth:`randomize`.
        shared: another thread may step ``data`` (an emulator's plant), so the world's
            queries take :attr:`lock`; False: only the owner's thread touches it.
    """

    def __init__(
        self,
        robot: RobotSpec,
        task: Task,
        *,
        image_size: tuple[int, int] = (480, 640),
        render_samples: int = 0,
        shadows: bool = False,
        reflections: bool = False,
        model_path: str | Path | None = None,
        render_workers: RenderWorkers = 1,
        knobs: TwinKnobs | None = None,
        shared: bool = True,
    ) -> None:
        self.robot, self.task = robot, task
        self.render_workers: RenderWorkers = (
            render_workers if render_workers == "auto" else int(render_workers)
        )
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.render_samples = int(render_samples)
        self.shadows, self.reflections = bool(shadows), bool(reflections)
        path = Path(model_path) if model_path is not None else robot.scene_xml
        if path is None or not Path(path).is_file():
            raise ConfigError(f"twin scene {path} not found; pass model_path= to a scene XML file")
        self.path = Path(path)
        self.lock = threading.RLock()
        self.shared = bool(shared)
        self.model: mujoco.MjModel | None = None
        self.data: mujoco.MjData | None = None
        self.world: MujocoWorld | None = None
        self.substeps = 1
        self._renderers: dict[
            tuple[tuple[str, ...], int, int], TiledRenderer | ThreadedTiledRenderer
        ] = {}
        self.randomizer = (
            SceneRandomizer(knobs) if knobs is not None and knobs.scene_knobs_on else None
        )
        #: What the last :meth:`randomize` drew, knob -> values (empty without knobs).
        self.variation: dict[str, Any] = {}

    @property
    def is_built(self) -> bool:
        """Whether :meth:`build` has run and :meth:`close` has not."""
        return self.model is not None

    def build(self, fps: int | None = None) -> Scene:
        """Compile the scene with the task's props; with ``fps``, fit the timestep to it."""
        spec = mujoco.MjSpec.from_file(str(self.path))
        self.task.build_scene(spec, self.robot)
        if self.randomizer is not None:
            self.randomizer.prepare_spec(spec)
        spec.visual.global_.offheight = self.image_size[0]
        spec.visual.global_.offwidth = self.image_size[1]
        spec.visual.quality.offsamples = self.render_samples
        model = spec.compile()
        names = self.robot.joint_names
        try:
            self.qpos_adr = np.array([model.joint(n).qposadr[0] for n in names])
            self.dof_adr = np.array([model.joint(n).dofadr[0] for n in names])
            self.actuators = np.array([model.actuator(n).id for n in names])
        except KeyError as exc:
            raise ConfigError(
                f"scene {self.path} lacks a joint or actuator named as the spec's joints "
                f"{list(names)}: {exc}"
            ) from None
        if fps is not None:
            self.substeps = max(1, math.ceil(1.0 / (fps * model.opt.timestep) - 1e-9))
            model.opt.timestep = 1.0 / (fps * self.substeps)
        # Reads happen every step: plain slices when the arm's coordinates are contiguous.
        self.qpos_index = _as_slice(self.qpos_adr)
        self.dof_index = _as_slice(self.dof_adr)
        self.ctrl_index = _as_slice(self.actuators)
        self.model, self.data = model, mujoco.MjData(model)
        # Views of the data's arrays for the per-step reads and writes: `data.qpos` builds a new
        # numpy view on every access, these stay valid as long as `data` lives.
        self.qpos_view, self.qvel_view = self.data.qpos, self.data.qvel
        self.ctrl_view = self.data.ctrl
        # The arm's own coordinates as views too, when they are a slice (a fancy index copies).
        self.arm_views: tuple[np.ndarray, np.ndarray] | None = None  # (qpos, qvel)
        if isinstance(self.qpos_index, slice) and isinstance(self.dof_index, slice):
            self.arm_views = (self.qpos_view[self.qpos_index], self.qvel_view[self.dof_index])
        self.world = MujocoWorld(model, self.data, lock=self.lock if self.shared else None)
        self.record_nominal()
        return self

    def record_nominal(self) -> None:
        """Take the model as it is now as the nominal one randomisation restores.

        :meth:`build` calls it; call it again after changing the model for good (the servo
        model sets the actuators' gains after compiling).
        """
        if self.randomizer is not None and self.model is not None:
            with self.lock:
                self.randomizer.record_nominal(self.model)

    def randomize(self, streams: dict[str, np.random.Generator]) -> dict[str, Any]:
        """Restore the nominal model and draw the scene knobs anew (before :meth:`reset`).

        ``streams`` are the knobs' generators (:func:`lerobot_gym.sim.knobs.knob_streams`).
        """
        model, _ = self.require()
        if self.randomizer is None:
            return {}
        with self.lock:
            self.variation = self.randomizer.apply(
                model, streams, dof_adr=self.dof_adr, actuators=self.actuators
            )
            self.randomizer.upload_textures(model, self._renderers.values())
        return self.variation

    def require(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        """The compiled model and its data; a typed error before :meth:`build`."""
        if self.model is None or self.data is None:
            raise NotConnectedError("the simulation is not built yet; call env.reset() first")
        return self.model, self.data

    def reset(
        self,
        joint_positions_rad: np.ndarray,
        world_init: dict[str, Any] | None,
        *,
        forward: bool = True,
    ) -> None:
        """Everything at rest: the robot at a pose (targets equal to it), props placed.

        ``forward=False`` sets the state alone (``mjSTATE_INTEGRATION``: nothing of it comes
        from the forward pass) and leaves the derived fields stale: for a caller that copies
        the state out and runs the forward pass itself (the batched vector env's resets).
        """
        model, data = self.require()
        with self.lock:
            mujoco.mj_resetData(model, data)
            data.qpos[self.qpos_adr] = joint_positions_rad
            data.ctrl[self.actuators] = joint_positions_rad
            _follow_joint_couplings(model, data)
            self.place(world_init, forward=False)
            if forward:
                mujoco.mj_forward(model, data)

    def place(self, world_init: dict[str, Any] | None, *, forward: bool = True) -> None:
        """Place the task's props (name -> placement, see ``MujocoWorld.place``), at rest."""
        model, data = self.require()
        assert self.world is not None  # built with the model
        with self.lock:
            for name, placement in (world_init or {}).items():
                lift = self.randomizer.lift_m(name) if self.randomizer is not None else 0.0
                if lift:
                    pos, quat = placement
                    placement = (np.asarray(pos, dtype=np.float64) + np.array([0, 0, lift]), quat)
                self.world.place(name, placement)
            if forward:
                mujoco.mj_forward(model, data)

    def render(self, camera: str, height: int, width: int) -> np.ndarray:
        """Render an MJCF camera of the present state offscreen (HxWx3 uint8)."""
        return self.render_views((camera,), height, width)[0]

    def render_views(self, cameras: tuple[str, ...], height: int, width: int) -> list[np.ndarray]:
        """Render MJCF cameras of the present state in one pass, one HxWx3 uint8 image each."""
        _, data = self.require()
        return self._renderer(cameras, height, width).render(data)

    def render_pose(self, camera: str, height: int, width: int, q_rad: np.ndarray) -> np.ndarray:
        """Render with the robot posed at ``q_rad`` (the props where they are).

        For plants that move the joints outside this scene's physics (a numpy plant).
        """
        model, data = self.require()
        with self.lock:
            data.qpos[self.qpos_adr] = q_rad
            mujoco.mj_kinematics(model, data)
            mujoco.mj_camlight(model, data)
        return self.render(camera, height, width)

    def close(self) -> None:
        """Free the renderers and the physics."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
        self.model = self.data = self.world = None

    def _renderer(
        self, cameras: tuple[str, ...], height: int, width: int
    ) -> TiledRenderer | ThreadedTiledRenderer:
        key = (cameras, int(height), int(width))
        renderer = self._renderers.get(key)
        if renderer is None:
            model, _ = self.require()
            views = [View(camera, key[1], key[2]) for camera in cameras]
            renderer = self._renderers[key] = tiled_renderer(
                model,
                views,
                workers=self.render_workers,
                # Each camera at the tile offset one pass gives it, after the camera one pass
                # leaves in the scene: the images of render_workers=1, bit for bit
                # (tiled_threads.py).
                split="interleaved",
                shadows=self.shadows,
                reflections=self.reflections,
                lock=self.lock,
            )
        return renderer


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
