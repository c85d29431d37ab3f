"""ACT and Diffusion Policy checkpoints interchange with LeRobot 0.4.4 and give the same actions.

Both directions, with random weights, on the same env-style observations:

* LeRobot saves a checkpoint (``lerobot_policy_side.py make``: its own init plus seeded noise
  on every tensor, its own pre/postprocessors with random statistics); we load it with
  :func:`lerobot_gym.policies.load_policy` and compare our actions with LeRobot's own rollout
  path on the same checkpoint (``lerobot_policy_side.py run``).
* We save one (``policy.save``); LeRobot loads it with ``from_pretrained(strict=True)`` and its
  ``PolicyProcessorPipeline.from_pretrained``, and both sides compare again.

Randomness: ACT at inference has none. Diffusion Policy draws its initial noise (and, with
DDPM, fresh noise at every step but the last) from torch's global RNG on both sides, in the
same order and shapes; each side calls ``torch.manual_seed(SEED)`` and ``reset()`` before the
first observation, so the same seed gives the same noise path. DDIM (``eta=0``) draws only the
initial noise. Tolerance: max |action difference| <= 1e-5 in the env's units.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from compat_helpers import COMPAT_MARKS, _compat_python

pytestmark = COMPAT_MARKS

torch = pytest.importorskip("torch")
SIDE = Path(__file__).resolve().parent / "lerobot_policy_side.py"
TOLERANCE = 1e-5
N_STEPS = 9
IMAGE = (3, 32, 40)

CASES = {
    "act_state": ("act", {
        "chunk_size": 4, "n_action_steps": 3, "dim_model": 32, "n_heads": 4,
        "dim_feedforward": 48, "n_encoder_layers": 2, "n_vae_encoder_layers": 1,
        "n_decoder_layers": 2,
    }, ()),
    "act_camera_ensemble": ("act", {
        "chunk_size": 5, "n_action_steps": 1, "temporal_ensemble_coeff": 0.01, "dim_model": 32,
        "n_heads": 4, "dim_feedforward": 48, "n_encoder_layers": 1, "n_vae_encoder_layers": 1,
        "pretrained_backbone_weights": None,
        "normalization_mapping": {"VISUAL": "MEAN_STD", "STATE": "MIN_MAX", "ACTION": "MEAN_STD"},
    }, ("front", "wrist")),
    "diffusion_ddpm_camera": ("diffusion", {
        "horizon": 8, "n_action_steps": 3, "down_dims": [16, 32], "kernel_size": 3,
        "diffusion_step_embed_dim": 16, "spatial_softmax_num_keypoints": 8,
        "num_train_timesteps": 12, "crop_shape": [28, 36], "crop_is_random": True,
    }, ("front",)),
    "diffusion_ddim_state": ("diffusion", {
        "horizon": 8, "n_action_steps": 4, "down_dims": [16, 32], "kernel_size": 3,
        "diffusion_step_embed_dim": 16, "noise_scheduler_type": "DDIM",
        "num_inference_steps": 5, "beta_schedule": "linear", "prediction_type": "sample",
    }, ()),
}  # fmt: skip


def _features(cameras: tuple[str, ...]) -> dict[str, dict]:
    feats = {
        "observation.state": {"type": "STATE", "shape": [6]},
        "observation.environment_state": {"type": "ENV", "shape": [7]},
    }
    for cam in cameras:
        feats[f"observation.images.{cam}"] = {"type": "VISUAL", "shape": list(IMAGE)}
    feats["action"] = {"type": "ACTION", "shape": [6]}
    return feats


def _stats(features: dict[str, dict], rng: np.random.Generator) -> dict[str, dict]:
    stats = {}
    for key, ft in features.items():
        shape = [3, 1, 1] if ft["type"] == "VISUAL" else ft["shape"]
        lo = rng.uniform(-3, 0, shape)
        stats[key] = {
            "mean": rng.uniform(-1, 1, shape).tolist(), "std": rng.uniform(0.3, 2, shape).tolist(),
            "min": lo.tolist(), "max": (lo + rng.uniform(1, 4, shape)).tolist(),
        }  # fmt: skip
    return stats


def _observations(cameras: tuple[str, ...], rng: np.random.Generator) -> dict[str, np.ndarray]:
    obs = {
        "agent_pos": rng.normal(size=(N_STEPS, 6)).astype(np.float32),
        "environment_state": rng.normal(size=(N_STEPS, 7)).astype(np.float32),
    }
    for cam in cameras:
        obs[f"pixels.{cam}"] = rng.integers(0, 256, (N_STEPS, IMAGE[1], IMAGE[2], 3), np.uint8)
    return obs


def _lerobot(*args: object) -> None:
    import os
    import subprocess

    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONHASHSEED="0")
    proc = subprocess.run(
        [str(_compat_python()), str(SIDE), *map(str, args)],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )  # fmt: skip
    if proc.returncode:
        pytest.fail(f"lerobot_policy_side.py {args[0]} failed:\n{proc.stderr[-4000:]}")


def _ours(directory: Path, obs: dict[str, np.ndarray], seed: int) -> np.ndarray:
    from lerobot_gym.policies import load_policy

    policy = load_policy(directory)
    torch.manual_seed(seed)
    policy.reset()
    actions = []
    for i in range(N_STEPS):
        step = {k: v[i] for k, v in obs.items() if not k.startswith("pixels.")}
        step["pixels"] = {k[7:]: v[i] for k, v in obs.items() if k.startswith("pixels.")}
        actions.append(policy.select_action(step))
    return np.stack(actions)


@pytest.mark.parametrize("case", sorted(CASES))
def test_lerobot_checkpoint_loads_here_and_acts_the_same(case: str, tmp_path: Path) -> None:
    kind, config, cameras = CASES[case]
    rng = np.random.default_rng(7)
    features = _features(cameras)
    spec = {"features": features, "config": config, "stats": _stats(features, rng), "seed": 3}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    obs = _observations(cameras, rng)
    np.savez(tmp_path / "obs.npz", **obs)
    ckpt = tmp_path / "lerobot_ckpt"
    _lerobot("make", kind, ckpt, tmp_path / "spec.json")
    _lerobot("run", ckpt, tmp_path / "obs.npz", tmp_path / "theirs.npy", 11)
    theirs = np.load(tmp_path / "theirs.npy")
    ours = _ours(ckpt, obs, 11)
    assert ours.shape == theirs.shape == (N_STEPS, 6)
    assert np.abs(theirs).max() > 1e-2  # a real action, not zeros
    assert np.abs(ours - theirs).max() <= TOLERANCE, np.abs(ours - theirs).max()

    # Ours -> LeRobot: re-save from our loaded policy, LeRobot loads (strict) and acts.
    from lerobot_gym.policies import load_policy

    mine = tmp_path / "our_ckpt"
    load_policy(ckpt).save(mine)
    _lerobot("run", mine, tmp_path / "obs.npz", tmp_path / "theirs_of_ours.npy", 11)
    theirs_of_ours = np.load(tmp_path / "theirs_of_ours.npy")
    assert np.abs(_ours(mine, obs, 11) - theirs_of_ours).max() <= TOLERANCE
    assert np.abs(theirs_of_ours - theirs).max() <= TOLERANCE


LR_CASES = [
    *({"type": "diffuser", "name": name, "num_warmup_steps": 7} for name in
      ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant_with_warmup")),
    {"type": "diffuser", "name": "constant"},
    {"type": "cosine_decay_with_warmup", "num_warmup_steps": 13, "num_decay_steps": 100,
     "peak_lr": 3e-4, "decay_lr": 2e-5},
    {"type": "vqbet", "num_warmup_steps": 5, "num_vqvae_training_steps": 20, "num_cycles": 0.7},
]  # fmt: skip


def test_learning_rate_schedules_match_lerobots(tmp_path: Path) -> None:
    """Each LeRobot scheduler type gives the same rate at every step here (runs of 50 and 1000
    steps, the first shorter than cosine_decay_with_warmup's decay, each run 30 steps past
    its end)."""
    from lerobot_gym.policies.lr_schedulers import scheduler_config

    cases = [{"scheduler": s, "lr": 3e-4, "steps": n, "run": n + 30}
             for n in (50, 1000) for s in LR_CASES]  # fmt: skip
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    _lerobot("lr", tmp_path / "cases.json", tmp_path / "rates.json")
    theirs = json.loads((tmp_path / "rates.json").read_text())
    for case, expected in zip(cases, theirs, strict=True):
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=case["lr"])
        scheduler = scheduler_config(case["scheduler"]).build(optimizer, case["steps"])
        used = []
        for _ in range(case["run"]):
            used.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        assert used == expected, case
