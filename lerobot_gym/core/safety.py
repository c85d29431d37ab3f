"""Safety limits applied to every joint target, on every backend (the twin included).

Policies train under the real arm's limits, so the same filter runs in simulation and on
hardware. Three rules, in order:

1. Non-finite targets are rejected with :class:`~lerobot_gym.errors.ActionError` (never clamped:
   a NaN means the policy is broken, and guessing a target for it could move the arm).
2. Each target is clamped to the joint's limits.
3. The change from the previous *applied* target is limited to ``max_relative_target`` per step
   (as LeRobot's ``max_relative_target``, but relative to the last command so the bound holds for
   any action sequence, not only when the arm keeps up).

The filter works in SI; the env converts from boundary units (degrees, gripper percent) first.
Targets the caller proved inside the limits (an action in its controller's interior, without a
rate limit) are recorded with :meth:`SafetyFilter.accept`, which is what :meth:`~SafetyFilter.
apply` would do with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lerobot_gym.errors import ActionError, ConfigError

# numpy's clip ufunc, called directly: np.clip reaches it through three Python layers (several
# microseconds on a 6-vector) and np.minimum(np.maximum(...)) is two ufunc calls; this is one,
# with the same values (NaN propagates, an infinite value goes to the bound). On the per-step
# path of every env.
try:
    from numpy._core import umath as _umath
except ImportError:  # numpy < 2
    from numpy.core import umath as _umath  # type: ignore[no-redef]
# numpy's stubs omit umath.clip.
clip_ufunc: np.ufunc = _umath.clip  # type: ignore[attr-defined]
_F64 = np.dtype(np.float64)


# Not frozen: a frozen dataclass costs about a microsecond more to build, once per step.
@dataclass(slots=True)
class SafetyReport:
    """What the filter did to one command.

    Attributes:
        applied_rad: the targets to send, SI.
        clamped: per joint, whether the requested target was changed.
        exact: the targets go out exactly as requested (no joint's changed by more than float
            underflow, 1e-154 rad, which no float32 action can express); the env then reports
            an absolute action itself as the one applied.
    """

    applied_rad: np.ndarray
    clamped: np.ndarray
    exact: bool = False


def require_finite(
    values: np.ndarray, what: str = "action", error: type[Exception] = ActionError
) -> None:
    """Raise ``error`` naming the indices of any NaN or inf in ``values`` (``what`` they are)."""
    # On the per-step path, one dot product instead of isfinite + all (numpy reductions cost
    # microseconds on small arrays): x . x of finite values is finite unless it overflows, and an
    # overflow falls through to the exact test. A batch (the vector env) is one flat vector.
    flat = values.reshape(-1)
    if math.isfinite(flat.dot(flat)):
        return
    if not np.isfinite(values).all():
        bad = np.flatnonzero(~np.isfinite(values)).tolist()
        cause = (
            "the policy produced NaN or inf (check its normalisation stats and inputs)"
            if what == "action"
            else "pass finite numbers"
        )
        raise error(
            f"{what} has non-finite values at indices {bad}; {cause}; nothing was sent to the robot"
        )


def as_float_vector(
    value: object,
    shape: tuple[int, ...],
    *,
    what: str = "action",
    layout: str = "",
    error: type[Exception] = ActionError,
) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape``, or ``error`` saying what is expected.

    Only real numbers are accepted: a complex value would lose its imaginary part in the cast,
    and text or booleans would be parsed into joint targets, so all three are refused rather
    than guessed at.

    Args:
        value: an array-like (numpy array, list, tensor).
        shape: the expected shape.
        what: how the value is named in messages (``"action"``, ``"reset option 'x'"``).
        layout: what the values are, e.g. ``"one value per joint in order [...]"``.
        error: the error type raised.
    """
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        arr = value.astype(np.float64, copy=False)  # the per-step path: no conversion
    else:
        try:
            raw = np.asarray(value)
        except (TypeError, ValueError):  # ragged sequences
            raw = np.asarray(None)
        if raw.dtype.kind == "c":
            raise error(
                f"{what} has complex values ({raw.dtype}); pass real numbers ({layout}): the "
                "imaginary part would be silently dropped"
            )
        if raw.dtype.kind not in "iuf":
            raise error(
                f"{what} must be a numeric array of shape {shape} ({layout}); got "
                f"{type(value).__name__}" + (f" of {raw.dtype}" if raw.dtype.kind != "O" else "")
            )
        arr = raw.astype(np.float64)
    if arr.shape != shape:
        raise error(f"{what} has shape {arr.shape}, expected {shape}: {layout}")
    require_finite(arr, what, error)
    return arr


