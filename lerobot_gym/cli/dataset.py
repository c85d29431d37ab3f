"""Inspect and edit datasets: info, validate, stats, merge, delete-episodes, push.

``lerobot-gym dataset SUBCOMMAND --dataset.root=DIR ...`` runs one of the tools of
:mod:`lerobot_gym.dataset` on a LeRobot v3.0 dataset and prints what it found or did:

* ``info``: fps, episodes, frames, features, tasks and size on disk (``--json=true`` for JSON);
* ``validate``: every problem, as ``file: problem``; exit code 1 when there is any;
* ``stats``: recompute per-episode and aggregate stats from the files, print the aggregate;
* ``merge --dataset.roots=[a,b] --output_dir=OUT``: concatenate datasets (no re-encoding);
* ``delete-episodes --dataset.episodes=[1,3] [--output_dir=OUT]``: remove episodes, re-index;
* ``push --dataset.repo_id=USER/NAME [--private=true]``: upload to the Hugging Face Hub;
* ``rebuild-meta [--tasks=[...]]``: rebuild a lost or replaced episodes table, tasks file,
  stats and totals from the data and video files (nothing recorded is deleted);
* ``repair``: remove what an interrupted save left (only what is provably uncommitted) and
  rewrite stale totals, as ``lerobot-gym record --resume=true`` does before recording;
* ``convert --output=NEW``: write a LeRobot v2.1 dataset as a new v3.0 dataset (remuxed).

``--dataset.root`` defaults to ``$HF_LEROBOT_HOME/<repo_id>`` (``~/.cache/huggingface/lerobot``),
where LeRobot keeps datasets, when ``--dataset.repo_id`` is given.

``validate``, ``stats``, ``merge`` and ``delete-episodes`` draw a tqdm bar on stderr through the
tools' ``progress(done, total)`` callback; the bar is removed when the work ends, so stdout and
the final lines stay the report.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.cli.args import REQUIRED, CommandParser, Flag, HelpRequested, UsageError

PROG = "lerobot-gym dataset"

_ROOT = Flag("dataset.root", None, "dataset directory (default: $HF_LEROBOT_HOME/REPO_ID)", str)
_REPO = Flag("dataset.repo_id", None, "Hugging Face dataset id USER/NAME (locates the root)", str)


def resolve_root(root: str | os.PathLike | None, repo_id: str | None) -> Path:
    """The dataset directory: ``root``, else ``$HF_LEROBOT_HOME/<repo_id>`` as in LeRobot.

    Raises:
        UsageError: neither is given.
    """
    if root:
        return Path(root).expanduser()
    if repo_id:
        home = os.environ.get("HF_LEROBOT_HOME") or "~/.cache/huggingface/lerobot"
        return Path(home).expanduser() / repo_id
    raise UsageError("give --dataset.root=DIR (or --dataset.repo_id=USER/NAME)")


def _parser(name: str, description: str, *flags: Flag, examples: tuple[str, ...] = ()):
    return CommandParser(
        prog=f"{PROG} {name}", description=description, flags=flags, examples=examples
    )


PARSERS: dict[str, CommandParser] = {
    "info": _parser(
        "info",
        "Print a dataset's fps, episodes, frames, features, tasks and size on disk.",
        _ROOT,
        _REPO,
        Flag("json", False, "print the summary as JSON", bool),
        examples=("lerobot-gym dataset info --dataset.root=data/pick",),
    ),
    "validate": _parser(
        "validate",
        """Check a dataset against the LeRobot v3.0 format and against itself; print each
        problem as `file: problem`. Exit code 0 when sound, 1 when there are problems.""",
        _ROOT,
        _REPO,
        Flag("check_videos", True, "also decode every MP4's frame timestamps (slow part)", bool),
    ),
    "stats": _parser(
        "stats",
        """Recompute every episode's stats from the data and video files, rewrite them and
        meta/stats.json, and print the aggregate (videos are fully decoded).""",
        _ROOT,
        _REPO,
    ),
    "merge": _parser(
        "merge",
        "Concatenate datasets with equal fps and features into a new dataset (no re-encoding).",
        Flag("dataset.roots", REQUIRED, "datasets to merge, in order: [a,b,...]"),
        Flag("output_dir", REQUIRED, "directory of the merged dataset (new or empty)", str),
        examples=(
            "lerobot-gym dataset merge --dataset.roots=[data/a,data/b] --output_dir=data/ab",
        ),
    ),
    "delete-episodes": _parser(
        "delete-episodes",
        """Remove episodes and re-index the rest contiguously; in place unless --output_dir
        is given (in place is atomic: the old dataset is replaced only once the new is
        complete).""",
        _ROOT,
        _REPO,
        Flag("dataset.episodes", REQUIRED, "episode indices to remove: [1,3]"),
        Flag("output_dir", None, "write the result here instead of replacing the dataset", str),
    ),
    "push": _parser(
        "push",
        """Upload a dataset to the Hugging Face Hub and tag it v3.0, as LeRobot does (uses the
        token of `huggingface-cli login` or $HF_TOKEN).""",
        _ROOT,
        Flag("dataset.repo_id", REQUIRED, "Hub dataset id USER/NAME", str),
        Flag("private", False, "create the repository private", bool),
    ),
    "rebuild-meta": _parser(
        "rebuild-meta",
        """Rebuild a lost or replaced meta/episodes table, meta/tasks.parquet, meta/stats.json
        and the totals of meta/info.json from the data parquet and video files. Data and
        videos are only read; the replaced metadata files are kept in .meta-backup-TIME/.""",
        _ROOT,
        _REPO,
        Flag(
            "tasks",
            None,
            "task texts in task_index order, when tasks.parquet and meta/episodes are both lost",
            Any,
            True,
        ),
        examples=("lerobot-gym dataset rebuild-meta --dataset.root=data/pick",),
    ),
    "repair": _parser(
        "repair",
        """Remove what an interrupted save left behind (only files and rows provably not
        committed) and rewrite stale totals, as `lerobot-gym record --resume=true` does.""",
        _ROOT,
        _REPO,
    ),
}


def run(argv: list[str]) -> int:
    """Dispatch to a subcommand; its exit code."""
    if not argv or argv[0] in ("-h", "--help", "help"):
        if not argv:
            raise UsageError(f"a subcommand is needed: {', '.join(PARSERS)}")
        raise HelpRequested(_overview())
    name, rest = argv[0], argv[1:]
    parser = PARSERS.get(name)
    if parser is None:
        raise UsageError(f"unknown subcommand {name!r}; subcommands: {', '.join(PARSERS)}")
    cfg = parser.parse(rest)
    return SUBCOMMANDS[name](cfg)


def _overview() -> str:
    lines = [f"usage: {PROG} SUBCOMMAND [--group.key=value ...]", "", "subcommands:"]
    width = max(len(n) for n in PARSERS) + 2
    for name, parser in PARSERS.items():
        summary = " ".join(parser.description.split()).split(". ")[0].rstrip(".")
        lines.append(f"  {name:<{width}}{summary}")
    lines += ["", f"Run `{PROG} SUBCOMMAND --help` for its flags."]
    return "\n".join(lines) + "\n"


def _root(cfg: dict[str, Any]) -> Path:
    ds = cfg.get("dataset") or {}
    return resolve_root(ds.get("root"), ds.get("repo_id"))


# -- subcommands ---------------------------------------------------------------------------------
def info(cfg: dict[str, Any]) -> int:
    """``dataset info``: the summary of :func:`lerobot_gym.dataset.tools.info`."""
    from lerobot_gym.dataset import tools

    summary = tools.info(_root(cfg))
    if cfg["json"]:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"dataset {summary['root']}")
    print(
        f"  format {summary['codebase_version']}, robot {summary['robot_type'] or 'unknown'}, "
        f"{summary['fps']} fps"
    )
    print(
        f"  {summary['episodes']} episodes, {summary['frames']} frames "
        f"({summary['duration_s']:.1f} s), {summary['size_mb']:.2f} MB on disk"
    )
    print(f"  tasks ({len(summary['tasks'])}):")
    for index, task in enumerate(summary["tasks"]):
        print(f"    {index}: {task}")
    print("  features:")
    width = max((len(k) for k in summary["features"]), default=0)
    for key, ft in summary["features"].items():
        codec = summary["video_codecs"].get(key)
        extra = f"  ({codec})" if codec else ""
        print(f"    {key:<{width}}  {ft['dtype']:<8} {ft['shape']}{extra}")
    return 0


def validate(cfg: dict[str, Any]) -> int:
    """``dataset validate``: print every problem; 1 if there is any."""
    from lerobot_gym.dataset import validate as validate_dataset

    root = _root(cfg)
    print(f"validating {root} ...", file=sys.stderr)
    with _progress_bar("checking files", "file") as progress:
        problems = validate_dataset(root, check_videos=cfg["check_videos"], progress=progress)
    for problem in problems:
        print(f"{_relative(problem.path, root)}: {problem.message}")
    if problems:
        print(f"{len(problems)} problem{'s' * (len(problems) != 1)} in {root}")
        return 1
    print(f"ok: {root} is a sound LeRobot v3.0 dataset")
    return 0


def stats(cfg: dict[str, Any]) -> int:
    """``dataset stats``: recompute stats, print the aggregate."""
    from lerobot_gym.dataset import tools

    root = _root(cfg)
    print(f"recomputing stats of {root} (decodes every video frame) ...", file=sys.stderr)
    with _progress_bar("episodes", "episode") as progress:
        aggregated = tools.recompute_stats(root, progress=progress)
    print(f"wrote {root / 'meta' / 'stats.json'}")
    width = max((len(k) for k in aggregated), default=0)
    for key, feature_stats in aggregated.items():
        parts = [f"{name} {_fmt(feature_stats[name])}" for name in ("mean", "std", "min", "max")]
        print(f"  {key:<{width}}  " + "  ".join(parts))
    return 0


def merge(cfg: dict[str, Any]) -> int:
    """``dataset merge``: concatenate ``--dataset.roots`` into ``--output_dir``."""
    from lerobot_gym.dataset import tools

    roots = cfg["dataset"]["roots"]
    if isinstance(roots, str):
        roots = [roots]
    if not isinstance(roots, list) or len(roots) < 2:
        raise UsageError("--dataset.roots needs two or more datasets: --dataset.roots=[a,b]")
    print(f"merging {len(roots)} datasets into {cfg['output_dir']} ...", file=sys.stderr)
    with _progress_bar("episodes", "episode") as progress:
        meta = tools.merge([Path(str(r)) for r in roots], cfg["output_dir"], progress=progress)
    print(
        f"merged {len(roots)} datasets into {meta.root}: {meta.num_episodes} episodes, "
        f"{meta.num_frames} frames"
    )
    return 0


def delete_episodes(cfg: dict[str, Any]) -> int:
    """``dataset delete-episodes``: remove ``--dataset.episodes``."""
    from lerobot_gym.dataset import tools

    episodes = cfg["dataset"]["episodes"]
    episodes = episodes if isinstance(episodes, list) else [episodes]
    if not episodes or not all(isinstance(e, int) and not isinstance(e, bool) for e in episodes):
        raise UsageError(f"--dataset.episodes must be episode indices, e.g. [1,3]; got {episodes}")
    root = _root(cfg)
    print(f"deleting episodes {sorted(set(episodes))} of {root} ...", file=sys.stderr)
    with _progress_bar("episodes kept", "episode") as progress:
        meta = tools.delete_episodes(root, episodes, cfg["output_dir"], progress=progress)
    where = "in place" if cfg["output_dir"] is None else f"into {meta.root}"
    print(
        f"deleted episodes {sorted(set(episodes))} {where}: {meta.num_episodes} episodes, "
        f"{meta.num_frames} frames remain"
    )
    return 0


def push(cfg: dict[str, Any]) -> int:
    """``dataset push``: upload to the Hub under ``--dataset.repo_id``."""
    from lerobot_gym.dataset import tools

    ds = cfg["dataset"]
    root = resolve_root(ds["root"], ds["repo_id"])
    url = tools.push_to_hub(root, ds["repo_id"], private=cfg["private"])
    print(f"pushed {root} to {ds['repo_id']}: {url}")
    return 0


def rebuild_meta(cfg: dict[str, Any]) -> int:
    """``dataset rebuild-meta``: rebuild the metadata from the data and video files."""
    from lerobot_gym.dataset.rebuild import rebuild_meta as rebuild

    texts = cfg["tasks"]
    if texts is not None and (
        not isinstance(texts, list) or not all(isinstance(t, str) and t for t in texts)
    ):
        raise UsageError(
            f"--tasks must be task texts in task_index order, e.g. [pick,place]; got {texts!r}"
        )
    root = _root(cfg)
    print(f"rebuilding the metadata of {root} from its files ...", file=sys.stderr)
    with _progress_bar("episodes", "episode") as progress:
        meta = rebuild(root, tasks=texts, progress=progress)
    print(
        f"rebuilt {root / 'meta'}: {meta.num_episodes} episodes, {meta.num_frames} frames, "
        f"{len(meta.tasks)} tasks (the replaced files are kept in {root}/.meta-backup-*)"
    )
    return 0


def repair(cfg: dict[str, Any]) -> int:
    """``dataset repair``: remove an interrupted save's leftovers, rewrite stale totals."""
    from lerobot_gym.dataset.recovery import repair as repair_dataset

    root = _root(cfg)
    changes: list[str] = []
    meta = repair_dataset(
        root, removed=lambda path, what: changes.append(f"{_relative(path, root)}: {what}")
    )
    for line in changes:
        print(line)
    print(
        f"{'repaired' if changes else 'nothing to repair in'} {root}: {meta.num_episodes} "
        f"episodes, {meta.num_frames} frames"
    )
    return 0


