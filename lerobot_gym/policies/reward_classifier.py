"""A small image classifier of task success: the learned reward of HIL-SERL on a real arm.

On hardware nothing measures success; HIL-SERL trains a classifier on labelled frames and uses
its verdict as the reward (LeRobot's ``Classifier``, shared/reference/lerobot-interfaces.md
section 1.5). :class:`RewardClassifierNet` is this project's own, deliberately small: per
camera a stack of stride-2 3x3 convolutions (ReLU, GroupNorm) pooled to a 4x4 grid, one linear
layer, the cameras' features concatenated and mapped to one logit, ``P(success)`` after a
sigmoid. ``lerobot-gym train-reward-classifier`` (:mod:`.reward_training`) trains it;
:class:`lerobot_gym.wrappers.reward_classifier.RewardClassifier` puts it in an env stack.

Checkpoints are a folder like our policies': ``config.json`` (``"type": "reward_classifier"``
and the :class:`RewardClassifierConfig` fields) and ``model.safetensors``;
:func:`load_reward_classifier` reads one back strictly.

Decisions:

* The pooled 4x4 grid (not a global average) keeps *where* things are: a cube held 5 cm up
  and a cube on the table look alike pixel for pixel, only their place differs.
* GroupNorm, not BatchNorm: the classifier runs on one frame per step, and batch statistics
  learned on shuffled batches would shift at batch size 1.
* The input is what the env observes, ``HxWx3 uint8`` per camera, scaled to [0, 1] inside the
  model: the image size is part of the config, and a mismatch with the env is refused by the
  wrapper rather than silently resized.
* Its class name says it is a network; the wrapper that turns its verdict into a reward is the
  ``RewardClassifier`` of the issue and of DESIGN.md.

Imports torch (the ``policies`` extra); ``import lerobot_gym`` does not import this module.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.errors import CheckpointError, ConfigError
from lerobot_gym.policies.files import MODEL_NAME, load_safetensors, require_torch

require_torch("the reward classifier")

import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

__all__ = [
    "CLASSIFIER_TYPE",
    "RewardClassifierConfig",
    "RewardClassifierNet",
    "load_reward_classifier",
]

CLASSIFIER_TYPE = "reward_classifier"
CONFIG_NAME = "config.json"


@dataclasses.dataclass(frozen=True)
class RewardClassifierConfig:
    """What a reward classifier sees and how big it is.

    Attributes:
        cameras: camera names, in the order their features are concatenated.
        image_size: ``(height, width)`` of every camera's image.
        channels: output channels of the stride-2 convolutions, one per layer.
        hidden_dim: features per camera after the linear layer.
        dropout: dropout before the output layer (training only).
        threshold: ``P(success)`` at or above which a frame counts as a success.
    """

    cameras: tuple[str, ...]
    image_size: tuple[int, int]
    channels: tuple[int, ...] = (16, 32, 64)
    hidden_dim: int = 64
    dropout: float = 0.1
    threshold: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "cameras", tuple(str(c) for c in self.cameras))
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        object.__setattr__(self, "channels", tuple(int(v) for v in self.channels))
        if not self.cameras:
            raise ConfigError("a reward classifier needs at least one camera")
        if len(self.image_size) != 2 or min(self.image_size) < 8:
            raise ConfigError(f"image_size must be (height, width) >= 8 px, got {self.image_size}")
        if not self.channels or min(self.channels) < 1 or self.hidden_dim < 1:
            raise ConfigError("channels and hidden_dim must be positive")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold must be in (0, 1), got {self.threshold}")

    def to_json(self) -> dict[str, Any]:
        """The ``config.json`` content."""
        return {"type": CLASSIFIER_TYPE, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "config") -> RewardClassifierConfig:
        """The config from ``config.json`` content (typed errors for anything else)."""
        if data.get("type") != CLASSIFIER_TYPE:
            raise CheckpointError(
                f"{source} is not a reward classifier (type {data.get('type')!r}, expected "
                f"{CLASSIFIER_TYPE!r}); train one with `lerobot-gym train-reward-classifier`"
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields - {"type"})
        if unknown:
            raise CheckpointError(f"{source} has unknown reward classifier fields {unknown}")
        return cls(**{k: v for k, v in data.items() if k != "type"})


def _encoder(config: RewardClassifierConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = 3
    for out_ch in config.channels:
        layers += [
            nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1),
            nn.GroupNorm(min(8, out_ch), out_ch),
            nn.ReLU(inplace=True),
        ]
        in_ch = out_ch
    layers += [
        nn.AdaptiveAvgPool2d((4, 4)),
        nn.Flatten(),
        nn.Linear(in_ch * 16, config.hidden_dim),
        nn.ReLU(inplace=True),
    ]
    return nn.Sequential(*layers)


class RewardClassifierNet(nn.Module):
    """Camera images -> the logit of ``P(success)`` (see the module docstring).

    Example:
        >>> cfg = RewardClassifierConfig(cameras=("front",), image_size=(32, 32))
        >>> net = RewardClassifierNet(cfg)
        >>> net.predict_proba({"front": np.zeros((32, 32, 3), np.uint8)}).shape
        (1,)
    """

    def __init__(self, config: RewardClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.encoders = nn.ModuleDict({cam: _encoder(config) for cam in config.cameras})
        self.head = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden_dim * len(config.cameras), 1),
        )

    def forward(self, images: Mapping[str, Tensor]) -> Tensor:
        """Logits ``(B,)`` from images ``(B, 3, H, W)`` float in [0, 1], per camera."""
        features = [self.encoders[cam]((images[cam] - 0.5) / 0.25) for cam in self.config.cameras]
        logits: Tensor = self.head(torch.cat(features, dim=1)).squeeze(1)
        return logits

    def to_input(self, images: Mapping[str, Any]) -> dict[str, Tensor]:
        """``HxWx3`` or ``BxHxWx3`` uint8 arrays per camera -> the model's float tensors.

        Raises:
            ConfigError: a camera is missing or its image is not ``image_size``.
        """
        out = {}
        h, w = self.config.image_size
        device = next(self.parameters()).device
        for cam in self.config.cameras:
            if cam not in images:
                raise ConfigError(
                    f"the reward classifier needs camera {cam!r}; the images hold {sorted(images)}"
                )
            arr = np.asarray(images[cam])
            if arr.ndim == 3:
                arr = arr[None]
            if arr.shape[1:] != (h, w, 3):
                raise ConfigError(
                    f"camera {cam!r} gives {arr.shape[1]}x{arr.shape[2]} images; the reward "
                    f"classifier was trained on {h}x{w} (crop and resize with ImageCropResize)"
                )
            t = torch.from_numpy(np.ascontiguousarray(arr)).to(device)
            out[cam] = t.permute(0, 3, 1, 2).float().div_(255.0)
        return out

    @torch.no_grad()
    def predict_proba(self, images: Mapping[str, Any]) -> np.ndarray:
        """``P(success)`` per frame, float32 ``(B,)`` (``(1,)`` for one frame), in eval mode."""
        was_training = self.training
        self.eval()
        try:
            return torch.sigmoid(self(self.to_input(images))).cpu().numpy().astype(np.float32)
        finally:
            self.train(was_training)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(directory / MODEL_NAME))
        (directory / CONFIG_NAME).write_text(json.dumps(self.config.to_json(), indent=2) + "\n")
        return directory


def load_reward_classifier(path: str | Path, device: str = "cpu") -> RewardClassifierNet:
    """A reward classifier saved by :meth:`RewardClassifierNet.save_pretrained`, in eval mode.

    Raises:
        CheckpointError: the folder, its config or its weights are missing or not a reward
            classifier's (the message says which).
    """
    directory = Path(path)
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise CheckpointError(
            f"{directory} holds no {CONFIG_NAME}: pass the folder written by `lerobot-gym "
            "train-reward-classifier --output_dir=...`"
        )
    try:
        data = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{config_path} is not valid JSON ({exc}); re-save it") from None
    config = RewardClassifierConfig.from_json(data, str(config_path))
    net = RewardClassifierNet(config)
    state = load_safetensors(directory / MODEL_NAME)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # missing, unexpected or mis-shaped tensors
        raise CheckpointError(
            f"{directory / MODEL_NAME} does not match its {CONFIG_NAME} ({str(exc)[:300]}); "
            "re-train or re-save the classifier"
        ) from None
    return net.to(device).eval()
