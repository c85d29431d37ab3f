"""Show what lerobot_gym does: scripted pick-cube episodes on the SO-101 twin, filmed.

``lerobot-gym demo --output_dir=DIR [--demo.n_episodes=3]`` (what ``make demo`` runs) rolls
the scripted PickCube policy out on the MuJoCo twin, writes ``DIR/videos/eval_episode_<i>.mp4``
from the front camera and ``DIR/eval_info.json``, and prints the success rate. ``--env.*``
overrides the env (``--env.id``, ``--env.image_size`` ...).

The demo is a sequence of steps (:data:`STEPS`), each a function of the shared
:class:`DemoRun` that records what it wrote in ``run.outputs``; a new stage (record a dataset,
replay it, write a Rerun file) is one function and one line in :data:`STEPS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lerobot_gym.cli import common
from lerobot_gym.cli.args import CommandParser, Flag

DEFAULT_ENV: dict[str, Any] = {
    "id": "lerobot_gym/SO101-PickCube-v0",
    # The scripted policy reads the cube pose from environment_state, so the observation needs
    # no images; only filmed frames are rendered (software rendering is the slow part).
    "obs_type": "state",
    "render_mode": "rgb_array",
    "render_camera": "front",
    "image_size": [240, 320],
}

PARSER = CommandParser(
    prog="lerobot-gym demo",
    description="""
        Roll the scripted pick-cube policy out on the SO-101's MuJoCo twin, film the front
        camera (OUTPUT_DIR/videos/eval_episode_<i>.mp4), write OUTPUT_DIR/eval_info.json and
        print the success rate. --env.* overrides the demo env, whose defaults are
    """
    + " ".join(f"--env.{key}={common.flag_text(value)}" for key, value in DEFAULT_ENV.items()),
    flags=(
        Flag("output_dir", "outputs/demo", "where to write videos and results", str),
        Flag("demo.n_episodes", 3, "scripted episodes to run (all are filmed)", int),
        Flag("seed", 0, "seed of the first episode; episode i uses seed + i", int),
    ),
    open_groups={"env": "override the demo env: " + common.ENV_GROUP_HELP},
    examples=("lerobot-gym demo --output_dir=outputs/demo --demo.n_episodes=3",),
)


@dataclass
class DemoRun:
    """State shared by the demo's steps.

    Attributes:
        output_dir: where every step writes.
        env_id: the env of the demo.
        env_kwargs: its ``gym.make`` keywords.
        n_episodes: episodes per step that rolls out.
        seed: seed of the first episode.
        results: per-step results by step name (e.g. the rollout's :class:`EvalResult`).
        outputs: files and folders written, by label, for the summary.
    """

    output_dir: Path
    env_id: str
    env_kwargs: dict[str, Any]
    n_episodes: int
    seed: int
    results: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)


def rollout_scripted(run: DemoRun) -> None:
    """Step 1: scripted episodes on the twin, filmed; eval_info.json with the success rate."""
    from lerobot_gym.cli.eval import evaluate

    report = evaluate(
        {
            "env": {"id": run.env_id, **run.env_kwargs},
            "policy": {"type": "scripted"},
            "eval": {"n_episodes": run.n_episodes, "n_videos": run.n_episodes, "max_steps": None},
            "seed": run.seed,
            "output_dir": str(run.output_dir),
        }
    )
    result = report["result"]
    run.results["rollout"] = result
    run.outputs["results"] = report["eval_info_path"]
    for ep in result.episodes:
        outcome = "success" if ep.success else "failure"
        print(f"  episode {ep.episode_ix} (seed {ep.seed}): {outcome}, {ep.elapsed_s:.1f} s")
        if ep.video_path:
            run.outputs[f"video, episode {ep.episode_ix}"] = Path(ep.video_path)
    successes = sum(ep.success for ep in result.episodes)
    print(
        f"  scripted {run.env_id}: success rate {100 * result.success_rate:.0f}% "
        f"({successes}/{result.n_episodes})"
    )


#: The demo's steps in order: (title, function of the DemoRun).
STEPS: tuple[tuple[str, Callable[[DemoRun], None]], ...] = (
    ("scripted pick-cube on the twin", rollout_scripted),
)


def run(argv: list[str]) -> int:
    """Parse the flags and run every step of :data:`STEPS`, then list what was written."""
    cfg = PARSER.parse(argv)
    env_args = {**DEFAULT_ENV, **cfg.get("env", {})}
    demo = DemoRun(
        output_dir=Path(cfg["output_dir"]),
        env_id=common.resolve_env_id(env_args.pop("id")),
        env_kwargs=env_args,
        n_episodes=cfg["demo"]["n_episodes"],
        seed=cfg["seed"],
    )
    for number, (title, step) in enumerate(STEPS, start=1):
        print(f"[{number}/{len(STEPS)}] {title}")
        step(demo)
    print("demo outputs:")
    for label, path in demo.outputs.items():
        print(f"  {label}: {path}")
    rollout = demo.results.get("rollout")
    if rollout is not None:
        print(f"success rate: {100 * rollout.success_rate:.0f}%")
    return 0
