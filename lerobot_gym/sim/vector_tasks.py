"""The batched vector env's task side: evaluating the twins and batching their info.

:class:`TwinEvaluation` is a part of :class:`~lerobot_gym.sim.vector_env.TwinVectorEnv` (a
mixin, split out to keep each module readable): the tasks' facts, rewards, success and
``environment_state`` of the twins, either by the task's own batched evaluation
(:meth:`Task.evaluate_batch <lerobot_gym.core.task.Task.evaluate_batch>`, a few numpy calls
over the batch) or twin by twin, and Gymnasium's batched ``info`` built from them.

Decisions:

- Batched results (the fact arrays, success, ``environment_state``) are replaced, never written
  in place, once handed out, so observations and info share them without copies; a partial
  update (some twins reset) copies first.
- A task without a batched evaluation, or whose goals differ in keys or shapes between twins,
  is evaluated twin by twin from then on (the per-twin facts dicts, batched per key).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from lerobot_gym.core import info as info_keys
from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import BatchTaskContext, Task, TaskContext
from lerobot_gym.sim.batch_world import BatchPoses


class TwinEvaluation:
    """The twins' task evaluation and batched info (see the module docstring)."""

    num_envs: int
    robot: RobotSpec
    task: Task
    _vectorised: bool
    _goals: dict[str, np.ndarray]
    _fact_arrays: dict[str, np.ndarray] | None
    _facts: list[dict[str, Any]]
    _ctxs: list[TaskContext | None]
    _success: np.ndarray
    _env_state: np.ndarray
    _n_fact_keys: int
    _has_environment_state: bool
    _poses: BatchPoses
    _qpos: np.ndarray
    _qvel: np.ndarray
    _time: np.ndarray
    _qpos_index: Any
    _dof_index: Any

    def _stack_goal(self, row: int, goal: dict[str, np.ndarray]) -> None:
        """Keep twin ``row``'s goal in the stacked goals a batched evaluation reads."""
        if not self._vectorised:
            return
        goals = self._goals
        for key, value in goal.items():
            value = np.asarray(value)
            stacked = goals.get(key)
            if stacked is None:
                stacked = goals[key] = np.zeros((self.num_envs, *value.shape), value.dtype)
            if stacked.shape[1:] != value.shape:
                self._vectorised = False  # goals of varying shapes: evaluate twin by twin
                return
            stacked[row] = value
        if goals.keys() != goal.keys():
            self._vectorised = False

    def _evaluate_rows(self, rows: np.ndarray, rewards: np.ndarray | None = None) -> np.ndarray:
        """The task's facts, success and ``environment_state`` of each twin of ``rows``.

        With ``rewards``, also each twin's reward (written there) and failure (returned,
        ``(N,)``). One call of ``Task.evaluate_batch`` when the task has it, else a Python loop
        over the twins.
        """
        if self._vectorised:
            failure = self._evaluate_batch(rows, rewards)
            if failure is not None:
                return failure
            self._vectorised = False  # the task evaluates twin by twin
            self._fact_arrays = None
        # Copies, as the single env's readings are: the bound rows change at the next step.
        q = self._qpos[:, self._qpos_index].copy()
        qd = self._qvel[:, self._dof_index].copy()
        now = time.monotonic()
        task = self.task
        evaluate, is_success = task.evaluate, task.is_success
        env_state = task.environment_state if self._has_environment_state else None
        failure = np.zeros(self.num_envs, dtype=bool)
        success, states = self._success.copy(), self._env_state.copy()
        for i in rows:
            state = RobotState(
                joint_positions_rad=q[i],
                joint_velocities_rad_s=qd[i],
                timestamp_s=now,
                extras={"sim_time_s": float(self._time[i])},
            )
            ctx = self._ctxs[i]
            assert ctx is not None  # every twin is reset before it is evaluated
            self._facts[i] = facts = evaluate(ctx, state)
            success[i] = bool(is_success(facts))
            if env_state is not None:
                states[i] = env_state(facts)
            if rewards is not None:
                rewards[i] = float(task.reward(facts))
                failure[i] = bool(task.is_failure(facts))
        self._success, self._env_state = success, states
        return failure

    def _evaluate_batch(self, rows: np.ndarray, rewards: np.ndarray | None) -> np.ndarray | None:
        """:meth:`_evaluate_rows` by ``Task.evaluate_batch``; None if the task has none."""
        all_rows = len(rows) == self.num_envs
        poses = self._poses
        poses.rows = None if all_rows else rows
        q = self._qpos[:, self._qpos_index]
        goals = self._goals if all_rows else {k: v[rows] for k, v in self._goals.items()}
        ctx = BatchTaskContext(
            robot=self.robot,
            world=poses,
            goal=goals,
            joint_positions_rad=q.copy() if all_rows else q[rows],
        )
        ev = self.task.evaluate_batch(ctx)
        if ev is None:
            return None
        if all_rows:
            self._fact_arrays = ev.facts
            self._n_fact_keys = len(ev.facts)
            self._success = ev.success
            if self._has_environment_state:
                self._env_state = ev.environment_state
            failure = ev.failure
            if rewards is not None:
                rewards[:] = ev.reward
        else:
            previous = self._fact_arrays
            facts = {}
            for key, value in ev.facts.items():
                full = (
                    previous[key].copy()
                    if previous is not None and key in previous
                    else np.zeros((self.num_envs, *value.shape[1:]), value.dtype)
                )
                full[rows] = value
                facts[key] = full
            self._fact_arrays = facts
            self._success = self._success.copy()
            self._success[rows] = ev.success
            if self._has_environment_state:
                self._env_state = self._env_state.copy()
                self._env_state[rows] = ev.environment_state
            failure = np.zeros(self.num_envs, dtype=bool)
            failure[rows] = ev.failure
            if rewards is not None:
                rewards[rows] = ev.reward
        return failure

    def _batched_info(
        self,
        rows: np.ndarray,
        stepped: tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None,
    ) -> dict[str, Any]:
        """Gymnasium's batched info: the reset info for reset twins, the step info otherwise."""
        n = self.num_envs
        if len(rows) == n:
            mask = np.ones(n, dtype=bool)
            success = self._success  # replaced, never written in place
        else:
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
            success = np.where(mask, self._success, False)
        info: dict[str, Any] = {info_keys.IS_SUCCESS: success, f"_{info_keys.IS_SUCCESS}": mask}
        if stepped is not None:
            step_rows, applied, clamped = stepped
            if applied is not None and clamped is not None:
                if len(step_rows) == n:
                    info[info_keys.ACTION_APPLIED] = applied
                    info[info_keys.SAFETY_CLAMPED] = clamped
                    step_mask = np.ones(n, dtype=bool)
                else:
                    full = np.zeros((n, *applied.shape[1:]), dtype=applied.dtype)
                    full[step_rows] = applied
                    info[info_keys.ACTION_APPLIED] = full
                    full_clamped = np.zeros((n, *clamped.shape[1:]), dtype=bool)
                    full_clamped[step_rows] = clamped
                    info[info_keys.SAFETY_CLAMPED] = full_clamped
                    step_mask = np.zeros(n, dtype=bool)
                    step_mask[step_rows] = True
                info[f"_{info_keys.ACTION_APPLIED}"] = step_mask
                info[f"_{info_keys.SAFETY_CLAMPED}"] = step_mask.copy()
        info[info_keys.FACTS] = self._facts_info(rows)
        info[f"_{info_keys.FACTS}"] = mask.copy()
        return info

    def _facts_info(self, rows: np.ndarray, ones: list[np.ndarray] | None = None) -> dict[str, Any]:
        """The facts of twins ``rows`` as Gymnasium batches them (zeros and masks elsewhere).

        ``ones``: fresh all-True masks the caller allocated with its own (one per fact of a
        batched evaluation, used when every twin is in ``rows``).
        """
        if self._fact_arrays is not None:
            return _masked_arrays(self._fact_arrays, rows, self.num_envs, ones)
        return _batch_dicts([self._facts[i] for i in rows], rows, self.num_envs)


