"""Record a LeRobot v3.0 dataset with a policy or a teleoperator driving an env.

``lerobot-gym record --env.id=ID --policy.type=scripted --dataset.root=DIR
--dataset.repo_id=USER/NAME --dataset.num_episodes=N`` wraps the env in
:class:`~lerobot_gym.wrappers.RecordEpisodes` (and :class:`~lerobot_gym.wrappers.RerunViz` with
``--display_data``), then for each episode resets it (seed ``--seed + episode index``), drives
it for ``--dataset.episode_time_s`` or until the env ends the episode, saves it, and waits
``--dataset.reset_time_s`` for the scene to be reset. Flags follow ``lerobot-record``
(lerobot-interfaces.md §3.3); the keyboard controls are LeRobot's (§3.4), read from the
terminal by :class:`~lerobot_gym.teleop.keyboard.TerminalKeyboard`.

Design decisions:

* Episode length is counted in control steps, ``round(episode_time_s * fps)``: on the twin a
  step is one control period of simulated time, so a 10 s episode is 10 s of robot motion
  however fast the CPU renders; on hardware (or with a human teleoperating) the env is wrapped
  in :class:`~lerobot_gym.wrappers.ControlRate`, so the same count is wall-clock time.
* The reset phase defaults to 0 s on the twin (``reset()`` teleports the robot and re-places
  the props) and to LeRobot's 60 s elsewhere. A teleoperator keeps driving the robot during
  the reset phase (not recorded), as in LeRobot; under a policy the robot holds still.
* An episode is saved as soon as it ends (RecordEpisodes is durable per episode). The left
  arrow therefore re-records the episode *in progress*; once saved, an episode is removed
  with ``lerobot-gym dataset delete-episodes``. A key pressed while no episode is running
  never ends the next one: pending presses (except Esc) are dropped when an episode starts.
* Interrupting (Ctrl-C) or an error drops the episode in progress and keeps every saved one;
  ``--resume=true`` continues the dataset, recording ``num_episodes`` more. Resuming refuses
  a dataset whose metadata lost committed episodes or tasks (naming ``lerobot-gym dataset
  rebuild-meta``) and never deletes what an episode committed.
* ``--dataset.vcodec`` on ``--resume=true`` must name the codec already in the dataset (or be
  omitted): ``info.json`` records one codec per camera, so another codec is refused rather
  than silently ignored or mixed.
* ``--dataset.root`` problems (a file, a folder without write permission) are checked before
  the env is built and reported as errors naming the flag, not tracebacks.
* Action sources are a small table (:data:`TELEOP_TYPES`, and policies through
  :func:`lerobot_gym.policies.make_policy`), so a new teleoperator (gamepad, phone) is one
  factory function here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.cli import common
from lerobot_gym.cli._record_hil import NoKeys, plan_hil
from lerobot_gym.cli._record_loop import ActionSource, RecordSummary, Session, record_episodes
from lerobot_gym.cli.args import REQUIRED, CommandParser, Flag, UsageError
from lerobot_gym.errors import ConfigError
from lerobot_gym.teleop.keyboard import TerminalKeyboard

#: LeRobot's defaults for a real robot (lerobot-interfaces.md §3.3).
REAL_EPISODE_TIME_S = 60.0
REAL_RESET_TIME_S = 60.0

PARSER = CommandParser(
    prog="lerobot-gym record",
    description="""
        Record a LeRobot v3.0 dataset. A policy (--policy.type) or a teleoperator
        (--teleop.type) drives the env; each episode lasts --dataset.episode_time_s (in control
        steps: simulated time on the twin, wall-clock time on hardware) or until the env ends
        it, then --dataset.reset_time_s passes before the next (default 0 on the twin, 60 s
        otherwise). Episode i is reset with seed --seed + i.

        Keys (in the terminal): right arrow or n ends the episode early; left arrow or r
        discards it and records it again; Esc or q saves what is done and stops.

        --env.config=FILE records HIL-SERL demonstrations: the env stack of the config file
        (end-effector control, crops, reward source, gripper penalty) with the --teleop.type
        device (keyboard, gamepad, so101_leader) inside it; the arm holds still (or
        --policy.type acts) until the operator takes over (space, a trigger, or moving the
        leader), and the frames they drive are marked complementary_info.is_intervention.
    """,
    flags=(
        Flag("dataset.root", None, "dataset directory (default: $HF_LEROBOT_HOME/REPO_ID)", str),
        Flag("dataset.repo_id", REQUIRED, "Hugging Face dataset id, USER/NAME", str),
        Flag("dataset.num_episodes", 50, "episodes to record (more, with --resume)", int),
        Flag("dataset.single_task", None, "task text of every episode (default: the env's)", str),
        Flag("dataset.episode_time_s", REAL_EPISODE_TIME_S, "longest episode, seconds", float),
        Flag(
            "dataset.reset_time_s",
            None,
            "pause between episodes, seconds (default: 0 on the twin, 60 otherwise)",
            float,
            True,
        ),
        Flag("dataset.fps", None, "control and dataset rate (default: the env's)", int, True),
        Flag("dataset.video", True, "store cameras as MP4 (false: PNG in the parquet)", bool),
        Flag(
            "dataset.vcodec",
            None,
            "video codec: libsvtav1 (LeRobot's, the default) or h264; on --resume, the "
            "dataset's own (another is refused)",
            str,
            True,
        ),
        Flag("dataset.push_to_hub", False, "upload to the Hub when done", bool),
        Flag("dataset.private", False, "create the Hub repository private", bool),
        Flag("policy.type", None, "policy driving the env (scripted, random, ...)", str),
        Flag(
            "teleop.type",
            None,
            "teleoperator driving the env (so101_leader, aloha_leaders)",
            str,
        ),
        Flag("resume", False, "add episodes to the dataset at --dataset.root", bool),
        Flag("display_data", False, "show the run in a Rerun viewer (spawned locally)", bool),
        Flag("display_save", None, "write the Rerun stream to this .rrd file", str),
        Flag("display_serve", False, "serve the Rerun stream (true: port 9876, or a port)"),
        Flag("seed", None, "episode i is reset with seed + i (null: unseeded)", int, True),
    ),
    open_groups={
        "env": common.ENV_GROUP_HELP,
        "policy": common.POLICY_GROUP_HELP,
        "teleop": "teleoperator options, e.g. --teleop.port=/dev/ttyACM1 --teleop.id=my_leader",
    },
    examples=(
        "lerobot-gym record --env.id=SO101-PickCube-v0 --policy.type=scripted "
        "--dataset.repo_id=me/pick --dataset.root=data/pick --dataset.num_episodes=10 "
        "--dataset.single_task='pick up the cube' --seed=0",
        "lerobot-gym record --env.id=SO101-PickCube-v0 --env.backend=real "
        "--env.port=/dev/ttyACM0 --env.cameras='{front: 0}' --teleop.type=so101_leader "
        "--teleop.port=/dev/ttyACM1 --teleop.id=my_leader --dataset.repo_id=me/pick "
        "--dataset.episode_time_s=30",
        "lerobot-gym record --env.config=hil_pick.json --teleop.type=keyboard "
        "--dataset.repo_id=me/pick_hil --dataset.num_episodes=20 --dataset.episode_time_s=20",
    ),
)


# -- action sources -------------------------------------------------------------------------------
class PolicySource(ActionSource):
    """A :class:`~lerobot_gym.policies.Policy` drives the env."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy

    def start_episode(self, obs: Any, info: dict[str, Any]) -> None:
        """Reset the policy on the episode's first observation."""
        self.policy.reset(obs, info)

    def action(self, obs: Any) -> np.ndarray:
        """The policy's action for ``obs``."""
        return self.policy(obs)


