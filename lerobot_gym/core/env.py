"""RobotEnv: a Gymnasium env composed of a RobotSpec, a Backend, a Controller and a Task.

Spaces are computed from the spec, the controller, the task and the camera choice before any I/O,
so ``gym.make`` never opens a port or moves an arm: the backend connects at the first ``reset()``
and lets go in ``close()``. The same id therefore has the same spaces on every backend.

Observation (``obs_type``):

- ``"state"``: ``agent_pos`` and, when the task has one, ``environment_state``;
- ``"pixels"``: ``pixels`` (camera name -> HxWx3 uint8);
- ``"pixels_agent_pos"``: both ``pixels`` and ``agent_pos`` (what LeRobot datasets record).

``agent_pos`` and actions are in the robot's boundary units (degrees and gripper 0..100 for the
SO-101), float32; its bounds are the joint limits widened by a 5 % margin because a joint under
load can sit slightly past its limit, and a reading is never hidden by clipping it to the
nominal range (it is clipped only to the margin, so observations always lie in the space).

Every step runs :mod:`lerobot_gym.core.safety` on the joint targets, on every backend, and
reports the targets actually sent in ``info["action_applied"]`` (action-space units, always
inside the action space: float rounding of a clamped target is clipped to the space's bound).
A float32 action inside the controller's interior (:meth:`Controller.interior
<lerobot_gym.core.controller.Controller.interior>`, computed once: in the action space and the
strict ranges, with targets inside the joint limits; none under a rate limit) is one the check
and the filter would pass unchanged, so the per-step path records its targets with the filter
(``SafetyFilter.accept``) without running the clamp: the same targets and report, less Python.

Kinematics are injected (``kinematics_factory``, one instance per arm, built on first use), as
the backend is: ``core/`` never imports ``sim/``, and ``gym.make`` passes the twin's.
"""

from __future__ import annotations

import dataclasses
from operator import le as _le
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

from lerobot_gym.core import info as info_keys
from lerobot_gym.core.backend import Backend, Randomized, RobotState
from lerobot_gym.core.controller import Controller
from lerobot_gym.core.kinematics import Kinematics, KinematicsFactory
from lerobot_gym.core.safety import SafetyFilter, as_float_vector, clip_ufunc
from lerobot_gym.core.spec import ArmSpec, RobotSpec, check_image_size
from lerobot_gym.core.task import ResetSample, Task, TaskContext
from lerobot_gym.errors import ConfigError

OBS_TYPES = ("state", "pixels", "pixels_agent_pos")
RESET_OPTIONS = frozenset({"joint_positions"})
_STATE_MARGIN = 0.05
_F32 = np.dtype(np.float32)


