"""System identification: fit the twin's servo model and mounting to a recorded real dataset.

:func:`identify` replays a recording's ``action`` column on the twin (free motion, no props),
compares the twin's joint states with the recorded ``observation.state`` and searches the
parameters of :mod:`lerobot_gym.sim.servo` that make them agree; :func:`check` measures the
result on other episodes. ``lerobot-gym sysid`` (``cli/sysid.py``) prints the report and writes
the parameter file and a PNG plot (:mod:`lerobot_gym.sim.sysid_report`).

What is identified, and how:

- **Mounting** (``base_height_m``): the recorded poses are put through the twin's kinematics;
  the base is raised until the lowest point of the arm's collision geoms is at or above the
  table top in all but :data:`TABLE_QUANTILE` of the frames (a hand that grasps from the table
  touches it; the real arm cannot be inside it). Kinematics only, no simulation.
- **Servo** (per-joint ``kp``, the global ``delay_s``): a coarse grid first (every joint gets
  the same ``kp`` in one run, and each joint keeps the value that fit it best, since a joint's
  error depends mostly on its own gains), then a local refinement; the cost is each joint's
  mean absolute state error divided by the real arm's own tracking error on that joint, so
  every joint counts alike; to each joint's state error is added the gap between the twin's
  and the real arm's tracking errors, so the twin is not smoother than the arm. Then each
  joint's deadband on a grid of ticks. Small by design: a few episodes, a few dozen replays.
- **Joint zero offsets** are not fitted: free-motion tracking data (state against action of
  the same encoder) does not determine them; they stay as the parameter file has them.

Units: the env's boundary units (SO-101: degrees, gripper 0..100). A dataset in LeRobot's
older -100..100 convention is converted with its calibration; without one the calibrated range
of each arm joint is assumed to be the twin's joint range (:func:`assumed_calibration`), and
the report says so.

Tracking error (the real arm's and the twin's alike): ``mean |state[t + lag] - action[t]|`` per
joint at the lag (in frames) that minimises it, :func:`tracking_error`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.errors import CalibrationError, DatasetMismatchError
from lerobot_gym.sim.twin_params import TwinParams

ACTION, OBS_STATE = "action", "observation.state"
MAX_LAG = 10
TABLE_QUANTILE = 0.01
#: Penetration deeper than this counts as "inside the table" (MuJoCo's soft contacts sink a
#: little under load even where nothing is wrong).
INSIDE_TABLE_M = 0.001
DELAY_GRID_S = (0.0, 1 / 60, 1 / 30, 0.05)
KP_GRID = (3.0, 6.0, 12.0, 24.0, 48.0, 96.0)
DEADBAND_GRID_TICKS = (1, 3, 6, 12, 24)


@dataclasses.dataclass
class Recording:
    """Episodes of a dataset in the env's boundary units.

    Attributes:
        episodes: episode indices.
        actions: per episode, (T, D) actions.
        states: per episode, (T, D) recorded states.
        joint_names: the state's names.
        units_note: how the data was put into the env's units (which calibration was used).
        fps: the dataset's frame rate.
    """

    episodes: list[int]
    actions: list[np.ndarray]
    states: list[np.ndarray]
    joint_names: tuple[str, ...]
    units_note: str
    fps: int


def assumed_calibration(robot: RobotSpec) -> dict[str, Any]:
    """A calibration whose arm ranges are the twin's joint ranges (mid-range at tick 2048).

    Used to read a -100..100 dataset recorded without its calibration file.
    """
    from lerobot_gym.robots.so101.calibration import MotorCalibration

    low, high = robot.user_limits()
    cal = {}
    for i, joint in enumerate(robot.joints):
        span = 4095 if joint.is_gripper else round((high[i] - low[i]) * 4095 / 360)
        cal[joint.name] = MotorCalibration(
            id=joint.motor_id or i + 1,
            drive_mode=0,
            homing_offset=0,
            range_min=max(0, 2048 - span // 2),
            range_max=min(4095, 2048 - span // 2 + span),
        )
    return cal


def load_recording(
    root: str | Path,
    robot: RobotSpec,
    episodes: Sequence[int],
    *,
    use_degrees: bool = True,
    calibration: str | Path | None = None,
) -> Recording:
    """Read ``action`` and ``observation.state`` of some episodes, in the env's units.

    Raises:
        DatasetMismatchError: no ``action`` or ``observation.state``, or not this robot's size.
        CalibrationError: the calibration's motors are not the dataset's joints.
    """
    from lerobot_gym.dataset.v21 import load_meta
    from lerobot_gym.wrappers.replay_episode import load_episode_columns

    meta = load_meta(root)
    for key in (ACTION, OBS_STATE):
        if key not in meta.features:
            raise DatasetMismatchError(
                f"{root} has no {key!r} feature (it has {list(meta.features)}); sysid needs "
                "the recorded actions and joint states of a real arm"
            )
        if tuple(meta.features[key]["shape"]) != (len(robot.joints),):
            raise DatasetMismatchError(
                f"{root}: {key} has shape {meta.features[key]['shape']}, but robot "
                f"{robot.name!r} has {len(robot.joints)} joints; fit a dataset of this robot"
            )
    names = tuple(meta.features[OBS_STATE].get("names") or robot.joint_names)
    motors = tuple(n.removesuffix(".pos") for n in names)
    convert: dict[str, Any] | None = None
    cal: dict[str, Any] = {}
    note = "the dataset is in degrees (LeRobot use_degrees=True); no calibration needed"
    if calibration is not None:
        from lerobot_gym.robots.so101.calibration import load_calibration

        cal = load_calibration(Path(calibration).expanduser())
        if tuple(cal) != motors:
            raise CalibrationError(
                f"calibration {calibration} names motors {list(cal)} but the dataset's joints "
                f"are {list(motors)}; pass the calibration of the arm that recorded {root}"
            )
        note = f"calibration {calibration}"
    if not use_degrees:
        if calibration is None:
            cal = assumed_calibration(robot)
            ranges = ", ".join(f"{n} {c.range_min}..{c.range_max}" for n, c in cal.items())
            note = (
                "the dataset is in LeRobot's -100..100 units and no calibration was given: "
                f"assumed each joint's calibrated range is the twin's joint range ({ranges} "
                "ticks, mid-range zero)"
            )
        else:
            note = f"-100..100 units converted with {note}"
        convert = cal
    from lerobot_gym.robots.so101.ticks import m100_to_degrees

    actions, states = [], []
    for ep in episodes:
        _, cols = load_episode_columns(root, int(ep))
        a, s = cols[ACTION].astype(np.float64), cols[OBS_STATE].astype(np.float64)
        if convert is not None:
            a, s = m100_to_degrees(a, convert), m100_to_degrees(s, convert)
        actions.append(a)
        states.append(s)
    return Recording(list(episodes), actions, states, names, note, int(meta.fps))


def tracking_error(
    states: Sequence[np.ndarray], actions: Sequence[np.ndarray], max_lag: int = MAX_LAG
) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint mean |state[t+lag] - action[t]| at each joint's best lag, and those lags.

    Frames of all episodes are pooled. Returns ``(error (D,), lag (D,) in frames)``.
    """
    per_lag = []
    for lag in range(max_lag + 1):
        total, count = 0.0, 0
        for s, a in zip(states, actions):
            n = len(a) - lag
            if n > 0:
                total = total + np.abs(s[lag : lag + n] - a[:n]).sum(axis=0)
                count += n
        per_lag.append(np.asarray(total) / max(count, 1))
    table = np.stack(per_lag)  # (lags, D)
    lag = table.argmin(axis=0)
    return table[lag, np.arange(table.shape[1])], lag


