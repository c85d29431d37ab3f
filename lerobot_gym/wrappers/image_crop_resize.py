"""ImageCropResize: crop each camera to a region of interest, then resize it.

HIL-SERL learns from small images of the part of the scene that matters (LeRobot's
``ImageCropResizeProcessorStep``, shared/reference/lerobot-interfaces.md section 1.5: a
``(top, left, height, width)`` crop per camera, then one ``(height, width)`` for all). Here the
images stay what every lerobot_gym observation holds, ``HxWx3 uint8`` under
``obs["pixels"][camera]``, so recording, LeRobotKeys and policies need no other path.

Decisions:

* Resizing uses PyAV's swscale (already a dependency for video): area averaging when
  shrinking (no aliasing on fine texture), bilinear when enlarging.
* Crops are checked against the camera's image size in ``__init__``: a crop outside the image
  or for an unknown camera is a :class:`~lerobot_gym.errors.ConfigError` naming the camera,
  before the robot moves. Cameras without a crop are resized whole.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_gym.errors import ConfigError

__all__ = ["ImageCropResize", "resize_image"]


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (HxWx3 uint8) resized to ``size`` = (height, width) with swscale.

    Example:
        >>> img = np.zeros((4, 6, 3), np.uint8)
        >>> img[:, 3:] = 200
        >>> resize_image(img, (2, 2))[..., 0].tolist()
        [[0, 200], [0, 200]]
    """
    import av

    height, width = size
    if image.shape[:2] == (height, width):
        return image
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    shrink = height <= image.shape[0] and width <= image.shape[1]
    out = frame.reformat(width=width, height=height, interpolation="AREA" if shrink else "BILINEAR")
    return out.to_ndarray()


class ImageCropResize(
    gym.ObservationWrapper[dict[str, Any], Any, dict[str, Any]], gym.utils.RecordConstructorArgs
):
    """Crop (per camera) and resize the camera images of ``obs["pixels"]``.

    Args:
        env: an env with ``obs["pixels"]``: a Dict of HxWx3 uint8 Boxes.
        crops: camera -> ``(top, left, height, width)`` in pixels of the camera's image.
        size: ``(height, width)`` of every output image (None: keep each crop's size).

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> from lerobot_gym.wrappers.image_crop_resize import ImageCropResize
        >>> env = gym.make("lerobot_gym/SO101-Reach-v0", image_size=(96, 128))
        >>> env = ImageCropResize(env, crops={"front": (16, 32, 64, 64)}, size=(32, 32))
        >>> env.observation_space["pixels"]["front"].shape
        (32, 32, 3)

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        env: gym.Env[dict[str, Any], Any],
        *,
        crops: dict[str, tuple[int, int, int, int]] | None = None,
        size: tuple[int, int] | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, crops=crops, size=size)
        gym.ObservationWrapper.__init__(self, env)
        space = env.observation_space
        if not isinstance(space, spaces.Dict) or not isinstance(
            space.spaces.get("pixels"), spaces.Dict
        ):
            raise ConfigError(
                "ImageCropResize needs obs['pixels'] (camera images); use obs_type='pixels' or "
                "'pixels_agent_pos'"
            )
        pixels = space.spaces["pixels"]
        assert isinstance(pixels, spaces.Dict)  # checked above
        self.crops = {k: tuple(int(v) for v in c) for k, c in (crops or {}).items()}
        self.size = None if size is None else (int(size[0]), int(size[1]))
        if self.size is not None and min(self.size) < 1:
            raise ConfigError(f"size must be (height, width) >= 1 pixel, got {size}")
        unknown = sorted(set(self.crops) - set(pixels.spaces))
        if unknown:
            raise ConfigError(
                f"crops name camera(s) {unknown} that this env does not observe; its cameras: "
                f"{sorted(pixels.spaces)}"
            )
        new: dict[str, spaces.Space] = {}
        for cam, box in pixels.spaces.items():
            height, width = box.shape[:2]  # type: ignore[index]
            if cam in self.crops:
                top, left, h, w = self.crops[cam]
                if top < 0 or left < 0 or h < 1 or w < 1 or top + h > height or left + w > width:
                    raise ConfigError(
                        f"crop {self.crops[cam]} (top, left, height, width) of camera {cam!r} "
                        f"does not fit its {height}x{width} image"
                    )
                height, width = h, w
            out = self.size or (height, width)
            new[cam] = spaces.Box(0, 255, (*out, 3), np.uint8)
        self.observation_space = spaces.Dict({**space.spaces, "pixels": spaces.Dict(new)})

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        """The observation with each camera image cropped and resized."""
        images = {}
        for cam, image in observation["pixels"].items():
            if cam in self.crops:
                top, left, h, w = self.crops[cam]
                image = image[top : top + h, left : left + w]
            images[cam] = resize_image(image, self.size) if self.size else np.array(image)
        return {**observation, "pixels": images}
