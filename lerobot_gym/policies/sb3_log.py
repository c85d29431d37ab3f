"""Logs of SB3 training runs: evaluation rows, SB3's logger outputs (W&B too) and the plot.

``lerobot-gym train --policy.type=sac`` (:mod:`lerobot_gym.cli.train_sb3`) writes, per run:

* ``eval.csv``: one row per evaluation (:data:`EVAL_FIELDS`), appended across resumes;
* ``logs/<first step>/``: SB3's own logger (losses, episode returns, the evaluation) as CSV,
  and as TensorBoard event files (``tensorboard`` is part of the ``rl`` extra);
* with ``--wandb.enable=true``, the same key/values to Weights & Biases through
  :class:`WandbWriter`, an SB3 output format;
* ``training.png`` (:func:`plot_training`).

Design decisions:

* W&B is one more SB3 output format rather than SB3's ``WandbCallback`` (which lives in the
  wandb package and also uploads models): everything SB3 logs reaches W&B at the step it is
  dumped, and nothing else does. The run is started by
  :func:`~lerobot_gym.policies.train_log.start_wandb_run`, as for ACT and diffusion, so a
  resumed training continues the same W&B run.
* Only numbers are sent (SB3 also logs strings and videos; the CSV keeps them).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.logger import KVWriter, Logger, make_output_format

__all__ = [
    "EVAL_FIELDS",
    "WandbWriter",
    "append_eval",
    "make_logger",
    "plot_training",
    "read_evals",
]

EVAL_FIELDS = ("step", "success_rate", "avg_sum_reward", "elapsed_s")


class WandbWriter(KVWriter):
    """An SB3 logger output format that logs the numeric key/values to a W&B run.

    Args:
        run: the object ``wandb.init`` returned (``log(metrics, step=...)``).
    """

    def __init__(self, run: Any) -> None:
        self.run = run

    def write(
        self,
        key_values: dict[str, Any],
        key_excluded: dict[str, tuple[str, ...]],
        step: int = 0,
    ) -> None:
        """Log the numbers not excluded from ``"wandb"`` at ``step``."""
        metrics = {}
        for key, value in key_values.items():
            excluded = key_excluded.get(key) or ()
            if "wandb" in excluded or isinstance(value, bool):
                continue
            if isinstance(value, (int, float, np.integer, np.floating)):
                metrics[key] = float(value)
        if metrics:
            self.run.log(metrics, step=int(step))

    def close(self) -> None:
        """Nothing to do: the training finishes the run once, at its end."""


def make_logger(folder: Path, wandb_run: Any = None) -> Logger:
    """SB3's logger into one folder per (resumed) run segment: its CSV file is rewritten.

    Args:
        folder: where ``progress.csv`` (and TensorBoard files, when installed) go.
        wandb_run: a started W&B run to log to as well, or None.
    """
    folder.mkdir(parents=True, exist_ok=True)
    formats = ["csv"]
    if importlib.util.find_spec("tensorboard") is not None:
        formats.append("tensorboard")
    outputs = [make_output_format(f, str(folder)) for f in formats]
    if wandb_run is not None:
        outputs.append(WandbWriter(wandb_run))
    return Logger(folder=str(folder), output_formats=outputs)


def append_eval(path: Path, row: dict[str, Any]) -> None:
    """Append one evaluation row to ``eval.csv`` (the header on a new file)."""
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=EVAL_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def read_evals(path: Path) -> list[dict[str, Any]]:
    """The rows of ``eval.csv`` (none when it does not exist)."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [
            {k: (int(v) if k == "step" else float(v)) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def plot_training(out: Path) -> Path:
    """``out/training.png``: evaluation success and return, training return and losses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    evals = read_evals(out / "eval.csv")
    progress: list[dict[str, str]] = []
    for path in sorted((out / "logs").glob("*/progress.csv")):
        with path.open(newline="") as f:
            progress += list(csv.DictReader(f))

    def series(key: str) -> tuple[list[float], list[float]]:
        pairs = [
            (float(r["time/total_timesteps"]), float(r[key]))
            for r in progress
            if r.get(key) and r.get("time/total_timesteps")
        ]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot([e["step"] for e in evals], [100 * e["success_rate"] for e in evals], "o-")
    axes[0].set(title="evaluation success", xlabel="env steps", ylabel="%", ylim=(-5, 105))
    axes[1].plot(
        [e["step"] for e in evals], [e["avg_sum_reward"] for e in evals], "o-", label="eval"
    )
    axes[1].plot(*series("rollout/ep_rew_mean"), label="train")
    axes[1].set(title="episode return", xlabel="env steps")
    axes[1].legend()
    for key in ("train/critic_loss", "train/actor_loss", "train/loss", "train/value_loss"):
        xs, ys = series(key)
        if xs:
            axes[2].plot(xs, ys, label=key.split("/")[1])
    axes[2].set(title="losses", xlabel="env steps")
    if axes[2].get_legend_handles_labels()[0]:
        axes[2].legend()
    fig.tight_layout()
    path = out / "training.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
