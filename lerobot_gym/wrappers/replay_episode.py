"""Drive an env from a recorded episode's actions and measure how well it tracks the recording.

:func:`replay_episode` resets the env to the episode's recorded start, sends the recorded
``action`` column one step at a time, and compares the replayed ``observation.state`` with the
recorded one (:class:`ReplayReport`).

Design decisions:

* The env's step is the dataset's frame period: on the twin one step advances ``1/fps`` of
  physics, so replay is as fast as the CPU allows. ``realtime=True`` sleeps to the dataset's
  fps; on hardware, wrap the env in ``ControlRate`` instead, which also measures overruns.
* The start is the recorded first ``observation.state``, passed as
  ``reset(options={"joint_positions": ...})`` (supported by every lerobot_gym env). Datasets do
  not store the reset seed, so on the twin a replay reproduces the robot's motion but not
  necessarily the props (where the cube was) unless the episode's ``seed`` is passed again.
* Frame ``t`` of a recording holds the observation *before* action ``t``, so the replayed
  states compared are the reset observation and the observations after actions ``0..T-2``;
  the last action is sent but has no recorded outcome to compare with.
* Whole episodes only: an env whose ``TimeLimit`` is shorter than the episode is refused before
  it moves (``gym.make(id, max_episode_steps=T)`` lifts it; ``lerobot-gym replay`` does), and
  a report of an env that ended the episode early says so (:attr:`ReplayReport.complete` is
  False; the CLI exits non-zero) rather than passing off a part as the whole.
* The report labels its units: the robot's boundary units per joint (degrees, gripper percent
  for the SO-101) when the env is a lerobot_gym env, else "the dataset's units".
* Only the ``action`` and ``observation.state`` columns are read (no video is decoded).
* Nothing here prints: the CLI prints :meth:`ReplayReport.summary`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import pyarrow.compute as pc

from lerobot_gym.dataset import DatasetMeta, lfs
from lerobot_gym.dataset.meta import read_parquet
from lerobot_gym.dataset.v21 import load_meta
from lerobot_gym.errors import ConfigError, DatasetMismatchError
from lerobot_gym.wrappers.lerobot_keys import ACTION, OBS_STATE, to_lerobot_observation

#: How a joint's boundary unit (:mod:`lerobot_gym.core.units`) is printed in the report.
UNIT_LABELS = {"deg": "deg", "rad": "rad", "percent": "%", "fraction": "0..1"}


@dataclass(frozen=True, eq=False)
class ReplayReport:
    """Per-joint tracking error of a replayed episode, in the env's units.

    Attributes:
        episode_index: the replayed episode.
        num_actions: actions sent to the env.
        joint_names: names of the state dimensions (``shoulder_pan.pos`` ...).
        recorded_state: recorded ``observation.state`` of the compared frames, shape (T, D).
        replayed_state: the env's ``observation.state`` at the same frames, shape (T, D).
        ended_early: the env terminated or truncated before every action was sent.
        num_recorded_frames: frames of the episode in the dataset.
        units: unit label per state dimension (``"deg"``, ``"%"`` ...); empty when unknown.
        end_reason: ``"terminated"`` or ``"truncated"`` when the env ended early, else None.
    """

    episode_index: int
    num_actions: int
    joint_names: tuple[str, ...]
    recorded_state: np.ndarray = field(repr=False)
    replayed_state: np.ndarray = field(repr=False)
    ended_early: bool = False
    num_recorded_frames: int = -1
    units: tuple[str, ...] = ()
    end_reason: str | None = None

    def __post_init__(self) -> None:
        if self.num_recorded_frames < 0:  # built by hand: what was compared was recorded
            object.__setattr__(self, "num_recorded_frames", len(self.recorded_state))

    @property
    def num_compared_frames(self) -> int:
        """Frames whose replayed state was compared with the recorded one."""
        return len(self.replayed_state)

    @property
    def complete(self) -> bool:
        """Every recorded frame was compared (the env did not end the episode early)."""
        return self.num_compared_frames >= self.num_recorded_frames and not self.ended_early

    @property
    def error(self) -> np.ndarray:
        """Replayed minus recorded state, shape (T, D)."""
        return self.replayed_state.astype(np.float64) - self.recorded_state.astype(np.float64)

    @property
    def mean_abs_error(self) -> np.ndarray:
        """Mean absolute error per joint, shape (D,)."""
        return np.abs(self.error).mean(axis=0)

    @property
    def max_abs_error(self) -> np.ndarray:
        """Maximum absolute error per joint, shape (D,)."""
        return np.abs(self.error).max(axis=0)

    @property
    def rms_error(self) -> float:
        """Root mean square error over all frames and joints."""
        return float(np.sqrt(np.mean(self.error**2)))

    def summary(self) -> str:
        """What was compared, then mean and max absolute error per joint with its unit, then RMS."""
        width = max(len(n) for n in self.joint_names) if self.joint_names else 5
        first = (
            f"episode {self.episode_index}: replayed {self.num_actions} actions, compared "
            f"{self.num_compared_frames} of {self.num_recorded_frames} recorded frames"
        )
        if self.ended_early:
            first += (
                f" (the env {self.end_reason or 'ended the episode'} after {self.num_actions} "
                "actions: the rest was not compared)"
            )
        units = self.units if len(self.units) == len(self.joint_names) else ()
        where = "in each joint's unit" if units else "in the dataset's units"
        lines = [
            first,
            f"tracking error |replayed - recorded| of observation.state, {where}:",
            f"{'joint':<{width}}  {'mean|err|':>10}  {'max|err|':>10}"
            + ("  unit" if units else ""),
        ]
        for i, (name, mean, peak) in enumerate(
            zip(self.joint_names, self.mean_abs_error, self.max_abs_error)
        ):
            unit = f"  {units[i]}" if units else ""
            lines.append(f"{name:<{width}}  {mean:>10.4f}  {peak:>10.4f}{unit}")
        mixed = len(set(units)) > 1
        lines.append(
            f"overall RMS: {self.rms_error:.4f}"
            + (f" (all joints together; units {', '.join(dict.fromkeys(units))})" if mixed else "")
        )
        return "\n".join(lines)


def load_episode_columns(
    root: str | Path, episode_index: int, keys: tuple[str, ...] = (ACTION, OBS_STATE)
) -> tuple[DatasetMeta, dict[str, np.ndarray]]:
    """The dataset's metadata and the numeric ``keys`` columns of one episode, (T, D) each.

    Raises:
        DatasetNotFoundError: no dataset at ``root``.
        ConfigError: no such episode, or a key that is not a 1-D numeric feature.
    """
    meta = load_meta(root)  # v3.0 or v2.1; never opens a video, so none need be present
    if not 0 <= episode_index < meta.num_episodes:
        raise ConfigError(
            f"episode {episode_index} does not exist; {root} has {meta.num_episodes} episodes"
        )
    for key in keys:
        ft = meta.features.get(key)
        if ft is None or ft["dtype"] in ("video", "image", "string", "language"):
            raise ConfigError(
                f"{root} has no numeric feature {key!r}; it has {list(meta.features)}"
            )
    lfs.check_file(meta.data_path(episode_index), "data file")
    table = read_parquet(meta.data_path(episode_index), columns=[*keys, "episode_index", "index"])
    table = table.filter(pc.equal(table["episode_index"], episode_index)).sort_by("index")
    columns = {}
    for key in keys:
        width = int(np.prod(meta.features[key]["shape"]))
        values = np.asarray(table[key].to_pylist(), dtype=meta.features[key]["dtype"])
        columns[key] = values.reshape(len(values), width)
    return meta, columns


def replay_episode(
    env: gym.Env,
    root: str | Path,
    episode_index: int,
    *,
    start_from_recorded_state: bool = True,
    seed: int | None = None,
    realtime: bool = False,
    to_env_units: Callable[[np.ndarray], np.ndarray] | None = None,
) -> ReplayReport:
    """Replay a recorded episode's actions on ``env`` and report the tracking error.

    Args:
        env: any env (twin, emulated or real) whose action space matches the dataset's
            ``action`` and whose observation has a state (``agent_pos`` or
            ``observation.state``). The env is reset, not closed.
        root: dataset directory.
        episode_index: episode to replay.
        start_from_recorded_state: reset to the recorded first state
            (``options={"joint_positions": ...}``); otherwise the env's own reset pose.
        seed: reset seed; pass the seed the episode was recorded with to reproduce the props
            on the twin (datasets do not store it).
        realtime: sleep to hold the dataset's fps between steps.
        to_env_units: converts the dataset's ``action`` and ``observation.state`` rows to the
            env's units first, e.g. an SO-101 dataset recorded with LeRobot's older -100..100
            convention: ``functools.partial(m100_to_degrees, calibration=...)`` from
            :mod:`lerobot_gym.robots.so101.ticks`; the report is then in the env's units.

    Returns:
        The per-joint tracking error (:class:`ReplayReport`).

    Raises:
        DatasetMismatchError: the env's action or state size differs from the dataset's.

    Example:
        >>> import tempfile, pathlib
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> from lerobot_gym.wrappers import RecordEpisodes
        >>> root = pathlib.Path(tempfile.mkdtemp()) / "reach"
        >>> env = RecordEpisodes(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"),
        ...                      root, repo_id="me/reach")
        >>> obs, info = env.reset(seed=0)
        >>> for _ in range(20):
        ...     obs, *_ = env.step(env.action_space.sample())
        >>> env.close()
        >>> report = replay_episode(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"),
        ...                         root, 0)
        >>> report.num_actions, bool(report.mean_abs_error.max() < 1.0)
        (20, True)
    """
    meta, columns = load_episode_columns(root, episode_index)
    actions, recorded = columns[ACTION], columns[OBS_STATE]
    if to_env_units is not None:
        actions = np.asarray(to_env_units(actions), dtype=np.float32)
        recorded = np.asarray(to_env_units(recorded), dtype=np.float64)
    act_shape = env.action_space.shape
    if act_shape is None or tuple(act_shape) != actions.shape[1:]:
        raise DatasetMismatchError(
            f"the dataset's actions have shape {actions.shape[1:]} but the env's action space "
            f"is {env.action_space}; replay on an env with the same robot and control_mode"
        )
    limit = time_limit(env)
    if limit is not None and limit < len(actions):
        raise ConfigError(
            f"the env's time limit ({limit} steps) is shorter than episode {episode_index} "
            f"({len(actions)} actions), so it could not be replayed whole: make the env with "
            f"gym.make(env_id, max_episode_steps={len(actions)})"
        )
    names = meta.features[OBS_STATE].get("names") or [str(i) for i in range(recorded.shape[1])]
    options = {"joint_positions": recorded[0].copy()} if start_from_recorded_state else None
    obs, _ = env.reset(seed=seed, options=options)
    replayed = [_state(obs, recorded.shape[1])]
    period_s = 1.0 / meta.fps
    deadline = time.perf_counter() + period_s
    sent, end_reason = 0, None
    for t, action in enumerate(actions):
        obs, _, terminated, truncated, _ = env.step(action)
        sent += 1
        if realtime:
            time.sleep(max(0.0, deadline - time.perf_counter()))
            deadline += period_s
        if t + 1 < len(actions):
            replayed.append(_state(obs, recorded.shape[1]))
            if terminated or truncated:
                end_reason = "terminated" if terminated else "truncated"
                break
    replayed_state = np.stack(replayed)
    return ReplayReport(
        episode_index=episode_index,
        num_actions=sent,
        joint_names=tuple(names),
        recorded_state=recorded[: len(replayed_state)],
        replayed_state=replayed_state,
        ended_early=end_reason is not None,
        num_recorded_frames=int(meta.episodes[episode_index]["length"]),
        units=_units(env, recorded.shape[1]),
        end_reason=end_reason,
    )


def time_limit(env: gym.Env) -> int | None:
    """The smallest ``TimeLimit`` in ``env``'s wrapper stack (None: no limit)."""
    limits = []
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            # No public accessor: env.spec.max_episode_steps shows only the outermost limit.
            limits.append(int(env._max_episode_steps))
        env = env.env
    return min(limits, default=None)


def _units(env: gym.Env, size: int) -> tuple[str, ...]:
    """The boundary unit of each state dimension, when the env says (a lerobot_gym robot)."""
    joints = getattr(getattr(env.unwrapped, "robot", None), "joints", None)
    if not joints or len(joints) != size:
        return ()
    return tuple(UNIT_LABELS.get(str(j.unit), str(j.unit)) for j in joints)


def _state(obs: object, size: int) -> np.ndarray:
    state = to_lerobot_observation(obs).get(OBS_STATE)
    if state is None or np.shape(state) != (size,):
        raise DatasetMismatchError(
            f"the env's observation has no state of size {size} (agent_pos or "
            "observation.state) to compare with the recording"
        )
    return np.asarray(state, dtype=np.float32).copy()
