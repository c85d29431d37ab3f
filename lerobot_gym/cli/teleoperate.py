"""Drive a follower from leader arms (SO-101, ALOHA): the real arms, emulated ones, or the twin.

``lerobot-gym teleoperate --robot.type=so101_follower --robot.port=PORT --robot.id=NAME
--teleop.type=so101_leader --teleop.port=PORT --teleop.id=NAME`` is LeRobot's
``lerobot-teleoperate`` for the SO-101. The follower is always a Gymnasium env:

* ``--robot.*`` is the real arm, ``gym.make("lerobot_gym/SO101-v0", backend="real", port=...)``
  (with ``--robot.type=aloha_follower --robot.left_port=... --robot.right_port=...``, the ALOHA's
  two ViperX followers, ``lerobot_gym/Aloha-v0`` with ``ports={...}``);
* ``--env.id=ID`` (without ``--robot.*``) is that env as it is registered, so the leader drives
  the MuJoCo twin, or with ``--env.backend=emulated`` the real driver over an emulated bus; other
  ``--env.<keyword>`` flags go to ``gym.make`` as for every command.

Each control period the leader is read (:class:`~lerobot_gym.robots.so101.leader.SO101Leader`:
degrees, gripper 0..100; :class:`~lerobot_gym.robots.aloha.leader.AlohaLeaders`: radians, grippers
0..1 through the ALOHA's leader-to-follower mapping; each the env's action units) and its reading
is the env's action. The loop
is paced by :class:`~lerobot_gym.wrappers.control_rate.ControlRate` at ``--fps``; with
``--display_data=true`` every step is logged to Rerun by
:class:`~lerobot_gym.wrappers.rerun_viz.RerunViz`. A live line shows the follower's joints, the
rate achieved and how far the follower is from the leader. It stops after ``--duration_s``, on
Ctrl-C, or on a leader's ``terminate_episode`` event, and prints what the loop achieved.

Design decisions:

* The follower first moves to the *leader's* pose (``reset(options={"joint_positions": ...})``,
  at the backend's bounded reset speed) instead of jumping to it on the first step, as LeRobot
  does; a real arm then never sees a large step.
* An env episode that ends (time limit, task termination) is followed by another reset to the
  leader's pose, so teleoperation is not bounded by ``max_episode_steps`` and the Gymnasium
  API is respected (no step after ``truncated``).
* Observations default to ``obs_type="state"``: reading or rendering cameras nobody looks at
  would cost the loop its rate. Cameras are observed when asked for (``--robot.cameras``,
  ``--env.obs_type``), and then shown in Rerun.
* The live line is redrawn in place at most ten times a second on a terminal, and printed once
  a second otherwise (a log stays readable).
* Ctrl-C is the normal way to stop: it ends the loop cleanly (exit code 0), and the follower is
  always closed (torque off on hardware) and the leader released, whatever ended the loop.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from lerobot_gym.cli import common
from lerobot_gym.cli.args import CommandParser, Flag, UsageError

if TYPE_CHECKING:
    from lerobot_gym.core.env import RobotEnv

PARSER = CommandParser(
    prog="lerobot-gym teleoperate",
    description="""
        Read a leader arm (an SO-101, or the ALOHA's two WidowX leaders with
        --teleop.type=aloha_leaders) every control period and send its pose to a follower: the
        real arm (--robot.type=so101_follower --robot.port=...), or an env given with
        --env.id (the MuJoCo twin; --env.backend=emulated for the real driver over an
        emulated bus). The follower first moves to the leader's pose at bounded speed. Runs at
        --fps until --duration_s passes or Ctrl-C, showing the follower's joints (degrees,
        gripper 0..100), the achieved rate and the follower-leader error.

        --display_data=true logs every step to Rerun: a local viewer, or --display_rrd=FILE,
        or --display_port=PORT for a remote viewer.
    """,
    flags=(
        Flag(
            "robot.type",
            None,
            "so101_follower (implied by --robot.port) or aloha_follower (the real arms)",
            str,
            True,
        ),
        Flag(
            "robot.port", None, "serial port of the follower (`lerobot-gym find-port`)", str, True
        ),
        Flag("robot.left_port", None, "ALOHA: serial port of the left follower", str, True),
        Flag("robot.right_port", None, "ALOHA: serial port of the right follower", str, True),
        Flag("robot.id", None, "the follower's id, its calibration file's stem", str, True),
        Flag("robot.calibration_dir", None, "folder of <id>.json (default: LeRobot's)", str, True),
        Flag("robot.cameras", None, "camera name -> device, e.g. {front: 0} (default: none)"),
        Flag(
            "robot.max_relative_target",
            None,
            "largest change of a joint target per step, degrees (null: no bound)",
            float,
            True,
        ),
        Flag("teleop.type", "so101_leader", "so101_leader or aloha_leaders", str),
        Flag("teleop.port", None, "serial port of the leader arm (required)", str, True),
        Flag("teleop.left_port", None, "ALOHA: serial port of the left leader", str, True),
        Flag("teleop.right_port", None, "ALOHA: serial port of the right leader", str, True),
        Flag("teleop.id", None, "the leader's id, its calibration file's stem", str, True),
        Flag("teleop.calibration_dir", None, "folder of <id>.json (default: LeRobot's)", str, True),
        Flag("fps", 30, "control rate, Hz", int),
        Flag("duration_s", None, "stop after this many seconds (null: until Ctrl-C)", float, True),
        Flag("display_data", False, "log every step to Rerun", bool),
        Flag("display_rrd", None, "with --display_data: write this .rrd file instead", str, True),
        Flag("display_port", None, "with --display_data: serve a remote viewer here", int, True),
    ),
    open_groups={"env": common.ENV_GROUP_HELP},
    examples=(
        "lerobot-gym teleoperate --robot.type=so101_follower --robot.port=/dev/ttyACM0 "
        "--robot.id=black --teleop.type=so101_leader --teleop.port=/dev/ttyACM1 --teleop.id=blue",
        "lerobot-gym teleoperate --env.id=lerobot_gym/SO101-v0 --teleop.port=/dev/ttyACM1 "
        "--teleop.id=blue --display_data=true",
        "lerobot-gym teleoperate --env.id=SO101-v0 --env.backend=emulated "
        "--teleop.port=/dev/ttyACM1 --duration_s=60",
        "lerobot-gym teleoperate --robot.type=aloha_follower "
        "--robot.left_port=/dev/ttyDXL_puppet_left --robot.right_port=/dev/ttyDXL_puppet_right "
        "--teleop.type=aloha_leaders "
        "--teleop.left_port=/dev/ttyDXL_master_left --teleop.right_port=/dev/ttyDXL_master_right",
    ),
)

DEFAULT_ENV_ID = "lerobot_gym/SO101-v0"
ALOHA_ENV_ID = "lerobot_gym/Aloha-v0"
_LEADER_TYPES = ("so101_leader", "so100_leader", "aloha_leaders")
_FOLLOWER_TYPES = ("so101_follower", "aloha_follower")
_UNIT_LABELS = {
    "deg": "degrees",
    "percent": "gripper 0..100",
    "rad": "radians",
    "fraction": "gripper 0..1",
}
_REDRAW_S = 0.1  # live line refresh on a terminal
_LOG_EVERY_S = 1.0  # live line period when stdout is not a terminal


@dataclass
class TeleopReport:
    """What a teleoperation run did.

    Attributes:
        env_id: The follower env's id.
        steps: Control steps taken.
        episodes: Env episodes (1 + the resets after an episode ended).
        elapsed_s: Wall-clock time from the first reset's end to the last step.
        periods_s: Each step's wall-clock period (``info["control_period_s"]``).
        late_steps: Steps that returned after their deadline.
        leader: The last leader reading sent (the env's action units).
        follower: The follower's last observed joints, same units (None without ``agent_pos``).
        stopped_by: ``"duration"``, ``"ctrl-c"`` or ``"terminate_episode"``.
    """

    env_id: str
    steps: int = 0
    episodes: int = 0
    elapsed_s: float = 0.0
    periods_s: list[float] = field(default_factory=list)
    late_steps: int = 0
    leader: np.ndarray | None = None
    follower: np.ndarray | None = None
    stopped_by: str = "duration"

    @property
    def rate_hz(self) -> float:
        """Mean achieved control rate."""
        return len(self.periods_s) / sum(self.periods_s) if self.periods_s else 0.0

    @property
    def tracking_error(self) -> float | None:
        """Largest |follower - leader| over the joints at the end (degrees / gripper %)."""
        if self.leader is None or self.follower is None:
            return None
        return float(np.max(np.abs(self.follower - self.leader)))


def run(argv: list[str]) -> int:
    """Parse the flags, teleoperate, print the summary."""
    report = teleoperate(PARSER.parse(argv))
    _print_summary(report)
    return 0


def follower_env_config(cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The follower env's id and ``gym.make`` keywords from ``--robot.*`` and ``--env.*``.

    Raises:
        UsageError: no follower given, an unsupported robot type, a real arm without a port,
            ``--robot.*`` with another ``--env.backend``, or a control mode the leader cannot
            drive.
    """
    env_args = dict(cfg.get("env", {}))
    robot = cfg["robot"]
    kwargs: dict[str, Any] = {}
    if any(value is not None for value in robot.values()):
        if robot["type"] not in (None, *_FOLLOWER_TYPES):
            raise UsageError(
                f"--robot.type must be one of {', '.join(_FOLLOWER_TYPES)}, got {robot['type']!r}"
            )
        if env_args.get("backend", "real") != "real":
            raise UsageError(
                f"--robot.* is the real arm, but --env.backend={env_args['backend']}; drop one"
            )
        if robot["type"] == "aloha_follower":
            env_args.setdefault("id", ALOHA_ENV_ID)
            kwargs = {"backend": "real", "ports": _pair_ports(robot, "robot")}
            kwargs["robot_id"] = robot["id"] or "aloha"
        elif not robot["port"]:
            raise UsageError("--robot.port is required; find it with `lerobot-gym find-port`")
        else:
            env_args.setdefault("id", DEFAULT_ENV_ID)
            kwargs = {"backend": "real", "port": robot["port"]}
            kwargs["robot_id"] = robot["id"] or "follower"
        if robot["calibration_dir"] is not None:
            kwargs["calibration_dir"] = robot["calibration_dir"]
        if robot["cameras"] is not None:
            kwargs["cameras"] = robot["cameras"]
            kwargs["obs_type"] = "pixels_agent_pos"
        if robot["max_relative_target"] is not None:
            kwargs["max_relative_target"] = robot["max_relative_target"]
    elif env_args.get("id") is None:
        raise UsageError(
            "give the follower: the real arm with --robot.type=so101_follower --robot.port=PORT, "
            f"or an env with --env.id (e.g. {DEFAULT_ENV_ID}, the twin)"
        )
    env_id = common.resolve_env_id(env_args.get("id"))
    kwargs.update(common.env_kwargs(env_args))
    if kwargs.get("control_mode", "joint_pos") != "joint_pos":
        raise UsageError(
            "a leader arm gives absolute joint positions: teleoperate needs "
            f"control_mode=joint_pos, got --env.control_mode={kwargs['control_mode']}"
        )
    kwargs.setdefault("obs_type", "state")
    kwargs.setdefault("fps", cfg["fps"])
    return env_id, kwargs


def _pair_ports(args: Mapping[str, Any], group: str) -> dict[str, str]:
    """``{"left": ..., "right": ...}`` from ``--<group>.left_port`` and ``--<group>.right_port``.

    Raises:
        UsageError: A port is missing, or ``--<group>.port`` was given instead.
    """
    missing = [f"--{group}.{arm}_port" for arm in ("left", "right") if not args.get(f"{arm}_port")]
    if missing or args.get("port"):
        raise UsageError(
            f"an ALOHA pair has one port per arm: give --{group}.left_port and "
            f"--{group}.right_port (missing: {', '.join(missing) or 'none'}; "
            "`lerobot-gym find-port` lists them)"
        )
    return {"left": args["left_port"], "right": args["right_port"]}


def make_leader(cfg: Mapping[str, Any]) -> Any:
    """The leader arm(s) from ``--teleop.*`` (not connected).

    Raises:
        UsageError: an unsupported teleop type or no port.
    """
    from lerobot_gym.robots.so101.leader import SO101Leader

    teleop = cfg["teleop"]
    if teleop["type"] not in _LEADER_TYPES:
        raise UsageError(
            f"--teleop.type must be one of {', '.join(_LEADER_TYPES)}, got {teleop['type']!r}"
        )
    if teleop["type"] == "aloha_leaders":
        from lerobot_gym.robots.aloha.leader import AlohaLeaders

        return AlohaLeaders(
            _pair_ports(teleop, "teleop"),
            robot_id=teleop["id"] or "aloha",
            calibration_dir=teleop["calibration_dir"],
        )
    if not teleop["port"]:
        raise UsageError(
            "--teleop.port is required (the leader arm's port; `lerobot-gym find-port`)"
        )
    return SO101Leader(
        teleop["port"],
        leader_id=teleop["id"] or "leader",
        calibration_dir=teleop["calibration_dir"],
    )


def teleoperate(cfg: Mapping[str, Any]) -> TeleopReport:
    """Run the teleoperation described by parsed flags; returns what it achieved.

    Separate from :func:`run` so scripts and tests get the report instead of text.
    """
    import gymnasium as gym

    from lerobot_gym.core.info import TERMINATE_EPISODE
    from lerobot_gym.wrappers.control_rate import ControlRate

    fps, duration_s = cfg["fps"], cfg["duration_s"]
    if fps <= 0:
        raise UsageError(f"--fps must be positive, got {fps}")
    if duration_s is not None and duration_s < 0:
        raise UsageError(f"--duration_s must be >= 0, got {duration_s}")
    env_id, kwargs = follower_env_config(cfg)
    leader = make_leader(cfg)
    report = TeleopReport(env_id=env_id)

    leader.connect()  # before the follower moves: a wrong leader port fails at once
    env = None
    try:
        env = gym.make(env_id, **kwargs)
        if cfg["display_data"]:
            env = _with_rerun(env, cfg)
        env = ControlRate(env, fps=fps)
        robot = cast("RobotEnv", env.unwrapped).robot
        units = dict.fromkeys(_UNIT_LABELS[j.unit] for j in robot.joints)
        print(f"Moving the follower ({env_id}) to the leader's pose ...", flush=True)
        obs, _ = env.reset(options={"joint_positions": leader.get_action()})
        report.episodes = 1
        print(f"Teleoperating at {fps} Hz; Ctrl-C to stop.")
        print(f"joints ({', '.join(units)}): {', '.join(robot.joint_names)}")
        status = _LiveLine(sys.stdout)
        start = time.perf_counter()
        try:
            while duration_s is None or time.perf_counter() - start < duration_s:
                action = leader.get_action()
                if leader.events()[TERMINATE_EPISODE]:
                    report.stopped_by = "terminate_episode"
                    break
                obs, _, terminated, truncated, info = env.step(action)
                report.steps += 1
                report.periods_s.append(info["control_period_s"])
                report.late_steps += int(info["control_overrun_s"] > 0)
                report.leader, report.follower = action, _joint_positions(obs)
                report.elapsed_s = time.perf_counter() - start
                status.update(report)
                if terminated or truncated:
                    obs, _ = env.reset(options={"joint_positions": leader.get_action()})
                    report.episodes += 1
        except KeyboardInterrupt:
            report.stopped_by = "ctrl-c"
        finally:
            status.finish(report)
    finally:
        try:
            if env is not None:
                env.close()
        finally:
            leader.disconnect()
    return report


def _with_rerun(env: Any, cfg: Mapping[str, Any]) -> Any:
    from lerobot_gym.wrappers.rerun_viz import RerunViz

    if cfg["display_rrd"] is not None:
        return RerunViz(env, save=cfg["display_rrd"])
    if cfg["display_port"] is not None:
        viz = RerunViz(env, serve=cfg["display_port"])
        print(f"Rerun: connect a viewer with `rerun {viz.server_uri}`")
        return viz
    return RerunViz(env, spawn=True)


def _joint_positions(obs: Any) -> np.ndarray | None:
    """The follower's joints from an observation (``agent_pos``), if it has them."""
    if isinstance(obs, Mapping) and "agent_pos" in obs:
        return np.asarray(obs["agent_pos"], dtype=np.float64)
    return None


def format_status(report: TeleopReport) -> str:
    """One live line: elapsed time, rate, the follower's joints and its error to the leader.

    Example:
        >>> r = TeleopReport("x", periods_s=[1 / 30] * 3, elapsed_s=0.1)
        >>> r.leader, r.follower = np.array([10.0, 50.0]), np.array([9.5, 49.0])
        >>> format_status(r)
        '   0.1 s  30.0 Hz |   +9.5  +49.0 | max error   1.0'
    """
    recent = report.periods_s[-30:]
    rate = len(recent) / sum(recent) if recent and sum(recent) > 0 else 0.0
    values = report.follower if report.follower is not None else report.leader
    joints = " ".join(f"{v:+6.1f}" for v in values) if values is not None else "-"
    error = report.tracking_error
    tail = f" | max error {error:5.1f}" if error is not None and math.isfinite(error) else ""
    return f"{report.elapsed_s:6.1f} s {rate:5.1f} Hz | {joints}{tail}"


class _LiveLine:
    """The status line: redrawn in place on a terminal, printed once a second otherwise."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self.period_s = _REDRAW_S if self.interactive else _LOG_EVERY_S
        self._drawn_at = -math.inf

    def update(self, report: TeleopReport) -> None:
        now = time.monotonic()
        if now - self._drawn_at >= self.period_s:
            self._write(format_status(report))
            self._drawn_at = now

    def finish(self, report: TeleopReport) -> None:
        if report.steps:
            self._write(format_status(report))
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, line: str) -> None:
        self.stream.write(f"\r{line}\x1b[K" if self.interactive else f"{line}\n")
        self.stream.flush()


def _print_summary(report: TeleopReport) -> None:
    reason = {
        "duration": "the duration passed",
        "ctrl-c": "Ctrl-C",
        "terminate_episode": "the leader's terminate event",
    }[report.stopped_by]
    print(f"Stopped ({reason}) after {report.steps} steps in {report.elapsed_s:.1f} s.")
    if report.periods_s:
        periods = np.asarray(report.periods_s)
        print(
            f"rate {report.rate_hz:.1f} Hz (period mean {1e3 * periods.mean():.1f} ms, "
            f"max {1e3 * periods.max():.1f} ms, {report.late_steps} late steps), "
            f"{report.episodes} episode(s)"
        )
    if report.tracking_error is not None:
        print(f"final follower-leader error: {report.tracking_error:.1f} (max over joints)")
