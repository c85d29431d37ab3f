"""DDPM and DDIM noise schedulers, without diffusers.

The arithmetic of diffusers' ``DDPMScheduler`` and ``DDIMScheduler`` as LeRobot's Diffusion
Policy configures them.

Settings LeRobot leaves at diffusers' defaults and that are fixed here: DDPM
``variance_type="fixed_small"``, DDIM ``eta=0`` and ``set_alpha_to_one=True``, both
``timestep_spacing="leading"``, ``steps_offset=0``, no thresholding. Every operation follows
diffusers' order (0-d float32 tensors indexed from ``alphas_cumprod``), so a sampling run from
the same initial noise and the same global RNG state gives the same actions as LeRobot's.

Randomness: DDPM draws fresh noise at every step but the last from ``generator`` (the global
torch RNG when None, which is what LeRobot passes); DDIM with ``eta=0`` draws nothing.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = ["NoiseScheduler", "make_scheduler"]


def _betas(schedule: str, n: int, beta_start: float, beta_end: float) -> Tensor:
    if schedule == "linear":
        return torch.linspace(beta_start, beta_end, n, dtype=torch.float32)
    if schedule == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=torch.float32) ** 2
    if schedule == "squaredcos_cap_v2":

        def alpha_bar(t: float) -> float:
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = [min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), 0.999) for i in range(n)]
        return torch.tensor(betas, dtype=torch.float32)
    raise ValueError(f"unsupported beta_schedule {schedule!r}")


class NoiseScheduler:
    """Forward noising (training) and reverse steps (inference) of DDPM or DDIM."""

    def __init__(
        self,
        kind: str,
        num_train_timesteps: int = 100,
        beta_start: float = 0.0001,
        beta_end: float = 0.02,
        beta_schedule: str = "squaredcos_cap_v2",
        clip_sample: bool = True,
        clip_sample_range: float = 1.0,
        prediction_type: str = "epsilon",
    ) -> None:
        self.kind = kind
        self.num_train_timesteps = num_train_timesteps
        self.clip_sample = clip_sample
        self.clip_sample_range = clip_sample_range
        self.prediction_type = prediction_type
        self.betas = _betas(beta_schedule, num_train_timesteps, beta_start, beta_end)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.one = torch.tensor(1.0)  # DDPM's alpha_prod before t=0; DDIM's final alpha
        self.num_inference_steps: int | None = None
        self.timesteps = torch.from_numpy(np.arange(0, num_train_timesteps)[::-1].copy())

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Evenly spaced ("leading") timesteps, largest first."""
        self.num_inference_steps = num_inference_steps
        step_ratio = self.num_train_timesteps // num_inference_steps
        steps = (
            (np.arange(0, num_inference_steps) * step_ratio).round()[::-1].copy().astype(np.int64)
        )
        self.timesteps = torch.from_numpy(steps)

    def add_noise(self, original: Tensor, noise: Tensor, timesteps: Tensor) -> Tensor:
        """``sqrt(abar_t) x + sqrt(1 - abar_t) noise`` per sample."""
        alphas_cumprod = self.alphas_cumprod.to(device=original.device, dtype=original.dtype)
        timesteps = timesteps.to(original.device)
        sqrt_alpha_prod = (alphas_cumprod[timesteps] ** 0.5).flatten()
        while sqrt_alpha_prod.dim() < original.dim():
            sqrt_alpha_prod = sqrt_alpha_prod.unsqueeze(-1)
        sqrt_one_minus = ((1 - alphas_cumprod[timesteps]) ** 0.5).flatten()
        while sqrt_one_minus.dim() < original.dim():
            sqrt_one_minus = sqrt_one_minus.unsqueeze(-1)
        return sqrt_alpha_prod * original + sqrt_one_minus * noise

    def _prev(self, t: Tensor) -> Tensor:
        n = self.num_inference_steps or self.num_train_timesteps
        return t - self.num_train_timesteps // n

    def _pred_original(self, model_output: Tensor, t: Tensor, sample: Tensor) -> Tensor:
        alpha_prod_t = self.alphas_cumprod[t]
        beta_prod_t = 1 - alpha_prod_t
        if self.prediction_type == "epsilon":
            pred = (sample - beta_prod_t ** (0.5) * model_output) / alpha_prod_t ** (0.5)
        else:
            pred = model_output
        if self.clip_sample:
            pred = pred.clamp(-self.clip_sample_range, self.clip_sample_range)
        return pred

    def step(
        self,
        model_output: Tensor,
        t: Tensor,
        sample: Tensor,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The sample at the previous timestep."""
        if self.kind == "DDIM":
            return self._ddim_step(model_output, t, sample)
        return self._ddpm_step(model_output, t, sample, generator)

    def _ddpm_step(
        self, model_output: Tensor, t: Tensor, sample: Tensor, generator: torch.Generator | None
    ) -> Tensor:
        prev_t = self._prev(t)
        alpha_prod_t = self.alphas_cumprod[t]
        alpha_prod_t_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.one
        beta_prod_t = 1 - alpha_prod_t
        beta_prod_t_prev = 1 - alpha_prod_t_prev
        current_alpha_t = alpha_prod_t / alpha_prod_t_prev
        current_beta_t = 1 - current_alpha_t
        pred_original = self._pred_original(model_output, t, sample)
        pred_original_coeff = (alpha_prod_t_prev ** (0.5) * current_beta_t) / beta_prod_t
        current_sample_coeff = current_alpha_t ** (0.5) * beta_prod_t_prev / beta_prod_t
        prev_sample = pred_original_coeff * pred_original + current_sample_coeff * sample
        if t > 0:
            noise = torch.randn(
                model_output.shape,
                generator=generator,
                device=model_output.device,
                dtype=model_output.dtype,
            )
            variance = (1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * current_beta_t
            variance = torch.clamp(variance, min=1e-20)
            prev_sample = prev_sample + (variance**0.5) * noise
        return prev_sample

    def _ddim_step(self, model_output: Tensor, t: Tensor, sample: Tensor) -> Tensor:
        prev_t = self._prev(t)
        alpha_prod_t = self.alphas_cumprod[t]
        alpha_prod_t_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.one
        beta_prod_t = 1 - alpha_prod_t
        if self.prediction_type == "epsilon":
            pred_original = (sample - beta_prod_t ** (0.5) * model_output) / alpha_prod_t ** (0.5)
            pred_epsilon = model_output
        else:
            pred_original = model_output
            pred_epsilon = (sample - alpha_prod_t ** (0.5) * pred_original) / beta_prod_t ** (0.5)
        if self.clip_sample:
            pred_original = pred_original.clamp(-self.clip_sample_range, self.clip_sample_range)
        beta_prod_t_prev = 1 - alpha_prod_t_prev
        variance = (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)
        std_dev_t = 0.0 * variance ** (0.5)  # eta = 0: deterministic
        direction = (1 - alpha_prod_t_prev - std_dev_t**2) ** (0.5) * pred_epsilon
        return alpha_prod_t_prev ** (0.5) * pred_original + direction


def make_scheduler(config: object) -> NoiseScheduler:
    """The scheduler a :class:`~lerobot_gym.policies.config.DiffusionConfig` describes."""
    return NoiseScheduler(
        config.noise_scheduler_type,  # type: ignore[attr-defined]
        num_train_timesteps=config.num_train_timesteps,  # type: ignore[attr-defined]
        beta_start=config.beta_start,  # type: ignore[attr-defined]
        beta_end=config.beta_end,  # type: ignore[attr-defined]
        beta_schedule=config.beta_schedule,  # type: ignore[attr-defined]
        clip_sample=config.clip_sample,  # type: ignore[attr-defined]
        clip_sample_range=config.clip_sample_range,  # type: ignore[attr-defined]
        prediction_type=config.prediction_type,  # type: ignore[attr-defined]
    )
