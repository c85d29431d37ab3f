"""Evaluate a policy on an env: success rate, eval_info.json and episode videos.

``--policy.path=DIR`` evaluates a learned checkpoint (ours or LeRobot 0.4.4's
``pretrained_model`` folder; its ``config.json`` names the type), checked against the env's
spaces before the first episode; ``--policy.device`` picks the torch device.

``--env.backend=sim,emulated`` (two or more backends) evaluates the same policy with the same
seeds on each and writes one side-by-side report (:mod:`lerobot_gym.cli.eval_side_by_side`).

``lerobot-gym eval --env.id=ID --policy.type=scripted --eval.n_episodes=N --seed=S
--output_dir=DIR`` runs ``N`` episodes seeded ``S, S+1, ...`` with
:func:`lerobot_gym.policies.evaluate_policy`, prints the success rate, and writes
``DIR/eval_info.json`` (LeRobot's layout: ``per_episode``, ``aggregated``, plus ``success_rate``
and what was evaluated) and ``DIR/videos/eval_episode_<i>.mp4`` for the first
``--eval.n_videos`` episodes.

Videos need ``render_mode="rgb_array"``, which this command passes unless ``--env.render_mode``
is given (``--env.render_mode=null`` turns filming off). Episodes that are not filmed are not
rendered, so ``--eval.n_videos=0`` is the fastest evaluation.

``--eval.batch_size=N`` (LeRobot's flag) runs N envs at once in a Gymnasium ``SyncVectorEnv``
(:mod:`lerobot_gym.policies.eval_vector`). A learned policy (ACT, diffusion, SB3) loads once
and acts for all N envs in one forward pass a step, each env with its own episode state
(``policy.batched``); scripted policies get one instance per env. A real arm is one env, so
``--env.backend=real`` takes ``--eval.batch_size=1``. ``--policy.inference_threads=N`` sets
the torch threads of a policy step (default 1; ``null``: torch's own setting).

The success rate is printed and saved with its 95 % Wilson interval (``success_rate_ci95``),
and ``DIR/eval_report.png`` draws it with the running success rate, returns and episode
lengths (:mod:`lerobot_gym.policies.eval_report`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lerobot_gym.cli import common
from lerobot_gym.cli.args import CommandParser, Flag, UsageError

PARSER = CommandParser(
    prog="lerobot-gym eval",
    description="""
        Run N episodes of a policy in an env, episode i seeded seed + i; print the success rate;
        write OUTPUT_DIR/eval_info.json (per-episode seed, success at the final step, sum and max
        reward, steps; aggregated success rate and rewards) and
        OUTPUT_DIR/videos/eval_episode_<i>.mp4 for the first --eval.n_videos episodes.

        Videos need render_mode=rgb_array, passed unless --env.render_mode is given
        (--env.render_mode=null turns filming off). Unfilmed episodes are not rendered.

        Side by side: --env.backend=sim,emulated (two or more of sim, emulated, real) runs the
        same policy and seeds on each backend (--env.<backend>.<keyword> goes to that backend
        only) and writes OUTPUT_DIR/side_by_side.json (success and returns with intervals,
        per-joint tracking error, the gap to the first backend) and PNG plots; no videos.
    """,
    flags=(
        Flag(
            "policy.type",
            None,
            "policy type (scripted, random; act/diffusion with --policy.path); default: the "
            "checkpoint's type with --policy.path, else scripted",
            str,
        ),
        Flag("eval.n_episodes", 10, "episodes to run", int),
        Flag(
            "eval.batch_size",
            1,
            "envs run at once in a SyncVectorEnv (1: one env, episodes one after another)",
            int,
        ),
        Flag("eval.n_videos", 2, "film at most this many episodes (0: none)", int),
        Flag("eval.max_steps", None, "cap on steps per episode (null: the id's limit)", int, True),
        Flag("seed", 1000, "seed of the first episode; episode i uses seed + i", int),
        Flag("output_dir", None, "where to write (default: outputs/eval/<date>/<time>_<env>)", str),
    ),
    open_groups={"env": common.ENV_GROUP_HELP, "policy": common.POLICY_GROUP_HELP},
    examples=(
        "lerobot-gym eval --env.id=lerobot_gym/SO101-Reach-v0 --policy.type=scripted "
        "--eval.n_episodes=10 --seed=0 --output_dir=outputs/eval/reach",
        "lerobot-gym eval --env.id=SO101-PickCube-v0 --env.image_size=[240,320] "
        "--policy.type=random --eval.n_videos=0",
        "lerobot-gym eval --env.id=SO101-Reach-v0 --env.obs_type=state --eval.n_episodes=50 "
        "--eval.batch_size=5 --eval.n_videos=0",
        "lerobot-gym eval --env.id=SO101-PickCube-v0 --env.obs_type=state "
        "--policy.path=outputs/train/act/checkpoints/last/pretrained_model --eval.n_episodes=20",
        "lerobot-gym eval --env.id=SO101-Reach-v0 --env.obs_type=state "
        "--env.backend=sim,emulated --env.emulated.lockstep=true "
        "--env.emulated.bus_timeout_ms=500 --eval.n_episodes=20",
    ),
)


def run(argv: list[str]) -> int:
    """Parse the flags, evaluate, print the success rate, write eval_info.json and videos."""
    cfg = PARSER.parse(argv)
    from lerobot_gym.cli import eval_side_by_side

    backends = eval_side_by_side.backend_list(cfg.get("env", {}).get("backend"))
    if backends is not None:
        return eval_side_by_side.run(cfg, backends)
    report = evaluate(cfg)
    _print_report(report)
    return 0


def evaluate(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run the evaluation described by parsed flags; returns what was written to eval_info.json.

    Separate from :func:`run` so the demo and scripts reuse it with a config dict.
    """
    from lerobot_gym.policies import evaluate_policy, make_policy

    env_args = dict(cfg.get("env", {}))
    env_id = common.resolve_env_id(env_args.get("id"))
    kwargs = common.env_kwargs(env_args)
    eval_cfg = cfg["eval"]
    if eval_cfg["n_videos"] > 0:
        kwargs.setdefault("render_mode", "rgb_array")
    policy_args = dict(cfg.get("policy", {}))
    policy_type = _policy_type(policy_args.pop("type", None), policy_args.get("path"))
    seed = cfg["seed"]
    output_dir = Path(cfg["output_dir"] or common.default_output_dir("eval", env_id))

    batch_size = int(eval_cfg["batch_size"])
    if batch_size < 1:
        raise UsageError(f"--eval.batch_size must be at least 1, got {batch_size}")
    if batch_size > 1 and kwargs.get("backend") == "real":
        raise UsageError(
            f"--eval.batch_size={batch_size} with --env.backend=real: one arm runs one episode "
            "at a time; use --eval.batch_size=1"
        )
    first: list[Any] = []

    def policy_factory(env):
        # Called once when the policy batches (learned ones); otherwise once per env, a learned
        # policy loading its checkpoint once and the other envs' copies sharing it (spawn).
        if first and hasattr(first[0], "spawn"):
            return first[0].spawn()
        policy = make_policy(policy_type, env, seed=seed, **policy_args)
        first.append(policy)
        return policy

    progress = _ProgressBar(eval_cfg["n_episodes"], desc=f"eval {env_id}")
    try:
        result = evaluate_policy(
            common.env_factory(env_id, kwargs),
            policy_factory,
            n_episodes=eval_cfg["n_episodes"],
            seed=seed,
            video_dir=output_dir / "videos",
            max_videos=eval_cfg["n_videos"],
            max_steps=eval_cfg["max_steps"],
            progress=progress,
            batch_size=batch_size,
        )
    finally:
        progress.close()  # before any error message, so it does not share the bar's line
    info = result.to_dict()
    info["config"] = {
        "env": {"id": env_id, "kwargs": kwargs},
        "policy": {"type": policy_type, **policy_args},
        "seed": seed,
        "n_episodes": eval_cfg["n_episodes"],
        "batch_size": batch_size,
    }
    path = common.write_json(output_dir / "eval_info.json", info)
    report = _write_report(result, output_dir, f"{env_id} - {policy_type}")
    return {"eval_info": info, "eval_info_path": path, "result": result, "report_path": report}


