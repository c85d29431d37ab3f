"""Learning-rate schedules of ``lerobot-gym train`` (the ``--scheduler.*`` flags).

LeRobot 0.4.4's scheduler types with their flag names and formulas
(``lerobot/optim/schedulers.py``, shared/reference/lerobot-interfaces.md), plus one of ours:

* ``diffuser`` (``--scheduler.name``, ``--scheduler.num_warmup_steps``): diffusers'
  ``get_scheduler`` by name, called as LeRobot calls it (only the name, the warm-up and the
  run's steps: ``cosine`` is a half cosine to 0, ``cosine_with_restarts`` has one cycle,
  ``polynomial`` ends at 1e-7 with power 1). Diffusion Policy's preset is this type with
  ``--policy.scheduler_name`` (``cosine``) and ``--policy.scheduler_warmup_steps`` (500).
* ``cosine_decay_with_warmup`` (``num_warmup_steps``, ``num_decay_steps``, ``peak_lr``,
  ``decay_lr``): Pi0's linear warm-up from ``1/(warmup+1)`` then a cosine from the peak to
  ``decay_lr`` over ``num_decay_steps`` counted from step 0, both scaled down when the run is
  shorter than ``num_decay_steps``.
* ``vqbet`` (``num_warmup_steps``, ``num_vqvae_training_steps``, ``num_cycles``): constant
  during the VQ-VAE phase, then diffusers' cosine with warm-up.
* ``multistep`` (``milestones``, ``gamma``, ``num_warmup_steps``): lerobot_gym's own (LeRobot
  0.4.4 has no such type), torch's ``MultiStepLR``: the rate is multiplied by ``gamma`` at each
  milestone. ``milestones=[10000] gamma=0.1``: steps 1-10000 at the optimizer's rate, from
  step 10001 on at a tenth of it.

Design decisions:

* Every schedule is a ``torch.optim.lr_scheduler.LambdaLR`` stepped once after each optimizer
  step, as in LeRobot, so optimisation step ``k`` (from 1) runs at ``lr * factor(k - 1)``; the
  factor multiplies each parameter group's own rate (ACT's backbone group keeps its ratio).
* The factor functions are closures, not callable objects: ``LambdaLR.state_dict`` then saves
  only the step count and base rates, and a run resumed with other ``--scheduler.*`` flags
  follows the new schedule from the step it resumes at.
* ``peak_lr`` is only a ratio in LeRobot (``LambdaLR`` scales the optimizer's rate): here it
  defaults to the optimizer's rate and a different value is refused rather than silently
  ignored.
* LeRobot replaces ``--scheduler.*`` with the policy's preset unless
  ``--use_policy_training_preset=false`` (which then also wants ``--optimizer.*``); here
  ``--scheduler.type`` replaces the preset's schedule and keeps its optimizer.
* Bad values are :class:`~lerobot_gym.errors.ConfigError` naming the ``--scheduler.*`` flag.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lerobot_gym.errors import ConfigError

__all__ = [
    "DIFFUSER_NAMES",
    "SCHEDULER_TYPES",
    "CosineDecayWithWarmupSchedulerConfig",
    "DiffuserSchedulerConfig",
    "LRSchedulerConfig",
    "MultiStepSchedulerConfig",
    "VQBeTSchedulerConfig",
    "scheduler_config",
    "scheduler_preset",
]

#: diffusers' names that LeRobot's ``diffuser`` type can build (``piecewise_constant`` needs
#: ``step_rules``, which LeRobot never passes: ``multistep`` does that job here).
DIFFUSER_NAMES = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
)
POLYNOMIAL_LR_END = 1e-7  # diffusers' default, which LeRobot keeps

Factor = Callable[[int], float]


@dataclass(frozen=True)
class LRSchedulerConfig:
    """A learning-rate schedule: its ``--scheduler.type`` and fields."""

    type: ClassVar[str] = ""

    def factor(self, num_training_steps: int, base_lr: float) -> Factor:
        """``step -> multiplier of the optimizer's rate`` (``base_lr``: its default rate)."""
        raise NotImplementedError

    def build(self, optimizer: Any, num_training_steps: int) -> Any:
        """The ``LambdaLR`` over ``optimizer`` for a run of ``num_training_steps``."""
        import torch

        fn = self.factor(num_training_steps, float(optimizer.defaults["lr"]))

        def lr_lambda(step: int) -> float:  # a function, so state_dict() leaves it out
            return fn(step)

        return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)

    def to_dict(self) -> dict[str, Any]:
        """The flags as a dict (``{"type": ..., field: value}``), as saved in a checkpoint."""
        return {"type": self.type, **dataclasses.asdict(self)}


