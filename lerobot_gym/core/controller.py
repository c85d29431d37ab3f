"""Controllers own the action space: they turn an action into joint targets.

A controller is configuration, not a policy: ``"joint_pos"`` takes absolute joint targets in the
robot's boundary units (what LeRobot datasets store as ``action``), ``"joint_delta"`` takes
per-step changes of those targets. End-effector control belongs in a wrapper (the planned
``EEDeltaAction``) on the twin's kinematics, so it stays a choice of the user, not of the env.

Both build their space from the :class:`~lerobot_gym.core.spec.RobotSpec` alone, before any I/O.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from lerobot_gym.core.safety import as_float_vector
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import ActionError, ConfigError


class Controller:
    """Base class: maps an action (boundary units) to joint targets (SI)."""

    name: ClassVar[str]
    #: Actions are absolute targets: an action whose targets safety left exactly as they were
    #: is itself the action applied (no round trip through the unit conversion).
    absolute: ClassVar[bool] = False

    def __init__(self, robot: RobotSpec) -> None:
        self.robot = robot
        self.action_space = self._build_space()
        self._shape = self.action_space.shape
        # Built once: check() runs every step and needs it only in an error message.
        self._layout = (
            f"one value per joint in order {list(robot.joint_names)} (control_mode={self.name!r})"
        )

    def _build_space(self) -> spaces.Box:
        raise NotImplementedError

    def check(self, action: Any) -> np.ndarray:
        """Validate an action's shape, type and finiteness; typed error saying what is expected."""
        return as_float_vector(action, self._shape, layout=self._layout)

    def check_batch(self, actions: Any, num_envs: int) -> np.ndarray:
        """:meth:`check` for a ``(num_envs, *action_shape)`` batch (the batched vector env).

        The same rules as :meth:`check`, applied to every row; an error names the env.
        """
        arr = as_float_vector(
            actions,
            (num_envs, *self.action_space.shape),
            what="actions",
            layout=f"one row per env, {self._layout}",
        )
        self._check_values(arr)
        return arr

    def _check_values(self, actions: np.ndarray) -> None:
        """Rules beyond shape and finiteness, on one action or a batch (rows); none here."""

    def targets(self, action: np.ndarray, previous_targets_rad: np.ndarray) -> np.ndarray:
        """Joint targets (SI) for a checked action (or a batch of them, one per row)."""
        raise NotImplementedError

    def step_targets(self, action: Any, previous_targets_rad: np.ndarray) -> np.ndarray:
        """:meth:`check` and :meth:`targets` in one call: the env's per-step path.

        The targets go to :class:`~lerobot_gym.core.safety.SafetyFilter`, which refuses
        non-finite ones with the message :meth:`check` gives, so an override may leave the
        finite check to it (one check per step; the vector env checks batches itself).
        """
        return self.targets(self.check(action), previous_targets_rad)

    def action_for_targets(
        self, targets_rad: np.ndarray, previous_targets_rad: np.ndarray
    ) -> np.ndarray:
        """The action (boundary units, float32) that would produce ``targets_rad``."""
        raise NotImplementedError

    def interior(
        self, lower_rad: np.ndarray, upper_rad: np.ndarray
    ) -> tuple[list[float], list[float]] | None:
        """Bounds of the float32 actions whose targets need no check or clamp (None: none).

        Only absolute controllers have them (:meth:`JointPositionController.interior`).
        """
        return None


