"""Fit the twin's servo model and mounting to a recording of a real arm.

``lerobot-gym sysid --dataset.root=DIR [--dataset.calibration=CAL.json]`` replays the recorded
actions of some episodes on the twin, fits the servo model's delay, gains and deadbands and
the arm's base height (:func:`lerobot_gym.sim.sysid.identify`), checks the fit on other
episodes (:func:`lerobot_gym.sim.sysid.check`), prints the per-joint table (the real arm's
tracking error, the twin's before and after, each at its own best lag) and writes the parameter
file (``gym.make(id, twin_params=PATH)`` loads it) and a PNG plot.

Design decisions:

* Episodes are split by default into 3 fitting and up to 5 checking episodes spread over the
  dataset: fitting replays each episode a few dozen times, and the machine it runs on is
  usually someone's laptop. ``--fit_episodes`` / ``--check_episodes`` choose others.
* Units: ``--dataset.use_degrees=false`` reads LeRobot's older -100..100 convention; without
  ``--dataset.calibration`` it assumes a calibration and prints which one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lerobot_gym.cli.args import REQUIRED, CommandParser, Flag, UsageError

PARSER = CommandParser(
    prog="lerobot-gym sysid",
    description="""
        Identify the twin's servo model (delay, per-joint gains and deadbands) and the arm's
        mounting (base height over the table) from a recorded real dataset, by replaying its
        actions on the twin and minimising the state error. Prints the per-joint tracking error
        of the real arm and of the twin before and after fitting, and writes the parameter file
        (gym.make(id, twin_params=PATH)) and a PNG plot.
    """,
    flags=(
        Flag("dataset.root", REQUIRED, "dataset directory (LeRobot v3.0 or v2.1)", str),
        Flag(
            "dataset.use_degrees",
            True,
            "false for a dataset in LeRobot's older -100..100 units",
            bool,
        ),
        Flag(
            "dataset.calibration",
            None,
            "LeRobot calibration JSON of the recording arm (-100..100 datasets; default: "
            "assume the twin's joint ranges, and say so)",
            str,
            True,
        ),
        Flag("robot", "so101", "the robot the dataset was recorded on", str),
        Flag("fit_episodes", None, "episodes to fit on, e.g. [0,10,20] (default: 3)", Any, True),
        Flag(
            "check_episodes",
            None,
            "episodes to check on (default: up to 5 others)",
            Any,
            True,
        ),
        Flag(
            "start_params", None, "parameter file to start from (default: the robot's)", str, True
        ),
        Flag("output", "outputs/sysid/twin_params.json", "where to write the fitted file", str),
        Flag("plot", None, "where to write the PNG (default: next to --output)", str, True),
    ),
    examples=(
        "lerobot-gym sysid --dataset.root=data/so101_pick --output=my_arm_params.json",
        "lerobot-gym sysid --dataset.root=data/old --dataset.use_degrees=false "
        "--dataset.calibration=~/.cache/huggingface/lerobot/calibration/robots/so_follower/"
        "my_arm.json",
    ),
)


def default_split(num_episodes: int) -> tuple[list[int], list[int]]:
    """3 fitting episodes and up to 5 checking ones, spread over the dataset, disjoint."""
    fit = sorted({round(i * num_episodes / 3) for i in range(3)} & set(range(num_episodes)))
    rest = [e for e in range(num_episodes) if e not in fit]
    step = max(1, len(rest) // 5)
    check = rest[step // 2 :: step][:5]
    return fit, check


def _episodes(value: Any, flag: str, num_episodes: int) -> list[int]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(e, int) and not isinstance(e, bool) for e in items):
        raise UsageError(f"--{flag} must be a list of episode indices, e.g. [0,10,20]")
    bad = [e for e in items if not 0 <= e < num_episodes]
    if bad:
        raise UsageError(f"--{flag}: episodes {bad} do not exist (the dataset has {num_episodes})")
    return items


def run(argv: list[str]) -> int:
    """Parse the flags, fit, check, print the table, write the file and the plot."""
    from lerobot_gym.dataset.v21 import load_meta
    from lerobot_gym.registry import get_robot
    from lerobot_gym.sim import sysid
    from lerobot_gym.sim.sysid_report import write_plot
    from lerobot_gym.sim.twin_params import resolve_twin_params

    cfg = PARSER.parse(argv)
    ds = cfg["dataset"]
    root = Path(ds["root"]).expanduser()
    if ds["calibration"] is not None and ds["use_degrees"]:
        raise UsageError(
            "--dataset.calibration converts LeRobot's -100..100 units; pass it with "
            "--dataset.use_degrees=false (a dataset in degrees needs no calibration)"
        )
    meta = load_meta(root)
    robot = get_robot(cfg["robot"])
    fit_eps, check_eps = default_split(meta.num_episodes)
    if cfg["fit_episodes"] is not None:
        fit_eps = _episodes(cfg["fit_episodes"], "fit_episodes", meta.num_episodes)
    if cfg["check_episodes"] is not None:
        check_eps = _episodes(cfg["check_episodes"], "check_episodes", meta.num_episodes)
    elif cfg["fit_episodes"] is not None:
        check_eps = [e for e in default_split(meta.num_episodes)[1] if e not in fit_eps]
    if not check_eps:
        check_eps = fit_eps
    start = resolve_twin_params(cfg["start_params"], robot)
    options = {"use_degrees": ds["use_degrees"], "calibration": ds["calibration"]}
    fitting = sysid.load_recording(root, robot, fit_eps, **options)
    checking = sysid.load_recording(root, robot, check_eps, **options)
    print(f"units: {fitting.units_note}")
    print(f"fitting on episodes {fit_eps}, checking on {check_eps} of {root}")
    params, notes = sysid.identify(fitting, robot, start, progress=print)
    report = sysid.check(checking, robot, None, params)
    fit_notes = {
        **notes,
        "dataset": str(root),
        "check_episodes": check_eps,
        "real_tracking_error": report.real_error.round(4).tolist(),
        "twin_tracking_error": report.after.tracking.round(4).tolist(),
    }
    import dataclasses

    params = dataclasses.replace(params, fit=fit_notes)
    output = params.save(cfg["output"])
    plot = Path(cfg["plot"]) if cfg["plot"] else output.with_suffix(".png")
    write_plot(report, checking, plot)
    print(
        "tracking error on the checking episodes, mean |state[t+lag] - action[t]| at each "
        "one's best lag (lag in frames); 'before' is the ideal twin, 'after' the fitted one; "
        "ratio = twin / real:"
    )
    print(report.table())
    print(f"wrote {output} (gym.make(id, twin_params={str(output)!r})) and {plot}")
    return 0
