"""The torch side every learned policy shares: env observations in, env actions out, files.

:class:`TorchPolicy` implements the :class:`~lerobot_gym.policies.base.LearnedPolicy` protocol
on top of a network (an ``nn.Module`` whose ``state_dict`` is LeRobot's policy's, key for key):

* ``select_action(obs)`` takes the env's own observation (``agent_pos``, ``pixels`` dict,
  ``environment_state``; LeRobot-keyed ``observation.*`` dicts are accepted too), checks it
  against the declared input features (:class:`~lerobot_gym.errors.PolicyMismatchError` naming
  the key, the sizes and the env option to change), converts it the way LeRobot's
  ``preprocess_observation`` does (images uint8 HWC -> float32 CHW / 255, a batch dimension),
  normalises, asks the subclass for a normalised action, unnormalises and returns a float32
  numpy vector in the env's units.
* ``compute_loss(batch)`` normalises a dataset batch (inputs and action) and returns the
  subclass's training loss.
* ``save(dir)`` writes LeRobot 0.4.4's ``pretrained_model`` folder: ``config.json``,
  ``model.safetensors``, and the pre/postprocessor files with the statistics.

Design decisions:

* The policy object is not an ``nn.Module`` itself: ``__call__`` is the Policy protocol's step
  (as for scripted policies), so the network lives in ``self.network``. Its ``state_dict`` is
  what ``model.safetensors`` holds: LeRobot's ``ACTPolicy``'s keys are ``model.*`` and
  ``DiffusionPolicy``'s ``diffusion.*``, and the networks here have those submodules.
* Statistics live in the :class:`~lerobot_gym.policies.normalize.Normalizer`, not in the state
  dict, as in LeRobot 0.4.4 (older checkpoints' buffers are read, never written).
* Inference runs on ``inference_threads`` torch intra-op threads, 1 by default
  (:func:`inference_threads`; ``TorchPolicy(..., inference_threads=N)``,
  ``load_policy(path, inference_threads=N)``, ``--policy.inference_threads=N``; None keeps
  torch's own setting). A policy step is a batch of one: small matrices whose split over
  threads costs more in synchronisation than it saves, and on a shared machine the second
  thread waits for a core. Measured on this project's 2-core machine shared with other jobs
  (``benchmarks/policy_latency.py`` records the figures): a compact state ACT chunk costs
  1.6 ms on one thread and 10 to 490 ms on torch's default two at load 2 (p99 over a second at
  load 18); a 10-step DDIM diffusion sample 24 ms against 148 ms (p50). Training keeps torch's
  setting: the count is changed only around the network call and restored after it
  (``torch.set_num_threads`` is process-wide and costs under a microsecond).
* The per-step conversions (observation to tensors, normalisation, the action back to numpy)
  cost about 20 us of a chunk step's 1 ms network pass (measured), so they stay simple rather
  than preallocated; ACT's steps between chunks touch neither the observation nor torch.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from lerobot_gym.errors import CheckpointError, ConfigError, PolicyMismatchError
from lerobot_gym.policies.config import (
    OBS_ENV_STATE,
    OBS_STATE,
    PolicyConfig,
    PolicyFeature,
)
from lerobot_gym.policies.files import (
    DEFAULT_INFERENCE_THREADS,
    MODEL_NAME,
    check_inference_threads,
    load_safetensors,
)
from lerobot_gym.policies.normalize import (
    Normalizer,
    read_processor_stats,
    stats_from_legacy_state_dict,
    write_processors,
)

if TYPE_CHECKING:
    from lerobot_gym.policies.batched import MemberBatch

__all__ = [
    "TorchPolicy",
    "inference_threads",
    "observation_to_batch",
    "resolve_device",
]

_ENV_KEYS = {OBS_STATE: "agent_pos", OBS_ENV_STATE: "environment_state"}
_CAMERA_PREFIX = "observation.images."


@contextmanager
def inference_threads(threads: int | None) -> Iterator[None]:
    """Run the block on ``threads`` torch intra-op threads (None: leave torch's setting).

    The previous count is restored on exit, so a training loop around an evaluation keeps its
    own. Example:

        >>> before = torch.get_num_threads()
        >>> with inference_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(device: str | None) -> torch.device:
    """``"auto"`` (or None) -> cuda when available, else cpu; other names as given.

    Raises:
        ConfigError: cuda asked for on a machine without it (names ``--policy.device``).
    """
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"--policy.device={device}: CUDA is not available here; use --policy.device=cpu "
            "or --policy.device=auto"
        )
    return dev


