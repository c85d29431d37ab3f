"""Demonstration scoring: filter a dataset by what its own policy's rollouts teach.

The method of "Curating Demonstrations using Online Experience" (Demo-SCORE; Chen, Lessing,
Liu and Finn, 2025), on the twin:

1. train a base policy on every demonstration (:func:`lerobot_gym.policies.training.train`),
   saving several checkpoints;
2. roll each checkpoint out on the twin and label every rollout by ``info["is_success"]`` at its
   last step (:func:`~lerobot_gym.policies.evaluate.evaluate_policy`);
3. train a small classifier of successful versus failed rollouts on their per-step states
   (:class:`StepClassifier`), cross-validated on the rollouts of a held-out checkpoint;
4. score each demonstration as the mean of the classifier's per-step output over its frames and
   keep those at or above ``threshold`` (or the top ``keep_fraction``), writing the kept ones as
   a new LeRobot dataset with :func:`lerobot_gym.dataset.tools.delete_episodes`;
5. retrain on the kept demonstrations and evaluate both policies on the same fresh seeds.

:func:`run_demo_score` runs it all and returns a :class:`DemoScoreReport`; given the indices of
the demonstrations known to be bad (``DemoScoreConfig.bad_episodes``, e.g. from
:mod:`lerobot_gym.policies.mixed_demos`), the report also has the filter's precision and recall
at removing them. The ground truth is never shown to the classifier.

Design decisions (our reading of the paper, which trains per-step classifiers on proprioceptive
states and averages them over a trajectory):

* Per-step features are ``observation.state`` and ``observation.environment_state`` (the env's
  ``agent_pos`` and ``environment_state``) and, with ``use_actions``, the action; each rollout
  step is labelled with its episode's outcome. Inputs are standardised with the training
  rollouts' mean and std, stored in the classifier.
* The loss weighs successes and failures equally whatever their counts (``pos_weight``), so a
  score of 0.5 means "as much like a success as like a failure" and is the default threshold.
* Cross-validation: the rollouts of one checkpoint that has both outcomes (the latest such) are
  held out; the classifier is trained on the others and the weights with the lowest held-out
  loss are kept (early stopping, as the paper's small, regularised classifiers). Without such a
  checkpoint a seeded quarter of the rollouts is held out instead.
* Rollouts without both outcomes cannot teach anything: :class:`NoRolloutContrastError` says
  which outcome is missing and what to change.
* Every stage reports through ``progress(stage, detail)``; nothing here prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from lerobot_gym.errors import ConfigError, DatasetNotFoundError
from lerobot_gym.policies.demo_classifier import (
    NoRolloutContrastError,
    Rollout,
    collect_rollouts,
    demo_features,
    filter_metrics,
    score_episodes,
    select_demos,
    train_classifier,
)
from lerobot_gym.policies.evaluate import evaluate_policy, wilson_interval

__all__ = [
    "PLOT_NAME",
    "REPORT_NAME",
    "DemoScoreConfig",
    "DemoScoreReport",
    "NoRolloutContrastError",
    "filter_dataset",
    "run_demo_score",
    "write_plot",
]

REPORT_NAME = "demo_score_report.json"
PLOT_NAME = "demo_score_report.png"
ROLLOUTS_NAME = "rollouts.npz"


@dataclass(frozen=True)
class DemoScoreConfig:
    """What :func:`run_demo_score` runs (the ``lerobot-gym demo-score`` flags).

    Attributes:
        dataset_root: the demonstrations (a LeRobot dataset with state observations).
        env_id: the twin to roll out on (``obs_type="state"``).
        output_dir: base/, filtered/ (policy runs), kept_dataset/, rollouts.npz (every
            rollout's features, length, outcome, checkpoint), classifier.pt, the report, plot.
        policy_type: ``"act"`` or ``"diffusion"``.
        policy_options: policy config fields (compact sizes for a CPU).
        steps: training steps of the base and of the filtered policy each.
        batch_size: samples per training step.
        n_checkpoints: base checkpoints rolled out (evenly spaced, the last one included).
        rollouts_per_checkpoint: rollouts of each.
        classifier_steps: classifier optimisation steps at most.
        classifier_hidden: width of its two hidden layers.
        use_actions: classify actions with the states.
        threshold: keep demonstrations whose score is at least this.
        keep_fraction: keep this top fraction instead (None: use ``threshold``).
        eval_episodes: evaluation episodes of the base and of the filtered policy.
        eval_seed: seed of the first evaluation episode (rollouts start at ``eval_seed // 2``).
        seed: seeds training and the classifier.
        device: ``cpu``, ``cuda`` or ``auto``.
        bad_episodes: indices known to be bad, for the report only (None: unknown).
    """

    dataset_root: str
    env_id: str
    output_dir: str
    policy_type: str = "act"
    policy_options: dict[str, Any] = field(default_factory=dict)
    steps: int = 2000
    batch_size: int = 16
    n_checkpoints: int = 4
    rollouts_per_checkpoint: int = 20
    classifier_steps: int = 500
    classifier_hidden: int = 64
    use_actions: bool = False
    threshold: float = 0.5
    keep_fraction: float | None = None
    eval_episodes: int = 50
    eval_seed: int = 200_000
    seed: int = 0
    device: str = "cpu"
    bad_episodes: tuple[int, ...] | None = None

    def validate(self) -> None:
        """Raise :class:`ConfigError` (or :class:`DatasetNotFoundError`) naming the flag."""
        if not (Path(self.dataset_root) / "meta" / "info.json").is_file():
            raise DatasetNotFoundError(
                f"no LeRobot dataset at --dataset.root={self.dataset_root} (meta/info.json "
                "missing); record one with `lerobot-gym record` or pass --demos.generate=N"
            )
        for name in ("steps", "n_checkpoints", "rollouts_per_checkpoint", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be >= 1, got {getattr(self, name)}")
        if self.n_checkpoints > self.steps:
            raise ConfigError(f"--n_checkpoints={self.n_checkpoints} exceeds --steps")
        if self.keep_fraction is not None and not 0.0 < self.keep_fraction <= 1.0:
            raise ConfigError(f"--keep_fraction must be in (0, 1], got {self.keep_fraction}")


@dataclass(frozen=True)
class DemoScoreReport:
    """Everything :func:`run_demo_score` measured (``demo_score_report.json``)."""

    env_id: str
    n_demos: int
    scores: list[float]
    kept: list[int]
    removed: list[int]
    threshold: float
    rollout_success: dict[str, list[int]]
    classifier: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]
    kept_dataset: str
    filter: dict[str, Any] | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return asdict(self)


# -- the pipeline --------------------------------------------------------------------------------
Progress = Callable[[str, str], None]


def _train(config: DemoScoreConfig, root: str | Path, out: Path, save_freq: int) -> Path:
    from lerobot_gym.policies.training import TrainConfig, train

    train(
        TrainConfig(
            config.policy_type,
            root,
            out,
            steps=config.steps,
            batch_size=config.batch_size,
            save_freq=save_freq,
            log_freq=max(1, config.steps // 20),
            seed=config.seed,
            device=config.device,
            policy_options=dict(config.policy_options),
        )
    )
    return out / "checkpoints"


def _evaluate(checkpoint: Path, make_env: Callable[[], gym.Env], config: DemoScoreConfig) -> Any:
    from lerobot_gym.policies.checkpoint import load_policy

    def factory(env: gym.Env) -> Any:
        policy = load_policy(checkpoint, device=config.device)
        policy.check_env(env)
        return policy

    result = evaluate_policy(make_env, factory, config.eval_episodes, config.eval_seed)
    lo, hi = wilson_interval(result.n_successes, result.n_episodes)
    return {
        "checkpoint": str(checkpoint),
        "n_successes": result.n_successes,
        "n_episodes": result.n_episodes,
        "success_rate": result.success_rate,
        "success_rate_ci95": [lo, hi],
    }


def run_demo_score(config: DemoScoreConfig, progress: Progress | None = None) -> DemoScoreReport:
    """Run the whole pipeline (module docstring) and write its report and plot.

    Raises:
        DatasetNotFoundError, ConfigError: a bad setting (the message names the flag).
        NoRolloutContrastError: the base policy's rollouts are all successes or all failures.
    """
    config.validate()
    say = progress or (lambda stage, detail: None)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    demos = demo_features(config.dataset_root, use_actions=config.use_actions)
    if config.bad_episodes is not None:
        unknown = sorted(set(config.bad_episodes) - set(range(len(demos))))
        if unknown:
            raise ConfigError(f"--bad_episodes {unknown} are not episodes of the dataset")

    def make_env() -> gym.Env:
        return gym.make(config.env_id, obs_type="state")

    t0 = time.perf_counter()
    save_freq = max(1, config.steps // config.n_checkpoints)
    say("train", f"base policy on {len(demos)} demonstrations, {config.steps} steps")
    ckpt_dir = _train(config, config.dataset_root, out / "base", save_freq)
    timings["train_base"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    steps = sorted(int(p.name) for p in ckpt_dir.iterdir() if p.name.isdigit())
    rollouts: list[Rollout] = []
    rollout_success: dict[str, list[int]] = {}
    for k, step in enumerate(steps):
        got = collect_rollouts(
            ckpt_dir / f"{step:06d}" / "pretrained_model",
            make_env,
            config.rollouts_per_checkpoint,
            config.eval_seed // 2 + k * 1000,
            step=step,
            use_actions=config.use_actions,
            device=config.device,
        )
        rollouts.extend(got)
        n_ok = sum(r.success for r in got)
        rollout_success[str(step)] = [n_ok, len(got)]
        say("rollouts", f"checkpoint {step}: {n_ok}/{len(got)} successful")
    timings["rollouts"] = time.perf_counter() - t0
    # Kept so that the classifier can be studied again without rolling out again.
    np.savez_compressed(
        out / ROLLOUTS_NAME,
        features=np.concatenate([r.features for r in rollouts]),
        lengths=np.array([len(r.features) for r in rollouts]),
        success=np.array([r.success for r in rollouts]),
        checkpoint=np.array([r.checkpoint for r in rollouts]),
    )

    t0 = time.perf_counter()
    model, summary = train_classifier(
        rollouts, steps=config.classifier_steps, hidden=config.classifier_hidden, seed=config.seed
    )
    scores = score_episodes(model, demos)
    kept_root = out / "kept_dataset"
    kept, removed, threshold = filter_dataset(
        config.dataset_root,
        scores,
        kept_root,
        threshold=config.threshold,
        keep_fraction=config.keep_fraction,
    )
    say("score", f"kept {len(kept)} of {len(demos)} demonstrations (threshold {threshold:.3f})")
    torch.save(model.state_dict(), out / "classifier.pt")
    timings["classify_filter"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    say("eval", f"base policy, {config.eval_episodes} episodes")
    before = _evaluate(ckpt_dir / f"{steps[-1]:06d}" / "pretrained_model", make_env, config)
    timings["eval_base"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("train", f"filtered policy on {len(kept)} demonstrations, {config.steps} steps")
    filtered_dir = _train(config, kept_root, out / "filtered", config.steps)
    timings["train_filtered"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say("eval", f"filtered policy, {config.eval_episodes} episodes")
    after = _evaluate(filtered_dir / f"{config.steps:06d}" / "pretrained_model", make_env, config)
    timings["eval_filtered"] = time.perf_counter() - t0

    report = DemoScoreReport(
        env_id=config.env_id,
        n_demos=len(demos),
        scores=[float(s) for s in scores],
        kept=kept,
        removed=removed,
        threshold=threshold,
        rollout_success=rollout_success,
        classifier=summary,
        before=before,
        after=after,
        kept_dataset=str(kept_root),
        filter=(
            filter_metrics(removed, config.bad_episodes, scores)
            if config.bad_episodes is not None
            else None
        ),
        timings_s=timings,
    )
    (out / REPORT_NAME).write_text(json.dumps(_jsonable(report.to_dict()), indent=2) + "\n")
    write_plot(report, out / PLOT_NAME, bad=config.bad_episodes)
    return report


def filter_dataset(
    root: str | Path,
    scores: Sequence[float] | np.ndarray,
    out_root: str | Path,
    *,
    threshold: float = 0.5,
    keep_fraction: float | None = None,
) -> tuple[list[int], list[int], float]:
    """Write the demonstrations that pass the filter as a new dataset at ``out_root``.

    Uses :func:`lerobot_gym.dataset.tools.delete_episodes` (no re-encoding; crash-safe
    placement; the kept episodes are re-indexed ``0..k-1`` in their original order).

    Returns:
        Kept and removed episode indices of ``root`` and the threshold applied.

    Raises:
        ConfigError: ``scores`` has not one value per episode, or nothing would be kept.
    """
    from lerobot_gym.dataset.meta import DatasetMeta
    from lerobot_gym.dataset.tools import delete_episodes

    n = DatasetMeta.load(root).num_episodes
    if len(scores) != n:
        raise ConfigError(f"{len(scores)} scores for the {n} episodes of {root}")
    kept, used = select_demos(scores, threshold=threshold, keep_fraction=keep_fraction)
    if not kept:
        raise ConfigError(
            f"no demonstration scores at least --threshold={threshold} (best "
            f"{max(scores):.3f}); lower it or pass --keep_fraction"
        )
    removed = sorted(set(range(n)) - set(kept))
    delete_episodes(root, removed, out_root)
    return kept, removed, used


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_plot(report: DemoScoreReport, path: Path, bad: Sequence[int] | None = None) -> Path:
    """Draw the report as one PNG.

    Left: each demonstration's score (the injected bad ones marked, when known) and the
    threshold; right: success before and after filtering with 95 % Wilson intervals.
    """
    from lerobot_gym.errors import MissingExtraError

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "policies", "the demo-score report") from exc
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8))
    scores = np.asarray(report.scores)
    is_bad = np.zeros(len(scores), bool)
    if bad is not None:
        is_bad[list(bad)] = True
    idx = np.arange(len(scores))
    ax0.scatter(idx[~is_bad], scores[~is_bad], color="tab:blue", s=18, label="clean")
    if bad is not None:
        ax0.scatter(
            idx[is_bad], scores[is_bad], color="tab:red", marker="x", s=24, label="injected bad"
        )
    ax0.axhline(report.threshold, color="black", ls="--", lw=1, label="threshold")
    title = "demonstration scores"
    if report.filter:
        title += (
            f" (precision {report.filter['precision']:.2f}, recall {report.filter['recall']:.2f})"
        )
    ax0.set(title=title, xlabel="demonstration", ylabel="mean P(success)", ylim=(-0.03, 1.03))
    ax0.legend(loc="lower right", fontsize=8)
    for k, res in enumerate((report.before, report.after)):
        rate, (lo, hi) = res["success_rate"], res["success_rate_ci95"]
        ax1.bar(k, 100 * rate, color=("tab:orange", "tab:green")[k], alpha=0.8)
        ax1.errorbar(
            k,
            100 * rate,
            yerr=[[100 * max(0.0, rate - lo)], [100 * max(0.0, hi - rate)]],
            color="black",
            capsize=6,
        )
        ax1.annotate(
            f"{res['n_successes']}/{res['n_episodes']}",
            (k, 100 * hi),
            textcoords="offset points",
            xytext=(0, 4),
            ha="center",
        )
    ax1.set_xticks([0, 1], ["all demos", f"kept {len(report.kept)}/{report.n_demos}"])
    ax1.set(title="success rate (95 % Wilson)", ylabel="%", ylim=(0, 112))
    fig.suptitle(f"demonstration scoring on {report.env_id}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
