"""Training a learned policy from a LeRobot dataset: the loop, checkpoints and resume.

:func:`train` builds the policy's config from the dataset's features (LeRobot's rule: every
``observation.*`` is an input, ``action`` the output), reads samples through
:class:`~lerobot_gym.dataset.LeRobotDataset` with the ``delta_timestamps`` the policy needs
(ACT: ``chunk_size`` future actions; diffusion: ``n_obs_steps`` past observations and
``horizon`` actions), and optimises with LeRobot's presets (ACT: AdamW, a separate backbone
learning rate, no schedule; diffusion: Adam with diffusers' cosine schedule after a warm-up;
both clip gradients at 10). ``TrainConfig.scheduler`` (the ``--scheduler.*`` flags, see
:mod:`lerobot_gym.policies.lr_schedulers`) replaces the preset's learning-rate schedule.

Output folder (LeRobot's layout)::

    OUTPUT_DIR/checkpoints/<step:06d>/pretrained_model/   config.json, model.safetensors, ...
    OUTPUT_DIR/checkpoints/<step:06d>/training_state/     optimizer, scheduler, RNG, step
    OUTPUT_DIR/checkpoints/last -> <step:06d>
    OUTPUT_DIR/train_log.csv, loss.png, (tensorboard/ when tensorboard is installed)

Design decisions:

* Resuming (``resume=True``) reloads the last checkpoint's weights, optimizer, scheduler and
  RNG states and continues at the next step; a folder that already holds checkpoints is
  refused without it, so a run is never overwritten by accident.
* The schedule in force is saved in each checkpoint's ``train_config.json`` (the preset's
  when no ``--scheduler.*`` was given, as LeRobot saves it), its step count in the training
  state. A resumed run keeps it, so each step runs at the rate an uninterrupted run would
  have used; given ``scheduler`` again, it follows the new one from the step it resumes at
  (the rate is recomputed for that step: a second phase at another rate needs no editing of
  the checkpoint).
* The loop reports through a callback and never prints (the CLI owns the progress bar).
* Samples come in random order from a ``torch.Generator`` seeded by ``seed``; diffusion skips
  each episode's last ``drop_n_last_frames`` frames, as LeRobot's ``EpisodeAwareSampler``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lerobot_gym.errors import ConfigError, PolicyMismatchError
from lerobot_gym.policies.checkpoint import policy_class
from lerobot_gym.policies.config import (
    PolicyConfig,
    config_class,
    dataset_to_policy_features,
)
from lerobot_gym.policies.lr_schedulers import (
    LRSchedulerConfig,
    scheduler_config,
    scheduler_preset,
)
from lerobot_gym.policies.pretrained import TorchPolicy, resolve_device
from lerobot_gym.policies.train_log import TrainLog, WandbSettings

__all__ = ["TrainConfig", "TrainProgress", "make_config_for_dataset", "train"]

GRAD_CLIP_NORM = 10.0
CHECKPOINTS = "checkpoints"


@dataclass
class TrainConfig:
    """What :func:`train` runs (the ``lerobot-gym train`` flags).

    Attributes:
        policy_type: ``"act"`` or ``"diffusion"``.
        dataset_root: a LeRobot v3.0 (or v2.1) dataset folder.
        output_dir: where checkpoints and logs go.
        steps: optimisation steps in total (a resumed run continues up to it).
        batch_size: samples per step.
        save_freq: checkpoint every this many steps (and at the end).
        log_freq: report (callback, CSV, TensorBoard) every this many steps.
        seed: seeds torch, numpy, Python and the sampler.
        device: ``cpu``, ``cuda`` or ``auto``.
        policy_options: config fields to set (``{"chunk_size": 20, "dim_model": 128}``).
        resume: continue the run in ``output_dir``.
        episodes: train on these episodes only (default all).
        eval_freq: call ``evaluate`` every this many steps (0: never).
        wandb: also log to Weights & Biases (None: do not).
        scheduler: the ``--scheduler.*`` flags (``{"type": "multistep", "milestones":
            [10000], "gamma": 0.1}``); None: the policy's preset, or on resume the run's own.
    """

    policy_type: str
    dataset_root: str | os.PathLike
    output_dir: str | os.PathLike
    steps: int = 1000
    batch_size: int = 8
    save_freq: int = 500
    log_freq: int = 10
    seed: int = 1000
    device: str = "cpu"
    policy_options: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    episodes: list[int] | None = None
    eval_freq: int = 0
    wandb: WandbSettings | None = None
    scheduler: dict[str, Any] | None = None


@dataclass(frozen=True)
class TrainProgress:
    """One report of the loop: ``step`` done, mean losses since the last one, samples/s."""

    step: int
    total_steps: int
    losses: dict[str, float]
    samples_per_s: float
    lr: float


def make_config_for_dataset(
    policy_type: str, meta: Any, options: Mapping[str, Any] | None = None
) -> PolicyConfig:
    """The policy's config with inputs and outputs taken from a dataset's features.

    Raises:
        ConfigError: an unknown policy type or option.
        PolicyMismatchError: the dataset lacks what the policy needs (the message names it).
    """
    cls = config_class(policy_type)
    features = dataset_to_policy_features(meta.features)
    outputs = {k: ft for k, ft in features.items() if ft.type == "ACTION"}
    inputs = {k: ft for k, ft in features.items() if k not in outputs}
    names = {f.name for f in dataclasses.fields(cls)} - {"extra", "type_name"}
    options = dict(options or {})
    unknown = sorted(set(options) - names)
    if unknown:
        raise ConfigError(
            f"--policy.{unknown[0]} is not an option of {policy_type}; options: "
            + ", ".join(sorted(names))
        )
    for key in ("resize_shape", "crop_shape", "down_dims", "optimizer_betas"):
        if isinstance(options.get(key), list):
            options[key] = tuple(options[key])
    config = cls(input_features=inputs, output_features=outputs, **options)
    config.validate()
    try:
        config.validate_features()
    except ConfigError as exc:
        raise PolicyMismatchError(f"dataset at {meta.root}: {exc}") from None
    return config


def delta_timestamps(config: PolicyConfig, fps: int) -> dict[str, list[float]]:
    """LeRobot's ``resolve_delta_timestamps``: frame offsets as seconds, per key."""
    out = {}
    if config.action_delta_indices is not None:
        out["action"] = [i / fps for i in config.action_delta_indices]
    if config.observation_delta_indices is not None:
        for key in config.input_features:
            out[key] = [i / fps for i in config.observation_delta_indices]
    return out


