"""Show a recorded episode in Rerun: write an .rrd file, serve it, or spawn a viewer.

``lerobot-gym viz --dataset.root=DIR --episode=N [--save=PATH.rrd] [--serve=true]
[--spawn=true]`` logs episode ``N`` (camera images, joint state and action per joint, reward,
done, success, task) with :func:`lerobot_gym.viz.log_dataset_episode`, in the same entity layout
as a live ``lerobot-gym record --display_data=true`` run. LeRobot's counterpart is
``lerobot-dataset-viz`` (lerobot-interfaces.md §3.3).

Design decisions:

* A sink must be chosen: a robot's computer is often headless, where spawning a viewer fails
  late and obscurely. ``--save`` and one of ``--serve`` / ``--spawn`` can be combined.
* ``--serve`` keeps the process alive (the data lives in it) until Ctrl-C, or for
  ``--serve_s`` seconds, and prints the ``rerun`` command that connects to it.
"""

from __future__ import annotations

import time

from lerobot_gym.cli.args import CommandParser, Flag, UsageError

PARSER = CommandParser(
    prog="lerobot-gym viz",
    description="""
        Log one episode of a dataset to Rerun: camera images, observation.state and action per
        joint, reward, done and success, on the frame_index, timestamp and step timelines.
        Choose where it goes: --save=PATH.rrd (open later with `rerun PATH.rrd`), --serve=true
        (a gRPC server; connect with the printed `rerun` command) and/or --spawn=true (a local
        viewer; needs a display).
    """,
    flags=(
        Flag("dataset.root", None, "dataset directory (default: $HF_LEROBOT_HOME/REPO_ID)", str),
        Flag("dataset.repo_id", None, "Hugging Face dataset id USER/NAME (locates the root)", str),
        Flag("episode", 0, "episode index to show", int),
        Flag("save", None, "write an .rrd file here", str),
        Flag("serve", False, "serve for a remote viewer: true (port 9876) or a port number"),
        Flag(
            "serve_s",
            None,
            "with --serve: stop after this many seconds (default: Ctrl-C)",
            float,
            True,
        ),
        Flag("spawn", False, "start a local Rerun viewer", bool),
        Flag("jpeg_quality", None, "compress images to JPEG (1-100; default: raw RGB)", int, True),
        Flag(
            "dataset.video",
            True,
            "false: skip the MP4 cameras (their files are absent or Git LFS pointers)",
            bool,
        ),
    ),
    examples=(
        "lerobot-gym viz --dataset.root=data/pick --episode=0 --save=outputs/pick_ep0.rrd",
        "lerobot-gym viz --dataset.repo_id=me/pick --episode=3 --serve=true",
    ),
)


def run(argv: list[str]) -> int:
    """Parse the flags, log the episode, then wait while serving."""
    from lerobot_gym.cli.dataset import resolve_root
    from lerobot_gym.viz import log_dataset_episode

    cfg = PARSER.parse(argv)
    root = resolve_root(cfg["dataset"]["root"], cfg["dataset"]["repo_id"])
    serve = cfg["serve"]
    if isinstance(serve, bool) or serve is None:
        serve = bool(serve)
    elif not isinstance(serve, int) or not 0 < serve < 65536:
        raise UsageError(f"--serve: expected true, false or a port number, got {serve!r}")
    if cfg["save"] is None and not serve and not cfg["spawn"]:
        raise UsageError(
            "choose where to show the episode: --save=PATH.rrd, --serve=true or --spawn=true"
        )
    quality = cfg["jpeg_quality"]
    if quality is not None and not 1 <= quality <= 100:
        raise UsageError(f"--jpeg_quality must be within 1..100, got {quality}")
    session = log_dataset_episode(
        root,
        cfg["episode"],
        save=cfg["save"],
        serve=serve,
        spawn=cfg["spawn"],
        jpeg_quality=quality,
        video=cfg["dataset"]["video"],
    )
    try:
        print(f"logged episode {cfg['episode']} of {root}")
        if session.save is not None:
            print(f"wrote {session.save} (open it with `rerun {session.save}`)")
        if session.server_uri:
            print(f"serving: connect a viewer with `rerun {session.server_uri}`; Ctrl-C to stop")
            _serve(cfg["serve_s"])
    finally:
        session.close()
    return 0


def _serve(seconds: float | None) -> None:
    """Keep the process (and so the served recording) alive."""
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            left = 0.1 if deadline is None else deadline - time.monotonic()
            time.sleep(max(0.0, min(0.1, left)))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how serving ends: a normal exit
