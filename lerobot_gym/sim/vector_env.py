"""The batched vector env: N MuJoCo twins stepped in one call, in one process.

``lerobot_gym.make_vec(id, num_envs=N)`` and ``gym.make_vec(id, num_envs=N,
vectorization_mode="vector_entry_point")`` build a :class:`TwinVectorEnv`: a Gymnasium 1.x
``VectorEnv`` whose N sub-envs are the same twin as ``gym.make(id)`` (same spaces, safety,
rewards, termination and truncation, same episodes from the same seeds), whose physics runs in
C on a thread pool.

How a step runs (and why):

- Physics: one ``mujoco.batch.Batch`` (``persistent=True``: one ``MjData`` per twin) holds the
  N simulations; ``Batch.step(ids, nstep=substeps)`` advances the stepping twins by one control
  period on ``nthread`` threads without the GIL. mujoco.batch documents its results as
  bit-identical to a loop over one ``MjData`` per simulation, so a twin here follows the single
  env's trajectory exactly (tested). Measured on SO101-Reach (16 substeps/step): ``mj_step`` in
  Python threads does not release the GIL (2 threads = 1 thread), and ``mujoco.rollout`` takes
  and returns state vectors, leaving no per-twin ``MjData`` for the tasks' facts (site poses,
  contacts) without a copy per twin and substep; the batch keeps both.
- Actions, safety and observations are arrays over the batch: the controller checks all rows
  at once (:meth:`~lerobot_gym.core.controller.Controller.check_batch`), one
  :class:`~lerobot_gym.core.safety.SafetyFilter` clamps a ``(N, joints)`` array (per-row
  rate limits), unit conversions and the ``agent_pos`` clip are the single env's on ``(N, ...)``.
- Tasks are the single env's, unchanged: each twin has its
  :class:`~lerobot_gym.core.task.TaskContext` whose world is a
  :class:`~lerobot_gym.sim.batch_world.BatchWorld` (poses are rows of the batch's bound fields;
  contacts copy that twin's ``MjData`` out on demand), evaluated twin by twin (``evaluate``,
  ``reward``, ``is_success``, ``is_failure``, ``environment_state``) unless the task evaluates
  the whole batch at once (:meth:`Task.evaluate_batch <lerobot_gym.core.task.Task.evaluate_batch>`,
  bit-identical; Reach does): then facts, rewards and success are a few numpy calls over
  ``(N, ...)`` arrays, read from a :class:`~lerobot_gym.sim.batch_world.BatchPoses`, and the
  facts stay arrays up to the batched ``info``.
- The step's Python runs on one core while the physics uses them all, so it bounds the batch's
  speed: the usual step (every twin steps) takes :meth:`TwinVectorEnv._step_all`, whose actions
  pass the safety filter in one clamp-and-compare when none needs clamping
  (:meth:`~lerobot_gym.core.safety.SafetyFilter.apply_unchanged`), whose worlds go stale by one
  shared counter, and whose observations and info hand out arrays the env replaces rather than
  writes in place, without copies; a float32 action safety left alone is reported as itself,
  as the single env reports it. Measured: ~26 us of Python per 16-twin step of SO101-Reach
  with the physics stubbed (was ~155 us, then ~36 us; ``benchmarks/vector_env.py``).
- Resets reuse the single env's code: :func:`~lerobot_gym.core.env.draw_reset_sample` with the
  twin's own generator, then :meth:`Scene.reset <lerobot_gym.sim.scene.Scene.reset>` on the
  template scene's ``MjData``, whose integration state is copied into the twin's batch row.
- Autoreset is Gymnasium's default, next-step (``metadata["autoreset_mode"]``): the step after
  a twin terminates or truncates resets it, ignores its action, and returns its first
  observation with reward 0, ``terminated=truncated=False`` and the reset's info. Episodes are
  truncated at ``max_episode_steps`` (the id's, as ``TimeLimit`` does for ``gym.make``).
- ``info`` is batched the Gymnasium way: each key an array over the envs with a boolean
  ``_key`` mask of the envs that report it (``action_applied`` and ``safety_clamped`` only for
  twins that stepped; ``facts`` a dict batched the same way).
- Cameras: every observed camera of every twin is rendered in one pass by one
  :class:`~lerobot_gym.sim.tiled.TiledRenderer` (N x C views as tiles of one offscreen buffer,
  one ``mjv_updateScene`` + ``mjr_render`` per view, one pixel read), written straight into the
  ``(N, H, W, 3)`` observation arrays, camera-major (every twin's first camera, then every
  twin's second): a world-fixed camera's floor cull is done for the first two twins and reused
  by the rest (``TiledRenderer``'s plane cull shared along a run of views; the same pixels).
  Twin 0's tile sits at the buffer's origin and is bit-identical to the single env's image;
  other tiles may differ at a few edge pixels by float rounding of the translated viewport
  (bounded in ``tests/sim/test_tiled.py``). With ``render_workers=W`` (the single env's sim
  option; default 2 here when this process may use 2 or more CPUs) the N x C views are split
  into W contiguous camera-major shares drawn on W threads by a
  :class:`~lerobot_gym.sim.tiled_threads.ThreadedTiledRenderer` (each its own GL context; MuJoCo
  releases the GIL while drawing), so rendering uses W cores; each view is drawn at the tile it
  has in the one-thread buffer, after the camera one pass leaves in the scene
  (``TiledRenderer(draw=...)``), so the images are the same for any W, bit for bit (tested),
  and the same on every call. Why 2 by default: with software GL
  a view costs the same CPU on either thread (``benchmarks/vector_env.py``: 1.48 vs 1.51 ms
  per env step), and the second core otherwise idles while the views are drawn (a quiet
  2-core run: 1.03x AsyncVectorEnv(2) with one render thread, 1.34x with two).
- Seeds: ``reset(seed=s)`` seeds twin i with ``s + i``, as ``SyncVectorEnv`` does.

Only the twin with its ideal actuators and no knobs is batched (``backend="sim"``); the servo
model's Python position loop per substep, knobs (one model serves every twin) and hardware
backends raise a :class:`~lerobot_gym.errors.ConfigError` naming ``vectorization_mode="sync"``.

Physics (``make_vec(..., physics=...)``): ``"mujoco"`` (default) is the ``mujoco.batch.Batch``
above; ``"warp"`` is :class:`~lerobot_gym.sim.warp_physics.WarpPhysics`, MuJoCo Warp on
``device="cuda"``, ``"cpu"`` or ``"auto"`` (the ``warp`` extra; without it a
:class:`~lerobot_gym.errors.MissingPhysicsError` names ``pip install 'lerobot-gym[warp]'``).
The env uses only this surface of its physics, which both implement: ``model``, ``state``
(rows of the integration state), ``bind`` (live ``(N, ...)`` arrays of ``qpos``, ``qvel``,
``ctrl``, ``time``, ``xpos``, ``xquat``, ``site_xpos``, ``site_xmat``), ``step(ids, nstep)``,
``forward(ids)`` and ``get_data(i, data)`` (one twin's ``MjData``, for contacts and rendering);
tasks, resets and safety run on the host rows unchanged. Warp computes in float32: its twins
follow the float64 trajectories to ~1e-6 rad over 10 steps off contacts, not bit for bit, and
through contacts by ~1e-3 rad (other contact points); see that module for the precision, what
it means for safety limits and observations, and the cost (JIT compile on first use, one CPU
thread on ``"cpu"``). Tested on Warp's CPU device (``tests/sim/test_warp_physics.py``); the
CUDA path (graph-captured substeps) has the same trajectory test, which runs only where Warp
sees a GPU (skipped on this project's GPU-less machines so far).
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from lerobot_gym.core import info as info_keys
from lerobot_gym.core.controller import JointPositionController
from lerobot_gym.core.env import RobotEnv, check_reset_options, draw_reset_sample
from lerobot_gym.core.safety import SafetyFilter, clip_ufunc
from lerobot_gym.core.task import TaskContext
from lerobot_gym.errors import ConfigError
from lerobot_gym.sim.backend import MujocoBackend
from lerobot_gym.sim.batch_world import BatchPoses, BatchWorld
from lerobot_gym.sim.tiled import TiledRenderer, View
from lerobot_gym.sim.tiled_threads import (
    RenderWorkers,
    ThreadedTiledRenderer,
    resolve_workers,
    tiled_renderer,
)
from lerobot_gym.sim.vector_tasks import TwinEvaluation
from lerobot_gym.sim.warp_physics import make_physics, physics_choice

_INTEGRATION = mujoco.mjtState.mjSTATE_INTEGRATION
_F32 = np.dtype(np.float32)
_POSE_FIELDS = ("xpos", "xquat", "site_xpos", "site_xmat")


class TwinVectorEnv(TwinEvaluation, gym.vector.VectorEnv):
    """N twins of one env, stepped in one call (see the module docstring).

    Args:
        template: an unconnected single env (``make_env(...)``), whose spaces, controller,
            safety settings, task and scene every twin shares.
        num_envs: number of twins.
        max_episode_steps: truncate episodes after this many steps (None: never).
        nthread: physics threads (default: the CPUs this process may use).
        physics: ``"mujoco"`` (``mujoco.batch``) or ``"warp"`` (MuJoCo Warp, the ``warp``
            extra; :mod:`lerobot_gym.sim.warp_physics`).
        device: Warp's device, ``"auto"`` (default), ``"cpu"`` or ``"cuda"`` (warp only).
        render_workers: threads drawing the twins' camera views, or ``"auto"`` (default: the
            template's ``render_workers`` if above 1, else 2 when this process may use 2 or more
            CPUs, 1 otherwise; the images are the same for any number, bit for bit).
    """

    def __init__(
        self,
        template: RobotEnv,
        num_envs: int,
        *,
        max_episode_steps: int | None = None,
        nthread: int | None = None,
        physics: str = "mujoco",
        device: str | None = None,
        render_workers: RenderWorkers | None = None,
    ) -> None:
        self._physics = physics_choice(physics, device)
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ConfigError(f"num_envs must be a whole number >= 1, got {num_envs!r}")
        backend = template.backend
        if isinstance(backend, MujocoBackend) and backend.knobs is not None:
            # One model serves every twin of the batch: per-twin randomisation, latency and
            # noise live in the single env's backend, which the batch does not step.
            raise ConfigError(
                "the batched vector env shares one model between its twins, so knobs= "
                "(latency, noise, randomisation) need gym.make_vec(id, num_envs=N, "
                "vectorization_mode='sync', knobs=...)"
            )
        if not isinstance(backend, MujocoBackend) or backend.servo is not None:
            raise ConfigError(
                "the batched vector env steps the MuJoCo twin with its ideal actuators "
                "(backend='sim', actuator='ideal'); for other backends or actuator='servo' use "
                "gym.make_vec(id, num_envs=N, vectorization_mode='sync', ...)"
            )
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        if nthread is None:
            nthread = cores
        if render_workers is None:
            render_workers = backend.scene.render_workers
            if render_workers == "auto" or render_workers <= 1:  # many views: 2 where 2 CPUs
                render_workers = 2 if cores >= 2 else 1
        resolve_workers(render_workers, 1)  # a ConfigError for a bad setting, here
        self.render_workers: RenderWorkers = render_workers
        self.template, self.backend = template, backend
        self.robot, self.task, self.controller = template.robot, template.task, template.controller
        self.num_envs = num_envs
        self.nthread = int(nthread)
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = template.observation_space
        self.single_action_space = template.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.render_mode = template.render_mode
        self.metadata = {
            **template.metadata,
            "autoreset_mode": AutoresetMode.NEXT_STEP,
        }
        safety = template.safety
        self.safety = SafetyFilter(safety.lower_rad, safety.upper_rad, safety.max_step_rad)
        self._action_bounds = template._action_bounds
        self._state_bounds = template._state_bounds
        self._has_environment_state = template._has_environment_state
        self._obs_cameras = template._obs_cameras
        self._rngs: list[np.random.Generator | None] = [None] * num_envs
        self._batch: Any = None
        self._worlds: list[BatchWorld] = []
        self._ctxs: list[TaskContext | None] = [None] * num_envs
        self._facts: list[dict[str, Any]] = [{} for _ in range(num_envs)]
        # Set by a task that evaluates the whole batch (Task.evaluate_batch): each fact as an
        # (N, ...) array. These arrays, _success and _env_state are replaced, never written in
        # place, once handed out (info and observations share them without a copy).
        self._fact_arrays: dict[str, np.ndarray] | None = None
        self._vectorised = True  # until the task or its goals say otherwise
        self._goals: dict[str, np.ndarray] = {}
        self._all_rows = np.arange(num_envs)
        # step()'s one-pass action check applies to absolute joint targets (module docstring).
        self._fast_actions = type(template.controller) is JointPositionController
        self._actions_shape = self.action_space.shape
        self._affine = self.robot.user_affine
        self._n_fact_keys = 0  # facts of a batched evaluation (their `_key` masks in step())
        self._epoch = [0]  # bumped at every step: every world's MjData copy is then stale
        self._success = np.zeros(num_envs, dtype=bool)
        self._env_state = np.zeros((num_envs, self.task.environment_state_dim), dtype=np.float32)
        self._targets = np.zeros((num_envs, len(self.robot.joints)))
        self._elapsed = np.zeros(num_envs, dtype=np.int64)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._images: dict[str, np.ndarray] = {}
        self._renderers: dict[tuple[str, ...], TiledRenderer | ThreadedTiledRenderer] = {}
        self._started = False

    # -- physics ------------------------------------------------------------------------------
    def _build(self) -> None:
        """Compile the scene once and lay out the batch (the first reset, like ``connect``)."""
        self.backend.connect()
        scene = self.backend.scene
        model, _ = scene.require()
        self._batch = batch = make_physics(self._physics, model, self.num_envs, self.nthread)
        self._qpos, self._qvel = batch.bind("qpos"), batch.bind("qvel")
        self._ctrl, self._time = batch.bind("ctrl"), batch.bind("time")
        fields = {name: batch.bind(name) for name in _POSE_FIELDS}
        self._worlds = [BatchWorld(batch, i, fields, self._epoch) for i in range(self.num_envs)]
        self._poses = BatchPoses(model, fields)
        # Looked up once: every step uses them.
        self._substeps = scene.substeps
        self._qpos_index, self._dof_index = scene.qpos_index, scene.dof_index
        self._ctrl_index = scene.ctrl_index
        index = scene.ctrl_index
        self._ctrl_cols = (
            np.arange(index.start, index.stop) if isinstance(index, slice) else np.asarray(index)
        )

    @property
    def batch(self) -> Any:
        """The twins' physics, a ``mujoco.batch.Batch`` or a ``WarpPhysics`` (None before reset)."""
        return self._batch

    def twin_data(self, index: int) -> mujoco.MjData:
        """Twin ``index``'s whole ``MjData`` as of its last step (a copy kept by its world)."""
        if self._batch is None:
            raise gym.error.ResetNeeded("call envs.reset() before envs.twin_data()")
        return self._worlds[index].materialize()

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(
        self,
        *,
        seed: int | list[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Reset every twin (or those of ``options["reset_mask"]``); seeds as ``SyncVectorEnv``.

        ``options={"joint_positions": [...]}`` sets every reset twin's start pose, as for the
        single env.
        """
        seeds = self._seeds(seed)
        if isinstance(seed, int):
            super().reset(seed=seed)
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        check_reset_options(options)
        if mask is None:
            rows = np.arange(self.num_envs)
        else:
            if not (isinstance(mask, np.ndarray) and mask.dtype == np.bool_):
                raise ConfigError("options['reset_mask'] must be a numpy bool array")
            if mask.shape != (self.num_envs,) or not mask.any():
                raise ConfigError(
                    f"options['reset_mask'] must have shape ({self.num_envs},) and at least "
                    f"one True value; got shape {mask.shape}"
                )
            if not self._started:
                raise gym.error.ResetNeeded("reset every env once before a masked reset")
            rows = np.flatnonzero(mask)
        if self._batch is None:
            self._build()
        for i in rows:
            if seeds[i] is not None or self._rngs[i] is None:
                self._rngs[i], _ = seeding.np_random(seeds[i])
        self._reset_rows(rows, options)
        self._started = True
        images = self._render_cameras()
        infos = self._batched_info(rows, stepped=None)
        return self._observation(images), infos

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every twin; twins that ended at the last step are reset instead (next-step)."""
        if not self._started:
            raise gym.error.ResetNeeded("call envs.reset() before envs.step()")
        autoreset = self._autoreset
        if not np.count_nonzero(autoreset):  # ndarray.any() goes through a Python wrapper
            return self._step_all(actions)
        n = self.num_envs
        any_reset = True
        rows = np.flatnonzero(~autoreset)
        all_step = False
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        applied_actions = None
        clamped = None
        if len(rows):
            # The actions of resetting twins are ignored, as SyncVectorEnv ignores them.
            actions = self.controller.check_batch(actions, n)
            if all_step:
                previous, sel = self._targets, None
            else:
                actions, previous, sel = actions[rows], self._targets[rows], rows
            report = self.safety.apply(self.controller.targets(actions, previous), sel)
            applied = report.applied_rad
            low, high = self._action_bounds
            applied_actions = np.minimum(
                np.maximum(self.controller.action_for_targets(applied, previous), low), high
            )
            clamped = report.clamped
            if all_step:
                self._ctrl[:, self._ctrl_index] = applied
                self._batch.step(nstep=self._substeps)
                self._targets[:] = applied
                self._elapsed += 1
            else:
                self._ctrl[np.ix_(rows, self._ctrl_cols)] = applied
                self._batch.step(ids=rows.astype(np.int32), nstep=self._substeps)
                self._targets[rows] = applied
                self._elapsed[rows] += 1
            self._epoch[0] += 1
            failure = self._evaluate_rows(rows, rewards)
            if all_step:
                terminated = failure
                if self.template.terminate_on_success:
                    terminated = terminated | self._success
                if self.max_episode_steps is not None:
                    truncated = self._elapsed >= self.max_episode_steps
            else:
                terminated[rows] = failure[rows] | (
                    self._success[rows] & self.template.terminate_on_success
                )
                if self.max_episode_steps is not None:
                    truncated[rows] = self._elapsed[rows] >= self.max_episode_steps
        if any_reset:
            self._reset_rows(np.flatnonzero(autoreset), None)
        self._autoreset = terminated | truncated
        images = self._render_cameras()
        infos = self._batched_info(self._all_rows, stepped=(rows, applied_actions, clamped))
        return self._observation(images), rewards, terminated, truncated, infos

    def _step_all(
        self, actions: np.ndarray
    ) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """:meth:`step` when every twin steps (no autoreset due): the per-step path.

        The same results as the general path in fewer numpy calls: its Python runs on one core
        while the physics uses all of them, so it bounds the batch's speed. Actions a
        ``joint_pos`` policy keeps inside its space go through the safety filter's
        :meth:`~lerobot_gym.core.safety.SafetyFilter.apply_unchanged` (one clamp and compare
        for the batch, which also rejects NaN, inf and out-of-range values by sending them to
        the full checks); anything else takes the full checks and reports.
        """
        n = self.num_envs
        applied = None
        low, high = self._action_bounds
        if (
            self._fast_actions
            and type(actions) is np.ndarray
            and actions.shape == self._actions_shape
            and actions.dtype.kind == "f"
        ):
            # JointPositionController.targets is from_user (inlined: the same subtraction and
            # division); float32 upcasts in the subtraction exactly as check_batch's astype.
            scale, offset = self._affine
            targets = actions - offset
            targets /= scale
            applied = self.safety.apply_unchanged(targets)
        if applied is None:
            checked = self.controller.check_batch(actions, n)
            report = self.safety.apply(self.controller.targets(checked, self._targets), None)
            applied, clamped = report.applied_rad, report.clamped
            applied_actions = self.controller.action_for_targets(applied, self._targets)
        else:
            clamped = np.zeros(applied.shape, dtype=bool)
            if actions.dtype is _F32:
                # Every target sent exactly as asked: each float32 action is itself the action
                # applied, as the single env reports it (RobotEnv.step), not its round trip
                # through the units.
                applied_actions = actions
            else:
                applied_actions = self.controller.action_for_targets(applied, self._targets)
        applied_actions = clip_ufunc(applied_actions, low, high)  # a new array: the caller's
        self._ctrl[:, self._ctrl_index] = applied
        self._batch.step(nstep=self._substeps)
        self._targets[:] = applied
        self._elapsed += 1
        self._epoch[0] += 1
        rewards = np.empty(n)
        terminated = self._evaluate_rows(self._all_rows, rewards)  # the failures
        if self.template.terminate_on_success:
            terminated = terminated | self._success
        if self.max_episode_steps is not None:
            truncated = self._elapsed >= self.max_episode_steps
        else:
            truncated = np.zeros(n, dtype=bool)
        self._autoreset = terminated | truncated
        images = self._render_cameras() if self._obs_cameras else {}
        success = self._success  # replaced, never written in place
        # One allocation for every `_key` mask of the info and its facts.
        masks_array = np.empty((4 + self._n_fact_keys, n), dtype=bool)
        masks_array.fill(True)  # np.ones is the same two calls in a Python function
        masks = list(masks_array)
        info: dict[str, Any] = {
            info_keys.IS_SUCCESS: success,
            f"_{info_keys.IS_SUCCESS}": masks[0],
            info_keys.ACTION_APPLIED: applied_actions,
            f"_{info_keys.ACTION_APPLIED}": masks[1],
            info_keys.SAFETY_CLAMPED: clamped,
            f"_{info_keys.SAFETY_CLAMPED}": masks[2],
        }
        info[info_keys.FACTS] = self._facts_info(self._all_rows, masks[4:])
        info[f"_{info_keys.FACTS}"] = masks[3]
        return self._observation(images), rewards, terminated, truncated, info

    def render(self) -> tuple[np.ndarray, ...] | None:
        """Each twin's ``render_camera`` image (``render_mode="rgb_array"``)."""
        if self.render_mode is None:
            return None
        if self._batch is None:
            raise gym.error.ResetNeeded("call envs.reset() before envs.render()")
        camera = self.template.render_camera
        assert camera is not None  # RobotEnv requires one with a render_mode
        images = self._images if camera in self._images else self._render((camera,))
        return tuple(images[camera])

    def close_extras(self, **kwargs: Any) -> None:
        """Free the renderers, the scene and the batch."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
        self.template.close()
        self._batch = None
        self._worlds = []

    # -- helpers --------------------------------------------------------------------------------
    def _seeds(self, seed: int | list[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, int):
            return [seed + i for i in range(self.num_envs)]
        seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ConfigError(
                f"seed must be an int, None or one seed per env ({self.num_envs}); got "
                f"{len(seeds)} seeds"
            )
        return seeds

    def _reset_rows(self, rows: np.ndarray, options: dict[str, Any] | None) -> None:
        """The single env's reset for each twin of ``rows``, into the batch's state rows."""
        scene = self.backend.scene
        model, data = scene.require()
        state = self._batch.state
        starts = np.empty((len(rows), len(self.robot.joints)))
        for k, i in enumerate(rows):
            rng = self._rngs[i]
            assert rng is not None  # seeded by reset() before any twin is reset
            sample = draw_reset_sample(self.robot, self.task, rng, options)
            # The state alone: the batch's forward pass below computes the rest for every row.
            scene.reset(sample.joint_positions_rad, sample.world_init, forward=False)
            mujoco.mj_getState(model, data, state[i], _INTEGRATION)
            starts[k] = sample.joint_positions_rad
            self._ctxs[i] = TaskContext(
                robot=self.robot,
                kinematics=self.template.arm_kinematics,
                world=self._worlds[i],
                goal=sample.goal,
            )
            self._stack_goal(i, sample.goal)
            self._worlds[i].invalidate()
        self._batch.forward(ids=rows.astype(np.int32))
        self._targets[rows] = starts
        self.safety.reset(starts, rows)
        self._elapsed[rows] = 0
        self._autoreset[rows] = False
        self._evaluate_rows(rows)

    def _observation(self, images: dict[str, np.ndarray]) -> dict[str, Any]:
        obs: dict[str, Any] = {}
        if self._state_bounds is not None:
            # The single env's: RobotSpec.to_user inlined, clipped to the space's margin.
            low, high = self._state_bounds
            scale, offset = self._affine
            pos = self._qpos[:, self._qpos_index] * scale
            pos += offset
            obs["agent_pos"] = clip_ufunc(pos, low, high, out=pos).astype(np.float32)
        if self._has_environment_state:
            obs["environment_state"] = self._env_state  # replaced, never written in place
        if self._obs_cameras:
            obs["pixels"] = images
        return obs

    def _render(self, cameras: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Cameras of every twin in one pass: camera -> ``(N, H, W, 3)`` uint8."""
        height, width = self.template.image_size
        renderer = self._renderers.get(cameras)
        if renderer is None:
            scene = self.backend.scene
            mjcf = [self.robot.camera(cam).mjcf_camera for cam in cameras]
            # Camera-major: a world-fixed camera's N views in a row share their floor cull
            # (TiledRenderer), and each render thread's share is a contiguous run of them.
            views = [View(m, height, width) for m in mjcf for _ in range(self.num_envs)]
            renderer = self._renderers[cameras] = tiled_renderer(
                scene.require()[0],
                views,
                workers=self.render_workers,
                shadows=scene.shadows,
                reflections=scene.reflections,
            )
        n = self.num_envs
        images = {cam: np.empty((n, height, width, 3), dtype=np.uint8) for cam in cameras}
        out = [images[cam][i] for cam in cameras for i in range(n)]  # as the views
        datas = [world.materialize() for world in self._worlds] * len(cameras)
        renderer.render(datas, out=out)
        return images

    def _render_cameras(self) -> dict[str, np.ndarray]:
        self._images = self._render(self._obs_cameras) if self._obs_cameras else {}
        return self._images
