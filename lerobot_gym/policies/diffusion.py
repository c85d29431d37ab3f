"""Diffusion Policy (Chi et al. 2023), LeRobot 0.4.4's network in torch.

A 1-D convolutional U-Net denoises a ``horizon``-step action trajectory, conditioned by FiLM
on the diffusion timestep and on the last ``n_obs_steps`` observations (state, environment
state, and per camera a ResNet with GroupNorm and a spatial-softmax keypoint head). Training
noises dataset trajectories with the DDPM forward process and regresses the noise; inference
runs the reverse process (DDPM, or DDIM with few steps) and executes ``n_action_steps``
actions from the current step on.

Design decisions:

* Module names and operation order follow LeRobot's ``modeling_diffusion.py`` (state dict keys
  ``diffusion.*``), so checkpoints move both ways and actions agree to float rounding.
* Randomness at inference is torch's global RNG unless the policy is given a seed
  (``DiffusionPolicy(..., seed=s)`` owns a ``torch.Generator``): LeRobot draws from the global
  RNG too, so seeding both sides with ``torch.manual_seed`` before an episode reproduces its
  sampling (the compat tests do that).
* Image resizing uses ``F.interpolate(bilinear, antialias=True)``, which is what
  torchvision's ``Resize`` does on tensors; crops follow torchvision's ``CenterCrop`` /
  ``RandomCrop`` arithmetic.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lerobot_gym.policies.config import (
    ACTION,
    OBS_ENV_STATE,
    OBS_IMAGES,
    OBS_STATE,
    DiffusionConfig,
)
from lerobot_gym.policies.files import DEFAULT_INFERENCE_THREADS
from lerobot_gym.policies.pretrained import TorchPolicy
from lerobot_gym.policies.resnet import resnet
from lerobot_gym.policies.schedulers import make_scheduler

__all__ = ["DiffusionModel", "DiffusionNetwork", "DiffusionPolicy"]


class DiffusionPolicy(TorchPolicy):
    """Diffusion Policy as a :class:`~lerobot_gym.policies.pretrained.TorchPolicy`.

    Args:
        config: the :class:`~lerobot_gym.policies.config.DiffusionConfig`.
        stats: dataset statistics for normalisation.
        device: torch device name.
        seed: seed of the policy's own sampling generator (None: torch's global RNG, as LeRobot).
        inference_threads: torch intra-op threads of a step (see
            :class:`~lerobot_gym.policies.pretrained.TorchPolicy`; None: torch's setting).
    """

    config_class = DiffusionConfig
    name = "diffusion"
    config: DiffusionConfig

    def __init__(
        self,
        config: DiffusionConfig,
        stats: Any = None,
        device: Any = "cpu",
        seed: int | None = None,
        *,
        inference_threads: int | None = DEFAULT_INFERENCE_THREADS,
    ) -> None:
        self.generator: torch.Generator | None = None
        super().__init__(config, stats=stats, device=device, inference_threads=inference_threads)
        if seed is not None:
            self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def _build_network(self) -> nn.Module:
        return DiffusionNetwork(self.config)

    def reset(self, obs: dict[str, Any] | None = None, info: dict[str, Any] | None = None) -> None:
        n_obs = self.config.n_obs_steps
        self._queues: dict[str, deque[Tensor]] = {
            OBS_STATE: deque(maxlen=n_obs),
            ACTION: deque(maxlen=self.config.n_action_steps),
        }
        if self.config.image_features:
            self._queues[OBS_IMAGES] = deque(maxlen=n_obs)
        if self.config.env_state_feature is not None:
            self._queues[OBS_ENV_STATE] = deque(maxlen=n_obs)

    def _select_normalized(self, batch: dict[str, Tensor], noise: Tensor | None = None) -> Tensor:
        self._push(self._with_images(batch))
        if not self._queues[ACTION]:
            actions = self.network.diffusion.generate_actions(  # type: ignore[union-attr, operator]
                self._history(), noise=noise, generator=self.generator
            )
            self._queues[ACTION].extend(actions.transpose(0, 1))
        return self._queues[ACTION].popleft()

    def select_action_rows(  # type: ignore[override]
        self, members: Sequence[DiffusionPolicy], obs: dict[str, Any], rows: Sequence[int]
    ) -> np.ndarray:
        """:meth:`select_action` for several envs, one reverse process for those that need it.

        Every member records its observation; the members whose action queue ran out share
        one reverse process. Their initial noise is drawn row by row in env order from this
        policy's generator (or torch's global RNG): the draws one policy per env would make.
        """
        with self.inference():
            batch = self._with_images(self.prepare_observation(obs, rows))
            for k, member in enumerate(members):
                member._push({key: value[k : k + 1] for key, value in batch.items()})
            need = [m for m in members if not m._queues[ACTION]]
            if need:
                model = cast(DiffusionModel, self.network.diffusion)
                histories = [m._history() for m in need]
                stacked = {key: torch.cat([h[key] for h in histories]) for key in histories[0]}
                noise = torch.cat([model.draw_noise(1, self.generator) for _ in need])
                actions = model.generate_actions(stacked, noise=noise, generator=self.generator)
                for row, member in enumerate(need):
                    member._queues[ACTION].extend(actions[row : row + 1].transpose(0, 1))
            action = torch.cat([m._queues[ACTION].popleft() for m in members])
            return self.normalizer.unnormalize_action(action).to("cpu", torch.float32).numpy()

    def _with_images(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        if self.config.image_features:
            batch = dict(batch)
            batch[OBS_IMAGES] = torch.stack([batch[k] for k in self.config.image_features], dim=-4)
        return batch

    def _push(self, batch: dict[str, Tensor]) -> None:
        """Add this step's observation to the history (the first one fills it)."""
        for key, queue in self._queues.items():
            if key == ACTION or key not in batch:
                continue
            while len(queue) < (queue.maxlen or 0) - 1:  # first step: repeat it to fill history
                queue.append(batch[key])
            queue.append(batch[key])

    def _history(self) -> dict[str, Tensor]:
        """The last ``n_obs_steps`` observations, ``(B, n_obs_steps, ...)`` per key."""
        return {k: torch.stack(list(q), dim=1) for k, q in self._queues.items() if k != ACTION}

    def _loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        loss = self.network(batch)
        return loss, {}


