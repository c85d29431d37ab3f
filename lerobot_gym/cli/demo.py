"""Show what lerobot_gym does: scripted SO-101 pick-cube and ALOHA handover, filmed.

``lerobot-gym demo --output_dir=DIR [--demo.n_episodes=3] [--demo.n_record=10]`` (what
``make demo`` runs):

1. rolls the scripted PickCube policy out on the MuJoCo twin, writes
   ``DIR/videos/eval_episode_<i>.mp4`` from the front camera and ``DIR/eval_info.json``, and
   prints the success rate;
2. records ``n_record`` scripted episodes with front and wrist video as a LeRobot v3.0 dataset
   in ``DIR/dataset``;
3. replays episode 0 on a fresh twin and prints the per-joint tracking error;
4. writes episode 0 as a Rerun recording, ``DIR/episode_0.rrd``;
5. rolls one scripted ALOHA TransferCube episode out on the bimanual twin, filmed from the
   ``top`` camera: ``DIR/aloha_transfer_cube/videos/eval_episode_0.mp4`` (and its
   ``eval_info.json``), at the demo's ``--env.image_size``.

``--env.*`` overrides the env (``--env.id``, ``--env.image_size`` ...).

The demo is a sequence of steps (:data:`STEPS`), each a function of the shared
:class:`DemoRun` that records what it wrote in ``run.outputs``; a new stage (record a dataset,
replay it, write a Rerun file) is one function and one line in :data:`STEPS`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

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

#: The ALOHA step's env (the image size follows the demo env's).
ALOHA_ENV: dict[str, Any] = {
    "id": "lerobot_gym/Aloha-TransferCube-v0",
    "obs_type": "state",
    "render_mode": "rgb_array",
    "render_camera": "top",
}

PARSER = CommandParser(
    prog="lerobot-gym demo",
    description="""
        Roll the scripted pick-cube policy out on the SO-101's MuJoCo twin, film the front
        camera (OUTPUT_DIR/videos/eval_episode_<i>.mp4), write OUTPUT_DIR/eval_info.json and
        print the success rate; record, replay and save a Rerun file; then film one scripted
        ALOHA transfer-cube episode from its top camera (OUTPUT_DIR/aloha_transfer_cube/).
        --env.* overrides the demo env, whose defaults are
    """
    + " ".join(f"--env.{key}={common.flag_text(value)}" for key, value in DEFAULT_ENV.items()),
    flags=(
        Flag("output_dir", "outputs/demo", "where to write videos and results", str),
        Flag("demo.n_episodes", 3, "scripted episodes to run (all are filmed)", int),
        Flag("demo.n_record", 10, "scripted episodes to record into the dataset", int),
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
        n_record: episodes recorded into the demo dataset.
        seed: seed of the first episode.
        results: per-step results by step name (e.g. the rollout's :class:`EvalResult`).
        outputs: files and folders written, by label, for the summary.
    """

    output_dir: Path
    env_id: str
    env_kwargs: dict[str, Any]
    n_episodes: int
    seed: int
    n_record: int = 10
    results: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)


def rollout_scripted(run: DemoRun) -> None:
    """Step 1: scripted episodes on the twin, filmed; eval_info.json with the success rate."""
    from lerobot_gym.cli.eval import evaluate

    report = evaluate(
        {
            "env": {"id": run.env_id, **run.env_kwargs},
            "policy": {"type": "scripted"},
            "eval": {
                "n_episodes": run.n_episodes,
                "n_videos": run.n_episodes,
                "max_steps": None,
                "batch_size": 1,
            },
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


def record_dataset(run: DemoRun) -> None:
    """Step 2: record scripted episodes with front and wrist video as a LeRobot v3.0 dataset."""
    import gymnasium as gym

    from lerobot_gym.dataset import LeRobotDataset
    from lerobot_gym.policies import make_policy
    from lerobot_gym.wrappers import RecordEpisodes

    root = run.output_dir / "dataset"
    if root.exists():
        shutil.rmtree(root)  # the demo always starts a fresh dataset
    env = gym.make(
        run.env_id,
        obs_type="pixels_agent_pos",
        cameras=("front", "wrist"),
        image_size=tuple(run.env_kwargs.get("image_size", (240, 320))),
    )
    env = RecordEpisodes(env, root=root, repo_id="lerobot_gym/demo_pick_cube")
    policy = make_policy("scripted", env)
    successes = 0
    for episode in tqdm(range(run.n_record), desc="  recording", unit="episode"):
        obs, info = env.reset(seed=run.seed + episode)
        policy.reset(obs, info)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            done = terminated or truncated
        successes += bool(info["is_success"])
    env.close()
    dataset = LeRobotDataset(root)
    print(
        f"  recorded {dataset.meta.info['total_episodes']} episodes, "
        f"{dataset.meta.info['total_frames']} frames, cameras {list(dataset.meta.video_keys)} "
        f"({successes}/{run.n_record} successful)"
    )
    run.results["dataset_root"] = root
    run.outputs["dataset"] = root


def replay_first_episode(run: DemoRun) -> None:
    """Step 3: replay episode 0's recorded actions on a fresh twin; print the tracking error."""
    import gymnasium as gym

    from lerobot_gym.wrappers import replay_episode

    env = gym.make(run.env_id, obs_type="state")
    report = replay_episode(env, run.results["dataset_root"], 0, seed=run.seed)
    env.close()
    run.results["replay"] = report
    print("  " + report.summary().replace("\n", "\n  "))


def film_aloha_transfer_cube(run: DemoRun) -> None:
    """Step 5: one scripted ALOHA TransferCube episode on the bimanual twin, filmed from top."""
    from lerobot_gym.cli.eval import evaluate

    out = run.output_dir / "aloha_transfer_cube"
    image_size = list(run.env_kwargs.get("image_size", DEFAULT_ENV["image_size"]))
    report = evaluate(
        {
            "env": {**ALOHA_ENV, "image_size": image_size},
            "policy": {"type": "scripted"},
            "eval": {"n_episodes": 1, "n_videos": 1, "max_steps": None, "batch_size": 1},
            "seed": run.seed,
            "output_dir": str(out),
        }
    )
    result = report["result"]
    run.results["aloha"] = result
    episode = result.episodes[0]
    outcome = "success" if episode.success else "failure"
    print(f"  ALOHA transfer-cube (seed {episode.seed}): {outcome}, {episode.elapsed_s:.1f} s")
    if episode.video_path:
        run.outputs["ALOHA video (top camera)"] = Path(episode.video_path)


def save_rerun_recording(run: DemoRun) -> None:
    """Step 4: write episode 0 to a Rerun .rrd file (open it with `rerun FILE`)."""
    from lerobot_gym.viz import log_dataset_episode

    path = run.output_dir / "episode_0.rrd"
    log_dataset_episode(run.results["dataset_root"], 0, save=path, jpeg_quality=85)
    print(f"  wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    run.outputs["rerun recording"] = path


#: The demo's steps in order: (title, function of the DemoRun).
STEPS: tuple[tuple[str, Callable[[DemoRun], None]], ...] = (
    ("scripted pick-cube on the twin", rollout_scripted),
    ("record a LeRobot dataset (front + wrist video)", record_dataset),
    ("replay episode 0 on a fresh twin", replay_first_episode),
    ("save episode 0 as a Rerun recording", save_rerun_recording),
    ("scripted ALOHA transfer-cube, filmed from top", film_aloha_transfer_cube),
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
        n_record=cfg["demo"]["n_record"],
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