class TeleopSource(ActionSource):
    """A connected :class:`~lerobot_gym.teleop.Teleop` drives the env (and the reset phase)."""

    drives_reset_phase = True

    def __init__(self, teleop: Any) -> None:
        self.teleop = teleop

    def action(self, obs: Any) -> np.ndarray:
        """The operator's action now (the observation is not needed)."""
        return self.teleop.get_action()

    def events(self) -> dict[str, bool]:
        """The operator's events from the device (the ``core/info.py`` vocabulary)."""
        return self.teleop.events()

    def close(self) -> None:
        """Disconnect the device."""
        if self.teleop.is_connected:
            self.teleop.disconnect()


def _make_so101_leader(options: dict[str, Any]) -> Any:
    # One way to build a leader from --teleop.* flags, shared with `lerobot-gym teleoperate`.
    from lerobot_gym.cli.teleoperate import make_leader

    known = ("port", "id", "calibration_dir")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UsageError(
            f"--teleop.{unknown[0]} is not an so101_leader option; options: "
            + ", ".join(f"--teleop.{k}" for k in known)
        )
    return make_leader({"teleop": {"type": "so101_leader", **dict.fromkeys(known), **options}})


def _make_aloha_leaders(options: dict[str, Any]) -> Any:
    # The ALOHA's two WidowX leaders, built as `lerobot-gym teleoperate` builds them.
    from lerobot_gym.cli.teleoperate import make_leader

    known = ("left_port", "right_port", "id", "calibration_dir")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UsageError(
            f"--teleop.{unknown[0]} is not an aloha_leaders option; options: "
            + ", ".join(f"--teleop.{k}" for k in known)
        )
    return make_leader({"teleop": {"type": "aloha_leaders", **dict.fromkeys(known), **options}})


