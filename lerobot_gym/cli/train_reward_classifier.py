"""Train a reward classifier (success from camera images) on a labelled LeRobot dataset.

``lerobot-gym train-reward-classifier --dataset.root=DIR --output_dir=OUT [--cameras=[front]]
[--label_key=next.success] [--steps=500] [--batch_size=32] [--val_fraction=0.2]
[--held_out_episodes=[3,7]]`` trains a
:class:`~lerobot_gym.policies.reward_classifier.RewardClassifierNet`
(:func:`lerobot_gym.policies.reward_training.train_reward_classifier`) and prints accuracy,
precision and recall on the held-out episodes. ``OUT`` receives the checkpoint
(``config.json``, ``model.safetensors``; load it with ``RewardClassifier(env, "OUT")`` or the
``reward.classifier_path`` of an env config) and ``report.json``.

Labels come from ``--label_key`` (default ``next.success``: on twin recordings the twin's
ground truth; on hardware what the operator labelled with ``HumanLabels``); the pairing of
images and labels is described in :mod:`lerobot_gym.policies.reward_training`.
"""

from __future__ import annotations

import sys
from typing import Any

from lerobot_gym.cli import common
from lerobot_gym.cli.args import REQUIRED, CommandParser, Flag, UsageError

PARSER = CommandParser(
    prog="lerobot-gym train-reward-classifier",
    description="""
        Train a small image classifier of task success on a LeRobot dataset (cameras in,
        --label_key out) and report its accuracy, precision and recall on held-out episodes.
        Writes OUTPUT_DIR/config.json, OUTPUT_DIR/model.safetensors and OUTPUT_DIR/report.json.
    """,
    flags=(
        Flag("dataset.root", REQUIRED, "the labelled LeRobot dataset folder", str),
        Flag("output_dir", None, "checkpoint folder (default: outputs/reward_classifier/...)", str),
        Flag("cameras", None, "cameras to classify from, e.g. [front] (default: all)", Any, True),
        Flag("label_key", "next.success", "label column: next.success or next.reward", str),
        Flag("steps", 500, "optimisation steps", int),
        Flag("batch_size", 32, "frames per step", int),
        Flag("lr", 1e-3, "learning rate (AdamW)", float),
        Flag("val_fraction", 0.2, "fraction of episodes held out for the report", float),
        Flag("held_out_episodes", None, "hold out these episodes instead, e.g. [3,7]", Any, True),
        Flag("threshold", 0.5, "P(success) counted as success", float),
        Flag("shift_px", 2, "random image shift of the augmentation, pixels", int),
        Flag("seed", 0, "seed of the split, the weights and the batches", int),
        Flag("num_threads", None, "torch CPU threads (default: torch's choice)", int, True),
    ),
    examples=(
        "lerobot-gym train-reward-classifier --dataset.root=data/pick_labelled "
        "--output_dir=outputs/reward/pick --cameras=[front] --steps=800",
    ),
)


def run(argv: list[str]) -> int:
    """Parse the flags, train, print the held-out metrics."""
    cfg = PARSER.parse(argv)
    result = train(cfg, on_log=lambda step, loss: print(f"step {step}: loss {loss:.4f}"))
    m = result.metrics
    print(
        f"held-out episodes {result.held_out_episodes}: {m.frames} frames, accuracy "
        f"{m.accuracy:.3f}, precision {m.precision:.3f}, recall {m.recall:.3f} "
        f"(successes {m.positive_fraction:.0%} of frames)"
    )
    print(f"classifier: {result.output_dir} (report: {result.output_dir / 'report.json'})")
    return 0


def train(cfg: dict[str, Any], on_log: Any = None) -> Any:
    """Train from parsed flags; the :class:`~lerobot_gym.policies.reward_training.TrainResult`."""
    from pathlib import Path

    from lerobot_gym.policies.files import require_torch
    from lerobot_gym.policies.reward_training import load_labelled_frames, train_reward_classifier

    torch = require_torch("`lerobot-gym train-reward-classifier`")
    if cfg["num_threads"]:
        torch.set_num_threads(cfg["num_threads"])
    root = Path(cfg["dataset"]["root"])
    if not root.exists():
        raise UsageError(f"--dataset.root={root} does not exist")
    cameras = cfg["cameras"]
    if isinstance(cameras, str):
        cameras = [cameras]
    held_out = cfg["held_out_episodes"]
    if held_out is not None and not isinstance(held_out, list):
        held_out = [held_out]
    frames = load_labelled_frames(root, cameras=cameras, label_key=cfg["label_key"])
    output_dir = cfg["output_dir"] or str(common.default_output_dir("reward_classifier", root.name))
    return train_reward_classifier(
        frames,
        output_dir,
        held_out=held_out,
        val_fraction=cfg["val_fraction"],
        steps=cfg["steps"],
        batch_size=cfg["batch_size"],
        lr=cfg["lr"],
        seed=cfg["seed"],
        shift_px=cfg["shift_px"],
        config_overrides={"threshold": cfg["threshold"]},
        dataset=str(root),
        on_log=on_log,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