def _write_report(result: Any, output_dir: Path, title: str) -> Path | None:
    """``eval_report.png``, or None (with a note on stderr) when matplotlib is missing."""
    from lerobot_gym.errors import MissingExtraError
    from lerobot_gym.policies.eval_report import REPORT_NAME, write_eval_report

    try:
        return write_eval_report(result, output_dir / REPORT_NAME, title=title)
    except MissingExtraError as exc:
        print(f"note: no {REPORT_NAME}: {exc}", file=sys.stderr)
        return None


def _policy_type(given: str | None, path: Any) -> str:
    """``--policy.type``, or the checkpoint's type when only ``--policy.path`` is given."""
    if path is None:
        return given or "scripted"
    from lerobot_gym.policies.checkpoint import resolve_checkpoint_dir
    from lerobot_gym.policies.config import read_config
    from lerobot_gym.policies.sb3 import POLICY_TYPE as SB3_TYPE
    from lerobot_gym.policies.sb3 import is_sb3_checkpoint

    directory = resolve_checkpoint_dir(path)
    found = SB3_TYPE if is_sb3_checkpoint(directory) else read_config(directory).type_name
    if given is not None and given != found:
        raise UsageError(
            f"--policy.type={given} but the checkpoint at --policy.path={path} is {found!r}; "
            "drop --policy.type"
        )
    return found


class _ProgressBar:
    """The evaluation's progress callback as a tqdm bar with the running success rate."""

    def __init__(self, total: int, desc: str) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="episode", file=sys.stderr, leave=False)
        self._successes = 0

    def __call__(self, episode) -> None:
        self._successes += int(episode.success)
        self._bar.update(1)
        self._bar.set_postfix(success=f"{self._successes}/{self._bar.n}")

    def close(self) -> None:
        """Remove the bar from the terminal."""
        self._bar.close()


def _print_report(report: dict[str, Any]) -> None:
    result = report["result"]
    lo, hi = result.success_ci95
    print(
        f"success rate: {100 * result.success_rate:.1f}% "
        f"({result.n_successes}/{result.n_episodes} episodes; 95% Wilson interval "
        f"{100 * lo:.1f}-{100 * hi:.1f}%), avg sum reward {result.avg_sum_reward:.3f}, "
        f"avg length {result.avg_steps:.1f} steps, "
        f"{result.elapsed_s / result.n_episodes:.1f} s/episode"
    )
    for ep in result.episodes:
        mark = "success" if ep.success else "failure"
        print(
            f"  episode {ep.episode_ix} (seed {ep.seed}): {mark}, {ep.steps} steps, "
            f"sum reward {ep.sum_reward:.3f}"
        )
    print(f"wrote {report['eval_info_path']}")
    if report["report_path"] is not None:
        print(f"wrote {report['report_path']}")
    for path in result.video_paths:
        print(f"wrote {path}")