#: --teleop.type -> factory(options) of an unconnected Teleop (options: the other --teleop.*).
TELEOP_TYPES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "so101_leader": _make_so101_leader,
    "aloha_leaders": _make_aloha_leaders,
}


def source_types(cfg: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(policy type, teleop type)`` from the flags, exactly one of them set.

    Raises:
        UsageError: neither or both given, options of the other group, or an unknown
            teleoperator type.
    """
    policy_args = dict(cfg.get("policy") or {})
    teleop_args = dict(cfg.get("teleop") or {})
    policy_type, teleop_type = policy_args.pop("type", None), teleop_args.pop("type", None)
    if policy_type is not None and teleop_type is not None:
        raise UsageError(
            "choose what drives the env: --policy.type (a policy) or --teleop.type (a "
            "teleoperator), not both"
        )
    if policy_type is None and teleop_type is None:
        raise UsageError(
            "choose what drives the env: --policy.type=... or --teleop.type=... (e.g. "
            "--policy.type=scripted, --teleop.type=so101_leader)"
        )
    if policy_type is not None and teleop_args:
        raise UsageError("--teleop.* options need --teleop.type, not --policy.type")
    if teleop_type is not None and policy_args:
        raise UsageError("--policy.* options need --policy.type, not --teleop.type")
    if teleop_type is not None and teleop_type not in TELEOP_TYPES:
        raise UsageError(
            f"unknown --teleop.type={teleop_type!r}; known: {', '.join(sorted(TELEOP_TYPES))}"
        )
    return policy_type, teleop_type


def make_source(cfg: dict[str, Any], env: Any, seed: int | None) -> ActionSource:
    """The policy or teleoperator named by ``--policy.*`` / ``--teleop.*``, connected.

    Raises:
        UsageError: see :func:`source_types`; bad teleoperator options.
    """
    policy_type, teleop_type = source_types(cfg)
    if policy_type is not None:
        from lerobot_gym.policies import make_policy

        options = {k: v for k, v in (cfg.get("policy") or {}).items() if k != "type"}
        return PolicySource(make_policy(policy_type, env, seed=seed, **options))
    assert teleop_type is not None  # source_types returns exactly one of the two
    options = {k: v for k, v in (cfg.get("teleop") or {}).items() if k != "type"}
    teleop = TELEOP_TYPES[teleop_type](options)
    teleop.connect()
    return TeleopSource(teleop)


def run(argv: list[str]) -> int:
    """Parse the flags, record, print the summary."""
    cfg = PARSER.parse(argv)
    with TerminalKeyboard() as keyboard:
        if keyboard.active and (cfg.get("env") or {}).get("config") is not None:
            print(
                "keys: space = take over / hand back, i/k j/l u/o = jog x/y/z, c/v = close/open "
                "gripper (keyboard device), right arrow = success, f = failure, left arrow = "
                "re-record, Esc = stop"
            )
        elif keyboard.active:
            print(
                "keys: right arrow = end episode (success), f = end as failure, "
                "left arrow = re-record, Esc = stop"
            )
        summary = record(cfg, keyboard=keyboard)
    _print_summary(summary)
    if cfg["dataset"]["push_to_hub"]:
        from lerobot_gym.dataset.tools import push_to_hub

        url = push_to_hub(summary.root, summary.repo_id, private=cfg["dataset"]["private"])
        print(f"pushed to {url}")
    return 0


def record(
    cfg: dict[str, Any], *, keyboard: Any | None = None, teleop: Any | None = None
) -> RecordSummary:
    """Record the session described by parsed flags.

    Args:
        cfg: the parsed flags (:data:`PARSER`).
        keyboard: source of the recording events (anything with ``events()`` returning the
            :data:`lerobot_gym.core.info.EVENT_KEYS` events, e.g. a
            :class:`~lerobot_gym.teleop.keyboard.TerminalKeyboard`); default: no keyboard.
            With ``--env.config`` it is the keyboard device / the leader arm's event source
            (:mod:`lerobot_gym.cli._record_hil`).
        teleop: with ``--env.config``, a device to put in the stack instead of the one
            ``--teleop.type`` would build (a script embedding the recorder, a test).
    """
    import gymnasium as gym
    from gymnasium.wrappers import TimeLimit

    from lerobot_gym.cli.dataset import resolve_root
    from lerobot_gym.wrappers import ControlRate, RecordEpisodes

    ds = cfg["dataset"]
    env_args = dict(cfg.get("env") or {})
    hil = plan_hil(cfg, env_args)  # --env.config: the HIL-SERL stack (cli/_record_hil.py)
    env_id = common.resolve_env_id(env_args.get("id") if hil is None else hil.env_id)
    kwargs = common.env_kwargs(env_args if hil is None else hil.env_kwargs)
    if ds["fps"] is not None:
        if kwargs.get("fps", ds["fps"]) != ds["fps"]:
            raise UsageError(f"--dataset.fps={ds['fps']} differs from --env.fps={kwargs['fps']}")
        kwargs["fps"] = ds["fps"]
        if hil is not None:
            hil.env_overrides["fps"] = ds["fps"]
    if ds["num_episodes"] < 1 or ds["episode_time_s"] <= 0:
        raise UsageError("--dataset.num_episodes and --dataset.episode_time_s must be positive")
    root = resolve_root(ds["root"], ds["repo_id"])
    _check_root(root)
    if cfg["resume"]:
        _check_resume_codec(root, ds["vcodec"])
    holds_files = root.exists() and any(root.iterdir())
    if cfg["resume"] and holds_files and not (root / "meta" / "info.json").is_file():
        raise ConfigError(
            f"--dataset.root={root} holds files but no meta/info.json, so it is not a dataset "
            "to resume; point --dataset.root at the dataset's top folder, or choose a new one"
        )
    if not cfg["resume"] and holds_files:
        raise ConfigError(
            f"{root} already holds files; pass --resume=true to add episodes to it, or choose "
            "another --dataset.root"
        )
    on_twin = kwargs.get("backend", "sim") == "sim"
    # Flag mistakes surface before any I/O.
    has_teleop = hil is not None or source_types(cfg)[1] is not None
    reset_time_s = ds["reset_time_s"]
    if reset_time_s is None:
        reset_time_s = 0.0 if on_twin else REAL_RESET_TIME_S

    _display_sinks(cfg)  # flag mistakes surface before any I/O
    keyboard = keyboard if keyboard is not None else TerminalKeyboard(fd=None)
    root_existed = root.exists()
    creates_dataset = not root_existed or not any(root.iterdir())
    device: Any = None  # the teleop device this call connected inside a --env.config stack
    if hil is None:
        env = gym.make(env_id, **kwargs)
    else:
        env, device = hil.open(keyboard, teleop)
        keyboard = NoKeys()  # events come through the stack, read once (cli/_record_hil.py)
    recorder: Any = None
    source: ActionSource | None = None
    try:
        fps = int(env.metadata["render_fps"])
        episode_steps = max(1, round(ds["episode_time_s"] * fps))
        # The episode time is a time limit: its last frame is recorded truncated (next.done).
        env = TimeLimit(env, max_episode_steps=episode_steps)
        if has_teleop or not on_twin:
            env = ControlRate(env, fps=fps)  # a human or a real arm needs real time
        # The device is connected before the dataset is created: a wrong port leaves no files.
        if hil is None:
            source = make_source(cfg, env, cfg["seed"])
        else:
            source = hil.make_source(env, cfg["seed"], cfg)
        try:
            recorder = env = RecordEpisodes(
                env,
                root,
                repo_id=ds["repo_id"],
                task=ds["single_task"],
                fps=fps,
                use_videos=ds["video"],
                vcodec=ds["vcodec"] or "libsvtav1",
                resume=cfg["resume"],
            )
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            raise ConfigError(_not_writable(root, exc.strerror or str(exc), exc.filename)) from exc
        env = _maybe_display(env, cfg)
        session = Session(
            env=env,
            recorder=recorder,
            source=source,
            keyboard=keyboard,
            num_episodes=ds["num_episodes"],
            episode_steps=episode_steps,
            reset_steps=round(reset_time_s * fps),
            fps=fps,
            seed=cfg["seed"],
            repo_id=ds["repo_id"],
        )
        return record_episodes(session)
    except BaseException:
        if recorder is not None:
            # An interrupted episode is incomplete: keep only the saved ones. A failing discard
            # (a broken writer) must not hide the error that got us here.
            with contextlib.suppress(Exception):
                recorder.discard_episode()
        raise
    finally:
        try:
            if source is not None:
                source.close()
        finally:
            try:
                env.close()
            finally:
                if device is not None and device.is_connected:
                    device.disconnect()
            if creates_dataset and (recorder is None or recorder.num_episodes == 0):
                # Nothing recorded (an error before the first save): leave no empty dataset
                # that would need --resume=true next time.
                shutil.rmtree(root, ignore_errors=True)
                if root_existed:
                    root.mkdir(parents=True, exist_ok=True)  # the operator's empty folder stays


def _check_root(root: Path) -> None:
    """Refuse a ``--dataset.root`` that cannot hold a dataset, naming the flag.

    The write-permission check catches the common case before the env is built; what it
    cannot see (root bypasses permission bits, read-only mounts) surfaces as an ``OSError``
    when the dataset is created, which :func:`record` turns into the same error.
    """
    for path in (root, *root.parents):
        if path.exists():
            if not path.is_dir():
                what = "is a file" if path == root else f"is under {path}, a file"
                raise ConfigError(
                    f"--dataset.root={root} {what}, not a folder; choose a folder (new, "
                    "empty, or a dataset to add to with --resume=true)"
                )
            if not os.access(path, os.W_OK | os.X_OK):
                raise ConfigError(_not_writable(root, "Permission denied", path))
            return


def _not_writable(root: Path, why: str, where: object) -> str:
    return (
        f"cannot write the dataset at --dataset.root={root} ({why}: {where}); choose a folder "
        "you may write to, or give yourself write permission on it"
    )


def _check_resume_codec(root: Path, vcodec: str | None) -> None:
    """Refuse a ``--dataset.vcodec`` other than the resumed dataset's (see the module doc)."""
    from lerobot_gym.dataset.meta import read_info
    from lerobot_gym.dataset.writer import recorded_vcodec, same_codec

    if vcodec is None or not (root / "meta" / "info.json").is_file():
        return
    recorded = recorded_vcodec(read_info(root)["features"])
    if recorded is not None and not same_codec(vcodec, recorded):
        raise ConfigError(
            f"--dataset.vcodec={vcodec} differs from the codec of the videos already in {root} "
            f"({recorded}), and info.json records one codec per camera; omit --dataset.vcodec "
            f"(or pass --dataset.vcodec={recorded}) to add episodes to it, or record into a new "
            "--dataset.root"
        )


def _display_sinks(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The RerunViz sinks the ``--display_*`` flags ask for, or None for no display."""
    save, serve = cfg["display_save"], cfg["display_serve"]
    if serve is None:
        serve = False
    if not isinstance(serve, (bool, int)) or (serve is not True and serve < 0):
        raise UsageError(f"--display_serve: expected true, false or a port, got {serve!r}")
    if not (cfg["display_data"] or save or serve):
        return None
    # --display_data alone spawns a local viewer, as lerobot-record does.
    spawn = bool(cfg["display_data"]) and not serve and save is None
    return {"save": save, "serve": serve, "spawn": spawn}


def _maybe_display(env: Any, cfg: dict[str, Any]) -> Any:
    sinks = _display_sinks(cfg)
    if sinks is None:
        return env
    from lerobot_gym.wrappers import RerunViz

    env = RerunViz(env, app_id="lerobot_gym_record", **sinks)
    if env.server_uri:
        print(f"Rerun: connect a viewer with `rerun {env.server_uri}`")
    return env


def _print_summary(summary: RecordSummary) -> None:
    note = " (stopped by the operator)" if summary.stopped else ""
    rerecorded = f", {summary.rerecorded} re-recorded" if summary.rerecorded else ""
    print(
        f"recorded {summary.episodes} episodes, {summary.frames} frames in "
        f"{summary.elapsed_s:.1f} s{rerecorded}{note}"
    )
    print(
        f"dataset {summary.repo_id} at {summary.root}: {summary.total_episodes} episodes, "
        f"{summary.total_frames} frames"
    )
