"""Forward and inverse kinematics on the twin's model, for hardware and simulation alike.

:class:`MujocoKinematics` implements the :class:`lerobot_gym.core.kinematics.Kinematics`
protocol; :func:`kinematics_for` is the factory the env is given (``core/`` never imports this
module).

Kinematics use the robot's MJCF alone (no scene, no props) on a private ``MjData``, so they can
run next to a real arm, inside a scripted policy, or in an end-effector action wrapper (the
planned ``EEDeltaAction``) without touching the env's physics. The robot base is the model's
world origin.

Inverse kinematics is damped least squares over the arm joints (the gripper is left alone) with
a position objective at the tool site and optional axis-alignment objectives: "this local axis of
the tool should point along that world direction". A top-down grasp on a 5-DoF arm is a position,
an approach axis pointing down and a jaw axis along the object's yaw.
"""

from __future__ import annotations

import functools
from pathlib import Path

import mujoco
import numpy as np

from lerobot_gym.core.kinematics import AxisObjective, IKResult
from lerobot_gym.core.spec import ArmSpec, RobotSpec
from lerobot_gym.errors import ConfigError


class MujocoKinematics:
    """FK/IK for one arm of a robot, over the robot's whole joint vector.

    Args:
        xml_path: the robot MJCF (without scene).
        joint_names: joints in spec order.
        tool_site: the site whose pose is controlled (TCP).
        ik_joints: names of the joints IK may move (default: all but grippers).
    """

    def __init__(
        self,
        xml_path: str | Path,
        joint_names: tuple[str, ...],
        tool_site: str,
        ik_joints: tuple[str, ...] | None = None,
    ) -> None:
        # The compiled model is shared (read-only); each instance owns its MjData, so envs,
        # policies and threads never overwrite each other's joint positions mid-solve.
        self.model = _load_model(str(xml_path))
        self.data = mujoco.MjData(self.model)
        self.joint_names = tuple(joint_names)
        self._qadr = np.array([self.model.joint(n).qposadr[0] for n in joint_names])
        self._dadr = np.array([self.model.joint(n).dofadr[0] for n in joint_names])
        self._lower = np.array([self.model.joint(n).range[0] for n in joint_names])
        self._upper = np.array([self.model.joint(n).range[1] for n in joint_names])
        self._site = self.model.site(tool_site).id
        ik_joints = ik_joints or self.joint_names
        self._ik_idx = np.array([self.joint_names.index(n) for n in ik_joints])

    @classmethod
    def for_robot(cls, robot: RobotSpec, arm: int | str | ArmSpec = 0) -> MujocoKinematics:
        """Kinematics of one arm of a robot spec's twin (new instance; model compiled once).

        ``fk`` and ``ik`` take and return the robot's whole joint vector; the tool is the arm's
        gripper site and IK moves only that arm's non-gripper joints, so a bimanual robot has
        one instance per arm over the same vector.
        """
        if robot.robot_xml is None:
            raise ConfigError(f"robot {robot.name!r} has no robot_xml; kinematics need its MJCF")
        arm_spec = robot.arm(arm)
        ik_joints = tuple(j.name for j in robot.arm_joints(arm_spec) if not j.is_gripper)
        return cls(robot.robot_xml, robot.joint_names, arm_spec.gripper_site, ik_joints=ik_joints)

    def fk(self, q_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tool site position (3,) and rotation matrix (3, 3) in the base frame."""
        self.data.qpos[self._qadr] = q_rad
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)  # the Jacobians need cdof
        return (
            self.data.site_xpos[self._site].copy(),
            self.data.site_xmat[self._site].reshape(3, 3).copy(),
        )

    def ik(
        self,
        target_pos: np.ndarray,
        q0_rad: np.ndarray,
        *,
        axes: tuple[AxisObjective, ...] = (),
        tol_m: float = 1e-3,
        max_iters: int = 200,
        damping: float = 1e-3,
    ) -> IKResult:
        """Damped-least-squares IK from ``q0_rad`` (see the module docstring)."""
        q = np.clip(np.asarray(q0_rad, dtype=np.float64).copy(), self._lower, self._upper)
        jacp = np.zeros((3, self.model.nv))
        jacr = np.zeros((3, self.model.nv))
        cols = self._dadr[self._ik_idx]
        err_norm = np.inf
        for _ in range(max_iters):
            pos, rot = self.fk(q)
            mujoco.mj_jacSite(self.model, self.data, jacp, jacr, self._site)
            rows = [jacp[:, cols]]
            errs = [np.asarray(target_pos) - pos]
            for obj in axes:
                axis_world = rot @ obj.local_axis
                # The small rotation taking the axis onto the direction is axis x direction;
                # rotation about the axis itself does not move it, so project that part out.
                project = np.eye(3) - np.outer(axis_world, axis_world)
                errs.append(obj.weight * np.cross(axis_world, obj.world_direction))
                rows.append(obj.weight * project @ jacr[:, cols])
            err = np.concatenate(errs)
            jac = np.vstack(rows)
            err_norm = float(np.linalg.norm(errs[0]))
            if err_norm < tol_m and np.linalg.norm(err[3:]) < 1e-3:
                break
            # Normal equations: a (joints x joints) solve, smaller than the (rows x rows) form.
            step = np.linalg.solve(jac.T @ jac + damping * np.eye(jac.shape[1]), jac.T @ err)
            q[self._ik_idx] = np.clip(
                q[self._ik_idx] + step, self._lower[self._ik_idx], self._upper[self._ik_idx]
            )
            if step @ step < 1e-10:  # stalled (at a limit or at the best compromise)
                break
        pos, _ = self.fk(q)
        err_norm = float(np.linalg.norm(np.asarray(target_pos) - pos))
        return IKResult(q_rad=q, position_error_m=err_norm, converged=err_norm < tol_m)


def kinematics_for(robot: RobotSpec, arm: ArmSpec) -> MujocoKinematics:
    """The :data:`~lerobot_gym.core.kinematics.KinematicsFactory` of the MuJoCo twin."""
    return MujocoKinematics.for_robot(robot, arm)


@functools.lru_cache(maxsize=8)
def _load_model(xml_path: str) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(xml_path)