class TwinReplayer:
    """One twin env (free motion, state observations) that replays recordings.

    Args:
        robot: the robot.
        params: twin parameters (servo model) or None for the ideal actuators.
        fps: the recording's frame rate.
    """

    def __init__(self, robot: RobotSpec, params: TwinParams | None, fps: int) -> None:
        from lerobot_gym.registry import make_env

        kwargs: dict[str, Any] = {"twin_params": params} if params is not None else {}
        self.env: Any = make_env(robot=robot, task="free", obs_type="state", fps=fps, **kwargs)
        self.robot = robot

    def set_params(self, params: TwinParams) -> None:
        """Replay with other servo parameters (same robot)."""
        backend = self.env.backend
        backend.servo.set_params(params)
        if backend.is_connected:
            scene = backend.scene
            backend.servo.attach(scene.model, scene.actuators, scene.qpos_adr)

    def replay(self, recording: Recording) -> tuple[list[np.ndarray], float]:
        """Twin states for each episode (same frames as recorded).

        Also returns the fraction of frames with an arm geom inside the table.
        """
        out, inside, frames = [], 0, 0
        for actions, states in zip(recording.actions, recording.states):
            obs, _ = self.env.reset(options={"joint_positions": states[0]})
            if not hasattr(self, "_geoms"):
                self._geoms = arm_collision_geoms(self.env.backend.model, self.env.backend.scene)
            rows = [obs["agent_pos"].astype(np.float64)]
            for action in actions[:-1]:
                obs, *_ = self.env.step(action.astype(np.float32))
                rows.append(obs["agent_pos"].astype(np.float64))
                inside += int(self.lowest_point() < self.robot.table_height_m - INSIDE_TABLE_M)
                frames += 1
            out.append(np.stack(rows))
        return out, inside / max(frames, 1)

    def lowest_point(self) -> float:
        """World z of the lowest point of the arm's collision geoms, now."""
        backend = self.env.backend
        return float(lowest_geom_z(backend.model, backend.data, self._geoms).min())

    def close(self) -> None:
        """Free the twin."""
        self.env.close()


