"""The STS3215 servo model: the twin's actuators as LeRobot configures the physical ones.

:class:`ServoModel` replaces the twin's ideal position actuators (``actuator="ideal"``: stiff
``kp``, the target reached within a frame) with the servo's position loop, per joint:

1. **Bus and processing delay** (``delay_s``): a goal takes effect that long after
   ``command()``; goals queue, so a delay longer than a control period works too. Quantised to
   the physics timestep.
2. **Goal quantisation**: goals are rounded to the encoder's tick (``ticks_per_turn``, 4096 on
   the STS3215), as ``Goal_Position`` is an integer register.
3. **Motion profile**: the firmware moves its set-point towards the goal with bounded
   acceleration (``Acceleration`` register; LeRobot writes 254) and velocity (the servo's
   top speed; LeRobot leaves ``Goal_Velocity`` at 0 = maximum), decelerating to stop on it.
4. **PD loop with a torque limit**: ``torque = clip(kp (setpoint - q) - kd dq, ±torque_limit)``
   (LeRobot writes P=16, D=32, I=0; the gripper's torque limit is 50 %). The joint's MuJoCo
   ``damping`` stays: it is the motor's back-EMF, which is what caps its speed under load.
5. **Deadband**: within ``deadband_rad`` of the goal (``CW/CCW_Dead_Zone``) the loop outputs
   nothing, so the joint rests where gravity and friction leave it.
6. **Encoder quantisation** of the reading, and a **zero offset** between the twin's joint zero
   and the real encoder's (``reading = q + zero_offset``).

Decisions:

- The PD loop and the torque limit run inside MuJoCo at every physics substep: the position
  actuators' ``kp``, ``kv`` and ``forcerange`` are set to the servo's, so they cost nothing
  extra. Only the profile and the deadband run in numpy, ``profile_updates_per_step`` times per
  control period (4 at 30 fps: every 8.3 ms), between ``mj_step(nstep=...)`` calls; the cost is
  measured by ``benchmarks/sim_step.py``.
- Parameters are SI (N·m/rad, rad/s, s) in a per-robot file (:mod:`lerobot_gym.sim.twin_params`),
  because the firmware's register units for P and D are not published: they are identified from
  recordings (``lerobot-gym sysid``) rather than converted.
- The mounting (``base_height_m``) raises the arm's root body above the table in the compiled
  model; the tasks' props and the table stay where they are.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.sim.twin_params import TwinParams


class ServoModel:
    """Per-joint servo position loops driving a compiled scene (see the module docstring).

    Args:
        params: the robot's twin parameters (validated, for this robot).
        robot: the robot.
    """

    def __init__(self, params: TwinParams, robot: RobotSpec) -> None:
        params.check_robot(robot)
        self.params, self.robot = params, robot
        self.set_params(params)
        self._base_body = -1
        self._base_z0 = 0.0
        #: Further goal delay in physics steps (the ``action_latency_ms`` knob), on top of
        #: ``delay_s``.
        self.extra_delay_substeps = 0

    def set_params(self, params: TwinParams) -> None:
        """Use other parameters from the next command on (system identification does)."""
        self.params = params
        self.kp = params.array("kp_nm_per_rad")
        self.kd = params.array("kd_nms_per_rad")
        self.torque_limit = params.array("torque_limit_nm")
        self.vmax = params.array("velocity_limit_rad_s")
        self.amax = params.array("acceleration_limit_rad_s2")
        self.deadband = params.array("deadband_rad")
        self.zero_offset = params.array("zero_offset_rad")
        self.tick = 2 * math.pi / params.ticks_per_turn if params.ticks_per_turn else 0.0
        self._vmax, self._amax = self.vmax.tolist(), self.amax.tolist()
        self._deadband = self.deadband.tolist()

    # -- wiring into a compiled scene -------------------------------------------------------
    def attach(self, model: mujoco.MjModel, actuators: np.ndarray, qpos_adr: np.ndarray) -> None:
        """Set the actuators' gains and force limits and the mounting on a compiled model."""
        self._model = model
        self._actuators = np.asarray(actuators)
        self._qpos = np.asarray(qpos_adr)
        act = self._actuators
        model.actuator_gainprm[act, 0] = self.kp
        model.actuator_biasprm[act, 1] = -self.kp
        model.actuator_biasprm[act, 2] = -self.kd
        model.actuator_forcerange[act, 0] = -self.torque_limit
        model.actuator_forcerange[act, 1] = self.torque_limit
        model.actuator_forcelimited[act] = 1
        joint = model.actuator_trnid[act[0], 0]
        base = int(model.body_rootid[model.jnt_bodyid[joint]])
        if self._base_body != base:
            self._base_body, self._base_z0 = base, float(model.body_pos[base, 2])
        model.body_pos[base, 2] = self._base_z0 + self.params.base_height_m
        self._substeps_dt = float(model.opt.timestep)
        self._delay_substeps = round(self.params.delay_s / self._substeps_dt)

    @property
    def setpoint(self) -> np.ndarray:
        """The motion profile's present set-point per joint (twin coordinates, rad)."""
        return np.array(self._setpoint)

    def reset(self, q_rad: np.ndarray) -> None:
        """At rest at ``q_rad`` (twin coordinates), with no goal in flight."""
        q = np.asarray(q_rad, dtype=np.float64)
        self._setpoint = q.tolist()
        self._velocity = [0.0] * len(q)
        self._goal = q.tolist()
        self._pending: list[tuple[int, list[float]]] = []
        self._clock = 0  # substeps since reset

    # -- the loop ---------------------------------------------------------------------------
    def step(
        self, model: mujoco.MjModel, data: mujoco.MjData, goal_reading: np.ndarray, substeps: int
    ) -> None:
        """Send a goal (in reading coordinates) and simulate ``substeps`` physics steps."""
        goal = np.asarray(goal_reading, dtype=np.float64) - self.zero_offset
        if self.tick:
            goal = np.round(goal / self.tick) * self.tick
        delay = self._delay_substeps + self.extra_delay_substeps
        self._pending.append((self._clock + delay, goal.tolist()))
        chunk = max(1, substeps // self.params.profile_updates_per_step)
        end = self._clock + substeps
        while self._clock < end:
            while self._pending and self._pending[0][0] <= self._clock:
                self._goal = self._pending.pop(0)[1]
            n = min(chunk, end - self._clock)
            if self._pending:  # stop where the next goal arrives
                n = min(n, max(1, self._pending[0][0] - self._clock))
            q = data.qpos[self._qpos].tolist()
            data.ctrl[self._actuators] = self._update(q, n * self._substeps_dt)
            mujoco.mj_step(model, data, nstep=n)
            self._clock += n

    def _update(self, q: list[float], dt: float) -> list[float]:
        """Advance the motion profile by ``dt``; the set-point each actuator tracks meanwhile.

        Plain floats, one joint at a time: for six joints this is several times faster than
        the same arithmetic as numpy calls on six-element arrays (14 us against about 100 us
        per update on a loaded 2-core machine), and it runs a few times per control period.
        """
        goal, setpoint, velocity = self._goal, self._setpoint, self._velocity
        out = [0.0] * len(goal)
        for i, g in enumerate(goal):
            error = g - setpoint[i]
            distance = abs(error)
            # The fastest speed from which the profile can still stop on the goal.
            v_target = min(self._vmax[i], math.sqrt(2.0 * self._amax[i] * distance))
            if error < 0:
                v_target = -v_target
            v, dv_max = velocity[i], self._amax[i] * dt
            v += min(max(v_target - v, -dv_max), dv_max)
            move = v * dt
            if abs(move) >= distance:  # arrived: hold the goal
                setpoint[i], velocity[i] = g, 0.0
                # Dead zone: no output near the goal (a set-point equal to q: zero P torque).
                out[i] = q[i] if abs(g - q[i]) <= self._deadband[i] else g
            else:
                setpoint[i] += move
                velocity[i] = v
                out[i] = setpoint[i]
        return out

    def reading(self, q_rad: np.ndarray) -> np.ndarray:
        """What the encoder reports for twin joint positions: offset, then quantised."""
        q = np.asarray(q_rad, dtype=np.float64) + self.zero_offset
        return np.round(q / self.tick) * self.tick if self.tick else q

    def to_twin(self, q_reading: np.ndarray) -> np.ndarray:
        """Reading coordinates -> twin coordinates (removes the zero offset)."""
        return np.asarray(q_reading, dtype=np.float64) - self.zero_offset
