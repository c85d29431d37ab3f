"""Training and evaluating a reward classifier on a labelled LeRobot dataset.

:func:`train_reward_classifier` is what ``lerobot-gym train-reward-classifier`` runs: it reads
the cameras and a label column of a dataset (:func:`load_labelled_frames`), splits whole
episodes into training and held-out sets (frames of one episode are near-duplicates, so a
frame-level split would measure memory, not generalisation), trains
:class:`~lerobot_gym.policies.reward_classifier.RewardClassifierNet` with a class-balanced
binary cross-entropy, and reports accuracy, precision and recall on the held-out episodes in
``report.json`` next to the checkpoint.

Decisions:

* Labels. Frame ``t`` of a recorded episode holds the observation *before* step ``t`` and the
  outcome *after* it (``next.success``, ``next.reward``; RecordEpisodes), so the image of frame
  ``t`` shows the state whose label is frame ``t - 1``'s outcome. Images are paired with that
  label, and the first frame of every episode (the reset state, whose label was never recorded)
  is left out. With the default ``next.success`` on twin recordings the labels are the twin's
  ground truth; ``next.reward > 0`` serves datasets labelled by ``HumanLabels``.
* Augmentation: a random shift of up to ``shift_px`` pixels (edge-padded), LeRobot's and
  DrQ's cheap guard against a classifier keying on exact pixel positions.
* Determinism: the split, the initial weights and the batches come from ``seed``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.errors import ConfigError
from lerobot_gym.policies.files import require_torch

__all__ = [
    "ClassifierMetrics",
    "LabelledFrames",
    "TrainResult",
    "classifier_metrics",
    "load_labelled_frames",
    "split_episodes",
    "train_reward_classifier",
]

REPORT_NAME = "report.json"
IMAGE_PREFIX = "observation.images."


@dataclasses.dataclass
class LabelledFrames:
    """Images per camera (``N x H x W x 3`` uint8), labels (bool) and episode of each frame."""

    images: dict[str, np.ndarray]
    labels: np.ndarray
    episodes: np.ndarray

    def select(self, mask: np.ndarray) -> LabelledFrames:
        """The frames where ``mask`` is True."""
        return LabelledFrames(
            {k: v[mask] for k, v in self.images.items()}, self.labels[mask], self.episodes[mask]
        )


@dataclasses.dataclass(frozen=True)
class ClassifierMetrics:
    """Binary classification results against the labels (success is the positive class)."""

    frames: int
    accuracy: float
    precision: float
    recall: float
    true_positive: int
    false_positive: int
    true_negative: int
    false_negative: int
    positive_fraction: float  # of the labels: the accuracy of always saying "success" is this


def classifier_metrics(predicted: np.ndarray, labels: np.ndarray) -> ClassifierMetrics:
    """Accuracy, precision and recall of boolean predictions.

    Precision (recall) is 1.0 when nothing was predicted (labelled) a success: no false claims.

    Example:
        >>> m = classifier_metrics(np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool))
        >>> m.accuracy, m.precision, m.recall
        (0.75, 0.5, 1.0)
    """
    p, y = np.asarray(predicted, bool), np.asarray(labels, bool)
    tp, fp = int((p & y).sum()), int((p & ~y).sum())
    tn, fn = int((~p & ~y).sum()), int((~p & y).sum())
    n = max(len(y), 1)
    return ClassifierMetrics(
        frames=len(y),
        accuracy=(tp + tn) / n,
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        true_positive=tp,
        false_positive=fp,
        true_negative=tn,
        false_negative=fn,
        positive_fraction=float(y.mean()) if len(y) else 0.0,
    )


def load_labelled_frames(
    root: str | Path, *, cameras: Sequence[str] | None = None, label_key: str = "next.success"
) -> LabelledFrames:
    """Every frame's images and label (see the module docstring for the pairing).

    Raises:
        ConfigError: no such camera or label column in the dataset, or no cameras at all.
    """
    from lerobot_gym.dataset import LeRobotDataset
    from lerobot_gym.dataset.v21 import load_meta

    features = load_meta(Path(root)).features
    all_cams = [k.removeprefix(IMAGE_PREFIX) for k in features if k.startswith(IMAGE_PREFIX)]
    cams = list(cameras) if cameras else all_cams
    if not cams:
        raise ConfigError(f"the dataset at {root} has no cameras (observation.images.*)")
    unknown = [c for c in cams if c not in all_cams]
    if unknown:
        raise ConfigError(
            f"--cameras names {unknown}, which the dataset does not hold; its cameras: {all_cams}"
        )
    if label_key not in features:
        raise ConfigError(
            f"--label_key={label_key} is not a column of the dataset; use next.success (the "
            "twin's ground truth, or HumanLabels' label) or next.reward"
        )
    keys = [IMAGE_PREFIX + c for c in cams]
    ds = LeRobotDataset(root, features=[*keys, label_key], format="numpy")
    n = len(ds)
    images = {c: np.empty((n, *features[k]["shape"]), np.uint8) for c, k in zip(cams, keys)}
    outcome = np.zeros(n, bool)
    episodes = np.zeros(n, np.int64)
    frame_index = np.zeros(n, np.int64)
    for i in range(n):
        item = ds[i]
        for c, k in zip(cams, keys):
            img = np.asarray(item[k])
            if img.shape[0] == 3 and img.shape[-1] != 3:  # CHW from the reader
                img = img.transpose(1, 2, 0)
            if img.dtype != np.uint8:
                img = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
            images[c][i] = img
        outcome[i] = float(np.asarray(item[label_key]).reshape(-1)[0]) > 0
        episodes[i] = int(np.asarray(item["episode_index"]).reshape(-1)[0])
        frame_index[i] = int(np.asarray(item["frame_index"]).reshape(-1)[0])
    ds.close()
    # Image t shows the state after step t-1: pair it with that step's outcome (module doc).
    labels = np.zeros(n, bool)
    labels[1:] = outcome[:-1]
    keep = frame_index > 0
    return LabelledFrames(images, labels, episodes).select(keep)


def split_episodes(
    episodes: Sequence[int], val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """``(train, held_out)`` episode indices: a seeded shuffle, at least one episode each.

    Raises:
        ConfigError: fewer than two episodes, or ``val_fraction`` outside (0, 1).
    """
    eps = sorted({int(e) for e in episodes})
    if len(eps) < 2:
        raise ConfigError(
            "a reward classifier needs at least 2 episodes (training and held-out ones); "
            "record more"
        )
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"--val_fraction must be in (0, 1), got {val_fraction}")
    order = np.random.default_rng(seed).permutation(eps)
    n_val = min(len(eps) - 1, max(1, round(len(eps) * val_fraction)))
    return sorted(int(e) for e in order[n_val:]), sorted(int(e) for e in order[:n_val])


@dataclasses.dataclass
class TrainResult:
    """What :func:`train_reward_classifier` did."""

    output_dir: Path
    metrics: ClassifierMetrics
    train_episodes: list[int]
    held_out_episodes: list[int]
    losses: list[float]
    elapsed_s: float


def _shift(batch: Any, shift_px: int, gen: Any) -> Any:
    import torch
    import torch.nn.functional as F

    if shift_px <= 0:
        return batch
    b, _, h, w = batch.shape
    padded = F.pad(batch, (shift_px,) * 4, mode="replicate")
    dx = torch.randint(0, 2 * shift_px + 1, (b,), generator=gen)
    dy = torch.randint(0, 2 * shift_px + 1, (b,), generator=gen)
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(b)])


def train_reward_classifier(
    frames: LabelledFrames,
    output_dir: str | Path,
    *,
    held_out: Sequence[int] | None = None,
    val_fraction: float = 0.2,
    steps: int = 500,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    shift_px: int = 2,
    config_overrides: dict[str, Any] | None = None,
    dataset: str | None = None,
    on_log: Callable[[int, float], None] | None = None,
    log_freq: int = 50,
) -> TrainResult:
    """Train a classifier on ``frames`` and evaluate it on held-out episodes.

    Writes ``config.json`` and ``model.safetensors`` (the checkpoint) and ``report.json``
    (metrics, episodes, settings) into ``output_dir``.

    Raises:
        ConfigError: bad settings, or no frames to train on.
    """
    torch = require_torch("training a reward classifier")
    from lerobot_gym.policies.reward_classifier import RewardClassifierConfig, RewardClassifierNet

    if steps < 1 or batch_size < 1 or lr <= 0:
        raise ConfigError("--steps, --batch_size and --lr must be positive")
    eps = np.unique(frames.episodes)
    if held_out is None:
        train_eps, val_eps = split_episodes(eps.tolist(), val_fraction, seed)
    else:
        val_eps = sorted({int(e) for e in held_out})
        missing = [e for e in val_eps if e not in set(eps.tolist())]
        if missing or len(val_eps) >= len(eps):
            raise ConfigError(
                f"--held_out_episodes={val_eps} must name some, not all, of the dataset's "
                f"episodes {eps.tolist()}"
            )
        train_eps = [int(e) for e in eps if e not in val_eps]
    train = frames.select(np.isin(frames.episodes, train_eps))
    val = frames.select(np.isin(frames.episodes, val_eps))
    cams = tuple(frames.images)
    size = tuple(next(iter(frames.images.values())).shape[1:3])
    config = RewardClassifierConfig(cameras=cams, image_size=size, **(config_overrides or {}))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = RewardClassifierNet(config)
    optim = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    labels = torch.from_numpy(train.labels.astype(np.float32))
    positives = float(labels.sum())
    # Class balance: a rare class weighs as much as a common one in the loss.
    pos_weight = torch.tensor((len(labels) - positives) / max(positives, 1.0))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight.clamp(0.1, 10.0))
    losses: list[float] = []
    started = time.perf_counter()
    net.train()
    for step in range(steps):
        idx = torch.randint(0, len(labels), (batch_size,), generator=gen).numpy()
        batch = net.to_input({c: train.images[c][idx] for c in cams})
        batch = {c: _shift(t, shift_px, gen) for c, t in batch.items()}
        loss = loss_fn(net(batch), labels[idx])
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(float(loss.detach()))
        if on_log is not None and (step + 1) % log_freq == 0:
            on_log(step + 1, float(np.mean(losses[-log_freq:])))
    elapsed = time.perf_counter() - started
    metrics = evaluate_classifier(net, val)
    out = Path(output_dir)
    net.save_pretrained(out)
    report = {
        "dataset": dataset,
        "held_out": dataclasses.asdict(metrics),
        "train_episodes": train_eps,
        "held_out_episodes": val_eps,
        "train_frames": len(train.labels),
        "label_pairing": "image of frame t with the outcome of frame t-1 (first frames left out)",
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "final_loss": float(np.mean(losses[-min(len(losses), 20) :])),
        "train_time_s": elapsed,
        "config": config.to_json(),
    }
    (out / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n")
    return TrainResult(out, metrics, train_eps, val_eps, losses, elapsed)


def evaluate_classifier(net: Any, frames: LabelledFrames, batch: int = 256) -> ClassifierMetrics:
    """Metrics of ``net`` (its own threshold) against the labels of ``frames``."""
    probs = []
    n = len(frames.labels)
    for lo in range(0, n, batch):
        probs.append(net.predict_proba({c: v[lo : lo + batch] for c, v in frames.images.items()}))
    p = np.concatenate(probs) if probs else np.zeros(0, np.float32)
    return classifier_metrics(p >= net.config.threshold, frames.labels)