def train(
    cfg: TrainConfig,
    progress: Callable[[TrainProgress], None] | None = None,
    evaluate: Callable[[TorchPolicy, int], dict[str, float]] | None = None,
) -> Path:
    """Train, checkpointing every ``save_freq`` steps; returns the last checkpoint folder.

    Raises:
        ConfigError: a bad option, an output folder holding a run without ``resume``, or
            ``resume`` without a checkpoint to resume.
        PolicyMismatchError: the dataset lacks features the policy needs.
    """
    from lerobot_gym.dataset import LeRobotDataset
    from lerobot_gym.dataset.v21 import load_meta

    if cfg.steps < 1 or cfg.batch_size < 1 or cfg.save_freq < 1 or cfg.log_freq < 1:
        raise ConfigError("--steps, --batch_size, --save_freq and --log_freq must be >= 1")
    requested = scheduler_config(cfg.scheduler)  # bad --scheduler.* flags fail before any work
    out = Path(cfg.output_dir)
    last = out / CHECKPOINTS / "last"
    if cfg.resume and not last.exists():
        raise ConfigError(f"--resume=true but {out} holds no checkpoint to resume ({last})")
    if not cfg.resume and (out / CHECKPOINTS).exists():
        raise ConfigError(
            f"{out} already holds a training run; pass --resume=true to continue it or choose "
            "another --output_dir"
        )
    _seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    meta = load_meta(Path(cfg.dataset_root))
    if cfg.resume:
        from lerobot_gym.policies.config import read_config

        config = read_config(last / "pretrained_model")
    else:
        config = make_config_for_dataset(cfg.policy_type, meta, cfg.policy_options)
    schedule = _schedule(requested, config, last if cfg.resume else None)
    if schedule is not None:  # values that depend on the run (peak_lr) fail before any work
        schedule.factor(cfg.steps, float(config.optimizer_lr))  # type: ignore[attr-defined]
    keys = [*config.input_features, *config.output_features]
    dataset = LeRobotDataset(
        Path(cfg.dataset_root),
        episodes=cfg.episodes,
        features=keys,
        delta_timestamps=delta_timestamps(config, meta.fps),
        format="torch",
    )
    if meta.stats is None:
        raise ConfigError(
            f"{cfg.dataset_root} has no meta/stats.json; run `lerobot-gym dataset stats` first"
        )
    policy = policy_class(config.type_name)(config, stats=meta.stats, device=device)
    optimizer = _optimizer(policy)
    scheduler = schedule.build(optimizer, cfg.steps) if schedule is not None else None
    start = 0
    if cfg.resume:
        start = _load_training_state(last, policy, optimizer, scheduler)
    log = TrainLog(out, resume=cfg.resume, wandb=cfg.wandb)
    batches = _batches(dataset, config, cfg.batch_size, cfg.seed + start)
    sums: dict[str, float] = {}
    n_sum, t0 = 0, time.perf_counter()
    path = last
    try:
        for step in range(start + 1, cfg.steps + 1):
            policy.network.train()
            loss, info = policy.compute_loss(next(batches))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.network.parameters(), GRAD_CLIP_NORM)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            for key, value in {"loss": loss.item(), **info}.items():
                sums[key] = sums.get(key, 0.0) + value
            n_sum += 1
            if step % cfg.log_freq == 0 or step == cfg.steps:
                elapsed = time.perf_counter() - t0
                report = TrainProgress(
                    step=step,
                    total_steps=cfg.steps,
                    losses={k: v / n_sum for k, v in sums.items()},
                    samples_per_s=n_sum * cfg.batch_size / max(elapsed, 1e-9),
                    lr=optimizer.param_groups[0]["lr"],
                )
                log.write(
                    step, {**report.losses, "lr": report.lr, "samples_per_s": report.samples_per_s}
                )
                if progress is not None:
                    progress(report)
                sums, n_sum, t0 = {}, 0, time.perf_counter()
            if evaluate is not None and cfg.eval_freq and step % cfg.eval_freq == 0:
                log.write(step, {f"eval/{k}": v for k, v in evaluate(policy, step).items()})
            if step % cfg.save_freq == 0 or step == cfg.steps:
                path = save_checkpoint(out, step, policy, optimizer, scheduler, cfg, schedule)
                log.plot()
    finally:
        log.close()
        dataset.close()
    return path / "pretrained_model"