def arm_collision_geoms(model: mujoco.MjModel, scene: Any) -> np.ndarray:
    """Ids of the collidable geoms on the arm's bodies."""
    joint = model.actuator_trnid[scene.actuators[0], 0]
    root = model.body_rootid[model.jnt_bodyid[joint]]
    body = model.geom_bodyid
    collide = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
    return np.flatnonzero((model.body_rootid[body] == root) & collide & (body != 0))


def lowest_geom_z(model: mujoco.MjModel, data: mujoco.MjData, geoms: np.ndarray) -> np.ndarray:
    """World z of each geom's lowest point (boxes exactly, other shapes by bounding radius)."""
    z = data.geom_xpos[geoms, 2]
    rz = np.abs(data.geom_xmat[geoms].reshape(-1, 3, 3)[:, 2, :])
    size = model.geom_size[geoms]
    is_box = model.geom_type[geoms] == mujoco.mjtGeom.mjGEOM_BOX
    extent = np.where(is_box, (rz * size).sum(axis=1), model.geom_rbound[geoms])
    return z - extent


def recorded_lowest_points(replayer: TwinReplayer, states: Sequence[np.ndarray]) -> np.ndarray:
    """Per recorded frame, the lowest arm point if the twin stood in that pose (kinematics)."""
    env = replayer.env
    if not env.backend.is_connected:
        env.reset(options={"joint_positions": states[0][0]})
    backend = env.backend
    model, data, scene = backend.model, backend.data, backend.scene
    geoms = arm_collision_geoms(model, scene)
    saved = data.qpos.copy()
    lows = []
    for episode in states:
        q = replayer.robot.from_user(episode)
        if backend.servo is not None:
            q = backend.servo.to_twin(q)
        for row in q:
            data.qpos[scene.qpos_adr] = row
            mujoco.mj_kinematics(model, data)
            lows.append(lowest_geom_z(model, data, geoms).min())
    data.qpos[:] = saved
    mujoco.mj_kinematics(model, data)
    return np.asarray(lows)


def fit_base_height(lowest_z: np.ndarray, table_z: float, current_m: float) -> float:
    """The base height that puts all but :data:`TABLE_QUANTILE` of the poses above the table."""
    low = float(np.quantile(lowest_z, TABLE_QUANTILE))
    return float(np.clip(current_m + (table_z - low), 0.0, 0.3))