class DiffusionNetwork(nn.Module):
    """The module whose state dict is LeRobot's ``DiffusionPolicy``'s (``diffusion.*``)."""

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        self.config = config
        self.diffusion = DiffusionModel(config)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """Training loss (LeRobot's ``DiffusionPolicy.forward``)."""
        if self.config.image_features:
            batch = dict(batch)
            for key in self.config.image_features:
                if self.config.n_obs_steps == 1 and batch[key].ndim == 4:
                    batch[key] = batch[key].unsqueeze(1)
            batch[OBS_IMAGES] = torch.stack([batch[k] for k in self.config.image_features], dim=-4)
        return self.diffusion.compute_loss(batch)


class DiffusionModel(nn.Module):
    """Observation encoders, the conditional U-Net and the noise scheduler."""

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        self.config = config
        assert config.robot_state_feature is not None  # validate_features checked it
        global_cond_dim = config.robot_state_feature.shape[0]
        if config.image_features:
            n_cams = len(config.image_features)
            if config.use_separate_rgb_encoder_per_camera:
                encoders = [DiffusionRgbEncoder(config) for _ in range(n_cams)]
                self.rgb_encoder: nn.Module = nn.ModuleList(encoders)
                global_cond_dim += encoders[0].feature_dim * n_cams
            else:
                encoder = DiffusionRgbEncoder(config)
                self.rgb_encoder = encoder
                global_cond_dim += encoder.feature_dim * n_cams
        if config.env_state_feature is not None:
            global_cond_dim += config.env_state_feature.shape[0]
        self.unet = DiffusionConditionalUnet1d(config, global_cond_dim * config.n_obs_steps)
        self.noise_scheduler = make_scheduler(config)
        self.num_inference_steps = config.num_inference_steps or config.num_train_timesteps

    def conditional_sample(
        self,
        batch_size: int,
        global_cond: Tensor,
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:
        """Run the reverse process from ``noise`` (drawn when None)."""
        sample = noise if noise is not None else self.draw_noise(batch_size, generator)
        self.noise_scheduler.set_timesteps(self.num_inference_steps)
        for t in self.noise_scheduler.timesteps:
            model_output = self.unet(
                sample,
                torch.full(sample.shape[:1], t, dtype=torch.long, device=sample.device),
                global_cond=global_cond,
            )
            sample = self.noise_scheduler.step(model_output, t, sample, generator=generator)
        return sample

    def draw_noise(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """The reverse process's initial noise ``(B, horizon, A)`` (LeRobot's draw)."""
        param = next(iter(self.parameters()))
        return torch.randn(
            size=(batch_size, self.config.horizon, self.config.action_feature.shape[0]),
            dtype=param.dtype,
            device=param.device,
            generator=generator,
        )

    def _prepare_global_conditioning(self, batch: dict[str, Tensor]) -> Tensor:
        batch_size, n_obs_steps = batch[OBS_STATE].shape[:2]
        feats = [batch[OBS_STATE]]
        if self.config.image_features:
            images = batch[OBS_IMAGES]  # (B, S, N, C, H, W)
            n_cams = images.shape[2]
            if self.config.use_separate_rgb_encoder_per_camera:
                per_camera = images.permute(2, 0, 1, *range(3, images.dim())).flatten(1, 2)
                encoded = torch.cat(
                    [enc(x) for enc, x in zip(cast(Any, self.rgb_encoder), per_camera, strict=True)]
                )
                # (N*B*S, D) -> (B, S, N*D)
                encoded = encoded.reshape(n_cams, batch_size, n_obs_steps, -1)
                img_features = encoded.permute(1, 2, 0, 3).reshape(batch_size, n_obs_steps, -1)
            else:
                encoded = self.rgb_encoder(images.flatten(0, 2))
                img_features = encoded.reshape(batch_size, n_obs_steps, -1)
            feats.append(img_features)
        if self.config.env_state_feature is not None:
            feats.append(batch[OBS_ENV_STATE])
        return torch.cat(feats, dim=-1).flatten(start_dim=1)

    def generate_actions(
        self,
        batch: dict[str, Tensor],
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``n_action_steps`` normalised actions from the current step, ``(B, n, A)``."""
        batch_size, n_obs_steps = batch[OBS_STATE].shape[:2]
        global_cond = self._prepare_global_conditioning(batch)
        actions = self.conditional_sample(batch_size, global_cond, generator=generator, noise=noise)
        start = n_obs_steps - 1
        return actions[:, start : start + self.config.n_action_steps]

    def compute_loss(self, batch: dict[str, Tensor]) -> Tensor:
        """MSE between the U-Net's prediction and the noise (or the clean trajectory)."""
        global_cond = self._prepare_global_conditioning(batch)
        trajectory = batch[ACTION]
        eps = torch.randn(trajectory.shape, device=trajectory.device)
        timesteps = torch.randint(
            low=0,
            high=self.noise_scheduler.num_train_timesteps,
            size=(trajectory.shape[0],),
            device=trajectory.device,
        ).long()
        noisy = self.noise_scheduler.add_noise(trajectory, eps, timesteps)
        pred = self.unet(noisy, timesteps, global_cond=global_cond)
        target = eps if self.config.prediction_type == "epsilon" else batch[ACTION]
        loss = F.mse_loss(pred, target, reduction="none")
        if self.config.do_mask_loss_for_padding:
            loss = loss * (~batch["action_is_pad"]).unsqueeze(-1)
        return loss.mean()


class SpatialSoftmax(nn.Module):
    """Keypoints as the softmax-weighted mean image coordinate of each channel (robomimic)."""

    pos_grid: Tensor

    def __init__(self, input_shape: tuple[int, int, int], num_kp: int | None = None) -> None:
        super().__init__()
        self._in_c, self._in_h, self._in_w = input_shape
        if num_kp is not None:
            self.nets: nn.Module | None = nn.Conv2d(self._in_c, num_kp, kernel_size=1)
            self._out_c = num_kp
        else:
            self.nets = None
            self._out_c = self._in_c
        # numpy's linspace, as LeRobot (torch's differs in the last bit for some sizes).
        pos_x, pos_y = np.meshgrid(
            np.linspace(-1.0, 1.0, self._in_w), np.linspace(-1.0, 1.0, self._in_h)
        )
        pos_x_t = torch.from_numpy(pos_x.reshape(self._in_h * self._in_w, 1)).float()
        pos_y_t = torch.from_numpy(pos_y.reshape(self._in_h * self._in_w, 1)).float()
        self.register_buffer("pos_grid", torch.cat([pos_x_t, pos_y_t], dim=1))

    def forward(self, features: Tensor) -> Tensor:
        if self.nets is not None:
            features = self.nets(features)
        features = features.reshape(-1, self._in_h * self._in_w)
        attention = F.softmax(features, dim=-1)
        expected_xy = attention @ self.pos_grid
        return expected_xy.view(-1, self._out_c, 2)


class DiffusionRgbEncoder(nn.Module):
    """Optional resize and crop, ResNet trunk, spatial softmax, linear + ReLU."""

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        self.resize_shape = config.resize_shape
        self.crop_shape = config.crop_shape
        self.crop_is_random = config.crop_is_random
        model = resnet(config.vision_backbone)
        trunk = model.trunk()
        if config.use_group_norm:
            trunk = [_group_norm_everywhere(m) for m in trunk]
        self.backbone = nn.Sequential(*trunk)
        channels, height, width = next(iter(config.image_features.values())).shape
        size = config.crop_shape or config.resize_shape or (height, width)
        with torch.inference_mode():
            feature_shape = self.backbone(torch.zeros(1, channels, *size)).shape[1:]
        self.pool = SpatialSoftmax(
            tuple(feature_shape), num_kp=config.spatial_softmax_num_keypoints
        )
        self.feature_dim = config.spatial_softmax_num_keypoints * 2
        self.out = nn.Linear(config.spatial_softmax_num_keypoints * 2, self.feature_dim)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        if self.resize_shape is not None:
            x = F.interpolate(
                x,
                size=tuple(self.resize_shape),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
        if self.crop_shape is not None:
            x = self._crop(x, random=self.training and self.crop_is_random)
        x = torch.flatten(self.pool(self.backbone(x)), start_dim=1)
        return self.relu(self.out(x))

    def _crop(self, x: Tensor, *, random: bool) -> Tensor:
        assert self.crop_shape is not None
        th, tw = self.crop_shape
        h, w = x.shape[-2:]
        if random:
            top = int(torch.randint(0, h - th + 1, size=(1,)).item())
            left = int(torch.randint(0, w - tw + 1, size=(1,)).item())
        else:
            top, left = round((h - th) / 2.0), round((w - tw) / 2.0)
        return x[..., top : top + th, left : left + tw]


def _group_norm_everywhere(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d by GroupNorm(C // 16, C), keeping module names."""
    if isinstance(module, nn.BatchNorm2d):
        return nn.GroupNorm(num_groups=module.num_features // 16, num_channels=module.num_features)
    for name, child in list(module.named_children()):
        setattr(module, name, _group_norm_everywhere(child))
    return module


class DiffusionSinusoidalPosEmb(nn.Module):
    """Sinusoidal embedding of the diffusion timestep."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        half_dim = self.dim // 2
        emb = math.log(10000) / (half_dim - 1)
        emb_t = torch.exp(torch.arange(half_dim, device=x.device) * -emb)
        emb_t = x.unsqueeze(-1) * emb_t.unsqueeze(0)
        return torch.cat((emb_t.sin(), emb_t.cos()), dim=-1)


class DiffusionConv1dBlock(nn.Module):
    """Conv1d -> GroupNorm -> Mish."""

    def __init__(
        self, inp_channels: int, out_channels: int, kernel_size: int, n_groups: int = 8
    ) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv1d(inp_channels, out_channels, kernel_size, padding=kernel_size // 2),
            nn.GroupNorm(n_groups, out_channels),
            nn.Mish(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)


class DiffusionConditionalResidualBlock1d(nn.Module):
    """Two conv blocks with FiLM (bias, optionally scale) from the condition, and a residual."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        cond_dim: int,
        kernel_size: int = 3,
        n_groups: int = 8,
        use_film_scale_modulation: bool = False,
    ) -> None:
        super().__init__()
        self.use_film_scale_modulation = use_film_scale_modulation
        self.out_channels = out_channels
        self.conv1 = DiffusionConv1dBlock(in_channels, out_channels, kernel_size, n_groups=n_groups)
        cond_channels = out_channels * 2 if use_film_scale_modulation else out_channels
        self.cond_encoder = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, cond_channels))
        self.conv2 = DiffusionConv1dBlock(
            out_channels, out_channels, kernel_size, n_groups=n_groups
        )
        self.residual_conv: nn.Module = (
            nn.Conv1d(in_channels, out_channels, 1)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        out = self.conv1(x)
        cond_embed = self.cond_encoder(cond).unsqueeze(-1)
        if self.use_film_scale_modulation:
            scale = cond_embed[:, : self.out_channels]
            bias = cond_embed[:, self.out_channels :]
            out = scale * out + bias
        else:
            out = out + cond_embed
        out = self.conv2(out)
        return out + self.residual_conv(x)


class DiffusionConditionalUnet1d(nn.Module):
    """The 1-D U-Net: down stages, two middle blocks, up stages with skip connections."""

    def __init__(self, config: DiffusionConfig, global_cond_dim: int) -> None:
        super().__init__()
        self.config = config
        embed = config.diffusion_step_embed_dim
        self.diffusion_step_encoder = nn.Sequential(
            DiffusionSinusoidalPosEmb(embed),
            nn.Linear(embed, embed * 4),
            nn.Mish(),
            nn.Linear(embed * 4, embed),
        )
        cond_dim = embed + global_cond_dim
        dims = list(config.down_dims)
        in_out = [(config.action_feature.shape[0], dims[0]), *itertools.pairwise(dims)]
        kwargs: dict[str, Any] = {
            "cond_dim": cond_dim,
            "kernel_size": config.kernel_size,
            "n_groups": config.n_groups,
            "use_film_scale_modulation": config.use_film_scale_modulation,
        }
        block = DiffusionConditionalResidualBlock1d
        self.down_modules = nn.ModuleList([])
        for ind, (dim_in, dim_out) in enumerate(in_out):
            is_last = ind >= len(in_out) - 1
            self.down_modules.append(
                nn.ModuleList(
                    [
                        block(dim_in, dim_out, **kwargs),
                        block(dim_out, dim_out, **kwargs),
                        nn.Conv1d(dim_out, dim_out, 3, 2, 1) if not is_last else nn.Identity(),
                    ]
                )
            )
        self.mid_modules = nn.ModuleList([block(dims[-1], dims[-1], **kwargs) for _ in range(2)])
        self.up_modules = nn.ModuleList([])
        for ind, (dim_out, dim_in) in enumerate(reversed(in_out[1:])):
            is_last = ind >= len(in_out) - 1
            self.up_modules.append(
                nn.ModuleList(
                    [
                        block(dim_in * 2, dim_out, **kwargs),
                        block(dim_out, dim_out, **kwargs),
                        nn.ConvTranspose1d(dim_out, dim_out, 4, 2, 1)
                        if not is_last
                        else nn.Identity(),
                    ]
                )
            )
        self.final_conv = nn.Sequential(
            DiffusionConv1dBlock(dims[0], dims[0], kernel_size=config.kernel_size),
            nn.Conv1d(dims[0], config.action_feature.shape[0], 1),
        )

    def forward(self, x: Tensor, timestep: Tensor, global_cond: Tensor | None = None) -> Tensor:
        """``(B, T, A)`` prediction for a ``(B, T, A)`` noisy trajectory."""
        x = x.transpose(1, 2)
        timesteps_embed = self.diffusion_step_encoder(timestep)
        if global_cond is not None:
            global_feature = torch.cat([timesteps_embed, global_cond], dim=-1)
        else:
            global_feature = timesteps_embed
        skips: list[Tensor] = []
        for stage in self.down_modules:
            resnet_a, resnet_b, downsample = cast(Any, stage)
            x = resnet_b(resnet_a(x, global_feature), global_feature)
            skips.append(x)
            x = downsample(x)
        for mid in self.mid_modules:
            x = mid(x, global_feature)
        for stage in self.up_modules:
            resnet_a, resnet_b, upsample = cast(Any, stage)
            x = torch.cat((x, skips.pop()), dim=1)
            x = resnet_b(resnet_a(x, global_feature), global_feature)
            x = upsample(x)
        return self.final_conv(x).transpose(1, 2)
