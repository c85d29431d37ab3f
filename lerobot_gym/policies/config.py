"""Policy configurations with LeRobot 0.4.4's field names, and their ``config.json``.

Owns :class:`PolicyFeature`, the feature and normalisation vocabularies, :class:`ACTConfig` and
:class:`DiffusionConfig` (LeRobot's ``ACTConfig`` / ``DiffusionConfig``: same fields, same order,
same meaning), the mapping from a dataset's features to a policy's, and reading and writing
``config.json``. Imports no torch.

Design decisions:

* ``config.json`` is what LeRobot's ``draccus.dump`` writes: ``"type"`` first, then every
  field in dataclass order, enums as their names (``"STATE"``, ``"MEAN_STD"``), tuples as lists.
  LeRobot's ``PreTrainedConfig.from_pretrained`` parses it back strictly, so a file written here
  carries no key LeRobot does not know; what only lerobot_gym needs lives beside it
  (``train_config.json``).
* Keys of a file that this version does not know (a newer LeRobot's) are kept in ``extra`` and
  written back on save, never silently dropped and never fatal.
* Defaults equal LeRobot's except where LeRobot's default downloads weights:
  ``ACTConfig.pretrained_backbone_weights`` is None here (ImageNet weights cannot be fetched
  offline, and a checkpoint's weights come from its ``model.safetensors`` anyway).
* A dataset's features map to a policy's as LeRobot's ``dataset_to_policy_features`` does:
  images and videos are VISUAL with shape (C, H, W); ``observation.environment_state`` is ENV;
  other ``observation.*`` keys are STATE; ``action`` is ACTION; everything else is ignored.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from lerobot_gym.errors import CheckpointError, ConfigError

__all__ = [
    "ACTION",
    "CONFIG_NAME",
    "FEATURE_TYPES",
    "NORM_MODES",
    "OBS_ENV_STATE",
    "OBS_IMAGES",
    "OBS_STATE",
    "ACTConfig",
    "DiffusionConfig",
    "PolicyConfig",
    "PolicyFeature",
    "config_class",
    "dataset_to_policy_features",
    "parse_vision_backbone",
    "read_config",
]

CONFIG_NAME = "config.json"
OBS_STATE = "observation.state"
OBS_ENV_STATE = "observation.environment_state"
OBS_IMAGES = "observation.images"
ACTION = "action"
FEATURE_TYPES = ("STATE", "VISUAL", "ENV", "ACTION", "REWARD", "LANGUAGE")
NORM_MODES = ("MEAN_STD", "MIN_MAX", "IDENTITY", "QUANTILES", "QUANTILE10")
#: blocks per stage of the BasicBlock ResNets a ``vision_backbone`` may name.
RESNET_LAYERS = {"resnet10": (1, 1, 1, 1), "resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}
RESNET_WIDTH = 64  # torchvision's first-stage width; the stages are 1, 2, 4 and 8 times it


def parse_vision_backbone(name: str) -> tuple[tuple[int, int, int, int], int]:
    """``(blocks per stage, first-stage width)`` of a ``vision_backbone`` name.

    ``resnet18`` and ``resnet34`` are torchvision's (width 64), the names LeRobot knows.
    ``resnet10`` (one block per stage) and a ``_w<N>`` suffix (``resnet10_w16``: stages of 16,
    32, 64 and 128 channels) are compact backbones for training from scratch on a CPU; LeRobot
    cannot build them, so a checkpoint that uses one loads here only. The size lives in the
    name, not in a new field, so ``config.json`` keeps LeRobot's keys.

    Raises:
        ConfigError: a name outside that grammar (the message names the flag).
    """
    base, sep, suffix = name.partition("_w")
    width = RESNET_WIDTH
    if sep:
        width = int(suffix) if suffix.isdigit() else 0
    if base not in RESNET_LAYERS or width < 16 or width % 16:
        raise ConfigError(
            f"vision_backbone {name!r} is not supported; use resnet18, resnet34 or resnet10, "
            "optionally with a first-stage width that is a multiple of 16 "
            "(--policy.vision_backbone=resnet10_w16)"
        )
    return RESNET_LAYERS[base], width


@dataclass(frozen=True)
class PolicyFeature:
    """One input or output of a policy, as LeRobot's ``PolicyFeature``.

    Attributes:
        type: one of :data:`FEATURE_TYPES`.
        shape: ``(D,)`` for vectors, ``(C, H, W)`` for images.
    """

    type: str
    shape: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"type": ..., "shape": [...]}``."""
        return {"type": self.type, "shape": list(self.shape)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PolicyFeature:
        """Parse ``{"type": ..., "shape": [...]}``; the type must be known."""
        kind = str(obj["type"])
        if kind not in FEATURE_TYPES:
            raise ConfigError(f"unknown feature type {kind!r}; known: {list(FEATURE_TYPES)}")
        return cls(kind, tuple(int(d) for d in obj["shape"]))


@dataclass
class PolicyConfig:
    """Fields of LeRobot's ``PreTrainedConfig`` (the base of every policy's config)."""

    type_name: ClassVar[str] = ""

    n_obs_steps: int = 1
    input_features: dict[str, PolicyFeature] = field(default_factory=dict)
    output_features: dict[str, PolicyFeature] = field(default_factory=dict)
    device: str | None = None
    use_amp: bool = False
    use_peft: bool = False
    push_to_hub: bool = True
    repo_id: str | None = None
    private: bool | None = None
    tags: list[str] | None = None
    license: str | None = None
    pretrained_path: str | None = None
    #: keys of a loaded config.json this version does not know; written back on save.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- features, named as in LeRobot ---------------------------------------------------------
    @property
    def robot_state_feature(self) -> PolicyFeature | None:
        """``observation.state`` if it is an input."""
        ft = self.input_features.get(OBS_STATE)
        return ft if ft is not None and ft.type == "STATE" else None

    @property
    def env_state_feature(self) -> PolicyFeature | None:
        """The ENV input (``observation.environment_state``), if any."""
        return next((ft for ft in self.input_features.values() if ft.type == "ENV"), None)

    @property
    def image_features(self) -> dict[str, PolicyFeature]:
        """VISUAL inputs, in declaration order (the order cameras are stacked in)."""
        return {k: ft for k, ft in self.input_features.items() if ft.type == "VISUAL"}

    @property
    def action_feature(self) -> PolicyFeature:
        """The ``action`` output."""
        ft = self.output_features.get(ACTION)
        if ft is None or ft.type != "ACTION":
            raise ConfigError(f"the policy config has no 'action' output: {self.output_features}")
        return ft

    @property
    def observation_delta_indices(self) -> list[int] | None:
        """Frame offsets of observations in a training sample (None: the current frame)."""
        return None

    @property
    def action_delta_indices(self) -> list[int] | None:
        """Frame offsets of actions in a training sample."""
        return None

    def validate(self) -> None:
        """Check field values (subclasses add theirs); raises ConfigError."""
        for name, mode in getattr(self, "normalization_mapping", {}).items():
            if name not in FEATURE_TYPES or mode not in NORM_MODES:
                raise ConfigError(
                    f"normalization_mapping {name!r}: {mode!r} is not a feature type and mode; "
                    f"types {list(FEATURE_TYPES)}, modes {list(NORM_MODES)}"
                )

    def validate_features(self) -> None:
        """Check the inputs suit the policy (LeRobot's rule: an image or the env state)."""
        if not self.image_features and self.env_state_feature is None:
            raise ConfigError(
                f"{self.type_name} needs at least one camera (observation.images.*) or "
                f"observation.environment_state among its inputs; it has "
                f"{list(self.input_features)}. Record the dataset with cameras "
                "(--env.obs_type=pixels_agent_pos) or with the environment state "
                "(--env.obs_type=state)"
            )
        self.action_feature  # noqa: B018  (raises when missing)

    # -- JSON ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The ``config.json`` object (LeRobot's draccus layout)."""
        out: dict[str, Any] = {"type": self.type_name}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            out[f.name] = _encode(getattr(self, f.name))
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PolicyConfig:
        """Build from a ``config.json`` object; unknown keys go to ``extra``."""
        obj = dict(obj)
        obj.pop("type", None)
        names = {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}
        kwargs: dict[str, Any] = {}
        extra = {}
        for key, value in obj.items():
            if key not in names:
                extra[key] = value
            elif key in ("input_features", "output_features"):
                kwargs[key] = {k: PolicyFeature.from_json(v) for k, v in (value or {}).items()}
            elif isinstance(value, list) and _is_tuple_field(names[key]):
                kwargs[key] = tuple(value)
            else:
                kwargs[key] = value
        config = cls(**kwargs, extra=extra)
        config.validate()
        return config

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` into ``directory``."""
        path = Path(directory) / CONFIG_NAME
        path.write_text(json.dumps(self.to_json(), indent=4) + "\n")
        return path


@dataclass
class ACTConfig(PolicyConfig):
    """LeRobot's ``ACTConfig`` (``lerobot/policies/act/configuration_act.py``), field for field.

    See the module docstring for the one default that differs
    (``pretrained_backbone_weights``).
    """

    type_name: ClassVar[str] = "act"

    n_obs_steps: int = 1
    chunk_size: int = 100
    n_action_steps: int = 100
    normalization_mapping: dict[str, str] = field(
        default_factory=lambda: {"VISUAL": "MEAN_STD", "STATE": "MEAN_STD", "ACTION": "MEAN_STD"}
    )
    vision_backbone: str = "resnet18"
    pretrained_backbone_weights: str | None = None
    replace_final_stride_with_dilation: int = False
    pre_norm: bool = False
    dim_model: int = 512
    n_heads: int = 8
    dim_feedforward: int = 3200
    feedforward_activation: str = "relu"
    n_encoder_layers: int = 4
    n_decoder_layers: int = 1
    use_vae: bool = True
    latent_dim: int = 32
    n_vae_encoder_layers: int = 4
    temporal_ensemble_coeff: float | None = None
    dropout: float = 0.1
    kl_weight: float = 10.0
    optimizer_lr: float = 1e-5
    optimizer_weight_decay: float = 1e-4
    optimizer_lr_backbone: float = 1e-5

    def validate(self) -> None:
        super().validate()
        parse_vision_backbone(self.vision_backbone)
        if self.replace_final_stride_with_dilation:
            raise ConfigError(
                "replace_final_stride_with_dilation needs a bottleneck ResNet (torchvision refuses "
                "dilation in resnet18/34's BasicBlock); set it to false"
            )
        if self.temporal_ensemble_coeff is not None and self.n_action_steps > 1:
            raise ConfigError(
                "temporal ensembling queries the policy every step: set "
                f"--policy.n_action_steps=1 (got {self.n_action_steps})"
            )
        if self.n_action_steps > self.chunk_size:
            raise ConfigError(
                f"n_action_steps ({self.n_action_steps}) cannot exceed chunk_size "
                f"({self.chunk_size})"
            )
        if self.n_obs_steps != 1:
            raise ConfigError(f"ACT uses one observation step; got n_obs_steps={self.n_obs_steps}")
        if self.feedforward_activation not in ("relu", "gelu", "glu"):
            raise ConfigError(
                f"feedforward_activation must be relu, gelu or glu, not "
                f"{self.feedforward_activation!r}"
            )
        if self.dim_model % self.n_heads:
            raise ConfigError(f"dim_model {self.dim_model} is not a multiple of n_heads")

    @property
    def action_delta_indices(self) -> list[int]:
        return list(range(self.chunk_size))


@dataclass
class DiffusionConfig(PolicyConfig):
    """LeRobot's ``DiffusionConfig`` (``lerobot/policies/diffusion/configuration_diffusion.py``).

    Training adds noise with the DDPM forward process whatever ``noise_scheduler_type`` says
    (both of diffusers' schedulers share it); ``noise_scheduler_type="DDIM"`` with a small
    ``num_inference_steps`` gives DDIM's deterministic, few-step sampling at inference.
    """

    type_name: ClassVar[str] = "diffusion"

    n_obs_steps: int = 2
    horizon: int = 16
    n_action_steps: int = 8
    normalization_mapping: dict[str, str] = field(
        default_factory=lambda: {"VISUAL": "MEAN_STD", "STATE": "MIN_MAX", "ACTION": "MIN_MAX"}
    )
    drop_n_last_frames: int = 7
    vision_backbone: str = "resnet18"
    resize_shape: tuple[int, int] | None = None
    crop_ratio: float = 1.0
    crop_shape: tuple[int, int] | None = None
    crop_is_random: bool = True
    pretrained_backbone_weights: str | None = None
    use_group_norm: bool = True
    spatial_softmax_num_keypoints: int = 32
    use_separate_rgb_encoder_per_camera: bool = False
    down_dims: tuple[int, ...] = (512, 1024, 2048)
    kernel_size: int = 5
    n_groups: int = 8
    diffusion_step_embed_dim: int = 128
    use_film_scale_modulation: bool = True
    noise_scheduler_type: str = "DDPM"
    num_train_timesteps: int = 100
    beta_schedule: str = "squaredcos_cap_v2"
    beta_start: float = 0.0001
    beta_end: float = 0.02
    prediction_type: str = "epsilon"
    clip_sample: bool = True
    clip_sample_range: float = 1.0
    num_inference_steps: int | None = None
    compile_model: bool = False
    compile_mode: str = "reduce-overhead"
    do_mask_loss_for_padding: bool = False
    optimizer_lr: float = 1e-4
    optimizer_betas: tuple[float, ...] = (0.95, 0.999)
    optimizer_eps: float = 1e-8
    optimizer_weight_decay: float = 1e-6
    scheduler_name: str = "cosine"
    scheduler_warmup_steps: int = 500

    def __post_init__(self) -> None:
        # LeRobot derives crop_shape from resize_shape and crop_ratio the same way.
        if self.resize_shape is not None:
            if self.crop_ratio < 1.0:
                self.crop_shape = (
                    int(self.resize_shape[0] * self.crop_ratio),
                    int(self.resize_shape[1] * self.crop_ratio),
                )
            else:
                self.crop_shape = None

    def validate(self) -> None:
        super().validate()
        parse_vision_backbone(self.vision_backbone)
        if self.prediction_type not in ("epsilon", "sample"):
            raise ConfigError(f"prediction_type must be epsilon or sample: {self.prediction_type}")
        if self.noise_scheduler_type not in ("DDPM", "DDIM"):
            raise ConfigError(
                f"noise_scheduler_type must be DDPM or DDIM, not {self.noise_scheduler_type!r}"
            )
        if self.beta_schedule not in ("linear", "scaled_linear", "squaredcos_cap_v2"):
            raise ConfigError(f"beta_schedule {self.beta_schedule!r} is not supported")
        if not 0 < self.crop_ratio <= 1.0:
            raise ConfigError(f"crop_ratio must be in (0, 1], got {self.crop_ratio}")
        factor = 2 ** len(self.down_dims)
        if self.horizon % factor:
            raise ConfigError(
                f"horizon ({self.horizon}) must be a multiple of 2**len(down_dims) = {factor} "
                "(the U-Net halves the sequence at each stage)"
            )
        if self.n_action_steps > self.horizon - self.n_obs_steps + 1:
            raise ConfigError(
                f"n_action_steps ({self.n_action_steps}) must be <= horizon - n_obs_steps + 1 "
                f"({self.horizon - self.n_obs_steps + 1})"
            )
        steps = self.num_inference_steps
        if steps is not None and not 1 <= steps <= self.num_train_timesteps:
            raise ConfigError(
                "num_inference_steps must be in 1..num_train_timesteps "
                f"({self.num_train_timesteps})"
            )

    def validate_features(self) -> None:
        super().validate_features()
        if self.robot_state_feature is None:
            raise ConfigError(
                "diffusion needs observation.state among its inputs; the dataset or env has "
                f"{list(self.input_features)}"
            )
        shapes = {ft.shape for ft in self.image_features.values()}
        if len(shapes) > 1:
            raise ConfigError(f"every camera must have the same shape for diffusion: {shapes}")

    @property
    def observation_delta_indices(self) -> list[int]:
        return list(range(1 - self.n_obs_steps, 1))

    @property
    def action_delta_indices(self) -> list[int]:
        return list(range(1 - self.n_obs_steps, 1 - self.n_obs_steps + self.horizon))


_CONFIGS: dict[str, type[PolicyConfig]] = {"act": ACTConfig, "diffusion": DiffusionConfig}


def config_class(policy_type: str) -> type[PolicyConfig]:
    """The config class of a policy type.

    Raises:
        ConfigError: an unknown type; the message lists the known ones.
    """
    try:
        return _CONFIGS[policy_type]
    except KeyError:
        raise ConfigError(
            f"unknown policy type {policy_type!r}; learned policy types: {sorted(_CONFIGS)} "
            "(--policy.type=act or --policy.type=diffusion)"
        ) from None


def read_config(directory: str | Path) -> PolicyConfig:
    """Read ``config.json`` of a checkpoint directory.

    Raises:
        CheckpointError: no such file, not JSON, or no ``"type"``.
        ConfigError: an unknown policy type or an invalid field.
    """
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(
            f"{path} not found: a policy checkpoint directory holds config.json and "
            "model.safetensors (LeRobot's pretrained_model/ folder, or one written by "
            "`lerobot-gym train`)"
        )
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); re-save the checkpoint") from None
    if not isinstance(obj, dict) or "type" not in obj:
        raise CheckpointError(f'{path} has no "type" field naming the policy (act, diffusion)')
    return config_class(str(obj["type"])).from_json(obj)


def dataset_to_policy_features(
    features: Mapping[str, Mapping[str, Any]],
) -> dict[str, PolicyFeature]:
    """A dataset's ``meta/info.json`` features as policy features (LeRobot's rule).

    Example:
        >>> feats = dataset_to_policy_features({
        ...     "observation.state": {"dtype": "float32", "shape": [6]},
        ...     "observation.images.front": {"dtype": "video", "shape": [96, 128, 3],
        ...                                  "names": ["height", "width", "channels"]},
        ...     "action": {"dtype": "float32", "shape": [6]},
        ...     "timestamp": {"dtype": "float32", "shape": [1]}})
        >>> {k: (f.type, f.shape) for k, f in feats.items()}  # doctest: +NORMALIZE_WHITESPACE
        {'observation.state': ('STATE', (6,)), 'observation.images.front': ('VISUAL', (3, 96, 128)),
         'action': ('ACTION', (6,))}
    """
    out = {}
    for key, ft in features.items():
        shape = tuple(int(d) for d in ft["shape"])
        if ft["dtype"] in ("image", "video"):
            names = list(ft.get("names") or [])
            if len(shape) != 3:
                raise ConfigError(f"camera feature {key!r} has shape {shape}, not 3 dimensions")
            if len(names) == 3 and names[2] in ("channel", "channels"):
                shape = (shape[2], shape[0], shape[1])
            out[key] = PolicyFeature("VISUAL", shape)
        elif key == OBS_ENV_STATE:
            out[key] = PolicyFeature("ENV", shape)
        elif key.startswith("observation"):
            out[key] = PolicyFeature("STATE", shape)
        elif key.startswith(ACTION):
            out[key] = PolicyFeature("ACTION", shape)
    return out


def _encode(value: Any) -> Any:
    if isinstance(value, PolicyFeature):
        return value.to_json()
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _is_tuple_field(f: dataclasses.Field) -> bool:
    return "tuple" in str(f.type)
