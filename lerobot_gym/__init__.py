"""lerobot_gym: real robot arms and their MuJoCo twins as registered Gymnasium environments.

Importing the package registers the ids (``lerobot_gym/SO101-PickCube-v0`` ...) and nothing
heavier: no torch, no hardware SDK, no rerun, and not even mujoco until an env is made.

Example:
    >>> import gymnasium as gym
    >>> import lerobot_gym
    >>> env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs)
    ['agent_pos', 'environment_state']
    >>> env.close()
"""

from __future__ import annotations

import os as _os
import sys as _sys

__version__ = "0.1.0"


def _choose_headless_gl() -> None:
    # MuJoCo reads MUJOCO_GL when it is first imported; without a display its default (GLFW)
    # cannot create a context, so pick EGL unless the user chose something already.
    if "MUJOCO_GL" in _os.environ or _sys.platform in ("darwin", "win32"):
        return
    if _os.environ.get("DISPLAY") or _os.environ.get("WAYLAND_DISPLAY"):
        return
    _os.environ["MUJOCO_GL"] = "egl"
    _os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


_choose_headless_gl()

from lerobot_gym.registry import (  # noqa: E402
    ENV_IDS,
    get_robot,
    get_task,
    make,
    make_env,
    make_vec,
    register_all,
    register_env,
    register_robot,
    register_task,
)

register_all()

__all__ = [
    "ENV_IDS",
    "__version__",
    "get_robot",
    "get_task",
    "make",
    "make_env",
    "make_vec",
    "register_env",
    "register_robot",
    "register_task",
]
