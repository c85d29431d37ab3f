"""LeRobot 0.4.4's side of the policy equivalence tests; runs in the compat venv.

Subcommands::

    lerobot_policy_side.py make TYPE DIR SPEC.json   # random-weight policy saved by LeRobot
    lerobot_policy_side.py run DIR OBS.npz OUT.npy SEED
    lerobot_policy_side.py lr CASES.json OUT.json    # learning rates of LeRobot's schedulers

``make`` builds LeRobot's ``ACTConfig`` / ``DiffusionConfig`` from SPEC.json (features, config
fields, statistics), seeds torch, builds the policy with LeRobot's own initialisation, then
perturbs every floating tensor with seeded noise (so nothing is left at a trivially shared
value such as LayerNorm's ones), and saves it the way ``lerobot-train`` does: the policy's
``save_pretrained`` plus the pre/postprocessors from ``make_pre_post_processors`` with the
statistics.

``run`` loads DIR with LeRobot's ``from_pretrained`` (``strict=True``: every tensor present,
none extra) and its saved processors, calls ``torch.manual_seed(SEED)`` and ``reset()``, then
for each observation of OBS.npz (env-style keys ``agent_pos``, ``environment_state``,
``pixels.<cam>``, stacked over steps) runs LeRobot's rollout path: ``preprocess_observation``
-> preprocessor -> ``select_action`` -> postprocessor, and saves the actions to OUT.npy.

``lr`` builds, for each case of CASES.json (``{"scheduler": {"type": ..., fields}, "lr": ...,
"steps": ..., "run": ...}``), LeRobot's ``LRSchedulerConfig`` subclass of that type over an
AdamW optimizer, and records the rate each of ``run`` optimizer steps uses.

The torchvision schemas are defined first, as in ``lerobot_side.py`` (torchvision 0.28.0 is a
CUDA build; nothing here calls its operators).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

_TORCHVISION_SCHEMAS = torch.library.Library("torchvision", "DEF")
_TORCHVISION_SCHEMAS.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_TORCHVISION_SCHEMAS.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

import numpy as np  # noqa: E402
from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature  # noqa: E402
from lerobot.envs.utils import preprocess_observation  # noqa: E402
from lerobot.policies.factory import make_pre_post_processors  # noqa: E402
from lerobot.processor import PolicyProcessorPipeline  # noqa: E402
from lerobot.processor.converters import (  # noqa: E402
    policy_action_to_transition,
    transition_to_policy_action,
)


def _classes(kind: str):
    if kind == "act":
        from lerobot.policies.act.configuration_act import ACTConfig
        from lerobot.policies.act.modeling_act import ACTPolicy

        return ACTConfig, ACTPolicy
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

    return DiffusionConfig, DiffusionPolicy


def make(kind: str, directory: Path, spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    config_cls, policy_cls = _classes(kind)
    feats = {
        key: PolicyFeature(type=FeatureType(ft["type"]), shape=tuple(ft["shape"]))
        for key, ft in spec["features"].items()
    }
    options = dict(spec["config"])
    for key in ("down_dims", "crop_shape", "resize_shape", "optimizer_betas"):
        if isinstance(options.get(key), list):
            options[key] = tuple(options[key])
    if "normalization_mapping" in options:
        options["normalization_mapping"] = {
            k: NormalizationMode(v) for k, v in options["normalization_mapping"].items()
        }
    config = config_cls(
        input_features={k: f for k, f in feats.items() if f.type is not FeatureType.ACTION},
        output_features={k: f for k, f in feats.items() if f.type is FeatureType.ACTION},
        device="cpu",
        **options,
    )
    torch.manual_seed(spec["seed"])
    policy = policy_cls(config)
    generator = torch.Generator().manual_seed(spec["seed"])
    with torch.no_grad():
        for tensor in policy.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.05 * torch.randn(tensor.shape, generator=generator))
    stats = {
        key: {name: np.asarray(value, dtype=np.float32) for name, value in sub.items()}
        for key, sub in spec["stats"].items()
    }
    pre, post = make_pre_post_processors(config, dataset_stats=stats)
    policy.save_pretrained(directory)
    pre.save_pretrained(directory)
    post.save_pretrained(directory)


def run(directory: Path, obs_path: Path, out: Path, seed: int) -> None:
    config = json.loads((directory / "config.json").read_text())
    _, policy_cls = _classes(config["type"])
    policy = policy_cls.from_pretrained(directory, strict=True)
    pre = PolicyProcessorPipeline.from_pretrained(
        directory, config_filename="policy_preprocessor.json"
    )
    post = PolicyProcessorPipeline.from_pretrained(
        directory,
        config_filename="policy_postprocessor.json",
        to_transition=policy_action_to_transition,
        to_output=transition_to_policy_action,
    )
    with np.load(obs_path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    n_steps = len(next(iter(arrays.values())))
    torch.manual_seed(seed)
    policy.reset()
    actions = []
    for i in range(n_steps):
        obs: dict = {}
        for key, value in arrays.items():
            if key.startswith("pixels."):
                obs.setdefault("pixels", {})[key.split(".", 1)[1]] = value[i][None]
            else:
                obs[key] = value[i][None]
        batch = pre(preprocess_observation(obs))
        with torch.inference_mode():
            action = policy.select_action(batch)
        actions.append(post(action).numpy()[0])
    np.save(out, np.stack(actions).astype(np.float32))


def lr(cases_path: Path, out: Path) -> None:
    from lerobot.optim.schedulers import LRSchedulerConfig

    rates = []
    for case in json.loads(cases_path.read_text()):
        fields = dict(case["scheduler"])
        cls = LRSchedulerConfig.get_choice_class(fields.pop("type"))
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=case["lr"])
        scheduler = cls(**fields).build(optimizer, case["steps"])
        used = []
        for _ in range(case["run"]):
            used.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        rates.append(used)
    out.write_text(json.dumps(rates))


def main(argv: list[str]) -> int:
    if argv[0] == "make":
        make(argv[1], Path(argv[2]), Path(argv[3]))
    elif argv[0] == "run":
        run(Path(argv[1]), Path(argv[2]), Path(argv[3]), int(argv[4]))
    elif argv[0] == "lr":
        lr(Path(argv[1]), Path(argv[2]))
    else:
        raise SystemExit(f"unknown subcommand {argv[0]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
