"""Log every step of an env to Rerun: live viewer, ``.rrd`` file, or a served stream.

The entity layout, timelines and sinks are those of :mod:`lerobot_gym.viz`, so a live run and
the dataset recorded from it (``lerobot_gym.viz.log_dataset_episode``) look the same: frame
``t`` shows the observation before action ``t``, the action actually applied
(``info["action_applied"]`` when the env reports it), ``next.reward``, ``next.done`` and
``next.success``.

Design decisions:

* rerun is imported in ``__init__`` (not at module import) and a missing install raises
  :class:`~lerobot_gym.errors.MissingExtraError` naming the ``viz`` extra.
* Logging happens on the caller's thread; Rerun batches and sends from its own thread, so a
  step costs the conversion of its images and scalars (measured on a loaded 2-core machine:
  p50 1.9 ms, p99 15 ms for two 480x640 images and two 6-joint vectors; ``jpeg_quality``
  trades CPU for bandwidth on a remote viewer). On a hardware loop that must hold 30 fps,
  prefer recording a dataset and viewing it with ``lerobot_gym.viz.log_dataset_episode``.
* One recording stream per wrapper (not Rerun's global one), so two envs never interleave.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.core import ActType, ObsType

from lerobot_gym import viz
from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError
from lerobot_gym.wrappers.lerobot_keys import (
    ACTION,
    DONE,
    IS_INTERVENTION,
    REWARD,
    SUCCESS,
    applied_action,
    lerobot_features,
    to_lerobot_observation,
)


class RerunViz(
    gym.Wrapper[ObsType, ActType, ObsType, ActType],
    gym.utils.RecordConstructorArgs,
):
    """Log camera images, joint state, actions, reward and done to Rerun at every step.

    Args:
        env: any env with Dict (Gym-style or LeRobot keys) or Box observations.
        app_id: Rerun application id.
        save: write an ``.rrd`` file at this path.
        serve: serve gRPC for a remote viewer (True: port 9876, or a port number); connect with
            ``rerun rerun+http://<host>:<port>/proxy`` (see :attr:`server_uri`).
        spawn: start a local Rerun viewer (needs a display).
        jpeg_quality: compress camera images to JPEG at this quality (None: raw RGB).

    Raises:
        ConfigError: no sink chosen, or both ``spawn`` and ``serve``.
        MissingExtraError: rerun is not installed.

    Example:
        >>> import tempfile, pathlib
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.rrd"
        >>> env = RerunViz(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"), save=path)
        >>> obs, info = env.reset(seed=0)
        >>> for _ in range(5):
        ...     obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        >>> env.close()
        >>> path.stat().st_size > 0
        True

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        env: gym.Env[ObsType, ActType],
        *,
        app_id: str = viz.DEFAULT_APP_ID,
        save: str | Path | None = None,
        serve: bool | int = False,
        spawn: bool = False,
        jpeg_quality: int | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            app_id=app_id,
            save=None if save is None else str(save),
            serve=serve,
            spawn=spawn,
            jpeg_quality=jpeg_quality,
        )
        gym.Wrapper.__init__(self, env)
        try:
            names = {k: ft["names"] for k, ft in lerobot_features(env).items()}
        except ConfigError:
            names = {}  # e.g. a Discrete action: still viewable, with indices as names
        fps = env.metadata.get("render_fps") or 30
        self.session = viz.open_session(app_id, save=save, serve=serve, spawn=spawn)
        self._logger = viz.FrameLogger(self.session, names, fps, jpeg_quality)
        self._step = 0
        self._frame_index = 0
        self._episode = -1
        self._closed = False

    @property
    def server_uri(self) -> str | None:
        """Where a remote viewer connects (``serve``), else None."""
        return self.session.server_uri

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env and log the first observation of a new episode."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._episode += 1
        self._frame_index = 0
        if self._episode > 0:
            self._step += 1  # the last frame of the previous episode keeps its step
        self._logger.set_time(self._step, 0)
        task = getattr(getattr(self.env.unwrapped, "task", None), "description", None)
        self._logger.log_episode_start(self._episode, task)
        self._logger.log(to_lerobot_observation(obs))
        return obs, info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env; log this frame's action and outcome, then the next observation."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        outcome = {
            ACTION: np.asarray(applied_action(self.env, action, info), dtype=np.float64),
            REWARD: float(reward),
            DONE: float(terminated or truncated),
            SUCCESS: float(bool(info.get(info_keys.IS_SUCCESS, False))),
        }
        if info_keys.IS_INTERVENTION in info:
            outcome[IS_INTERVENTION] = float(bool(info[info_keys.IS_INTERVENTION]))
        self._logger.log(outcome)
        self._step += 1
        self._frame_index += 1
        self._logger.set_time(self._step, self._frame_index)
        self._logger.log(to_lerobot_observation(obs))
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Complete the ``.rrd`` file / stop serving, then close the env."""
        if not self._closed:
            self._closed = True
            self.session.close()
        super().close()