def _warmup(step: int, warmup: int) -> float:  # diffusers' linear warm-up from 0
    return float(step) / float(max(1, warmup))


def _steps(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"--scheduler.{name} must be a whole number of steps, not {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"--scheduler.{name} must be a whole number of steps, not {value!r}")
    if value < minimum:
        raise ConfigError(f"--scheduler.{name} must be >= {minimum}, not {value!r}")
    return int(value)


def _set(config: LRSchedulerConfig, **values: Any) -> None:
    """Store validated fields on a frozen config (in ``__post_init__``)."""
    for name, value in values.items():
        object.__setattr__(config, name, value)


def _number(name: str, value: Any, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"--scheduler.{name} must be a number, not {value!r}")
    if value < 0 or (positive and value == 0):
        raise ConfigError(f"--scheduler.{name} must be {'>' if positive else '>='} 0, not {value}")
    return float(value)


@dataclass(frozen=True)
class DiffuserSchedulerConfig(LRSchedulerConfig):
    """LeRobot's ``diffuser``: diffusers' schedule ``name`` with ``num_warmup_steps``."""

    type: ClassVar[str] = "diffuser"
    name: str = "cosine"
    num_warmup_steps: int | None = None

    def __post_init__(self) -> None:
        if self.name == "piecewise_constant":
            raise ConfigError(
                "--scheduler.name=piecewise_constant needs diffusers' step_rules, which LeRobot "
                "does not pass; use --scheduler.type=multistep --scheduler.milestones=[...] "
                "--scheduler.gamma=..."
            )
        if self.name not in DIFFUSER_NAMES:
            raise ConfigError(
                f"--scheduler.name={self.name} is not one of diffusers' schedules; use one of "
                + ", ".join(DIFFUSER_NAMES)
            )
        if self.num_warmup_steps is None:
            if self.name != "constant":
                raise ConfigError(
                    f"--scheduler.name={self.name} needs --scheduler.num_warmup_steps=N "
                    "(0 for none)"
                )
        else:
            _set(self, num_warmup_steps=_steps("num_warmup_steps", self.num_warmup_steps))

    def factor(self, num_training_steps: int, base_lr: float) -> Factor:
        warmup, total, name = self.num_warmup_steps or 0, num_training_steps, self.name
        if name == "polynomial" and not base_lr > POLYNOMIAL_LR_END:
            raise ConfigError(
                f"--scheduler.name=polynomial decays to {POLYNOMIAL_LR_END}: the optimizer's "
                f"rate ({base_lr}, --policy.optimizer_lr) must be larger"
            )

        def fn(step: int) -> float:
            if name == "constant":
                return 1.0
            if step < warmup:
                return _warmup(step, warmup)
            if name == "constant_with_warmup":
                return 1.0
            if name == "linear":
                return max(0.0, float(total - step) / float(max(1, total - warmup)))
            if name == "polynomial":
                if step > total:
                    return POLYNOMIAL_LR_END / base_lr
                remaining = 1 - (step - warmup) / (total - warmup)
                return ((base_lr - POLYNOMIAL_LR_END) * remaining + POLYNOMIAL_LR_END) / base_lr
            progress = float(step - warmup) / float(max(1, total - warmup))
            if name == "cosine":
                return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
            if progress >= 1.0:  # cosine_with_restarts, LeRobot's num_cycles=1
                return 0.0
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((1.0 * progress) % 1.0))))

        return fn


