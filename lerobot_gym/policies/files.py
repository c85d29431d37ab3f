"""Checkpoint files that need torch to read, the import of torch, the inference thread default.

The thread default lives here, torch-free, so the loaders can name it without importing torch.
Separate from :mod:`lerobot_gym.policies.checkpoint` so the torch-side modules
(:mod:`~lerobot_gym.policies.pretrained`, :mod:`~lerobot_gym.policies.normalize`) read weights
without importing the loader that imports them. Imports no torch at module level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lerobot_gym.errors import CheckpointError, ConfigError, MissingExtraError

__all__ = [
    "DEFAULT_INFERENCE_THREADS",
    "MODEL_NAME",
    "check_inference_threads",
    "load_safetensors",
    "require_torch",
]

MODEL_NAME = "model.safetensors"
#: torch intra-op threads a policy step runs on unless told otherwise (why: the docstring of
#: :mod:`lerobot_gym.policies.pretrained`).
DEFAULT_INFERENCE_THREADS = 1


def check_inference_threads(threads: Any) -> int | None:
    """``threads`` if it is None or a positive int; ConfigError naming the flag otherwise."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(
            f"--policy.inference_threads={threads}: give a thread count of at least 1, or null "
            "to keep torch's own setting"
        )
    return threads


def require_torch(purpose: str = "learned policies") -> Any:
    """``import torch``, or MissingExtraError naming the ``policies`` extra."""
    try:
        import torch
    except ImportError:
        raise MissingExtraError("torch", "policies", purpose) from None
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        raise MissingExtraError("safetensors", "policies", purpose) from None
    return torch


def load_safetensors(path: Path) -> dict[str, Any]:
    """All tensors of a safetensors file, on CPU.

    Raises:
        CheckpointError: the file is missing or not a valid safetensors file (truncated,
            overwritten, a Git LFS pointer); the message names the file and the fix.
    """
    require_torch()
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete, re-save it")
    try:
        return dict(load_file(str(path), device="cpu"))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        hint = ""
        if path.stat().st_size < 200 and path.read_bytes().startswith(b"version https://git-lfs"):
            hint = " (it is a Git LFS pointer: run `git lfs pull`)"
        raise CheckpointError(
            f"{path} is not a valid safetensors file{hint}: {exc}. Re-download or re-save the "
            "checkpoint (a training run keeps earlier ones in OUTPUT_DIR/checkpoints/)"
        ) from None