class TorchPolicy:
    """Base of the learned policies (see the module docstring).

    Subclasses set ``config_class`` and ``name``, build ``self.network`` in
    :meth:`_build_network`, and implement :meth:`_select_normalized` (one normalised action
    ``(1, A)`` from a normalised batch), :meth:`_loss` and :meth:`reset`.
    """

    config_class: ClassVar[type[PolicyConfig]] = PolicyConfig
    name: ClassVar[str] = ""

    def __init__(
        self,
        config: PolicyConfig,
        stats: Mapping[str, Mapping[str, Any]] | None = None,
        device: str | torch.device | None = "cpu",
        *,
        inference_threads: int | None = DEFAULT_INFERENCE_THREADS,
    ) -> None:
        #: torch intra-op threads of a policy step (module docstring); None: torch's setting.
        self.inference_threads = check_inference_threads(inference_threads)
        config.validate()
        config.validate_features()
        self.config = config
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        config.device = self.device.type
        features = {**config.input_features, **config.output_features}
        self.normalizer = Normalizer(features, config.normalization_mapping, stats)  # type: ignore[attr-defined]
        self.network: nn.Module = self._build_network().to(self.device)
        self.normalizer.to(self.device)
        self.network.eval()
        self.reset()

    # -- the protocol ---------------------------------------------------------------------------
    @property
    def input_features(self) -> dict[str, PolicyFeature]:
        """What the policy reads (LeRobot keys: ``observation.state``, ``observation.images.*``)."""
        return dict(self.config.input_features)

    @property
    def output_features(self) -> dict[str, PolicyFeature]:
        """What it writes (``action``)."""
        return dict(self.config.output_features)

    def reset(self, obs: dict[str, Any] | None = None, info: dict[str, Any] | None = None) -> None:
        """Forget the episode (action queue, observation history, ensemble)."""
        raise NotImplementedError

    @contextmanager
    def inference(self) -> Iterator[None]:
        """``torch.inference_mode`` on :attr:`inference_threads` threads: a policy step's scope."""
        with inference_threads(self.inference_threads), torch.inference_mode():
            yield

    def select_action(self, obs: Mapping[str, Any]) -> np.ndarray:
        """The action for the env's observation, float32 in the env's units."""
        with self.inference():
            batch = self.prepare_observation(obs)
            action = self.normalizer.unnormalize_action(self._select_normalized(batch))
            return action[0].to("cpu", torch.float32).numpy()

    def prepare_observation(
        self, obs: Mapping[str, Any], rows: Sequence[int] | None = None
    ) -> dict[str, Tensor]:
        """The env's observation as a normalised batch of one, the network in eval mode.

        With ``rows``, ``obs`` is a vector env's stacked observation and the batch holds envs
        ``rows`` (:func:`observation_to_batch`).

        ``network.eval()`` walks every submodule (0.2 ms of CPU for a compact ACT, as much as
        popping a queued action), so it runs only when training left the network in train mode.
        """
        if self.network.training:
            self.network.eval()
        batch = observation_to_batch(obs, self.config.input_features, self.device, rows)
        return self.normalizer.normalize_batch(batch, targets=False)

    def __call__(self, obs: Mapping[str, Any]) -> np.ndarray:
        """Same as :meth:`select_action` (the evaluator's Policy protocol)."""
        return self.select_action(obs)

    def spawn(self) -> TorchPolicy:
        """A policy sharing this one's network and statistics, with its own episode state.

        What a vectorised evaluation gives each env: one network in memory, one action queue
        (or observation history, or ensemble) per episode.
        """
        twin = copy.copy(self)
        twin.reset()
        return twin

    def batched(self, num_envs: int) -> MemberBatch:
        """A :class:`~lerobot_gym.policies.base.BatchPolicy` for ``num_envs`` envs.

        One member per env (:meth:`spawn`), the network run once a step for the envs that need
        it (:meth:`select_action_rows`).
        """
        from lerobot_gym.policies.batched import MemberBatch

        return MemberBatch(self, num_envs)

    def select_action_rows(
        self, members: Sequence[TorchPolicy], obs: Mapping[str, Any], rows: Sequence[int]
    ) -> np.ndarray:
        """Actions ``(len(rows), A)``: member ``k`` acts for env ``rows[k]`` of a stacked obs.

        ``members`` are this policy's spawns (their episode state); the network is this one's.
        """
        raise NotImplementedError

    def compute_loss(self, batch: Mapping[str, Any]) -> tuple[Tensor, dict[str, float]]:
        """Training loss of a dataset batch (LeRobot keys, not yet normalised)."""
        batch = {k: v.to(self.device) if isinstance(v, Tensor) else v for k, v in batch.items()}
        return self._loss(self.normalizer.normalize_batch(batch, targets=True))

    def check_env(self, env: Any) -> None:
        """Check the env's spaces give what the policy reads and take what it writes.

        Raises:
            PolicyMismatchError: a missing camera or state, a size that differs (the message
                names the key and the env option to change).
        """
        space = env.observation_space
        sample = {
            key: (
                {cam: s.sample() for cam, s in sub.spaces.items()}
                if hasattr(sub, "spaces")
                else np.zeros(sub.shape, sub.dtype)
            )
            for key, sub in getattr(space, "spaces", {}).items()
        }
        observation_to_batch(sample, self.config.input_features, torch.device("cpu"))
        action_shape = tuple(env.action_space.shape or ())
        if action_shape != self.config.action_feature.shape:
            raise PolicyMismatchError(
                f"the policy writes actions of shape {self.config.action_feature.shape} but the "
                f"env's action space has shape {action_shape}: it was trained for another robot "
                "or controller; evaluate it on the env its dataset was recorded with"
            )

    # -- subclass hooks -------------------------------------------------------------------------
    def _build_network(self) -> nn.Module:
        raise NotImplementedError

    def _select_normalized(self, batch: dict[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def _loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        raise NotImplementedError

    def optimizer_param_groups(self) -> list[dict[str, Any]]:
        """Parameter groups for the optimizer (LeRobot's ``get_optim_params``)."""
        return [{"params": [p for p in self.network.parameters() if p.requires_grad]}]

    # -- files ----------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``config.json``, ``model.safetensors`` and the normaliser files into a folder.

        The folder is what LeRobot 0.4.4's ``from_pretrained`` and ``make_pre_post_processors``
        read, and what :func:`~lerobot_gym.policies.load_policy` reads.
        """
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.config.save(directory)
        state = {k: v.detach().cpu().contiguous() for k, v in self.network.state_dict().items()}
        save_file(state, str(directory / MODEL_NAME))
        write_processors(
            directory,
            self.normalizer,
            self.config.input_features,
            self.config.output_features,
            self.device.type,
        )
        return directory

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        *,
        device: str = "cpu",
        config: PolicyConfig | None = None,
        inference_threads: int | None = DEFAULT_INFERENCE_THREADS,
        **overrides: Any,
    ) -> TorchPolicy:
        """Load a checkpoint folder (see :func:`~lerobot_gym.policies.load_policy`)."""
        from lerobot_gym.policies.config import read_config

        directory = Path(directory)
        config = config if config is not None else read_config(directory)
        if overrides:
            config = _override(config, overrides)
        state = load_safetensors(directory / MODEL_NAME)
        stats = read_processor_stats(directory)
        if stats is None:
            stats = stats_from_legacy_state_dict(state)
            state = {k: v for k, v in state.items() if not _is_legacy_buffer(k)}
        policy = cls(config, stats=stats, device=device, inference_threads=inference_threads)
        missing, unexpected = _load_strict(policy.network, state)
        if missing or unexpected:
            raise CheckpointError(
                f"{directory / MODEL_NAME} does not fit a {cls.name} policy built from its "
                f"config.json: missing tensors {missing[:8]}{'...' if len(missing) > 8 else ''}, "
                f"unexpected tensors {unexpected[:8]}{'...' if len(unexpected) > 8 else ''}. "
                "The config and weights come from different runs; re-save the checkpoint"
            )
        policy.network.eval()
        return policy


def _is_legacy_buffer(key: str) -> bool:
    return key.split(".", 1)[0] in ("normalize_inputs", "normalize_targets", "unnormalize_outputs")


def _load_strict(network: nn.Module, state: dict[str, Tensor]) -> tuple[list[str], list[str]]:
    own = network.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        return missing, unexpected
    bad = [k for k in own if tuple(own[k].shape) != tuple(state[k].shape)]
    if bad:
        return [f"{k} (shape {tuple(own[k].shape)}, file {tuple(state[k].shape)})" for k in bad], []
    network.load_state_dict(state, strict=True)
    return [], []


def _override(config: PolicyConfig, overrides: Mapping[str, Any]) -> PolicyConfig:
    names = {f.name for f in dataclasses.fields(config)} - {"extra", "input_features"}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(
            f"{config.type_name} has no option(s) {unknown}; options: {sorted(names)}"
        )
    return dataclasses.replace(config, **dict(overrides))


def observation_to_batch(
    obs: Mapping[str, Any],
    features: Mapping[str, PolicyFeature],
    device: torch.device,
    rows: Sequence[int] | None = None,
) -> dict[str, Tensor]:
    """The env's observation as a policy batch (LeRobot keys, float32 tensors).

    Without ``rows`` ``obs`` is one env's and the batch has one sample; with ``rows`` ``obs`` is
    a vector env's stacked observation (a leading env dimension) and the batch holds those
    envs, in that order.

    Raises:
        PolicyMismatchError: an input the policy needs is absent, or has another shape; the
            message names the key, what the policy expects and what to change.
    """
    out: dict[str, Tensor] = {}
    pixels = obs.get("pixels")
    index = None if rows is None else np.asarray(rows, dtype=np.intp)
    for key, ft in features.items():
        if ft.type == "VISUAL":
            out[key] = _image(obs, pixels, key, ft, device, index)
        elif ft.type in ("STATE", "ENV"):
            value = obs.get(key, obs.get(_ENV_KEYS.get(key, key)))
            if value is None:
                env_key = _ENV_KEYS.get(key, key)
                option = (
                    " (make the env with obs_type='state' or another type that includes it)"
                    if key == OBS_ENV_STATE
                    else ""
                )
                raise PolicyMismatchError(
                    f"the policy reads {key!r} but the observation has no {env_key!r}"
                    f"{option}; observation keys: {sorted(obs)}"
                )
            array = np.asarray(value, dtype=np.float32)
            if index is not None:
                array = array[index]
            if array.shape[index is not None :] != ft.shape:
                raise PolicyMismatchError(
                    f"the policy expects {key!r} of shape {ft.shape} but the env gives "
                    f"{array.shape[index is not None :]}: it was trained on another robot or "
                    "observation type; "
                    "evaluate it on the env its dataset was recorded with"
                )
            tensor = torch.from_numpy(array).to(device)
            out[key] = tensor if index is not None else tensor[None]
    return out


def _image(
    obs: Mapping[str, Any],
    pixels: Any,
    key: str,
    ft: PolicyFeature,
    device: torch.device,
    index: np.ndarray | None = None,
) -> Tensor:
    camera = key[len(_CAMERA_PREFIX) :] if key.startswith(_CAMERA_PREFIX) else None
    frame = obs.get(key)
    if frame is None and isinstance(pixels, Mapping) and camera is not None:
        frame = pixels.get(camera)
    if frame is None and not isinstance(pixels, Mapping) and pixels is not None:
        frame = pixels if key == "observation.image" else None
    if frame is None:
        have = sorted(pixels) if isinstance(pixels, Mapping) else []
        raise PolicyMismatchError(
            f"the policy reads camera {camera or key!r} but the observation has "
            f"{'cameras ' + str(have) if have else 'no camera images'}; make the env with "
            f"obs_type='pixels_agent_pos' and that camera (--env.obs_type=pixels_agent_pos "
            f"--env.cameras=[{camera}])"
        )
    array = np.asarray(frame)
    if index is not None:
        array = array[index]
    frame_shape = array.shape[index is not None :]
    channels, height, width = ft.shape
    if frame_shape != (height, width, channels):
        raise PolicyMismatchError(
            f"the policy expects camera {camera or key!r} frames of {height}x{width}x{channels} "
            f"(HxWxC) but the env gives {'x'.join(map(str, frame_shape))}; make the env with "
            f"--env.image_size=[{height},{width}]"
        )
    image = torch.from_numpy(np.ascontiguousarray(array)).to(device)
    if index is None:
        image = image[None]
    # (B, H, W, C) -> (B, C, H, W); uint8 frames scaled to [0, 1] as LeRobot's preprocessing.
    image = image.permute(0, 3, 1, 2).contiguous()
    if image.dtype == torch.uint8:
        return image.to(torch.float32) / 255
    return image.to(torch.float32)
