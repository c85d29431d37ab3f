"""The compact, randomly initialised policies the inference benchmarks time.

Shared by ``benchmarks/policy_latency.py`` (``select_action`` latency at 30 Hz) and
``benchmarks/batched_eval.py`` (batched against per-env evaluation), so both measure the same
models: a compact ACT (chunk 20, with and without temporal ensembling, state or one 96x96
camera) and a compact Diffusion Policy (DDIM 10 steps, 8 actions), on SO101-PickCube's state
features (``agent_pos`` and the cube's pose) or one ``front`` camera plus ``agent_pos``.
Statistics are unit ones (mean 0, std 1, range [-1, 1]): the timing does not depend on them.

Imported by the benchmark scripts as ``support.compact_policies`` (their folder is on
``sys.path`` when they run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lerobot_gym.policies.act import ACTPolicy
from lerobot_gym.policies.config import ACTConfig, DiffusionConfig, PolicyFeature
from lerobot_gym.policies.diffusion import DiffusionPolicy

IMAGE = (3, 96, 96)
#: The compact ACT (the size act_pickcube.py trains).
ACT_SIZES = dict(
    chunk_size=20,
    dim_model=128,
    n_heads=4,
    dim_feedforward=512,
    n_encoder_layers=2,
    n_vae_encoder_layers=2,
)
#: The compact Diffusion Policy, sampled with DDIM in 10 steps.
DIFFUSION_SIZES = dict(
    down_dims=(64, 128),
    diffusion_step_embed_dim=64,
    noise_scheduler_type="DDIM",
    num_inference_steps=10,
)


def features(camera: bool) -> tuple[dict[str, PolicyFeature], dict[str, PolicyFeature]]:
    """(inputs, outputs): ``agent_pos`` plus the cube's pose, or plus one 96x96 camera."""
    inputs = {"observation.state": PolicyFeature("STATE", (6,))}
    if camera:
        inputs["observation.images.front"] = PolicyFeature("VISUAL", IMAGE)
    else:
        inputs["observation.environment_state"] = PolicyFeature("ENV", (7,))
    return inputs, {"action": PolicyFeature("ACTION", (6,))}


def unit_stats(inputs: dict, outputs: dict) -> dict[str, dict[str, np.ndarray]]:
    """Mean 0, std 1, min -1, max 1 for every feature (per channel for images)."""
    out = {}
    for key, ft in {**inputs, **outputs}.items():
        shape = (3, 1, 1) if ft.type == "VISUAL" else ft.shape
        out[key] = {
            "mean": np.zeros(shape),
            "std": np.ones(shape),
            "min": -np.ones(shape),
            "max": np.ones(shape),
        }
    return out


def _act(camera: bool, **options: Any) -> Callable[..., Any]:
    def build(device: str = "cpu", inference_threads: int | None = 1) -> ACTPolicy:
        i, o = features(camera)
        config = ACTConfig(input_features=i, output_features=o, **options, **ACT_SIZES)
        return ACTPolicy(config, unit_stats(i, o), device, inference_threads=inference_threads)

    return build


def _diffusion(device: str = "cpu", inference_threads: int | None = 1) -> DiffusionPolicy:
    i, o = features(False)
    config = DiffusionConfig(input_features=i, output_features=o, **DIFFUSION_SIZES)
    return DiffusionPolicy(
        config, unit_stats(i, o), device, seed=0, inference_threads=inference_threads
    )


#: name -> (uses the camera, ``build(device="cpu", inference_threads=1)``); torch's global
#: seed decides the weights, so seed it before building.
POLICIES: dict[str, tuple[bool, Callable[..., Any]]] = {
    "ACT state, chunk 20": (False, _act(False, n_action_steps=20)),
    "ACT state, temporal ensembling": (
        False,
        _act(False, n_action_steps=1, temporal_ensemble_coeff=0.01),
    ),
    "ACT 96x96 camera, chunk 20": (True, _act(True, n_action_steps=20)),
    "diffusion state, DDIM 10, 8 actions": (False, _diffusion),
}