SUBCOMMANDS: dict[str, Callable[[dict[str, Any]], int]] = {
    "info": info,
    "validate": validate,
    "stats": stats,
    "merge": merge,
    "delete-episodes": delete_episodes,
    "push": push,
    "rebuild-meta": rebuild_meta,
    "repair": repair,
}


@contextlib.contextmanager
def _progress_bar(desc: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr driven by a ``progress(done, total)`` callback; removed on exit."""
    from tqdm.auto import tqdm

    bar = tqdm(desc=desc, unit=unit, file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        if bar.total != total:  # the tools know the total only once they have read the metadata
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        bar.close()  # before any error message or report, so none shares the bar's line


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _fmt(value: Any) -> str:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    return np.array2string(arr, precision=3, suppress_small=True, max_line_width=10**6)


# -- convert (LeRobot v2.1 -> v3.0) ------------------------------------------------------------
# Registered here, apart from the table above, so that other subcommands can be added there
# without touching this one.

PARSERS["convert"] = _parser(
    "convert",
    """Convert a LeRobot v2.1 dataset into a new v3.0 dataset at --output, in one step and
    without loss: data rows are copied, videos remuxed (never re-encoded). The input is only
    read; the output appears complete or not at all.""",
    _ROOT,
    _REPO,
    Flag("output", REQUIRED, "directory of the v3.0 dataset (must not exist, or be empty)", str),
    examples=("lerobot-gym dataset convert --dataset.root=data/old_v21 --output=data/new",),
)


def convert(cfg: dict[str, Any]) -> int:
    """``dataset convert``: write the v2.1 dataset at ``--dataset.root`` as v3.0 at ``--output``."""
    from lerobot_gym.dataset.convert import check_output, convert_v21
    from lerobot_gym.dataset.v21 import CODEBASE_VERSION, codebase_version
    from lerobot_gym.errors import ConfigError

    root, output = _root(cfg), Path(cfg["output"]).expanduser()
    version = codebase_version(root)
    if version is not None and version != CODEBASE_VERSION:
        raise UsageError(
            f"--dataset.root={root} is a LeRobot {version} dataset; `dataset convert` reads v2.1"
        )
    try:
        check_output(root, output)
    except ConfigError as exc:
        raise UsageError(f"--output={cfg['output']}: {exc}") from exc
    print(f"converting {root} (LeRobot v2.1) into {output} (v3.0) ...", file=sys.stderr)
    with _progress_bar("episodes x files", "file") as progress:
        meta = convert_v21(root, output, progress=progress)
    print(
        f"converted {root} into {meta.root}: LeRobot v3.0, {meta.num_episodes} episodes, "
        f"{meta.num_frames} frames, {len(meta.video_keys)} camera(s) remuxed without re-encoding"
    )
    return 0


SUBCOMMANDS["convert"] = convert
