"""The demonstration scorer's classifier: per-step features, rollouts, training and scoring.

Part of demonstration scoring (:mod:`lerobot_gym.policies.demo_score`, which runs the pipeline
and records the design decisions). This module owns what is learned and measured:

* :func:`demo_features` (a dataset's episodes) and :func:`collect_rollouts` (a checkpoint's
  rollouts on the twin) turn episodes into per-step features, ``observation.state`` and
  ``observation.environment_state`` (the env's ``agent_pos`` and ``environment_state``),
  optionally with the action;
* :class:`StepClassifier` and :func:`train_classifier`: success versus failure per step, each
  step labelled with its rollout's outcome, both classes weighted equally (``pos_weight``),
  early-stopped on the rollouts of a held-out checkpoint;
* :func:`score_episodes` (mean per-step P(success)), :func:`select_demos` (threshold or top
  fraction) and :func:`filter_metrics` (precision and recall against known bad episodes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from lerobot_gym.errors import ConfigError, PolicyError
from lerobot_gym.policies.evaluate import evaluate_policy

__all__ = [
    "NoRolloutContrastError",
    "Rollout",
    "StepClassifier",
    "collect_rollouts",
    "demo_features",
    "filter_metrics",
    "score_episodes",
    "select_demos",
    "train_classifier",
]

STATE_KEYS = ("observation.state", "observation.environment_state")
ENV_KEYS = {"observation.state": "agent_pos", "observation.environment_state": "environment_state"}


class NoRolloutContrastError(PolicyError, ValueError):
    """The base policy's rollouts are all successes or all failures: nothing to classify."""


@dataclass(frozen=True)
class Rollout:
    """One rollout: per-step features ``(T, D)``, its outcome and the checkpoint step."""

    features: np.ndarray
    success: bool
    checkpoint: int


# -- features ------------------------------------------------------------------------------------
def _step_features(state: Sequence[np.ndarray], action: np.ndarray | None) -> np.ndarray:
    parts = [np.asarray(s, np.float32).reshape(-1) for s in state]
    if action is not None:
        parts.append(np.asarray(action, np.float32).reshape(-1))
    return np.concatenate(parts)


def demo_features(root: str | Path, *, use_actions: bool = False) -> list[np.ndarray]:
    """Per-episode ``(T, D)`` features of a dataset's demonstrations, in episode order.

    Raises:
        ConfigError: the dataset lacks a state feature the classifier reads.
    """
    from lerobot_gym.dataset import LeRobotDataset

    meta_features = LeRobotDataset(root, episodes=[], format="numpy").meta.features
    keys = [k for k in STATE_KEYS if k in meta_features]
    if "observation.state" not in keys:
        raise ConfigError(
            f"dataset at {root} has no observation.state; demonstration scoring reads state "
            "observations (record with --env.obs_type=state)"
        )
    ds = LeRobotDataset(root, features=[*keys, "action"], format="numpy")
    out = []
    for ep in ds.episodes:
        lo, hi = ds.episode_range(ep)
        rows = [ds[i] for i in range(lo, hi)]
        out.append(
            np.stack(
                [
                    _step_features([r[k] for k in keys], r["action"] if use_actions else None)
                    for r in rows
                ]
            )
        )
    ds.close()
    return out


class _RecordingPolicy:
    """Forwards to a policy and keeps each episode's per-step features (one env, in order)."""

    def __init__(self, policy: Any, use_actions: bool, episodes: list[list[np.ndarray]]) -> None:
        self.policy, self.use_actions, self.episodes = policy, use_actions, episodes

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        self.episodes.append([])
        self.policy.reset(obs, info)

    def __call__(self, obs: dict[str, Any]) -> np.ndarray:
        action = self.policy(obs)
        state = [obs[ENV_KEYS[k]] for k in STATE_KEYS if ENV_KEYS[k] in obs]
        self.episodes[-1].append(_step_features(state, action if self.use_actions else None))
        return action


def collect_rollouts(
    checkpoint: Path,
    make_env: Callable[[], gym.Env],
    n: int,
    seed: int,
    *,
    step: int,
    use_actions: bool = False,
    device: str = "cpu",
) -> list[Rollout]:
    """Roll a checkpoint out ``n`` times (seeds ``seed..seed+n-1``) and keep the features."""
    from lerobot_gym.policies.checkpoint import load_policy

    episodes: list[list[np.ndarray]] = []

    def factory(env: gym.Env) -> _RecordingPolicy:
        policy = load_policy(checkpoint, device=device)
        policy.check_env(env)
        return _RecordingPolicy(policy, use_actions, episodes)

    result = evaluate_policy(make_env, factory, n, seed)
    return [
        Rollout(np.stack(feats), ep.success, step)
        for feats, ep in zip(episodes, result.episodes, strict=True)
    ]


# -- the classifier ------------------------------------------------------------------------------
class StepClassifier(nn.Module):
    """A two-hidden-layer MLP: standardised per-step features -> logit of success."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, dim: int, hidden: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N,)`` for features ``(N, dim)``."""
        return self.net((x - self.mean) / self.std).squeeze(-1)


