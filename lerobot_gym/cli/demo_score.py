"""Score demonstrations by their policy's rollouts on the twin, filter them, retrain (Demo-SCORE).

``lerobot-gym demo-score --dataset.root=DIR --env.id=ID --output_dir=OUT [--policy.type=act]
[--policy.<field>=value ...] [--steps=2000] [--n_checkpoints=4] [--rollouts_per_checkpoint=20]
[--threshold=0.5 | --keep_fraction=0.7] [--eval.n_episodes=50] [--bad_episodes=[3,7]]`` runs
:func:`lerobot_gym.policies.demo_score.run_demo_score`: a base policy on every demonstration,
rollouts of its checkpoints, a classifier of successful versus failed rollouts, the
demonstrations scored and filtered into ``OUT/kept_dataset`` (a LeRobot dataset), a policy
retrained on them, and both evaluated. ``OUT/demo_score_report.json`` and
``OUT/demo_score_report.png`` hold the results.

``--demos.generate=N`` first records N scripted demonstrations into ``OUT/demos`` with
``--demos.bad_fraction`` of them corrupted (``--demos.corruptions``: any of ``wrong_target``,
``action_noise``, ``drop``; :mod:`lerobot_gym.policies.mixed_demos`) and passes the corrupted
ones as ``--bad_episodes``, so the report has the filter's precision and recall.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lerobot_gym.cli import common
from lerobot_gym.cli.args import CommandParser, Flag, UsageError

PARSER = CommandParser(
    prog="lerobot-gym demo-score",
    description="""
        Demonstration scoring (Demo-SCORE, Chen et al. 2025) on the twin: train a base policy on
        all demonstrations, roll out its checkpoints, train a classifier of successful versus
        failed rollouts, score the demonstrations with it, keep those scoring at least
        --threshold (or the top --keep_fraction) as OUTPUT_DIR/kept_dataset, retrain on them and
        report the success rate before and after (95 % Wilson intervals). With --bad_episodes
        (or --demos.generate) the report has the filter's precision and recall.
    """,
    flags=(
        Flag("dataset.root", None, "the demonstrations (state observations)", str, True),
        Flag("env.id", None, "the twin to roll out and evaluate on (obs_type=state)", str, True),
        Flag("output_dir", None, "run folder (default: outputs/demo_score/<date>/...)", str),
        Flag("policy.type", "act", "act or diffusion", str),
        Flag("policy.device", "cpu", "cpu, cuda or auto", str),
        Flag("steps", 2000, "training steps of the base and of the filtered policy", int),
        Flag("batch_size", 16, "samples per training step", int),
        Flag("n_checkpoints", 4, "base checkpoints to roll out (evenly spaced)", int),
        Flag("rollouts_per_checkpoint", 20, "rollouts of each checkpoint", int),
        Flag("classifier.steps", 500, "classifier optimisation steps at most", int),
        Flag("classifier.hidden", 64, "classifier hidden width", int),
        Flag("use_actions", False, "classify actions with the states", bool),
        Flag("threshold", 0.5, "keep demonstrations scoring at least this", float),
        Flag("keep_fraction", None, "keep this top fraction instead of --threshold", float, True),
        Flag("eval.n_episodes", 50, "evaluation episodes before and after", int),
        Flag("eval.seed", 200_000, "seed of the first evaluation episode", int),
        Flag("seed", 0, "seed of training and of the classifier", int),
        Flag("bad_episodes", None, "demonstrations known to be bad, for the report", Any, True),
        Flag("demos.generate", None, "record this many scripted demonstrations first", int, True),
        Flag("demos.bad_fraction", 0.3, "fraction of generated demonstrations corrupted", float),
        Flag("demos.corruptions", ["wrong_target"], "wrong_target, action_noise, drop", Any),
        Flag("demos.target_offset_m", [0.0, 0.0, 0.06], "wrong-target shift (x,y,z), m", Any),
        Flag("demos.noise_std", 0.1, "action noise, fraction of each half range", float),
        Flag("num_threads", None, "torch CPU threads (default: torch's choice)", int, True),
    ),
    open_groups={"policy": "config fields of the policy by LeRobot's names (chunk_size ...)"},
    examples=(
        "lerobot-gym demo-score --env.id=SO101-Reach-v0 --demos.generate=40 "
        "--output_dir=outputs/demo_score/reach --policy.dim_model=64 --policy.chunk_size=20 "
        "--policy.n_action_steps=20 --policy.n_encoder_layers=2",
        "lerobot-gym demo-score --dataset.root=data/pick --env.id=SO101-PickCube-v0 "
        "--keep_fraction=0.7 --output_dir=outputs/demo_score/pick",
    ),
)


def run(argv: list[str]) -> int:
    """Parse the flags, run the pipeline with progress lines, print the report last."""
    report, bad = demo_score(PARSER.parse(argv), say=lambda s, d: print(f"[{s}] {d}", flush=True))
    for line in summary_lines(report, bad):
        print(line)
    return 0


def demo_score(cfg: dict[str, Any], say: Any = None) -> tuple[Any, tuple[int, ...] | None]:
    """Run from parsed flags; the report and the known bad episodes (None when unknown)."""
    from lerobot_gym.policies.demo_score import DemoScoreConfig, run_demo_score
    from lerobot_gym.policies.files import require_torch

    torch = require_torch("`lerobot-gym demo-score`")
    if cfg["num_threads"]:
        torch.set_num_threads(cfg["num_threads"])
    env_id = common.resolve_env_id(cfg["env"]["id"])
    policy = dict(cfg.get("policy", {}))
    policy_type, device = policy.pop("type"), policy.pop("device")
    output_dir = Path(
        cfg["output_dir"] or common.default_output_dir("demo_score", env_id.split("/")[-1])
    )
    bad = cfg["bad_episodes"]
    bad = None if bad is None else tuple(int(e) for e in (bad if isinstance(bad, list) else [bad]))
    root = cfg["dataset"]["root"]
    demos = cfg["demos"]
    if demos["generate"] is not None:
        if root is not None:
            raise UsageError("give --dataset.root or --demos.generate, not both")
        root, bad = _generate(demos, env_id, output_dir / "demos", cfg["seed"], say)
    elif root is None:
        raise UsageError("--dataset.root is required (or --demos.generate=N to record demos)")
    config = DemoScoreConfig(
        dataset_root=str(root),
        env_id=env_id,
        output_dir=str(output_dir),
        policy_type=policy_type,
        policy_options=policy,
        steps=cfg["steps"],
        batch_size=cfg["batch_size"],
        n_checkpoints=cfg["n_checkpoints"],
        rollouts_per_checkpoint=cfg["rollouts_per_checkpoint"],
        classifier_steps=cfg["classifier"]["steps"],
        classifier_hidden=cfg["classifier"]["hidden"],
        use_actions=cfg["use_actions"],
        threshold=cfg["threshold"],
        keep_fraction=cfg["keep_fraction"],
        eval_episodes=cfg["eval"]["n_episodes"],
        eval_seed=cfg["eval"]["seed"],
        seed=cfg["seed"],
        device=device,
        bad_episodes=bad,
    )
    return run_demo_score(config, progress=say), bad


def _generate(
    demos: dict[str, Any], env_id: str, root: Path, seed: int, say: Any
) -> tuple[Path, tuple[int, ...]]:
    from lerobot_gym.policies.mixed_demos import MixedDemosConfig, record_mixed_demos

    corruptions = demos["corruptions"]
    corruptions = corruptions if isinstance(corruptions, list) else [corruptions]
    offset = demos["target_offset_m"]
    if not isinstance(offset, list) or len(offset) != 3:
        raise UsageError(f"--demos.target_offset_m needs three numbers, got {offset}")
    if root.exists():
        raise UsageError(
            f"{root} already exists; choose a new --output_dir or pass --dataset.root={root}"
        )
    config = MixedDemosConfig(
        env_id=env_id,
        n_episodes=demos["generate"],
        bad_fraction=demos["bad_fraction"],
        corruptions=tuple(str(c) for c in corruptions),
        target_offset_m=(float(offset[0]), float(offset[1]), float(offset[2])),
        noise_std=demos["noise_std"],
        seed=seed,
    )
    mixed = record_mixed_demos(config, root)
    if say is not None:
        say(
            "demos",
            f"{config.n_episodes} scripted demonstrations in {root}, corrupted: "
            f"{list(mixed.bad_episodes)} ({sum(mixed.demo_success)} successful)",
        )
    return root, mixed.bad_episodes


def summary_lines(report: Any, bad: tuple[int, ...] | None) -> list[str]:
    """The report as the lines ``run`` prints last."""
    lines = [
        "rollouts (successes/episodes per checkpoint): "
        + ", ".join(f"{k}: {v[0]}/{v[1]}" for k, v in report.rollout_success.items()),
        f"classifier: held-out accuracy {report.classifier['val_accuracy']:.2f} on "
        f"{report.classifier['n_val_rollouts']} rollouts (checkpoint "
        f"{report.classifier['held_out_checkpoint']})",
        f"kept {len(report.kept)} of {report.n_demos} demonstrations (threshold "
        f"{report.threshold:.3f}); removed {report.removed}",
    ]
    if report.filter is not None:
        f = report.filter
        lines.append(
            f"filter vs injected bad {list(bad or ())}: precision {f['precision']:.2f} "
            f"({f['true_positives']}/{f['n_removed']}), recall {f['recall']:.2f} "
            f"({f['true_positives']}/{f['n_bad']})"
            + (f", AUROC {f['auroc']:.2f}" if "auroc" in f else "")
        )
    for name, res in (("before (all demos)", report.before), ("after (filtered)", report.after)):
        lo, hi = res["success_rate_ci95"]
        lines.append(
            f"success {name}: {res['n_successes']}/{res['n_episodes']} = "
            f"{res['success_rate']:.2f} (95% Wilson {lo:.2f}-{hi:.2f})"
        )
    lines.append(f"report: {Path(report.kept_dataset).parent / 'demo_score_report.json'}")
    return lines


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
