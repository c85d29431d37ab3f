"""Replay a recorded episode on an env and print its per-joint tracking error.

``lerobot-gym replay --env.id=ID --dataset.root=DIR --dataset.episode=N`` resets the env to the
episode's first recorded state, sends the recorded ``action`` column step by step
(:func:`lerobot_gym.wrappers.replay_episode`) and prints the per-joint mean and max absolute
error between replayed and recorded ``observation.state``, each with its unit, and the overall
RMS. It exits 0 only when every recorded frame was compared: 1 when the env ended the episode
early (``--env.terminate_on_success=true``, a task failure), with what was compared on stderr.

Design decisions:

* The env runs at the dataset's fps (``--env.fps`` defaults to it): a replay at another control
  rate would compare different moments.
* Observations default to ``--env.obs_type=state``: replay compares joint states only, and not
  rendering cameras makes a twin replay many times faster.
* Whole episodes: the id's registered time limit (``max_episode_steps``, e.g. 100 steps for
  Reach) is lifted to the episode's length, so a longer recording is replayed to its end; an
  explicit ``--env.max_episode_steps`` below that length is a usage error.
* Pacing follows LeRobot's ``lerobot-replay``: on hardware every step lasts one frame period
  (:class:`~lerobot_gym.wrappers.ControlRate`); on the twin the replay runs as fast as the
  CPU allows unless ``--realtime=true``.
"""

from __future__ import annotations

import sys

from lerobot_gym.cli import common
from lerobot_gym.cli.args import REQUIRED, CommandParser, Flag, UsageError

PARSER = CommandParser(
    prog="lerobot-gym replay",
    description="""
        Replay episode --dataset.episode of a dataset on an env: reset to the recorded first
        state, send the recorded actions at the dataset's fps, and print the per-joint tracking
        error (mean and max |replayed - recorded| observation.state, in each joint's unit) and
        the overall RMS. The env defaults to --env.obs_type=state, --env.fps=<the dataset's
        fps> and --env.max_episode_steps=<the episode's length> (the whole episode is replayed).
        Exits 1 if the env ends the episode before every recorded frame was compared.
    """,
    flags=(
        Flag("dataset.root", None, "dataset directory (default: $HF_LEROBOT_HOME/REPO_ID)", str),
        Flag("dataset.repo_id", None, "Hugging Face dataset id USER/NAME (locates the root)", str),
        Flag("dataset.episode", REQUIRED, "episode index to replay", int),
        Flag(
            "realtime",
            None,
            "one frame period per step (default: true on hardware, false on the twin)",
            bool,
            True,
        ),
        Flag("start_from_recorded_state", True, "reset to the recorded first state", bool),
        Flag("seed", None, "reset seed (the recording's: the twin's props reappear)", int, True),
        Flag(
            "dataset.use_degrees",
            True,
            "false for an SO-101 dataset recorded in LeRobot's older -100..100 units "
            "(needs --dataset.calibration)",
            bool,
        ),
        Flag(
            "dataset.calibration",
            None,
            "LeRobot calibration JSON of the arm the dataset was recorded on",
            str,
            True,
        ),
    ),
    open_groups={"env": common.ENV_GROUP_HELP},
    examples=(
        "lerobot-gym replay --env.id=SO101-PickCube-v0 --dataset.root=data/pick "
        "--dataset.episode=0",
        "lerobot-gym replay --env.id=SO101-v0 --env.backend=real --env.port=/dev/ttyACM0 "
        "--dataset.repo_id=me/pick --dataset.episode=3",
        "lerobot-gym replay --env.id=SO101-v0 --dataset.root=data/old --dataset.episode=0 "
        "--dataset.use_degrees=false --dataset.calibration=~/.cache/huggingface/lerobot/"
        "calibration/robots/so_follower/my_arm.json",
    ),
)


def run(argv: list[str]) -> int:
    """Parse the flags, replay, print the tracking report."""
    import gymnasium as gym

    from lerobot_gym.cli.dataset import resolve_root
    from lerobot_gym.dataset.v21 import load_meta
    from lerobot_gym.wrappers import ControlRate, replay_episode

    cfg = PARSER.parse(argv)
    ds = cfg["dataset"]
    root = resolve_root(ds["root"], ds["repo_id"])
    if ds["episode"] < 0:
        raise UsageError(f"--dataset.episode must be >= 0, got {ds['episode']}")
    meta = load_meta(root)  # LeRobot v3.0 or v2.1
    env_args = dict(cfg.get("env") or {})
    env_id = common.resolve_env_id(env_args.get("id"))
    kwargs = common.env_kwargs(env_args)
    kwargs.setdefault("obs_type", "state")
    kwargs.setdefault("fps", meta.fps)
    to_env_units = _unit_conversion(ds["use_degrees"], ds["calibration"])
    _lift_time_limit(kwargs, meta, ds["episode"])
    realtime = cfg["realtime"]
    if realtime is None:
        realtime = kwargs.get("backend", "sim") != "sim"
    env = gym.make(env_id, **kwargs)
    try:
        if realtime:
            env = ControlRate(env, fps=meta.fps)
        report = replay_episode(
            env,
            root,
            ds["episode"],
            start_from_recorded_state=cfg["start_from_recorded_state"],
            seed=cfg["seed"],
            to_env_units=to_env_units,
        )
    finally:
        env.close()
    print(f"replayed episode {ds['episode']} of {root} on {env_id} at {meta.fps} fps")
    print(report.summary())
    if not report.complete:
        why = (
            f"the env {report.end_reason} the episode after {report.num_actions} actions "
            "(--env.terminate_on_success=true, or the task's failure condition); replay on an "
            "env that runs the whole episode"
            if report.ended_early
            else "the dataset has fewer data rows than its episodes table says"
        )
        print(
            f"lerobot-gym replay: error: compared only {report.num_compared_frames} of "
            f"{report.num_recorded_frames} recorded frames: {why}",
            file=sys.stderr,
        )
        return 1
    return 0


def _lift_time_limit(kwargs: dict, meta, episode: int) -> None:
    """Make the env's time limit the episode's length, so the replay is not cut short."""
    if not 0 <= episode < meta.num_episodes:
        return  # replay_episode names the episodes there are
    length = int(meta.episodes[episode]["length"])
    given = kwargs.get("max_episode_steps")
    if isinstance(given, int) and not isinstance(given, bool) and given < length:
        raise UsageError(
            f"--env.max_episode_steps={given} is shorter than episode {episode} ({length} "
            "frames), so it could not be replayed whole; leave the flag out (replay sets it to "
            "the episode's length)"
        )
    kwargs.setdefault("max_episode_steps", length)


def _unit_conversion(use_degrees: bool, calibration: str | None):
    """-100..100 -> degrees with the arm's calibration, for datasets in LeRobot's older units."""
    if use_degrees:
        if calibration is not None:
            raise UsageError("--dataset.calibration is only used with --dataset.use_degrees=false")
        return None
    if calibration is None:
        raise UsageError(
            "--dataset.use_degrees=false needs --dataset.calibration=PATH: the -100..100 units "
            "are relative to the calibrated range of the arm the dataset was recorded on"
        )
    import functools
    from pathlib import Path

    from lerobot_gym.robots.so101.calibration import load_calibration
    from lerobot_gym.robots.so101.ticks import m100_to_degrees

    cal = load_calibration(Path(calibration).expanduser())
    return functools.partial(m100_to_degrees, calibration=cal)