def save_checkpoint(
    out: Path,
    step: int,
    policy: TorchPolicy,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    cfg: TrainConfig,
    schedule: LRSchedulerConfig | None = None,
) -> Path:
    """Write ``checkpoints/<step>/`` (model + training state) and point ``last`` at it.

    ``schedule`` (the one in force) is recorded as ``scheduler`` in ``train_config.json``.
    """
    folder = out / CHECKPOINTS / f"{step:06d}"
    policy.save(folder / "pretrained_model")
    state_dir = folder / "training_state"
    state_dir.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": _rng_state(),
        },
        state_dir / "training_state.pt",
    )
    train_config = {k: v for k, v in dataclasses.asdict(cfg).items()}
    train_config["dataset_root"] = str(cfg.dataset_root)
    train_config["output_dir"] = str(cfg.output_dir)
    train_config["scheduler"] = schedule.to_dict() if schedule is not None else None
    (folder / "pretrained_model" / "train_config.json").write_text(
        json.dumps(train_config, indent=2, default=str) + "\n"
    )
    link = out / CHECKPOINTS / "last"
    tmp = out / CHECKPOINTS / "last.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(folder.name)
    os.replace(tmp, link)  # atomic: `last` always names a complete checkpoint
    return folder


def _load_training_state(last: Path, policy: TorchPolicy, optimizer: Any, scheduler: Any) -> int:
    from lerobot_gym.policies.files import MODEL_NAME, load_safetensors

    policy.network.load_state_dict(load_safetensors(last / "pretrained_model" / MODEL_NAME))
    state = torch.load(last / "training_state" / "training_state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    step = int(state["step"])
    if scheduler is not None:
        if state["scheduler"] is not None:
            # Only the step count and base rates: the schedule itself is this run's.
            scheduler.load_state_dict(state["scheduler"])
        scheduler.last_epoch = step
        # The rate of the next step under this run's schedule (a changed or newly added
        # schedule takes effect here; an unchanged one gives the saved rate again).
        rates = [base * fn(step) for fn, base in zip(scheduler.lr_lambdas, scheduler.base_lrs)]
        for group, rate in zip(optimizer.param_groups, rates, strict=True):
            group["lr"] = rate
        scheduler._last_lr = rates  # get_last_lr()
    _set_rng_state(state["rng"])
    return step


def _schedule(
    requested: LRSchedulerConfig | None, config: PolicyConfig, resumed: Path | None
) -> LRSchedulerConfig | None:
    """The schedule in force: the flags, else the resumed run's own, else the preset."""
    if requested is not None:
        return requested
    if resumed is not None:
        path = resumed / "pretrained_model" / "train_config.json"
        saved = json.loads(path.read_text()) if path.is_file() else {}
        if "scheduler" in saved:  # runs from before --scheduler.* fall back to the preset
            return scheduler_config(saved["scheduler"])
    return scheduler_preset(config)


def _optimizer(policy: TorchPolicy) -> torch.optim.Optimizer:
    config: Any = policy.config
    groups = [g for g in policy.optimizer_param_groups() if g["params"]]
    if config.type_name == "act":
        return torch.optim.AdamW(
            groups, lr=config.optimizer_lr, weight_decay=config.optimizer_weight_decay
        )
    return torch.optim.Adam(
        groups,
        lr=config.optimizer_lr,
        betas=tuple(config.optimizer_betas),
        eps=config.optimizer_eps,
        weight_decay=config.optimizer_weight_decay,
    )


def _batches(dataset: Any, config: Any, batch_size: int, seed: int) -> Iterator[dict[str, Any]]:
    drop = int(getattr(config, "drop_n_last_frames", 0) or 0)
    allowed: list[int] = []
    for ep in dataset.episodes:
        lo, hi = dataset.episode_range(ep)
        allowed.extend(range(lo, max(lo + 1, hi - drop)))
    if not allowed:
        raise ConfigError("the dataset has no frames to train on")
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=torch.utils.data.SubsetRandomSampler(allowed, generator=generator),
        drop_last=len(allowed) >= batch_size,
        collate_fn=_collate,
    )
    while True:
        yield from loader


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for key, value in items[0].items():
        if isinstance(value, torch.Tensor):
            out[key] = torch.stack([item[key] for item in items])
    return out


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (libraries a policy calls may use the global RNG)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002
        "torch": torch.get_rng_state(),
    }


def _set_rng_state(state: Mapping[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
