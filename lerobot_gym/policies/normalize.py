"""Normalisation with a dataset's statistics, exactly as LeRobot 0.4.4 does it.

Owns :class:`Normalizer` (LeRobot's ``NormalizerProcessorStep`` / ``UnnormalizerProcessorStep``
arithmetic) and the checkpoint files that carry the statistics.

Formulas (``lerobot/processor/normalize_processor.py``), chosen per feature *type* by the
config's ``normalization_mapping``, ``eps = 1e-8``:

* ``MEAN_STD``: ``(x - mean) / (std + eps)``; inverse ``x * std + mean``.
* ``MIN_MAX``: ``2 (x - min) / d - 1`` with ``d = max - min`` (``eps`` where ``d == 0``);
  inverse ``(x + 1) / 2 * d + min``.
* ``QUANTILES`` / ``QUANTILE10``: the same with ``q01``/``q99`` or ``q10``/``q90``.
* ``IDENTITY``, or a feature without statistics: unchanged.

Files (what LeRobot 0.4.4 saves beside ``config.json`` and ``model.safetensors``):
``policy_preprocessor.json`` with ``policy_preprocessor_step_3_normalizer_processor.safetensors``
and ``policy_postprocessor.json`` with
``policy_postprocessor_step_0_unnormalizer_processor.safetensors``; the tensors are named
``<feature>.<stat>`` (``observation.state.mean``, ``action.max`` ...). Older LeRobot checkpoints
kept the statistics inside ``model.safetensors`` as buffers
(``normalize_inputs.buffer_observation_state.mean``, ``unnormalize_outputs.buffer_action.std``
...); :func:`stats_from_legacy_state_dict` reads those.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lerobot_gym.errors import CheckpointError, ConfigError
from lerobot_gym.policies.config import ACTION, PolicyFeature

__all__ = [
    "POSTPROCESSOR_NAME",
    "PREPROCESSOR_NAME",
    "Normalizer",
    "read_processor_stats",
    "stats_from_legacy_state_dict",
    "write_processors",
]

EPS = 1e-8
PREPROCESSOR_NAME = "policy_preprocessor"
POSTPROCESSOR_NAME = "policy_postprocessor"
NORMALIZER_FILE = f"{PREPROCESSOR_NAME}_step_3_normalizer_processor.safetensors"
UNNORMALIZER_FILE = f"{POSTPROCESSOR_NAME}_step_0_unnormalizer_processor.safetensors"
_NEEDS = {
    "MEAN_STD": ("mean", "std"),
    "MIN_MAX": ("min", "max"),
    "QUANTILES": ("q01", "q99"),
    "QUANTILE10": ("q10", "q90"),
}
_LEGACY_PREFIXES = (
    "normalize_inputs.buffer_",
    "normalize_targets.buffer_",
    "unnormalize_outputs.buffer_",
)


class Normalizer:
    """Normalise inputs and targets, unnormalise actions, with per-type modes.

    Args:
        features: the policy's inputs and outputs (types decide the mode).
        norm_map: feature type -> mode (``"MEAN_STD"``, ``"MIN_MAX"``, ...).
        stats: feature -> stat -> array (a dataset's ``meta/stats.json``); only the policy's
            features are kept.

    Raises:
        ConfigError: a feature whose mode needs statistics the stats lack (the message names
            the feature, the missing statistic and the fix). Without ``stats`` at all nothing
            is normalised (LeRobot's behaviour; a checkpoint's statistics are loaded later).
    """

    def __init__(
        self,
        features: Mapping[str, PolicyFeature],
        norm_map: Mapping[str, str],
        stats: Mapping[str, Mapping[str, Any]] | None,
    ) -> None:
        self.features = dict(features)
        self.norm_map = dict(norm_map)
        self.stats: dict[str, dict[str, Tensor]] = {}
        for key in self.features:
            if stats is None or key not in stats:
                continue
            self.stats[key] = {
                name: torch.as_tensor(np.asarray(value), dtype=torch.float32)
                for name, value in stats[key].items()
            }
        if stats is not None:
            self.check()

    def check(self) -> None:
        """Every feature whose mode reads statistics has them."""
        for key, ft in self.features.items():
            mode = self.norm_map.get(ft.type, "IDENTITY")
            needed = _NEEDS.get(mode, ())
            have = self.stats.get(key, {})
            missing = [name for name in needed if name not in have]
            if missing:
                raise ConfigError(
                    f"normalising {key!r} ({ft.type}, {mode}) needs statistics {missing}, which "
                    "the dataset's meta/stats.json lacks; run `lerobot-gym dataset stats "
                    "--dataset.root=DIR` to recompute them"
                )

    def to(self, device: torch.device | str) -> Normalizer:
        """Move the statistics to ``device``."""
        for sub in self.stats.values():
            for name, value in sub.items():
                sub[name] = value.to(device)
        return self

    def transform(self, key: str, x: Tensor, *, inverse: bool = False) -> Tensor:
        """(Un)normalise one feature's values."""
        ft = self.features.get(key)
        if ft is None or key not in self.stats:
            return x
        mode = self.norm_map.get(ft.type, "IDENTITY")
        if mode == "IDENTITY":
            return x
        stats = self.stats[key]
        if mode == "MEAN_STD":
            mean, std = stats["mean"], stats["std"]
            return x * std + mean if inverse else (x - mean) / (std + EPS)
        lo_name, hi_name = _NEEDS[mode]
        lo, hi = stats[lo_name], stats[hi_name]
        denom = hi - lo
        denom = torch.where(denom == 0, torch.tensor(EPS, device=x.device, dtype=x.dtype), denom)
        if inverse:
            return (x + 1) / 2 * denom + lo
        return 2 * (x - lo) / denom - 1

    def normalize_batch(self, batch: dict[str, Any], *, targets: bool = True) -> dict[str, Any]:
        """A copy of ``batch`` with its inputs (and the action, if ``targets``) normalised."""
        out = dict(batch)
        for key, ft in self.features.items():
            if key in out and (ft.type != "ACTION" or targets):
                out[key] = self.transform(key, out[key])
        return out

    def unnormalize_action(self, action: Tensor) -> Tensor:
        """The policy's normalised action in the dataset's units."""
        return self.transform(ACTION, action, inverse=True)

    def state_dict(self) -> dict[str, Tensor]:
        """``{"<feature>.<stat>": tensor}`` as LeRobot's processor steps save it."""
        return {
            f"{key}.{name}": value.detach().cpu().contiguous()
            for key, sub in self.stats.items()
            for name, value in sub.items()
        }


def stats_from_flat(flat: Mapping[str, Tensor]) -> dict[str, dict[str, Tensor]]:
    """``{"observation.state.mean": t}`` -> ``{"observation.state": {"mean": t}}``."""
    out: dict[str, dict[str, Tensor]] = {}
    for flat_key, tensor in flat.items():
        key, _, stat = flat_key.rpartition(".")
        out.setdefault(key, {})[stat] = tensor.to(torch.float32)
    return out


def stats_from_legacy_state_dict(state: Mapping[str, Tensor]) -> dict[str, dict[str, Tensor]]:
    """Statistics stored as normaliser buffers in a pre-0.4 LeRobot ``model.safetensors``.

    ``normalize_inputs.buffer_observation_state.mean`` -> ``stats["observation.state"]["mean"]``
    (LeRobot's buffers replace dots by underscores; its migration script maps them back the
    same way, so a key like ``observation.images.front`` is recovered from
    ``observation_images_front``).
    """
    out: dict[str, dict[str, Tensor]] = {}
    for key, tensor in state.items():
        for prefix in _LEGACY_PREFIXES:
            if key.startswith(prefix):
                feature, _, stat = key[len(prefix) :].rpartition(".")
                out.setdefault(feature.replace("_", "."), {})[stat] = tensor.to(torch.float32)
    return out


def write_processors(
    directory: Path,
    normalizer: Normalizer,
    input_features: Mapping[str, PolicyFeature],
    output_features: Mapping[str, PolicyFeature],
    device: str,
) -> None:
    """Write LeRobot 0.4.4's pre/postprocessor files (JSON pipelines + statistics)."""
    from safetensors.torch import save_file

    state = normalizer.state_dict()
    norm_map = dict(normalizer.norm_map)
    every = {**input_features, **output_features}
    pre = {
        "name": PREPROCESSOR_NAME,
        "steps": [
            {"registry_name": "rename_observations_processor", "config": {"rename_map": {}}},
            {"registry_name": "to_batch_processor", "config": {}},
            {
                "registry_name": "device_processor",
                "config": {"device": device, "float_dtype": None},
            },
            {
                "registry_name": "normalizer_processor",
                "config": {
                    "eps": EPS,
                    "features": {k: ft.to_json() for k, ft in every.items()},
                    "norm_map": norm_map,
                },
                "state_file": NORMALIZER_FILE,
            },
        ],
    }
    post = {
        "name": POSTPROCESSOR_NAME,
        "steps": [
            {
                "registry_name": "unnormalizer_processor",
                "config": {
                    "eps": EPS,
                    "features": {k: ft.to_json() for k, ft in output_features.items()},
                    "norm_map": norm_map,
                },
                "state_file": UNNORMALIZER_FILE,
            },
            {"registry_name": "device_processor", "config": {"device": "cpu", "float_dtype": None}},
        ],
    }
    save_file(state, str(directory / NORMALIZER_FILE))
    post_state = {k: v for k, v in state.items() if k.rpartition(".")[0] in output_features}
    save_file(post_state, str(directory / UNNORMALIZER_FILE))
    (directory / f"{PREPROCESSOR_NAME}.json").write_text(json.dumps(pre, indent=2) + "\n")
    (directory / f"{POSTPROCESSOR_NAME}.json").write_text(json.dumps(post, indent=2) + "\n")


def read_processor_stats(directory: Path) -> dict[str, dict[str, Tensor]] | None:
    """The statistics of a checkpoint's normaliser steps (pre and post merged), or None.

    Raises:
        CheckpointError: a pipeline JSON names a state file that is missing or corrupt.
    """
    from lerobot_gym.policies.files import load_safetensors

    stats: dict[str, dict[str, Tensor]] = {}
    found = False
    for name in (POSTPROCESSOR_NAME, PREPROCESSOR_NAME):  # the preprocessor's win on overlap
        path = directory / f"{name}.json"
        if not path.is_file():
            continue
        try:
            pipeline = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path} is not valid JSON ({exc})") from None
        for step in pipeline.get("steps", []):
            kind = step.get("registry_name", "")
            if kind in ("normalizer_processor", "unnormalizer_processor") and "state_file" in step:
                found = True
                flat = load_safetensors(directory / step["state_file"])
                for key, sub in stats_from_flat(flat).items():
                    stats.setdefault(key, {}).update(sub)
    return stats if found else None