@dataclass(frozen=True)
class CosineDecayWithWarmupSchedulerConfig(LRSchedulerConfig):
    """LeRobot's ``cosine_decay_with_warmup`` (Pi0's schedule)."""

    type: ClassVar[str] = "cosine_decay_with_warmup"
    num_warmup_steps: int = 0
    num_decay_steps: int = 0
    decay_lr: float = 0.0
    peak_lr: float | None = None

    def __post_init__(self) -> None:
        _set(
            self,
            num_warmup_steps=_steps("num_warmup_steps", self.num_warmup_steps),
            num_decay_steps=_steps("num_decay_steps", self.num_decay_steps, 1),
            decay_lr=_number("decay_lr", self.decay_lr, positive=False),
        )
        if self.peak_lr is not None:
            _set(self, peak_lr=_number("peak_lr", self.peak_lr, positive=True))

    def factor(self, num_training_steps: int, base_lr: float) -> Factor:
        peak = base_lr if self.peak_lr is None else self.peak_lr
        if not math.isclose(peak, base_lr, rel_tol=1e-9):
            raise ConfigError(
                f"--scheduler.peak_lr={peak} differs from the optimizer's rate {base_lr} "
                "(--policy.optimizer_lr): the schedule scales the optimizer's rate, so set them "
                "equal or leave --scheduler.peak_lr out"
            )
        warmup, decay = self.num_warmup_steps, self.num_decay_steps
        if num_training_steps < decay:  # LeRobot fits the schedule into a shorter run
            warmup = int(warmup * (num_training_steps / decay))
            decay = num_training_steps
        alpha = self.decay_lr / peak

        def fn(step: int) -> float:
            if step < warmup:
                if step <= 0:
                    return 1 / (warmup + 1)
                frac = 1 - step / warmup
                return (1 / (warmup + 1) - 1) * frac + 1
            cosine = 0.5 * (1 + math.cos(math.pi * min(step, decay) / decay))
            return (1 - alpha) * cosine + alpha

        return fn


@dataclass(frozen=True)
class VQBeTSchedulerConfig(LRSchedulerConfig):
    """LeRobot's ``vqbet``: constant for the VQ-VAE phase, then cosine with warm-up."""

    type: ClassVar[str] = "vqbet"
    num_warmup_steps: int = 0
    num_vqvae_training_steps: int = 0
    num_cycles: float = 0.5

    def __post_init__(self) -> None:
        _set(
            self,
            num_warmup_steps=_steps("num_warmup_steps", self.num_warmup_steps),
            num_vqvae_training_steps=_steps(
                "num_vqvae_training_steps", self.num_vqvae_training_steps
            ),
            num_cycles=_number("num_cycles", self.num_cycles, positive=False),
        )

    def factor(self, num_training_steps: int, base_lr: float) -> Factor:
        vqvae, warmup = self.num_vqvae_training_steps, self.num_warmup_steps
        cycles = self.num_cycles

        def fn(step: int) -> float:
            if step < vqvae:
                return 1.0
            adjusted = step - vqvae
            if adjusted < warmup:
                return _warmup(adjusted, warmup)
            progress = float(adjusted - warmup) / float(max(1, num_training_steps - warmup))
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * cycles * 2.0 * progress)))

        return fn