@dataclasses.dataclass
class TwinScore:
    """How one twin configuration replays a recording."""

    state_error: np.ndarray  # (D,) mean |twin - recorded| state
    tracking: np.ndarray  # (D,) twin's tracking error at its best lag
    lag: np.ndarray  # (D,) its best lag, frames
    inside_table: float  # fraction of replayed frames with an arm geom inside the table
    states: list[np.ndarray] = dataclasses.field(repr=False, default_factory=list)


def score(replayer: TwinReplayer, recording: Recording) -> TwinScore:
    """Replay ``recording`` and measure the twin against it."""
    twin, inside = replayer.replay(recording)
    err = np.mean(np.concatenate([np.abs(t - s) for t, s in zip(twin, recording.states)]), axis=0)
    tracking, lag = tracking_error(twin, recording.actions)
    return TwinScore(err, tracking, lag, inside, twin)


def identify(
    recording: Recording,
    robot: RobotSpec,
    start: TwinParams,
    *,
    progress: Any = None,
) -> tuple[TwinParams, dict[str, Any]]:
    """Fit mounting, delay and per-joint ``kp`` to ``recording`` (module docstring).

    Args:
        recording: the fitting episodes.
        robot: the robot.
        start: the parameters to start from (their other values are kept).
        progress: called with a short string after each stage (the CLI prints it).

    Returns:
        The fitted parameters, and notes of the fit (what was searched, the costs).
    """
    say = progress or (lambda _msg: None)
    real_err, _ = tracking_error(recording.states, recording.actions)
    weight = 1.0 / np.maximum(real_err, 1e-3)
    replayer = TwinReplayer(robot, start, recording.fps)
    try:
        lows = recorded_lowest_points(replayer, recording.states)
        height = fit_base_height(lows, robot.table_height_m, start.base_height_m)
        params = dataclasses.replace(start, base_height_m=height)
        say(f"mounting: base {height * 1000:.1f} mm above the table")
        runs = 0

        def evaluate(p: TwinParams) -> np.ndarray:
            # Per joint: the state error, plus how far the twin's tracking error at its best
            # lag is from the real arm's (the state error alone favours a twin that tracks
            # more smoothly than the real arm does).
            nonlocal runs
            runs += 1
            replayer.set_params(p)
            result = score(replayer, recording)
            return result.state_error + np.abs(result.tracking - real_err)

        best_cost, best = np.inf, params
        n = len(robot.joints)
        for delay in DELAY_GRID_S:
            base = dataclasses.replace(params, delay_s=delay)
            errors = np.stack(
                [evaluate(base.replace_joints(kp_nm_per_rad=np.full(n, k))) for k in KP_GRID]
            )
            pick = errors.argmin(axis=0)
            cost = float((errors[pick, np.arange(n)] * weight).sum())
            if cost < best_cost:
                kp = np.asarray(KP_GRID)[pick]
                best_cost, best = cost, base.replace_joints(kp_nm_per_rad=kp)
        say(f"coarse: delay {best.delay_s * 1000:.0f} ms, kp {_fmt(best, 'kp_nm_per_rad')}")
        for factor in (1.41, 1.19):
            kp = best.array("kp_nm_per_rad")
            candidates = [kp / factor, kp, kp * factor]
            errors = np.stack([evaluate(best.replace_joints(kp_nm_per_rad=c)) for c in candidates])
            pick = errors.argmin(axis=0)
            kp = np.stack(candidates)[pick, np.arange(n)]
            best = best.replace_joints(kp_nm_per_rad=kp)
            for delay in (best.delay_s - 1 / 120, best.delay_s + 1 / 120):
                if 0 <= delay <= 0.5:
                    cand = dataclasses.replace(best, delay_s=delay)
                    cost = float((evaluate(cand) * weight).sum())
                    if cost < best_cost:
                        best_cost, best = cost, cand
            best_cost = min(best_cost, float((evaluate(best) * weight).sum()))
        tick = 2 * np.pi / 4096
        candidates = [np.full(n, k * tick) for k in DEADBAND_GRID_TICKS]
        errors = np.stack([evaluate(best.replace_joints(deadband_rad=c)) for c in candidates])
        pick = errors.argmin(axis=0)
        best = best.replace_joints(deadband_rad=np.stack(candidates)[pick, np.arange(n)])
        best_cost = float((evaluate(best) * weight).sum())
        say(
            f"refined: delay {best.delay_s * 1000:.1f} ms, kp {_fmt(best, 'kp_nm_per_rad')}, "
            f"deadband {_fmt(best, 'deadband_rad', 4)} rad"
        )
        notes = {
            "episodes": list(recording.episodes),
            "replays": runs,
            "weighted_cost": best_cost,
            "units": recording.units_note,
        }
        return best, notes
    finally:
        replayer.close()