def _masked_arrays(
    arrays: dict[str, np.ndarray],
    rows: np.ndarray,
    n: int,
    ones: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Batched arrays as Gymnasium's info for ``rows``: zeros elsewhere, a ``_key`` mask each."""
    out: dict[str, Any] = {}
    every = len(rows) == n
    if every and (ones is None or len(ones) != len(arrays)):
        ones = list(np.ones((len(arrays), n), dtype=bool))
    for k, (key, value) in enumerate(arrays.items()):
        if every:
            out[key] = value  # replaced, never written in place, by the env
            out[f"_{key}"] = ones[k]  # type: ignore[index]  # set when every twin is in rows
        else:
            full = np.zeros_like(value)
            full[rows] = value[rows]
            out[key] = full
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
            out[f"_{key}"] = mask
    return out


def _batch_dicts(dicts: list[dict[str, Any]], rows: np.ndarray, n: int) -> dict[str, Any]:
    """Some envs' dicts as one dict of ``(n, ...)`` arrays with ``_key`` masks.

    Gymnasium's ``VectorEnv._add_info`` layout, built one array per key rather than one
    assignment per env and key.
    """
    out: dict[str, Any] = {}
    first = dicts[0] if dicts else {}
    if len(rows) == n and all(d.keys() == first.keys() for d in dicts):
        # Every env, the same keys (a task's facts at every step): no per-env bookkeeping.
        for key, value in first.items():
            values = [d[key] for d in dicts]
            if isinstance(value, dict):
                out[key] = _batch_dicts(values, rows, n)
            else:
                out[key] = _stack(values)
            out[f"_{key}"] = np.ones(n, dtype=bool)
        return out
    keys: list[str] = []
    for d in dicts:
        keys.extend(k for k in d if k not in keys)
    for key in keys:
        have = [j for j, d in enumerate(dicts) if key in d]
        where = rows[have]
        values = [dicts[j][key] for j in have]
        if isinstance(values[0], dict):
            out[key] = _batch_dicts(values, where, n)
        else:
            stacked = _stack(values)
            full = np.zeros((n, *stacked.shape[1:]), dtype=stacked.dtype)
            full[where] = stacked
            out[key] = full
        mask = np.zeros(n, dtype=bool)
        mask[where] = True
        out[f"_{key}"] = mask
    return out


def _stack(values: list[Any]) -> np.ndarray:
    """Values of the envs as one array (an object array for what does not stack)."""
    try:
        stacked = np.asarray(values)
    except ValueError:  # ragged arrays
        stacked = np.empty(0, dtype=object)
    if stacked.dtype == object:
        stacked = np.empty(len(values), dtype=object)
        for j, value in enumerate(values):
            stacked[j] = value
    return stacked
