"""ACT: Action Chunking with Transformers (Zhao et al. 2023), LeRobot 0.4.4's network in torch.

A CVAE whose decoder is a transformer encoder/decoder: the encoder reads a latent token, the
robot state, the environment state and every camera's ResNet feature map (one token per cell,
2-D sinusoidal positions); ``chunk_size`` learned queries decode a chunk of actions. In
training a BERT-style VAE encoder reads ``[cls, state, actions]`` and gives the latent's
distribution (loss: L1 on the chunk + ``kl_weight`` x KL); at inference the latent is zero.

Design decisions:

* Module names, parameter shapes and the order of every operation follow LeRobot's
  ``modeling_act.py`` so a LeRobot checkpoint loads here (and ours there) and gives the same
  actions to float rounding; the equivalence is tested in ``tests/compat``.
* The image-free variant (state observations) is the same network without a backbone: the
  environment state (object pose) takes the cameras' place, as LeRobot allows.
* Inference: with ``temporal_ensemble_coeff`` set, a chunk is predicted every step and the
  overlapping predictions for the current step are averaged with weights ``exp(-m i)``
  (:class:`TemporalEnsembler`, LeRobot's online form); otherwise chunks are queued and the
  network runs every ``n_action_steps`` steps.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lerobot_gym.policies.config import ACTION, OBS_ENV_STATE, OBS_IMAGES, OBS_STATE, ACTConfig
from lerobot_gym.policies.pretrained import TorchPolicy
from lerobot_gym.policies.resnet import FrozenBatchNorm2d, LayerFourBackbone, resnet

__all__ = ["ACT", "ACTNetwork", "ACTPolicy", "TemporalEnsembler"]


class ACTPolicy(TorchPolicy):
    """ACT as a :class:`~lerobot_gym.policies.pretrained.TorchPolicy` (LeRobot's ``ACTPolicy``).

    Example:
        >>> from lerobot_gym.policies.config import PolicyFeature
        >>> cfg = ACTConfig(input_features={
        ...     "observation.state": PolicyFeature("STATE", (6,)),
        ...     "observation.environment_state": PolicyFeature("ENV", (7,))},
        ...     output_features={"action": PolicyFeature("ACTION", (6,))},
        ...     chunk_size=4, n_action_steps=4, dim_model=16, n_heads=2, dim_feedforward=32,
        ...     n_encoder_layers=1, n_vae_encoder_layers=1)
        >>> policy = ACTPolicy(cfg)
        >>> policy.select_action({"agent_pos": np.zeros(6), "environment_state": np.zeros(7)}).shape
        (6,)
    """

    config_class = ACTConfig
    name = "act"
    config: ACTConfig

    def _build_network(self) -> nn.Module:
        return ACTNetwork(self.config)

    def reset(self, obs: dict[str, Any] | None = None, info: dict[str, Any] | None = None) -> None:
        if self.config.temporal_ensemble_coeff is not None:
            self.ensembler = TemporalEnsembler(
                self.config.temporal_ensemble_coeff, self.config.chunk_size
            )
        self._queue: deque[np.ndarray] = deque(maxlen=self.config.n_action_steps)

    def select_action(self, obs: dict[str, Any]) -> np.ndarray:  # type: ignore[override]
        """The next action: a queued one, or the first of a freshly predicted chunk.

        With chunking the queue holds actions already unnormalised and on the CPU, so the steps
        between two chunks neither read the observation nor touch torch (LeRobot preprocesses
        every observation and unnormalises every action; elementwise, so the actions are the
        same). Temporal ensembling predicts a chunk every step, as LeRobot does.
        """
        if self.config.temporal_ensemble_coeff is not None:
            return super().select_action(obs)
        if not self._queue:
            with self.inference():
                chunk = self.predict_action_chunk(self.prepare_observation(obs))
                chunk = self.normalizer.unnormalize_action(chunk[:, : self.config.n_action_steps])
                self._queue.extend(chunk[0].to("cpu", torch.float32).numpy())
        return self._queue.popleft().copy()

    def select_action_rows(  # type: ignore[override]
        self, members: Sequence[ACTPolicy], obs: dict[str, Any], rows: Sequence[int]
    ) -> np.ndarray:
        """:meth:`select_action` for several envs, the network run once on those that need it.

        With chunking, those are the members whose queue ran out; with temporal ensembling,
        all of them (each member's ensembler takes its own row).
        """
        if self.config.temporal_ensemble_coeff is not None:
            with self.inference():
                chunks = self.predict_action_chunk(self.prepare_observation(obs, rows))
                actions = torch.cat(
                    [m.ensembler.update(chunks[k : k + 1]) for k, m in enumerate(members)]
                )
                return self.normalizer.unnormalize_action(actions).to("cpu", torch.float32).numpy()
        need = [k for k, m in enumerate(members) if not m._queue]
        if need:
            with self.inference():
                batch = self.prepare_observation(obs, [rows[k] for k in need])
                chunk = self.predict_action_chunk(batch)[:, : self.config.n_action_steps]
                chunk_np = (
                    self.normalizer.unnormalize_action(chunk).to("cpu", torch.float32).numpy()
                )
            for row, k in enumerate(need):
                members[k]._queue.extend(chunk_np[row])
        return np.stack([m._queue.popleft() for m in members])

    @torch.inference_mode()
    def predict_action_chunk(self, batch: dict[str, Tensor]) -> Tensor:
        """A normalised chunk ``(B, chunk_size, A)`` from a normalised batch."""
        if self.network.training:
            self.network.eval()
        return self.network.predict_action_chunk(batch)  # type: ignore[operator]

    def _select_normalized(self, batch: dict[str, Tensor]) -> Tensor:
        # Reached with temporal ensembling only (select_action serves chunking itself).
        return self.ensembler.update(self.predict_action_chunk(batch))

    def _loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        return self.network(batch)

    def optimizer_param_groups(self) -> list[dict[str, Any]]:
        named = list(self.network.named_parameters())
        return [
            {
                "params": [
                    p for n, p in named if not n.startswith("model.backbone") and p.requires_grad
                ]
            },
            {
                "params": [
                    p for n, p in named if n.startswith("model.backbone") and p.requires_grad
                ],
                "lr": self.config.optimizer_lr_backbone,
            },
        ]


class ACTNetwork(nn.Module):
    """The module whose state dict is LeRobot's ``ACTPolicy``'s (``model.*``)."""

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        self.config = config
        self.model = ACT(config)

    def _with_images(self, batch: dict[str, Any]) -> dict[str, Any]:
        if self.config.image_features:
            batch = dict(batch)
            batch[OBS_IMAGES] = [batch[key] for key in self.config.image_features]
        return batch

    def predict_action_chunk(self, batch: dict[str, Tensor]) -> Tensor:
        """Normalised actions ``(B, chunk_size, A)``."""
        return self.model(self._with_images(batch))[0]

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """LeRobot's ``ACTPolicy.forward``: L1 on unpadded actions (+ KL when ``use_vae``)."""
        batch = self._with_images(batch)
        actions_hat, (mu_hat, log_sigma_x2_hat) = self.model(batch)
        l1_loss = (
            F.l1_loss(batch[ACTION], actions_hat, reduction="none")
            * ~batch["action_is_pad"].unsqueeze(-1)
        ).mean()
        info = {"l1_loss": l1_loss.item()}
        if self.config.use_vae:
            assert mu_hat is not None and log_sigma_x2_hat is not None
            mean_kld = (
                (-0.5 * (1 + log_sigma_x2_hat - mu_hat.pow(2) - log_sigma_x2_hat.exp()))
                .sum(-1)
                .mean()
            )
            info["kld_loss"] = mean_kld.item()
            return l1_loss + mean_kld * self.config.kl_weight, info
        return l1_loss, info


class TemporalEnsembler:
    """Online exponentially weighted average of overlapping chunks (ACT's Algorithm 2).

    Weight ``w_i = exp(-coeff * i)`` with ``w_0`` the oldest prediction, as in LeRobot's
    ``ACTTemporalEnsembler``.
    """

    def __init__(self, temporal_ensemble_coeff: float, chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.ensemble_weights = torch.exp(-temporal_ensemble_coeff * torch.arange(chunk_size))
        self.ensemble_weights_cumsum = torch.cumsum(self.ensemble_weights, dim=0)
        self.ensembled_actions: Tensor | None = None
        self.ensembled_actions_count: Tensor | None = None

    def update(self, actions: Tensor) -> Tensor:
        """Add a ``(B, chunk, A)`` prediction; return the ensembled action for this step."""
        self.ensemble_weights = self.ensemble_weights.to(device=actions.device)
        self.ensemble_weights_cumsum = self.ensemble_weights_cumsum.to(device=actions.device)
        if self.ensembled_actions is None or self.ensembled_actions_count is None:
            self.ensembled_actions = actions.clone()
            self.ensembled_actions_count = torch.ones(
                (self.chunk_size, 1), dtype=torch.long, device=actions.device
            )
        else:
            count = self.ensembled_actions_count
            self.ensembled_actions *= self.ensemble_weights_cumsum[count - 1]
            self.ensembled_actions += actions[:, :-1] * self.ensemble_weights[count]
            self.ensembled_actions /= self.ensemble_weights_cumsum[count]
            count = torch.clamp(count + 1, max=self.chunk_size)
            self.ensembled_actions = torch.cat([self.ensembled_actions, actions[:, -1:]], dim=1)
            self.ensembled_actions_count = torch.cat([count, torch.ones_like(count[-1:])])
        action = self.ensembled_actions[:, 0]
        self.ensembled_actions = self.ensembled_actions[:, 1:]
        self.ensembled_actions_count = self.ensembled_actions_count[1:]
        return action


class ACT(nn.Module):
    """LeRobot's ``ACT`` module (see the module docstring)."""

    vae_encoder_pos_enc: Tensor

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.dim_model
        state_ft, env_ft = config.robot_state_feature, config.env_state_feature
        action_dim = config.action_feature.shape[0]
        if config.use_vae:
            self.vae_encoder = ACTEncoder(config, is_vae_encoder=True)
            self.vae_encoder_cls_embed = nn.Embedding(1, dim)
            if state_ft is not None:
                self.vae_encoder_robot_state_input_proj = nn.Linear(state_ft.shape[0], dim)
            self.vae_encoder_action_input_proj = nn.Linear(action_dim, dim)
            self.vae_encoder_latent_output_proj = nn.Linear(dim, config.latent_dim * 2)
            n_tokens = 1 + config.chunk_size + (1 if state_ft is not None else 0)
            self.register_buffer(
                "vae_encoder_pos_enc", create_sinusoidal_pos_embedding(n_tokens, dim).unsqueeze(0)
            )
        backbone = resnet(config.vision_backbone, norm_layer=FrozenBatchNorm2d)
        if config.image_features:
            self.backbone = LayerFourBackbone(backbone)
        self.encoder = ACTEncoder(config)
        self.decoder = ACTDecoder(config)
        if state_ft is not None:
            self.encoder_robot_state_input_proj = nn.Linear(state_ft.shape[0], dim)
        if env_ft is not None:
            self.encoder_env_state_input_proj = nn.Linear(env_ft.shape[0], dim)
        self.encoder_latent_input_proj = nn.Linear(config.latent_dim, dim)
        if config.image_features:
            self.encoder_img_feat_input_proj = nn.Conv2d(
                backbone.fc.in_features, dim, kernel_size=1
            )
        n_1d_tokens = 1 + (state_ft is not None) + (env_ft is not None)
        self.encoder_1d_feature_pos_embed = nn.Embedding(n_1d_tokens, dim)
        if config.image_features:
            self.encoder_cam_feat_pos_embed = SinusoidalPositionEmbedding2d(dim // 2)
        self.decoder_pos_embed = nn.Embedding(config.chunk_size, dim)
        self.action_head = nn.Linear(dim, action_dim)
        for p in chain(self.encoder.parameters(), self.decoder.parameters()):
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, batch: dict[str, Any]) -> tuple[Tensor, tuple[Tensor | None, Tensor | None]]:
        """Actions ``(B, chunk, A)`` and the latent's ``(mu, log sigma^2)`` (None at inference)."""
        config = self.config
        batch_size = (
            batch[OBS_IMAGES][0].shape[0] if OBS_IMAGES in batch else batch[OBS_ENV_STATE].shape[0]
        )
        has_state = config.robot_state_feature is not None
        mu = log_sigma_x2 = None
        if config.use_vae and ACTION in batch and self.training:
            cls_embed = self.vae_encoder_cls_embed.weight.unsqueeze(0).expand(batch_size, 1, -1)
            action_embed = self.vae_encoder_action_input_proj(batch[ACTION])
            parts = [cls_embed]
            if has_state:
                parts.append(self.vae_encoder_robot_state_input_proj(batch[OBS_STATE]).unsqueeze(1))
            vae_input = torch.cat([*parts, action_embed], dim=1)
            pos_embed = self.vae_encoder_pos_enc.clone().detach()
            cls_joint_is_pad = torch.full(
                (batch_size, 2 if has_state else 1), False, device=action_embed.device
            )
            key_padding_mask = torch.cat([cls_joint_is_pad, batch["action_is_pad"]], dim=1)
            cls_token_out = self.vae_encoder(
                vae_input.permute(1, 0, 2),
                pos_embed=pos_embed.permute(1, 0, 2),
                key_padding_mask=key_padding_mask,
            )[0]
            latent_pdf_params = self.vae_encoder_latent_output_proj(cls_token_out)
            mu = latent_pdf_params[:, : config.latent_dim]
            log_sigma_x2 = latent_pdf_params[:, config.latent_dim :]
            latent_sample = mu + log_sigma_x2.div(2).exp() * torch.randn_like(mu)
        else:
            device = self.encoder_latent_input_proj.weight.device
            latent_sample = torch.zeros([batch_size, config.latent_dim], dtype=torch.float32).to(
                device
            )

        tokens = [self.encoder_latent_input_proj(latent_sample)]
        pos = list(self.encoder_1d_feature_pos_embed.weight.unsqueeze(1))
        if has_state:
            tokens.append(self.encoder_robot_state_input_proj(batch[OBS_STATE]))
        if config.env_state_feature is not None:
            tokens.append(self.encoder_env_state_input_proj(batch[OBS_ENV_STATE]))
        if config.image_features:
            for img in batch[OBS_IMAGES]:
                cam_features = self.backbone(img)["feature_map"]
                cam_pos_embed = self.encoder_cam_feat_pos_embed(cam_features).to(
                    dtype=cam_features.dtype
                )
                cam_features = self.encoder_img_feat_input_proj(cam_features)
                # (B, C, H, W) -> (H*W, B, C): one token per feature-map cell.
                cam_features = cam_features.flatten(2).permute(2, 0, 1)
                cam_pos_embed = cam_pos_embed.flatten(2).permute(2, 0, 1)
                tokens.extend(list(cam_features))
                pos.extend(list(cam_pos_embed))
        encoder_in_tokens = torch.stack(tokens, dim=0)
        encoder_in_pos_embed = torch.stack(pos, dim=0)
        encoder_out = self.encoder(encoder_in_tokens, pos_embed=encoder_in_pos_embed)
        decoder_in = torch.zeros(
            (config.chunk_size, batch_size, config.dim_model),
            dtype=encoder_in_pos_embed.dtype,
            device=encoder_in_pos_embed.device,
        )
        decoder_out = self.decoder(
            decoder_in,
            encoder_out,
            encoder_pos_embed=encoder_in_pos_embed,
            decoder_pos_embed=self.decoder_pos_embed.weight.unsqueeze(1),
        )
        return self.action_head(decoder_out.transpose(0, 1)), (mu, log_sigma_x2)


class ACTEncoder(nn.Module):
    """A stack of encoder layers, LayerNorm after it only with ``pre_norm``."""

    def __init__(self, config: ACTConfig, is_vae_encoder: bool = False) -> None:
        super().__init__()
        self.is_vae_encoder = is_vae_encoder
        n = config.n_vae_encoder_layers if is_vae_encoder else config.n_encoder_layers
        self.layers = nn.ModuleList([ACTEncoderLayer(config) for _ in range(n)])
        self.norm = nn.LayerNorm(config.dim_model) if config.pre_norm else nn.Identity()

    def forward(
        self, x: Tensor, pos_embed: Tensor | None = None, key_padding_mask: Tensor | None = None
    ) -> Tensor:
        for layer in self.layers:
            x = layer(x, pos_embed=pos_embed, key_padding_mask=key_padding_mask)
        return self.norm(x)


class ACTEncoderLayer(nn.Module):
    """Self-attention and feed-forward, post-norm unless ``pre_norm``."""

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        dim = config.dim_model
        self.self_attn = nn.MultiheadAttention(dim, config.n_heads, dropout=config.dropout)
        self.linear1 = nn.Linear(dim, config.dim_feedforward)
        self.dropout = nn.Dropout(config.dropout)
        self.linear2 = nn.Linear(config.dim_feedforward, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.dropout)
        self.activation = get_activation_fn(config.feedforward_activation)
        self.pre_norm = config.pre_norm

    def forward(
        self, x: Tensor, pos_embed: Tensor | None = None, key_padding_mask: Tensor | None = None
    ) -> Tensor:
        skip = x
        if self.pre_norm:
            x = self.norm1(x)
        q = k = x if pos_embed is None else x + pos_embed
        x = self.self_attn(q, k, value=x, key_padding_mask=key_padding_mask)[0]
        x = skip + self.dropout1(x)
        if self.pre_norm:
            skip = x
            x = self.norm2(x)
        else:
            x = self.norm1(x)
            skip = x
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        x = skip + self.dropout2(x)
        if not self.pre_norm:
            x = self.norm2(x)
        return x


class ACTDecoder(nn.Module):
    """A stack of decoder layers followed by LayerNorm."""

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [ACTDecoderLayer(config) for _ in range(config.n_decoder_layers)]
        )
        self.norm = nn.LayerNorm(config.dim_model)

    def forward(
        self,
        x: Tensor,
        encoder_out: Tensor,
        decoder_pos_embed: Tensor | None = None,
        encoder_pos_embed: Tensor | None = None,
    ) -> Tensor:
        for layer in self.layers:
            x = layer(
                x,
                encoder_out,
                decoder_pos_embed=decoder_pos_embed,
                encoder_pos_embed=encoder_pos_embed,
            )
        return self.norm(x)


class ACTDecoderLayer(nn.Module):
    """Self-attention over the queries, cross-attention to the encoder, feed-forward."""

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        dim = config.dim_model
        self.self_attn = nn.MultiheadAttention(dim, config.n_heads, dropout=config.dropout)
        self.multihead_attn = nn.MultiheadAttention(dim, config.n_heads, dropout=config.dropout)
        self.linear1 = nn.Linear(dim, config.dim_feedforward)
        self.dropout = nn.Dropout(config.dropout)
        self.linear2 = nn.Linear(config.dim_feedforward, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.dropout)
        self.dropout3 = nn.Dropout(config.dropout)
        self.activation = get_activation_fn(config.feedforward_activation)
        self.pre_norm = config.pre_norm

    @staticmethod
    def _add(tensor: Tensor, pos_embed: Tensor | None) -> Tensor:
        return tensor if pos_embed is None else tensor + pos_embed

    def forward(
        self,
        x: Tensor,
        encoder_out: Tensor,
        decoder_pos_embed: Tensor | None = None,
        encoder_pos_embed: Tensor | None = None,
    ) -> Tensor:
        skip = x
        if self.pre_norm:
            x = self.norm1(x)
        q = k = self._add(x, decoder_pos_embed)
        x = self.self_attn(q, k, value=x)[0]
        x = skip + self.dropout1(x)
        if self.pre_norm:
            skip = x
            x = self.norm2(x)
        else:
            x = self.norm1(x)
            skip = x
        x = self.multihead_attn(
            query=self._add(x, decoder_pos_embed),
            key=self._add(encoder_out, encoder_pos_embed),
            value=encoder_out,
        )[0]
        x = skip + self.dropout2(x)
        if self.pre_norm:
            skip = x
            x = self.norm3(x)
        else:
            x = self.norm2(x)
            skip = x
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        x = skip + self.dropout3(x)
        if not self.pre_norm:
            x = self.norm3(x)
        return x


def create_sinusoidal_pos_embedding(num_positions: int, dimension: int) -> Tensor:
    """1-D sinusoidal positions ``(num_positions, dimension)`` (computed in float64, as LeRobot)."""
    hid = np.arange(dimension)
    angles = np.arange(num_positions)[:, None] / np.power(10000, 2 * (hid // 2) / dimension)
    table = np.array(angles, dtype=np.float64)
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.from_numpy(table).float()


class SinusoidalPositionEmbedding2d(nn.Module):
    """2-D sinusoidal positions of a feature map, indices normalised to (0, 2 pi] (as LeRobot)."""

    def __init__(self, dimension: int) -> None:
        super().__init__()
        self.dimension = dimension
        self._two_pi = 2 * math.pi
        self._eps = 1e-6
        self._temperature = 10000

    def forward(self, x: Tensor) -> Tensor:
        """``(1, 2 * dimension, H, W)`` embeddings for a ``(B, C, H, W)`` map."""
        not_mask = torch.ones_like(x[0, :1])
        y_range = not_mask.cumsum(1, dtype=torch.float32)
        x_range = not_mask.cumsum(2, dtype=torch.float32)
        y_range = y_range / (y_range[:, -1:, :] + self._eps) * self._two_pi
        x_range = x_range / (x_range[:, :, -1:] + self._eps) * self._two_pi
        inverse_frequency = self._temperature ** (
            2
            * (torch.arange(self.dimension, dtype=torch.float32, device=x.device) // 2)
            / self.dimension
        )
        x_range = x_range.unsqueeze(-1) / inverse_frequency
        y_range = y_range.unsqueeze(-1) / inverse_frequency
        pos_x = torch.stack((x_range[..., 0::2].sin(), x_range[..., 1::2].cos()), dim=-1).flatten(3)
        pos_y = torch.stack((y_range[..., 0::2].sin(), y_range[..., 1::2].cos()), dim=-1).flatten(3)
        return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


def get_activation_fn(activation: str) -> Callable[[Tensor], Tensor]:
    """relu, gelu or glu."""
    functions: dict[str, Callable[[Tensor], Tensor]] = {
        "relu": F.relu,
        "gelu": F.gelu,
        "glu": F.glu,
    }
    return functions[activation]
