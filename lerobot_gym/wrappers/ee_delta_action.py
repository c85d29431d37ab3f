"""EEDeltaAction: end-effector deltas (dx, dy, dz, gripper) through IK on the twin's kinematics.

The action is ``(dx, dy, dz, gripper)`` in [-1, 1]: the first three move the tool site
(``gripperframe`` on the SO-101) by that fraction of ``step_sizes_m`` along the base frame's
axes; ``gripper`` is a speed, -1 closing and +1 opening by ``gripper_step`` of the gripper's
range per step, 0 holding (LeRobot's discrete close/stay/open is -1/0/+1 here). HIL-SERL's
action space (shared/reference/lerobot-interfaces.md section 1.3-1.5), as a wrapper.

Each step:

1. the reference pose is the forward kinematics of the joint targets last sent
   (``RobotEnv.joint_targets_rad``), not of the measured joints: a gripper that sags or
   lags does not make the target drift (LeRobot's ``use_ik_solution=True``);
2. the target is the reference plus the delta, clipped into ``bounds``; which axes were
   clipped is reported in ``info["ee_clipped"]``, the target in ``info["ee_target"]``;
3. damped-least-squares IK (:class:`~lerobot_gym.core.kinematics.Kinematics`, the twin's
   MuJoCo model, :class:`lerobot_gym.sim.kinematics.MujocoKinematics`) from the reference
   joints, holding the tool's approach axis (``ArmSpec.approach_axis``) at its direction at
   ``reset()``, turned about the vertical by the target's change of azimuth (a 5-DoF arm
   turns its whole wrist with the base pan, so holding a fixed world direction would fight
   every sideways move); the wrist then keeps its pitch and does not wander. When that does
   not converge (at the edge of the reach) IK runs again on the position alone;
4. the solution is checked by forward kinematics: joints whose tool position would fall
   outside ``bounds`` (by more than ``bounds_tol_m``; IK near a face of the box can overshoot
   it) are never sent: the joint step is halved until the tool stays inside, and after four
   halvings the arm holds its targets and ``info["ee_rejected"]`` is True;
5. the joint targets go to the wrapped env as an absolute ``joint_pos`` action, where the env's
   safety (joint limits, ``max_relative_target``) still applies.

Decisions:

* Only the twin's kinematics are used (no physics state), so the same wrapper drives the real
  and the emulated arm: the env factory injects the kinematics into every backend's env.
* ``info["action_applied"]`` is rewritten in this wrapper's terms: the delta actually applied
  after clipping (in [-1, 1] units); the joint action the env applied moves to
  ``info["joint_action_applied"]``.
* ``bounds`` default to the arm's workspace (``ArmSpec.workspace_low/high``) widened by 5 cm,
  and 1 cm to 25 cm above the table: a safe box for an arm on a table, to be replaced by
  measured bounds (``find-joint-limits``) on a real cell.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.core import ObsType

from lerobot_gym.core import info as info_keys
from lerobot_gym.core.kinematics import AxisObjective
from lerobot_gym.errors import ConfigError

__all__ = ["EEDeltaAction", "default_bounds"]

EE_TARGET = "ee_target"
EE_CLIPPED = "ee_clipped"
EE_REJECTED = "ee_rejected"
JOINT_ACTION_APPLIED = "joint_action_applied"


def default_bounds(robot: Any, arm: int | str = 0) -> tuple[np.ndarray, np.ndarray]:
    """The default end-effector box of one arm (module docstring), metres, base frame."""
    spec = robot.arm(arm)
    margin = 0.05
    table = robot.table_height_m
    low = np.array([spec.workspace_low[0] - margin, spec.workspace_low[1] - margin, table + 0.01])
    high = np.array(
        [spec.workspace_high[0] + margin, spec.workspace_high[1] + margin, table + 0.25]
    )
    return low, high


class EEDeltaAction(
    gym.ActionWrapper[ObsType, np.ndarray, np.ndarray], gym.utils.RecordConstructorArgs
):
    """Control the end effector by Cartesian deltas (see the module docstring).

    Args:
        env: a single-arm lerobot_gym env with ``control_mode="joint_pos"``.
        step_sizes_m: metres per unit of dx, dy, dz (scalar or 3 values): the per-step limit.
        bounds: ``(low, high)`` of the tool position, metres, base frame (default:
            :func:`default_bounds`).
        gripper_step: fraction of the gripper's range moved per step at full command.
        bounds_tol_m: how far outside ``bounds`` an IK solution may put the tool (IK
            tolerance) before it is rejected.
        ik_iters: IK iterations per step (warm-started from the reference joints).

    Example:
        >>> import gymnasium as gym
        >>> import numpy as np
        >>> import lerobot_gym
        >>> from lerobot_gym.wrappers.ee_delta_action import EEDeltaAction
        >>> env = EEDeltaAction(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))
        >>> env.action_space.shape
        (4,)
        >>> _ = env.reset(seed=0)
        >>> info = env.step(np.array([0, 0, 5.0, 0], dtype=np.float32))[4]  # +z, clipped to 1
        >>> bool(info["ee_rejected"]), info["action_applied"].tolist()
        (False, [0.0, 0.0, 1.0, 0.0])

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        env: gym.Env[ObsType, np.ndarray],
        *,
        step_sizes_m: float | tuple[float, float, float] = 0.01,
        bounds: tuple[Any, Any] | None = None,
        gripper_step: float = 0.1,
        bounds_tol_m: float = 5e-4,
        ik_iters: int = 20,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            step_sizes_m=step_sizes_m,
            bounds=bounds,
            gripper_step=gripper_step,
            bounds_tol_m=bounds_tol_m,
            ik_iters=ik_iters,
        )
        gym.ActionWrapper.__init__(self, env)
        base: Any = env.unwrapped  # a RobotEnv (checked below)
        robot = getattr(base, "robot", None)
        controller = getattr(base, "controller", None)
        if robot is None or getattr(controller, "name", None) != "joint_pos":
            raise ConfigError(
                "EEDeltaAction needs a lerobot_gym env with control_mode='joint_pos' (it sends "
                "absolute joint targets); make the env with control_mode='joint_pos'"
            )
        if env.action_space != base.action_space:
            raise ConfigError(
                "EEDeltaAction must wrap the env's own joint action space; put other action "
                "wrappers outside it"
            )
        arm = robot.single_arm("EEDeltaAction")
        self.robot = robot
        self.kinematics = base.arm_kinematics(arm)
        # The direction the jaws point in the tool frame, held during IK.
        self._approach_axis = np.asarray(arm.approach_axis, dtype=np.float64)
        self.step_sizes_m = np.broadcast_to(np.asarray(step_sizes_m, dtype=np.float64), (3,))
        if not (self.step_sizes_m > 0).all():
            raise ConfigError(f"step_sizes_m must be > 0 metres, got {step_sizes_m}")
        low, high = default_bounds(robot) if bounds is None else bounds
        self.bounds_low = np.asarray(low, dtype=np.float64).reshape(3)
        self.bounds_high = np.asarray(high, dtype=np.float64).reshape(3)
        if not (self.bounds_low < self.bounds_high).all():
            raise ConfigError(
                f"bounds must be (low, high) with low < high on x, y, z; got {bounds}"
            )
        if not 0 < gripper_step <= 1:
            raise ConfigError(f"gripper_step must be in (0, 1], got {gripper_step}")
        self.bounds_tol_m, self.ik_iters = float(bounds_tol_m), int(ik_iters)
        self._gripper = robot.gripper_joint_index(arm)
        self._gripper_step_rad = 0.0
        if self._gripper is not None:
            joint = robot.joints[self._gripper]
            self._gripper_step_rad = gripper_step * (joint.upper_rad - joint.lower_rad)
        self.action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)
        self._approach: np.ndarray | None = None
        self._azimuth = 0.0
        self._last: dict[str, Any] = {}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env and latch the tool's approach direction."""
        obs, info = self.env.reset(seed=seed, options=options)
        pos, rot = self.kinematics.fk(self._reference())
        self._approach = rot @ self._approach_axis
        self._azimuth = float(np.arctan2(pos[1], pos[0]))
        return obs, info

    def step(self, action: np.ndarray) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Turn the delta into joint targets, step, report clipping in ``info``."""
        obs, reward, terminated, truncated, info = self.env.step(self.action(action))
        info[JOINT_ACTION_APPLIED] = info.pop(info_keys.ACTION_APPLIED, None)
        info.update(self._last)
        return obs, reward, terminated, truncated, info

    def action(self, action: np.ndarray) -> np.ndarray:
        """The absolute joint action (boundary units) for an end-effector delta."""
        if self._approach is None:
            raise gym.error.ResetNeeded("call env.reset() before env.step()")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (4,) or not np.isfinite(a).all():
            from lerobot_gym.errors import ActionError

            raise ActionError(
                f"EEDeltaAction takes 4 finite values (dx, dy, dz, gripper) in [-1, 1], got {a}"
            )
        a = np.clip(a, -1.0, 1.0)
        q_ref = self._reference()
        p_ref, _ = self.kinematics.fk(q_ref)
        wanted = p_ref + a[:3] * self.step_sizes_m
        target = np.clip(wanted, self.bounds_low, self.bounds_high)
        axes = (AxisObjective(self._approach_axis, self._approach_towards(target), 0.1),)
        result = self.kinematics.ik(target, q_ref, axes=axes, tol_m=1e-4, max_iters=self.ik_iters)
        if not result.converged:
            # At the edge of the reach the held approach axis and the position conflict: the
            # position wins (the box is the promise, the wrist attitude a preference).
            result = self.kinematics.ik(target, q_ref, tol_m=1e-4, max_iters=self.ik_iters)
        q, reached = self._inside(q_ref, p_ref, result.q_rad)
        rejected = q is None
        if q is None:
            q, reached = q_ref.copy(), p_ref  # never send joints that leave the bounds
        gripper_cmd = 0.0
        if self._gripper is not None:
            g = self._gripper
            q[g] = np.clip(
                q_ref[g] + a[3] * self._gripper_step_rad,
                self.robot.joints[g].lower_rad,
                self.robot.joints[g].upper_rad,
            )
            gripper_cmd = a[3]
        moved = reached - p_ref
        applied = np.append(moved / self.step_sizes_m, gripper_cmd).astype(np.float32)
        self._last = {
            EE_TARGET: target,
            EE_CLIPPED: wanted != target,
            EE_REJECTED: rejected,
            info_keys.ACTION_APPLIED: np.clip(applied, -1.0, 1.0),
        }
        joint_space = self.env.action_space
        assert isinstance(joint_space, spaces.Box)  # the env's joint_pos space (__init__)
        low, high = joint_space.low, joint_space.high
        return np.clip(self.robot.to_user(q), low, high).astype(np.float32)

    def delta_towards(self, joint_action: np.ndarray) -> np.ndarray:
        """The ``(dx, dy, dz, gripper)`` action that moves toward absolute joint positions.

        ``joint_action`` is in the wrapped env's joint action units (a leader arm's reading):
        the tool position it puts the arm in, minus the tool position of the targets last
        sent, in units of ``step_sizes_m``; the gripper likewise in ``gripper_step`` units;
        each clipped to [-1, 1]. This is how a joint-space device (a leader arm) intervenes in
        an end-effector stack (``HumanIntervention(..., action_map=ee.delta_towards)``).
        """
        q_ref = self._reference()
        q = np.asarray(self.robot.from_user(np.asarray(joint_action, np.float64)), np.float64)
        p_ref, _ = self.kinematics.fk(q_ref)
        p, _ = self.kinematics.fk(q)
        delta = np.zeros(4)
        delta[:3] = (p - p_ref) / self.step_sizes_m
        if self._gripper is not None and self._gripper_step_rad > 0:
            delta[3] = (q[self._gripper] - q_ref[self._gripper]) / self._gripper_step_rad
        return np.clip(delta, -1.0, 1.0).astype(np.float32)

    def _inside(
        self, q_ref: np.ndarray, p_ref: np.ndarray, q_ik: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """The IK joints, or the furthest point toward them that keeps the tool inside.

        The joint step is halved up to four times; None when even a 1/16 step leaves the box.
        """
        low, high = self.bounds_low - self.bounds_tol_m, self.bounds_high + self.bounds_tol_m
        step = q_ik - q_ref
        for fraction in (1.0, 0.5, 0.25, 0.125, 0.0625):
            q = q_ref + fraction * step
            reached, _ = self.kinematics.fk(q)
            if (reached >= low).all() and (reached <= high).all():
                return q, reached
        return None, p_ref

    def _approach_towards(self, target: np.ndarray) -> np.ndarray:
        assert self._approach is not None  # set by reset(), checked by action()
        turn = float(np.arctan2(target[1], target[0])) - self._azimuth
        c, s = np.cos(turn), np.sin(turn)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ self._approach

    def _reference(self) -> np.ndarray:
        base: Any = self.env.unwrapped
        targets = base.joint_targets_rad
        if targets is None:
            raise gym.error.ResetNeeded("call env.reset() before env.step()")
        return np.asarray(targets, dtype=np.float64)