def check_reset_options(options: dict[str, Any] | None) -> None:
    """Refuse reset options no env accepts (typed error listing those it does)."""
    unknown = sorted(set(options or {}) - RESET_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown reset option(s) {unknown}; accepted: {sorted(RESET_OPTIONS)}")


def draw_reset_sample(
    robot: RobotSpec,
    task: Task,
    np_random: np.random.Generator,
    options: dict[str, Any] | None = None,
) -> ResetSample:
    """The task's initial condition, with ``options["joint_positions"]`` as the start pose.

    Shared by :class:`RobotEnv` and the batched vector env, so both draw the same episodes
    from the same generator.
    """
    sample = task.sample_reset(robot, np_random)
    if options and "joint_positions" in options:
        # Absolute positions whatever the control mode, so not the controller's check.
        start = as_float_vector(
            options["joint_positions"],
            (len(robot.joints),),
            what="reset option 'joint_positions'",
            layout="one value per joint in boundary units: "
            + ", ".join(f"{j.name} [{j.unit}]" for j in robot.joints),
            error=ConfigError,
        )
        sample.joint_positions_rad = np.clip(
            robot.from_user(start), robot.lower_rad, robot.upper_rad
        )
    return sample


class RobotEnv(gym.Env[dict, np.ndarray]):
    """A robot arm as a Gymnasium env (see the module docstring).

    Args:
        robot: the robot spec.
        task: the task.
        backend: an unconnected backend.
        controller: maps actions to joint targets and owns the action space.
        obs_type: ``"state"``, ``"pixels"`` or ``"pixels_agent_pos"``.
        cameras: camera names to observe (default: all the robot's cameras).
        image_size: (height, width) of every observed image.
        render_mode: ``None`` or ``"rgb_array"``.
        render_camera: camera for ``render()`` (default: the first camera).
        max_relative_target: per-step bound on target changes in boundary units (None: off).
        terminate_on_success: end the episode (``terminated``) as soon as the task succeeds.
        fps: control rate; simulation steps ``1/fps`` seconds of physics per step.
        kinematics_factory: builds an arm's kinematics (``gym.make`` passes the twin's);
            None: the env offers none, and tasks that need them on hardware fail.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        *,
        robot: RobotSpec,
        task: Task,
        backend: Backend,
        controller: Controller,
        obs_type: str = "pixels_agent_pos",
        cameras: tuple[str, ...] | None = None,
        image_size: tuple[int, int] = (480, 640),
        render_mode: str | None = None,
        render_camera: str | None = None,
        max_relative_target: float | None = None,
        terminate_on_success: bool = False,
        fps: int = 30,
        kinematics_factory: KinematicsFactory | None = None,
    ) -> None:
        if obs_type not in OBS_TYPES:
            raise ConfigError(f"obs_type {obs_type!r} does not exist; choose one of {OBS_TYPES}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ConfigError(
                f"render_mode {render_mode!r} is not supported; use 'rgb_array' (or None)"
            )
        height, width = check_image_size(image_size)
        self._spec: EnvSpec | None = None
        self.robot, self.task, self.backend, self.controller = robot, task, backend, controller
        self.obs_type = obs_type
        self.cameras = tuple(robot.camera_names if cameras is None else cameras)
        for name in self.cameras:
            robot.camera(name)  # typed error listing the robot's cameras
        if obs_type != "state" and not self.cameras:
            raise ConfigError(f"obs_type={obs_type!r} needs at least one camera")
        self.image_size = (height, width)
        self.render_mode = render_mode
        self.render_camera = render_camera or (robot.camera_names or (None,))[0]
        if render_mode is not None and self.render_camera is None:
            raise ConfigError(f"robot {robot.name!r} has no camera to render")
        if self.render_camera is not None:
            robot.camera(self.render_camera)  # typed error listing the robot's cameras
        self.terminate_on_success = terminate_on_success
        self.fps = int(fps)
        self.metadata = {**self.metadata, "render_fps": self.fps}

        self.action_space = controller.action_space
        # info["action_applied"] is clipped to these: a target clamped to a joint limit comes
        # back through the unit conversion a few ulps outside the float32 bound (a closed
        # gripper as -1.8e-15 for a 0 bound), and recorders store it as the dataset's action.
        self._action_bounds = (controller.action_space.low, controller.action_space.high)
        self._echo_action = controller.absolute and controller.action_space.dtype == np.float32
        self.observation_space = self._build_observation_space()
        self._obs_cameras = self.cameras if obs_type != "state" else ()
        # Looked up once: _observation runs every step.
        spaces_ = self.observation_space.spaces
        self._state_bounds = None
        if "agent_pos" in spaces_:
            box = cast(spaces.Box, spaces_["agent_pos"])
            self._state_bounds = (box.low.astype(np.float64), box.high.astype(np.float64))
        self._has_environment_state = "environment_state" in spaces_
        self._state_map = (*robot.user_affine, *(self._state_bounds or (None, None)))

        max_step = np.full(len(robot.joints), np.inf)
        if max_relative_target is not None:
            max_step = np.array([j.delta_from_user(max_relative_target) for j in robot.joints])
        self.safety = SafetyFilter(robot.lower_rad, robot.upper_rad, max_step)
        # The per-step path for float32 actions inside the controller's interior (step()).
        self._interior = None
        if not self.safety.rate_limited:
            self._interior = controller.interior(robot.lower_rad, robot.upper_rad)
        self._action_shape = controller.action_space.shape
        self._affine = robot.user_affine
        self._kinematics_factory = kinematics_factory
        self._kinematics: dict[str, Kinematics] = {}
        self._ctx: TaskContext | None = None  # what tasks see; rebuilt at every reset
        self._targets_rad: np.ndarray | None = None
        self._last_state: RobotState | None = None
        self._last_facts: dict[str, Any] = {}

    # -- registration -----------------------------------------------------------------------
    @property
    def spec(self) -> EnvSpec | None:
        """The env's registration; hardware backends are marked ``nondeterministic``."""
        return self._spec

    @spec.setter
    def spec(self, value: EnvSpec | None) -> None:
        # gym.make assigns the spec after construction; a real arm cannot replay a seed exactly,
        # so say so and let gymnasium's checker skip its determinism test, as it does for
        # gym-aloha's renders.
        if value is not None and not self.backend.deterministic and not value.nondeterministic:
            value = dataclasses.replace(value, nondeterministic=True)
        self._spec = value

    # -- spaces ---------------------------------------------------------------------------
    def _build_observation_space(self) -> spaces.Dict:
        parts: dict[str, spaces.Space] = {}
        if self.obs_type in ("state", "pixels_agent_pos"):
            low, high = self.robot.user_limits()
            margin = _STATE_MARGIN * (high - low)
            parts["agent_pos"] = spaces.Box(
                (low - margin).astype(np.float32), (high + margin).astype(np.float32)
            )
        if self.obs_type == "state" and self.task.environment_state_dim:
            dim = self.task.environment_state_dim
            parts["environment_state"] = spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        if self.obs_type in ("pixels", "pixels_agent_pos"):
            shape = (*self.image_size, 3)
            parts["pixels"] = spaces.Dict(
                {cam: spaces.Box(0, 255, shape, np.uint8) for cam in self.cameras}
            )
        return spaces.Dict(parts)

    # -- gymnasium API --------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode: connect on first use, draw the task's initial condition.

        ``options={"joint_positions": [...]}`` (boundary units) overrides the start pose, as
        replaying a recorded episode needs.
        """
        super().reset(seed=seed)
        check_reset_options(options)
        if not self.backend.is_connected:
            self.backend.connect()
        sample = draw_reset_sample(self.robot, self.task, self.np_random, options)
        try:
            if isinstance(self.backend, Randomized):  # after the task's draw: it stays the same
                self.backend.randomize(self.np_random)
            # On hardware the reset is a bounded-speed move of seconds: an error or Ctrl-C
            # during it must leave the arm as safe as one during a step.
            self.backend.reset(sample.joint_positions_rad, sample.world_init)
            self._ctx = TaskContext(
                robot=self.robot,
                kinematics=self.arm_kinematics,
                world=self.backend.world,
                goal=sample.goal,
            )
            self._targets_rad = np.asarray(sample.joint_positions_rad, dtype=np.float64)
            self.safety.reset(self._targets_rad)
            state = self.backend.read(self._obs_cameras)
            facts = self.task.evaluate(self._ctx, state)
        except BaseException:
            self._targets_rad = None
            self.backend.fail_safe()
            raise
        self._last_state, self._last_facts = state, facts
        info = {info_keys.IS_SUCCESS: bool(self.task.is_success(facts)), info_keys.FACTS: facts}
        return self._observation(state, facts), info

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Apply safety to the action's targets, advance one control period, evaluate."""
        if self._targets_rad is None:
            raise gym.error.ResetNeeded("call env.reset() before env.step()")
        previous = self._targets_rad
        box = self._interior
        if (
            box is not None
            and type(action) is np.ndarray
            and action.dtype is _F32
            and action.shape == self._action_shape
            and all(map(_le, box[0], values := action.tolist()))
            and all(map(_le, values, box[1]))
        ):
            # A float32 action inside the controller's interior: inside the action space and
            # the strict ranges, and its targets inside the joint limits with no rate limit, so
            # the controller's check and the safety filter would pass it unchanged (exact, no
            # clamp; a NaN fails the comparisons, an inf lies outside). The same conversion as
            # JointPositionController.step_targets, and the same report as the exact path's.
            scale, offset = self._affine
            targets = action - offset
            targets /= scale
            self.safety.accept(targets)
            clamped = np.zeros(self._action_shape, dtype=bool)
            # A copy would do but for -0.0 at a bound of 0.0, which the clip reports as 0.0.
            applied = clip_ufunc(action, *self._action_bounds)
        else:
            report = self.safety.apply(self.controller.step_targets(action, previous))
            targets, clamped = report.applied_rad, report.clamped
            low, high = self._action_bounds
            echo = report.exact and self._echo_action and type(action) is np.ndarray
            if echo and action.dtype is _F32:
                # Absolute targets sent exactly as asked: the action itself was applied
                # (clipped: a float32 bound rounds the limit), not its round trip through the
                # units.
                applied = clip_ufunc(action, low, high)
            else:
                applied = self.controller.action_for_targets(targets, previous)
                applied = clip_ufunc(applied, low, high)
        try:
            self.backend.command(targets)
            state = self.backend.read(self._obs_cameras)
        except BaseException:
            self._targets_rad = None  # the next step must come after a reset
            self.backend.fail_safe()
            raise
        self._targets_rad = targets
        assert self._ctx is not None  # set by reset(), like _targets_rad
        task = self.task
        facts = task.evaluate(self._ctx, state)
        self._last_state, self._last_facts = state, facts
        success = bool(task.is_success(facts))
        terminated = (success and self.terminate_on_success) or bool(task.is_failure(facts))
        info = {
            info_keys.IS_SUCCESS: success,
            info_keys.ACTION_APPLIED: applied,
            info_keys.SAFETY_CLAMPED: clamped,
            info_keys.FACTS: facts,
        }
        reward = float(task.reward(facts))
        return self._observation(state, facts), reward, terminated, False, info

    def render(self) -> np.ndarray | None:
        """The ``render_camera`` image at ``image_size`` (``render_mode="rgb_array"``)."""
        if self.render_mode is None:
            return None
        if not self.backend.is_connected:
            raise gym.error.ResetNeeded("call env.reset() before env.render()")
        if self.render_camera in self._obs_cameras and self._last_state is not None:
            return self._last_state.images[self.render_camera]
        assert self.render_camera is not None  # __init__ requires one when render_mode is set
        return self.backend.render(self.render_camera, *self.image_size)

    def close(self) -> None:
        """Let go of the robot (hardware: torque off unless configured otherwise)."""
        if self.backend.is_connected:
            self.backend.close()
        super().close()

    # -- helpers --------------------------------------------------------------------------
    @property
    def kinematics(self) -> Kinematics:
        """Kinematics of a single-arm robot (multi-arm robots: :meth:`arm_kinematics`)."""
        return self.arm_kinematics(self.robot.single_arm("RobotEnv.kinematics"))

    def arm_kinematics(self, arm: int | str | ArmSpec = 0) -> Kinematics:
        """Forward/inverse kinematics of one arm (built on first use, then kept)."""
        arm_spec = self.robot.arm(arm)
        kinematics = self._kinematics.get(arm_spec.name)
        if kinematics is None:
            if self._kinematics_factory is None:
                raise ConfigError(
                    "this RobotEnv was built without kinematics: pass kinematics_factory= "
                    "(e.g. lerobot_gym.sim.kinematics.kinematics_for) or build it with gym.make"
                )
            kinematics = self._kinematics[arm_spec.name] = self._kinematics_factory(
                self.robot, arm_spec
            )
        return kinematics

    @property
    def joint_targets_rad(self) -> np.ndarray | None:
        """The targets last sent to the robot (after safety), SI."""
        return None if self._targets_rad is None else self._targets_rad.copy()

    @property
    def last_state(self) -> RobotState | None:
        """The robot state read after the last reset/step (None before the first reset)."""
        return self._last_state

    @property
    def last_facts(self) -> dict[str, Any]:
        """The task's facts after the last reset/step."""
        return self._last_facts

    def _observation(self, state: RobotState, facts: dict[str, Any]) -> dict[str, Any]:
        obs: dict[str, Any] = {}
        if self._state_bounds is not None:
            # RobotSpec.to_user inlined (the same multiply-add), clipped to the space's margin.
            # One temporary, worked in place.
            scale, offset, low, high = self._state_map
            pos = state.joint_positions_rad * scale
            pos += offset
            obs["agent_pos"] = clip_ufunc(pos, low, high, out=pos).astype(np.float32)
        if self._has_environment_state:
            # Tasks return a new array (Task.environment_state): no second copy (or call) when
            # it is float32 already.
            env_state = self.task.environment_state(facts)
            if env_state.dtype is not _F32:
                env_state = env_state.astype(np.float32)
            obs["environment_state"] = env_state
        if self._obs_cameras:
            obs["pixels"] = {cam: state.images[cam] for cam in self._obs_cameras}
        return obs