class SafetyFilter:
    """Finite-check, clamp to limits and rate-limit joint targets.

    Args:
        lower_rad: lower joint limits.
        upper_rad: upper joint limits.
        max_step_rad: per-joint bound on the change of target per step (``inf`` for none).

    Example:
        >>> import numpy as np
        >>> f = SafetyFilter(np.array([-1.0, -1.0]), np.array([1.0, 1.0]), np.array([0.1, np.inf]))
        >>> f.reset(np.zeros(2))
        >>> f.apply(np.array([0.5, 3.0])).applied_rad
        array([0.1, 1. ])
    """

    def __init__(
        self, lower_rad: np.ndarray, upper_rad: np.ndarray, max_step_rad: np.ndarray
    ) -> None:
        self.lower_rad = np.asarray(lower_rad, dtype=np.float64)
        self.upper_rad = np.asarray(upper_rad, dtype=np.float64)
        self.max_step_rad = np.broadcast_to(
            np.asarray(max_step_rad, dtype=np.float64), self.lower_rad.shape
        ).copy()
        if np.any(self.max_step_rad <= 0):
            raise ConfigError("max_relative_target must be positive; pass None to disable it")
        self._rate_limited = bool(np.isfinite(self.max_step_rad).any())
        self._previous: np.ndarray | None = None

    @property
    def rate_limited(self) -> bool:
        """Whether a per-step bound applies (then targets depend on the previous ones)."""
        return self._rate_limited

    def accept(self, targets_rad: np.ndarray) -> None:
        """Record float64 targets the caller proved :meth:`apply` sends unchanged.

        The env's per-step path for an action inside its controller's interior
        (:meth:`~lerobot_gym.core.controller.Controller.interior`): finite targets inside the
        limits, with no rate limit, which :meth:`apply` would report as exact and unclamped.
        """
        self._previous = targets_rad

    def reset(self, current_rad: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Start a new episode from the arm's present targets (clamped into the limits).

        A batch of arms (the batched vector env) is a ``(n, joints)`` array; ``rows`` then
        restarts only those arms, the others keep their previous targets.
        """
        current = np.clip(np.asarray(current_rad, np.float64), self.lower_rad, self.upper_rad)
        if rows is None or self._previous is None:
            self._previous = current
        else:
            self._previous[rows] = current

    def apply_unchanged(self, targets_rad: np.ndarray) -> np.ndarray | None:
        """``targets_rad`` (float64) if :meth:`apply` would send them unchanged, else None.

        The batched vector env's per-step path, for a whole ``(n, joints)`` batch: one pass
        that clamps as :meth:`apply` does and compares. When no target changes (finite, inside
        the limits and the rate limit, as almost every command of a policy within its action
        space), the targets are recorded as applied and returned; otherwise nothing is recorded
        and the caller runs :meth:`apply`, which raises or reports the clamps. A NaN or inf
        target always changes (NaN propagates through the clamp, inf is clamped), so it never
        passes here.
        """
        safe = clip_ufunc(targets_rad, self.lower_rad, self.upper_rad)
        previous = self._previous
        if self._rate_limited and previous is not None:
            step = self.max_step_rad
            clip_ufunc(safe, previous - step, previous + step, out=safe)
        # Any target changed (a NaN never equals itself): two C calls, no reduction wrapper.
        if np.count_nonzero(safe != targets_rad):
            return None
        self._previous = safe
        return safe

    def apply(self, targets_rad: np.ndarray, rows: np.ndarray | None = None) -> SafetyReport:
        """Return the safe version of ``targets_rad``; raises ActionError for NaN/inf.

        For a batch of arms (``(n, joints)`` targets), ``rows`` says which arms of the batch
        the targets are for; the others keep their previous targets.
        """
        targets = targets_rad
        # `is`, not `!=`: comparing a dtype with np.float64 converts the type on every call.
        if type(targets) is not np.ndarray or targets.dtype is not _F64:
            targets = np.asarray(targets_rad, dtype=np.float64)
        if rows is None and targets.ndim == 1:
            return self._apply_one(targets)
        require_finite(targets)
        safe = clip_ufunc(targets, self.lower_rad, self.upper_rad)
        previous = self._previous
        if previous is not None and rows is not None:
            previous = previous[rows]
        if self._rate_limited and previous is not None:
            # The previous target is inside the limits, so the step box keeps safe inside them.
            safe = clip_ufunc(safe, previous - self.max_step_rad, previous + self.max_step_rad)
        if rows is None or self._previous is None:
            self._previous = safe
        else:
            self._previous[rows] = safe
        # A tolerance, not !=: the float32 action bounds round past the float64 limits, and an
        # action at its space's bound is not a clamp worth reporting.
        return SafetyReport(applied_rad=safe, clamped=np.abs(safe - targets) > 1e-6)

    def _apply_one(self, targets: np.ndarray) -> SafetyReport:
        """:meth:`apply` for one arm's float64 targets: every env's per-step path."""
        safe = clip_ufunc(targets, self.lower_rad, self.upper_rad)
        previous = self._previous
        if self._rate_limited and previous is not None:
            safe = clip_ufunc(safe, previous - self.max_step_rad, previous + self.max_step_rad)
        # Most commands are not clamped at all: the clamped targets equal the requested ones,
        # which two lists of Python floats tell in one comparison (a third of the subtraction
        # and dot product below). NaN propagates through the clip and never equals itself, and
        # an infinite target is clamped to a finite limit, so a non-finite target never passes.
        if safe.tolist() == targets.tolist():
            self._previous = safe
            return SafetyReport(safe, np.zeros(len(safe), dtype=bool), True)
        # The finite check and the clamp report from one dot product: a non-finite target
        # makes the squared change NaN or inf, which fails `<=` and takes the exact check.
        # When the squared change is below the tolerance squared, no single joint's can exceed
        # it and the per-joint test is skipped.
        change = safe - targets
        squared = change.dot(change)
        if squared <= 1e-12:
            self._previous = safe
            # `not squared`: a Python bool, True exactly when every change is zero.
            return SafetyReport(safe, np.zeros(len(safe), dtype=bool), not squared)
        require_finite(targets)  # raises before anything is kept
        self._previous = safe
        return SafetyReport(applied_rad=safe, clamped=np.abs(change) > 1e-6)
