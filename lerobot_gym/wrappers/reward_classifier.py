"""RewardClassifier: success and reward from a learned image classifier.

On a real arm nothing measures success; HIL-SERL asks a classifier trained on labelled frames
(:mod:`lerobot_gym.policies.reward_classifier`, trained by ``lerobot-gym
train-reward-classifier``). Each step this wrapper shows the classifier the new observation's
camera images and, when ``P(success)`` reaches the classifier's threshold, reports
``info["is_success"] = True``, rewards ``success_reward`` (else 0) and, with
``terminate_on_success``, ends the episode (LeRobot's ``RewardClassifierProcessorStep``).

``info["success_probability"]`` holds the classifier's ``P(success)``; the wrapped env's own
``info["is_success"]`` is kept as ``info["task_is_success"]``, so on the twin the classifier's
verdict can be checked against the ground truth it will replace on the arm.

Decisions:

* The classifier's cameras and image size are checked against the env's observation space in
  ``__init__`` (a :class:`~lerobot_gym.errors.ConfigError` naming both sizes): a classifier
  trained on 64x64 crops would otherwise see a resized full frame and answer confidently wrong.
  Put :class:`~lerobot_gym.wrappers.image_crop_resize.ImageCropResize` inside this wrapper with
  the crops the classifier was trained on.
* The reward is replaced, as by ``SuccessReward``: a dense twin reward must not leak into a
  run that will use the classifier on hardware. ``truncated`` passes through.
* torch loads when a classifier is loaded (``classifier=`` a path), never at import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium import spaces

from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError

__all__ = ["SUCCESS_PROBABILITY", "TASK_IS_SUCCESS", "RewardClassifier"]

SUCCESS_PROBABILITY = "success_probability"
TASK_IS_SUCCESS = "task_is_success"


class RewardClassifier(
    gym.Wrapper[dict[str, Any], Any, dict[str, Any], Any], gym.utils.RecordConstructorArgs
):
    """Success and reward from a reward classifier (see the module docstring).

    Args:
        env: an env with ``obs["pixels"]`` holding the classifier's cameras at its image size.
        classifier: a checkpoint folder, or a loaded
            :class:`~lerobot_gym.policies.reward_classifier.RewardClassifierNet`.
        threshold: ``P(success)`` counted as success (default: the classifier's own).
        success_reward: reward of a successful step (others get 0).
        terminate_on_success: end the episode (``terminated``) on success.

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> from lerobot_gym.policies.reward_classifier import (
        ...     RewardClassifierConfig, RewardClassifierNet)
        >>> from lerobot_gym.wrappers.reward_classifier import RewardClassifier
        >>> env = gym.make("lerobot_gym/SO101-PickCube-v0", image_size=(32, 32))
        >>> net = RewardClassifierNet(RewardClassifierConfig(("front",), (32, 32)))
        >>> env = RewardClassifier(env, net)
        >>> _ = env.reset(seed=0)
        >>> 0.0 <= env.step(env.action_space.sample())[4]["success_probability"] <= 1.0
        True

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        env: gym.Env[dict[str, Any], Any],
        classifier: Any,
        *,
        threshold: float | None = None,
        success_reward: float = 1.0,
        terminate_on_success: bool = True,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            classifier=str(classifier) if isinstance(classifier, (str, Path)) else classifier,
            threshold=threshold,
            success_reward=success_reward,
            terminate_on_success=terminate_on_success,
            _disable_deepcopy=True,  # a torch module
        )
        gym.Wrapper.__init__(self, env)
        if isinstance(classifier, (str, Path)):
            from lerobot_gym.policies.reward_classifier import load_reward_classifier

            classifier = load_reward_classifier(classifier)
        config = getattr(classifier, "config", None)
        if config is None or not hasattr(classifier, "predict_proba"):
            raise ConfigError(
                "classifier= must be a reward classifier checkpoint folder or a "
                "RewardClassifierNet (lerobot_gym.policies.reward_classifier)"
            )
        _check_images(env.observation_space, config.cameras, config.image_size)
        self.classifier = classifier
        self.threshold = float(config.threshold if threshold is None else threshold)
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold must be in (0, 1), got {threshold}")
        self.success_reward = float(success_reward)
        self.terminate_on_success = bool(terminate_on_success)
        self._cameras = tuple(config.cameras)

    def step(self, action: Any) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; success, reward and termination from the classifier's verdict."""
        obs, _, terminated, truncated, info = self.env.step(action)
        prob = float(self.classifier.predict_proba({c: obs["pixels"][c] for c in self._cameras})[0])
        success = prob >= self.threshold
        info[TASK_IS_SUCCESS] = info.get(info_keys.IS_SUCCESS, False)
        info[info_keys.IS_SUCCESS] = success
        info[SUCCESS_PROBABILITY] = prob
        reward = self.success_reward if success else 0.0
        terminated = terminated or (success and self.terminate_on_success)
        return obs, reward, terminated, truncated, info


def _check_images(space: gym.Space, cameras: tuple[str, ...], size: tuple[int, int]) -> None:
    pixels = space.spaces.get("pixels") if isinstance(space, spaces.Dict) else None
    if not isinstance(pixels, spaces.Dict):
        raise ConfigError(
            "RewardClassifier needs camera images in obs['pixels']; use obs_type='pixels' or "
            "'pixels_agent_pos'"
        )
    for cam in cameras:
        box = pixels.spaces.get(cam)
        if box is None:
            raise ConfigError(
                f"the reward classifier needs camera {cam!r}; the env observes "
                f"{sorted(pixels.spaces)}"
            )
        shape = tuple(box.shape or ())
        if shape[:2] != tuple(size):
            raise ConfigError(
                f"the reward classifier takes {size[0]}x{size[1]} images of camera {cam!r} but "
                f"the env gives {shape[0]}x{shape[1]}; make the env's images that size "
                "(image_size=, or ImageCropResize with the crops the classifier was trained on)"
            )