def _split(rollouts: Sequence[Rollout], seed: int) -> tuple[list[int], list[int], int | None]:
    by_ckpt: dict[int, list[int]] = {}
    for i, r in enumerate(rollouts):
        by_ckpt.setdefault(r.checkpoint, []).append(i)
    both = [c for c, idx in by_ckpt.items() if len({rollouts[i].success for i in idx}) == 2]
    if both and len(by_ckpt) > 1:
        held = max(both)
        train = [i for c, idx in by_ckpt.items() if c != held for i in idx]
        if len({rollouts[i].success for i in train}) == 2:
            return train, by_ckpt[held], held
    order = np.random.default_rng(seed).permutation(len(rollouts))
    n_val = max(1, len(rollouts) // 4)
    return sorted(int(i) for i in order[n_val:]), sorted(int(i) for i in order[:n_val]), None


def train_classifier(
    rollouts: Sequence[Rollout],
    *,
    steps: int = 500,
    hidden: int = 64,
    lr: float = 1e-3,
    batch_size: int = 256,
    seed: int = 0,
) -> tuple[StepClassifier, dict[str, Any]]:
    """Train a :class:`StepClassifier` on labelled rollouts (see the module docstring).

    Returns:
        The classifier (weights of the lowest held-out loss, in eval mode) and a summary:
        ``losses`` (training loss per 10 steps), ``best_step``, ``val_loss``, ``val_accuracy``
        (episodes, scored at 0.5), ``held_out_checkpoint``, rollout counts.

    Raises:
        NoRolloutContrastError: the rollouts are all successes or all failures.
    """
    n_ok = sum(r.success for r in rollouts)
    if n_ok in (0, len(rollouts)):
        outcome = "failed" if n_ok == 0 else "succeeded"
        raise NoRolloutContrastError(
            f"all {len(rollouts)} rollouts of the base policy {outcome}: the classifier needs "
            "successes and failures; "
            + (
                "train longer (--steps) or add demonstrations"
                if n_ok == 0
                else "roll out earlier checkpoints (--n_checkpoints) or more episodes "
                "(--rollouts_per_checkpoint)"
            )
        )
    torch.manual_seed(seed)
    train_idx, val_idx, held = _split(rollouts, seed)

    def stack(idx: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.concatenate([rollouts[i].features for i in idx])
        y = np.concatenate(
            [np.full(len(rollouts[i].features), float(rollouts[i].success)) for i in idx]
        )
        return torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))

    x, y = stack(train_idx)
    xv, yv = stack(val_idx)
    model = StepClassifier(x.shape[1], hidden)
    model.mean.copy_(x.mean(0))
    model.std.copy_(x.std(0).clamp_min(1e-6))
    n_pos = float(y.sum())
    pos_weight = torch.tensor((len(y) - n_pos) / max(n_pos, 1.0)) if 0 < n_pos < len(y) else None
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    gen = torch.Generator().manual_seed(seed)
    losses, best = [], (float("inf"), 0, {k: v.clone() for k, v in model.state_dict().items()})
    running = 0.0
    for step in range(1, steps + 1):
        model.train()
        batch = torch.randint(0, len(x), (min(batch_size, len(x)),), generator=gen)
        loss = loss_fn(model(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += float(loss.detach())
        if step % 10 == 0 or step == steps:
            losses.append(running / (10 if step % 10 == 0 else step % 10))
            running = 0.0
            model.eval()
            with torch.no_grad():
                val = float(loss_fn(model(xv), yv))
            if val < best[0]:
                best = (val, step, {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[2])
    model.eval()
    val_scores = score_episodes(model, [rollouts[i].features for i in val_idx])
    val_ok = np.array([rollouts[i].success for i in val_idx])
    return model, {
        "losses": losses,
        "best_step": best[1],
        "val_loss": best[0],
        "val_accuracy": float(np.mean((val_scores >= 0.5) == val_ok)),
        "held_out_checkpoint": held,
        "n_train_rollouts": len(train_idx),
        "n_val_rollouts": len(val_idx),
        "n_successes": n_ok,
        "n_failures": len(rollouts) - n_ok,
    }


def score_episodes(model: StepClassifier, episodes: Sequence[np.ndarray]) -> np.ndarray:
    """Each episode's score: the mean over its steps of the classifier's P(success)."""
    model.eval()
    with torch.no_grad():
        return np.array(
            [
                float(torch.sigmoid(model(torch.from_numpy(np.asarray(f, np.float32)))).mean())
                for f in episodes
            ]
        )


def select_demos(
    scores: Sequence[float] | np.ndarray,
    *,
    threshold: float = 0.5,
    keep_fraction: float | None = None,
) -> tuple[list[int], float]:
    """Indices kept (ascending) and the threshold used.

    Kept: ``score >= threshold``, or with ``keep_fraction`` the top fraction (at least one),
    whose lowest score is then returned as the threshold.
    """
    s = np.asarray(scores, np.float64)
    if keep_fraction is not None:
        n_keep = max(1, round(keep_fraction * len(s)))
        order = np.argsort(-s, kind="stable")[:n_keep]
        return sorted(int(i) for i in order), float(s[order].min())
    return [int(i) for i in np.flatnonzero(s >= threshold)], float(threshold)


def filter_metrics(
    removed: Sequence[int], bad: Sequence[int], scores: Sequence[float] | np.ndarray | None = None
) -> dict[str, Any]:
    """Precision and recall of ``removed`` at removing ``bad`` (NaN where undefined).

    With ``scores``, also ``auroc``: the probability that a clean demonstration scores above
    a bad one (ties count half), the filter's quality at every threshold at once.
    """
    hit = len(set(removed) & set(bad))
    out: dict[str, Any] = {
        "true_positives": hit,
        "n_removed": len(removed),
        "n_bad": len(bad),
        "precision": hit / len(removed) if removed else float("nan"),
        "recall": hit / len(bad) if bad else float("nan"),
    }
    if scores is not None:
        s = np.asarray(scores, np.float64)
        is_bad = np.zeros(len(s), bool)
        is_bad[list(bad)] = True
        clean, dirty = s[~is_bad], s[is_bad]
        if len(clean) and len(dirty):
            diff = clean[:, None] - dirty[None, :]
            out["auroc"] = float(np.mean((diff > 0) + 0.5 * (diff == 0)))
        else:
            out["auroc"] = float("nan")
    return out