class JointPositionController(Controller):
    """Absolute joint targets in boundary units (degrees, gripper 0..100 for the SO-101)."""

    name = "joint_pos"
    absolute = True

    def __init__(self, robot: RobotSpec) -> None:
        super().__init__(robot)
        # Joints whose out-of-range targets are refused, not clamped (normalised grippers with
        # JointSpec.strict_range): (index, name, low, high) in boundary units.
        self._strict = [
            (i, j.name, *j.user_limits) for i, j in enumerate(robot.joints) if j.strict_range
        ]

    def step_targets(self, action: Any, previous_targets_rad: np.ndarray) -> np.ndarray:
        # A half, single or double precision array of the action's shape (what policies send)
        # converts directly: the subtraction upcasts to float64 exactly, as check's astype did
        # (longdouble takes the full path, which narrows it first). Finiteness is the safety
        # filter's check (same message); a strict joint out of range, or NaN there, takes the
        # full path so the error is the one check gives.
        shape_ok = type(action) is np.ndarray and action.shape == self._shape
        if shape_ok and action.dtype.char in "efd":
            for i, _, low, high in self._strict:
                if not low - 1e-6 <= float(action[i]) <= high + 1e-6:
                    break
            else:
                # RobotSpec.from_user inlined: the same subtraction and division.
                scale, offset = self.robot.user_affine
                targets = action - offset
                targets /= scale
                return targets
        return self.robot.from_user(self.check(action))

    def _build_space(self) -> spaces.Box:
        low, high = self.robot.user_limits()
        return spaces.Box(
            low=low.astype(np.float32), high=high.astype(np.float32), dtype=np.float32
        )

    def interior(
        self, lower_rad: np.ndarray, upper_rad: np.ndarray
    ) -> tuple[list[float], list[float]] | None:
        """Per joint, the float32 actions that need no check and no clamp: ``(low, high)``.

        A float32 action whose every value ``v`` has ``low[j] <= v <= high[j]`` lies in the
        action space and the strict ranges, and :meth:`step_targets` turns it into targets
        inside ``[lower_rad, upper_rad]`` (so a safety filter with those limits and no rate
        limit sends them unchanged). The bounds are the space's, moved inward by the few ulps
        where the unit conversion's rounding would leave the limits; None if a joint has no
        such value. A NaN passes no comparison, an inf lies outside.
        """
        scale, offset = self.robot.user_affine
        space = self.action_space
        strict = {i: (low - 1e-6, high + 1e-6) for i, _, low, high in self._strict}
        lows, highs = [], []
        for j in range(len(scale)):
            s, o = float(scale[j]), float(offset[j])
            lo_rad, hi_rad = float(lower_rad[j]), float(upper_rad[j])
            lo_user, hi_user = strict.get(j, (-np.inf, np.inf))

            def ok(
                v: np.float32,
                s: float = s,
                o: float = o,
                lo_rad: float = lo_rad,
                hi_rad: float = hi_rad,
                lo_user: float = lo_user,
                hi_user: float = hi_user,
            ) -> bool:
                value = float(v)
                target = (value - o) / s  # step_targets' subtraction and division, in float64
                if target == 0.0 and 0.0 in (lo_rad, hi_rad):
                    # A zero target at a zero limit: the clamp turns -0.0 into 0.0, so -0.0
                    # (which passes any comparison 0.0 does) must take the full path.
                    return False
                return lo_rad <= target <= hi_rad and lo_user <= value <= hi_user

            bounds = []
            for start, toward in ((space.low[j], np.inf), (space.high[j], -np.inf)):
                v = np.float32(start)
                for _ in range(64):  # rounding moves the edge by a few ulps at most
                    if ok(v):
                        break
                    v = np.nextafter(v, np.float32(toward))
                else:
                    return None
                bounds.append(float(v))
            if bounds[0] > bounds[1]:
                return None
            lows.append(bounds[0])
            highs.append(bounds[1])
        return lows, highs

    def check(self, action: Any) -> np.ndarray:
        arr = super().check(action)
        self._check_values(arr)
        return arr

    def _check_values(self, actions: np.ndarray) -> None:
        for i, name, low, high in self._strict:
            # A float32 tolerance: the space's bounds are float32 roundings of the limits.
            if actions.ndim == 1:
                # One action, the env's per-step path: a Python comparison, no temporaries.
                value = float(actions[i])
                if low - 1e-6 <= value <= high + 1e-6:
                    continue
                where = f"action[{i}]"
            else:
                values = actions[..., i]
                # Two reductions for the usual batch inside the range; the search if not.
                if values.min() >= low - 1e-6 and values.max() <= high + 1e-6:
                    continue
                bad = np.flatnonzero(~((low - 1e-6 <= values) & (values <= high + 1e-6)))
                if not bad.size:
                    continue
                where = f"actions[{bad[0]}, {i}]"
                value = float(values.reshape(-1)[bad[0]])
            raise ActionError(
                f"{where} ({name}) is {value:.6g}, outside its range {low:g}..{high:g} "
                f"({low:g} closed, {high:g} open); clip the policy's output into the action "
                "space, e.g. wrap the env in gymnasium.wrappers.ClipAction"
            )

    def targets(self, action: np.ndarray, previous_targets_rad: np.ndarray) -> np.ndarray:
        return self.robot.from_user(action)

    def action_for_targets(
        self, targets_rad: np.ndarray, previous_targets_rad: np.ndarray
    ) -> np.ndarray:
        return self.robot.to_user(targets_rad).astype(np.float32)


class JointDeltaController(Controller):
    """Per-step changes of the joint targets, bounded by ``max_delta`` boundary units.

    Args:
        robot: the robot.
        max_delta: largest change per step in boundary units (degrees / gripper percent for the
            SO-101); a scalar for every joint or one value per joint.
    """

    name = "joint_delta"

    def __init__(self, robot: RobotSpec, max_delta: float | np.ndarray = 5.0) -> None:
        self.max_delta = np.broadcast_to(
            np.asarray(max_delta, dtype=np.float64), (len(robot.joints),)
        ).copy()
        if np.any(self.max_delta <= 0):
            raise ConfigError("max_delta must be positive")
        super().__init__(robot)

    def _build_space(self) -> spaces.Box:
        bound = self.max_delta.astype(np.float32)
        return spaces.Box(low=-bound, high=bound, dtype=np.float32)

    def targets(self, action: np.ndarray, previous_targets_rad: np.ndarray) -> np.ndarray:
        action = np.clip(action, -self.max_delta, self.max_delta)
        return self.robot.from_user(self.robot.to_user(previous_targets_rad) + action)

    def action_for_targets(
        self, targets_rad: np.ndarray, previous_targets_rad: np.ndarray
    ) -> np.ndarray:
        delta = self.robot.to_user(targets_rad) - self.robot.to_user(previous_targets_rad)
        return delta.astype(np.float32)


CONTROLLERS: dict[str, type[Controller]] = {
    JointPositionController.name: JointPositionController,
    JointDeltaController.name: JointDeltaController,
}


def make_controller(name: str, robot: RobotSpec, **kwargs: Any) -> Controller:
    """Build a controller by name, with an error listing the valid names."""
    try:
        cls = CONTROLLERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown control_mode {name!r}; choose one of {sorted(CONTROLLERS)}"
        ) from None
    return cls(robot, **kwargs)