def _fmt(params: TwinParams, key: str, digits: int = 2) -> str:
    return str(np.round(params.array(key), digits).tolist())


@dataclasses.dataclass
class CheckReport:
    """Real arm against the twin before and after fitting, on held-out episodes."""

    joint_names: tuple[str, ...]
    units: tuple[str, ...]
    episodes: list[int]
    real_error: np.ndarray
    real_lag: np.ndarray
    before: TwinScore
    after: TwinScore
    recorded_inside_before: float
    recorded_inside_after: float
    units_note: str

    def ratio(self, which: str = "after") -> np.ndarray:
        """Twin tracking error over the real arm's, per joint."""
        twin = self.after if which == "after" else self.before
        return twin.tracking / np.maximum(self.real_error, 1e-9)

    def table(self) -> str:
        """The before/after table, one row per joint."""
        head = (
            f"{'joint':<18} {'unit':>4}  {'real err':>8} {'lag':>3}  {'before err':>10} {'lag':>3} "
            f"{'ratio':>5}  {'after err':>9} {'lag':>3} {'ratio':>5}  {'state err after':>15}"
        )
        lines = [head]
        rb, ra = self.ratio("before"), self.ratio("after")
        for i, name in enumerate(self.joint_names):
            lines.append(
                f"{name:<18} {self.units[i]:>4}  {self.real_error[i]:8.3f} {self.real_lag[i]:3d}  "
                f"{self.before.tracking[i]:10.3f} {self.before.lag[i]:3d} {rb[i]:5.2f}  "
                f"{self.after.tracking[i]:9.3f} {self.after.lag[i]:3d} {ra[i]:5.2f}  "
                f"{self.after.state_error[i]:15.3f}"
            )
        lines.append(
            "frames with an arm geom inside the table: recorded poses "
            f"{self.recorded_inside_before:.1%} -> {self.recorded_inside_after:.1%}; twin replay "
            f"{self.before.inside_table:.1%} -> {self.after.inside_table:.1%}"
        )
        return "\n".join(lines)


def check(
    recording: Recording, robot: RobotSpec, before: TwinParams | None, after: TwinParams
) -> CheckReport:
    """Measure the real arm, the twin with ``before`` (None: ideal) and with ``after``."""
    from lerobot_gym.wrappers.replay_episode import UNIT_LABELS

    real_err, real_lag = tracking_error(recording.states, recording.actions)
    scores, inside = [], []
    for params in (before, after):
        replayer = TwinReplayer(robot, params, recording.fps)
        try:
            scores.append(score(replayer, recording))
            lows = recorded_lowest_points(replayer, recording.states)
            height = 0.0 if params is None else params.base_height_m
            # The scene's base moved with the parameters, so the points are already mounted.
            del height
            inside.append(float(np.mean(lows < robot.table_height_m - INSIDE_TABLE_M)))
        finally:
            replayer.close()
    units = tuple(UNIT_LABELS.get(str(j.unit), str(j.unit)) for j in robot.joints)
    return CheckReport(
        recording.joint_names,
        units,
        list(recording.episodes),
        real_err,
        real_lag,
        scores[0],
        scores[1],
        inside[0],
        inside[1],
        recording.units_note,
    )
