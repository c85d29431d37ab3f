"""Loading a learned policy from any checkpoint directory, ours or LeRobot's.

:func:`load_policy` reads ``config.json`` (its ``"type"`` picks the class), builds the policy,
loads ``model.safetensors`` strictly (every tensor LeRobot's class has, none it lacks) and the
normalisation statistics (LeRobot 0.4.4's processor files, or pre-0.4 buffers inside
``model.safetensors``). Importing this module imports no torch; loading does, and without it
raises :class:`~lerobot_gym.errors.MissingExtraError` naming the ``policies`` extra.

A LeRobot training run's checkpoint is ``<output_dir>/checkpoints/<step>/pretrained_model/``;
passing the step folder or the run's ``last`` link works too (``pretrained_model`` is looked
for inside).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lerobot_gym.errors import CheckpointError
from lerobot_gym.policies.config import CONFIG_NAME, config_class, read_config
from lerobot_gym.policies.files import (
    DEFAULT_INFERENCE_THREADS,
    MODEL_NAME,
    load_safetensors,
    require_torch,
)

if TYPE_CHECKING:
    from lerobot_gym.policies.pretrained import TorchPolicy

__all__ = [
    "MODEL_NAME",
    "POLICY_CLASSES",
    "load_policy",
    "load_safetensors",
    "make_from_checkpoint",
    "require_torch",
]  # MODEL_NAME, load_safetensors and require_torch live in policies/files.py

#: policy type (config.json ``"type"``) -> ``"module:class"``, imported on first use.
POLICY_CLASSES = {
    "act": "lerobot_gym.policies.act:ACTPolicy",
    "diffusion": "lerobot_gym.policies.diffusion:DiffusionPolicy",
}


def policy_class(policy_type: str) -> type[TorchPolicy]:
    """The class of a learned policy type (ConfigError listing the known ones otherwise)."""
    config_class(policy_type)  # the typed error for an unknown type
    require_torch()
    module, _, attr = POLICY_CLASSES[policy_type].partition(":")
    cls: type[TorchPolicy] = getattr(importlib.import_module(module), attr)
    return cls


def resolve_checkpoint_dir(path: str | Path) -> Path:
    """The folder holding ``config.json``: ``path`` or its ``pretrained_model`` subfolder."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"policy checkpoint {path} does not exist; check --policy.path")
    if (path / CONFIG_NAME).is_file():
        return path
    if (path / "pretrained_model" / CONFIG_NAME).is_file():
        return path / "pretrained_model"
    raise CheckpointError(
        f"{path} holds no {CONFIG_NAME}: pass a checkpoint folder (one with config.json and "
        "model.safetensors, e.g. OUTPUT_DIR/checkpoints/last/pretrained_model)"
    )


def load_policy(
    path: str | Path,
    device: str = "cpu",
    *,
    inference_threads: int | None = DEFAULT_INFERENCE_THREADS,
    **overrides: Any,
) -> TorchPolicy:
    """Load a learned policy from a checkpoint directory (ours or LeRobot 0.4.4's).

    Args:
        path: the checkpoint folder (``config.json`` + ``model.safetensors`` + the normaliser
            files), or a folder holding it as ``pretrained_model/``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"`` (cuda when available).
        inference_threads: torch intra-op threads of a policy step (1 by default, which is the
            fastest for a batch of one on a small or shared CPU; None keeps torch's setting).
            Not a config field: it is how this process runs the policy, not part of the model.
        **overrides: config fields to change for inference (e.g. ``n_action_steps=10``,
            ``temporal_ensemble_coeff=0.01``, ``num_inference_steps=10``).

    Returns:
        The policy in eval mode; ``policy.select_action(obs)`` takes the env's observation.

    Raises:
        CheckpointError: a file is missing or corrupt.
        ConfigError: an unknown policy type or override, or an invalid config.
        MissingExtraError: torch or safetensors is not installed.
    """
    directory = resolve_checkpoint_dir(path)
    from lerobot_gym.policies.sb3 import is_sb3_checkpoint, load_sb3_policy

    if is_sb3_checkpoint(directory):
        # A stable-baselines3 model (config.json + model.zip): same select_action/save surface.
        return load_sb3_policy(  # type: ignore[return-value]
            directory, device=device, inference_threads=inference_threads
        )
    config = read_config(directory)
    cls = policy_class(config.type_name)
    return cls.from_pretrained(
        directory, device=device, config=config, inference_threads=inference_threads, **overrides
    )


def make_from_checkpoint(
    env: Any,
    *,
    seed: int | None = None,
    path: str | Path | None = None,
    device: str = "cpu",
    **overrides: Any,
) -> TorchPolicy:
    """The :data:`~lerobot_gym.policies.base.POLICY_TYPES` factory of ``act`` and ``diffusion``.

    Loads ``path`` and checks it against ``env`` (cameras, state sizes, action shape) before
    any episode runs.

    Raises:
        ConfigError: no ``path`` (the message names ``--policy.path``).
        PolicyMismatchError: the checkpoint does not fit the env.
    """
    from lerobot_gym.errors import ConfigError

    if path is None:
        raise ConfigError(
            "a learned policy needs a checkpoint: pass --policy.path=DIR (a folder with "
            "config.json and model.safetensors), or train one with `lerobot-gym train`"
        )
    if seed is not None:
        require_torch().manual_seed(seed)
    policy = load_policy(path, device=device, **overrides)
    policy.check_env(env)
    return policy