@dataclass(frozen=True)
class MultiStepSchedulerConfig(LRSchedulerConfig):
    """lerobot_gym's own piecewise-constant schedule: ``gamma`` times at each milestone."""

    type: ClassVar[str] = "multistep"
    milestones: tuple[int, ...] = field(default_factory=tuple)
    gamma: float = 0.1
    num_warmup_steps: int = 0

    def __post_init__(self) -> None:
        raw = self.milestones
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = (raw,)  # --scheduler.milestones=10000: one milestone
        if not isinstance(raw, (list, tuple)) or not raw:
            raise ConfigError(
                f"--scheduler.milestones must list the steps where the rate drops, e.g. "
                f"[10000] or [10000,12000]; got {raw!r}"
            )
        milestones = tuple(_steps("milestones", m, 1) for m in raw)
        if any(b <= a for a, b in itertools.pairwise(milestones)):
            raise ConfigError(
                f"--scheduler.milestones must be strictly increasing, got {list(milestones)}"
            )
        _set(
            self,
            milestones=milestones,
            gamma=_number("gamma", self.gamma, positive=True),
            num_warmup_steps=_steps("num_warmup_steps", self.num_warmup_steps),
        )

    def factor(self, num_training_steps: int, base_lr: float) -> Factor:
        milestones, gamma, warmup = list(self.milestones), self.gamma, self.num_warmup_steps

        def fn(step: int) -> float:
            ramp = _warmup(step, warmup) if step < warmup else 1.0
            return ramp * gamma ** bisect.bisect_right(milestones, step)

        return fn

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "milestones": list(self.milestones)}


_TYPES: dict[str, type[LRSchedulerConfig]] = {
    cls.type: cls
    for cls in (
        DiffuserSchedulerConfig,
        CosineDecayWithWarmupSchedulerConfig,
        VQBeTSchedulerConfig,
        MultiStepSchedulerConfig,
    )
}
SCHEDULER_TYPES = tuple(_TYPES)
_REQUIRED = {
    "cosine_decay_with_warmup": ("num_warmup_steps", "num_decay_steps", "decay_lr"),
    "vqbet": ("num_warmup_steps", "num_vqvae_training_steps"),
    "multistep": ("milestones",),
}


def scheduler_config(flags: Mapping[str, Any] | None) -> LRSchedulerConfig | None:
    """The schedule the ``--scheduler.*`` flags describe (``{"type": ..., field: value}``).

    None or ``{}``: no flags (the caller uses the policy's preset).

    Raises:
        ConfigError: no or an unknown ``--scheduler.type``, a field the type does not have, a
            missing required field or a bad value; the message names the flag.

    Example:
        >>> scheduler_config({"type": "multistep", "milestones": [10000], "gamma": 0.1})
        MultiStepSchedulerConfig(milestones=(10000,), gamma=0.1, num_warmup_steps=0)
    """
    if not flags:
        return None
    options = dict(flags)
    kind = options.pop("type", None)
    if kind is None:
        raise ConfigError(
            f"--scheduler.{sorted(options)[0]} needs --scheduler.type (one of "
            + ", ".join(SCHEDULER_TYPES)
            + ")"
        )
    cls = _TYPES.get(str(kind))
    if cls is None:
        raise ConfigError(
            f"--scheduler.type={kind} is not a learning-rate schedule; use one of "
            + ", ".join(SCHEDULER_TYPES)
        )
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ConfigError(
            f"--scheduler.{unknown[0]} is not a field of --scheduler.type={kind}; its fields: "
            + ", ".join(names)
        )
    missing = [name for name in _REQUIRED.get(str(kind), ()) if options.get(name) is None]
    if missing:
        raise ConfigError(f"--scheduler.type={kind} needs --scheduler.{missing[0]}")
    return cls(**options)


def scheduler_preset(policy_config: Any) -> LRSchedulerConfig | None:
    """LeRobot's ``get_scheduler_preset``: diffusion's ``diffuser`` schedule, none for ACT."""
    if getattr(policy_config, "type_name", None) == "diffusion":
        try:
            return DiffuserSchedulerConfig(
                name=policy_config.scheduler_name,
                num_warmup_steps=policy_config.scheduler_warmup_steps,
            )
        except ConfigError as exc:  # the values came from --policy.*: name those flags
            message = str(exc).replace("--scheduler.name", "--policy.scheduler_name")
            message = message.replace(
                "--scheduler.num_warmup_steps", "--policy.scheduler_warmup_steps"
            )
            raise ConfigError(message) from None
    return None
