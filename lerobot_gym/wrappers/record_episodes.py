"""Record every step of an env into a LeRobot v3.0 dataset.

Frame ``t`` of an episode holds what a policy saw and what the robot did (the layout of
``lerobot-record`` and of gym_manipulator's record mode, reference
``shared/reference/lerobot-dataset-v3.md`` section 10):

* the observation *before* step ``t`` under LeRobot keys (:mod:`.lerobot_keys`);
* ``action``: the action actually applied, ``info["action_applied"]`` (after safety clamps and
  rate limits, or after a human's override) when the env reports it, else the action passed in;
* ``next.reward``, ``next.done`` (``terminated or truncated``), ``next.success``
  (``info["is_success"]``);
* ``complementary_info.is_intervention`` (``info["is_intervention"]``, default False) and
  ``complementary_info.discrete_penalty`` (``info["discrete_penalty"]``, default 0).

Design decisions:

* Durability and speed come from :class:`~lerobot_gym.dataset.LeRobotDatasetWriter`: camera
  frames go to its encoder process (``add_frame`` only copies them into shared memory),
  and an episode is complete on disk when ``save_episode`` returns, so a crash loses at most
  the episode in progress.
* An episode is saved when it ends (``terminated`` or ``truncated``), or at the next
  ``reset()``/``close()`` if it has frames (an episode cut short by the caller is kept).
  ``info["rerecord_episode"]`` (or :meth:`RecordEpisodes.discard_episode`) drops it instead.
  After a save or a discard nothing is recorded until the next ``reset()``: frames that do not
  start at a reset would not form an episode. The wrapper never resets the env itself.
* ``info["terminate_episode"]`` (the operator asked to stop recording) saves the episode and
  sets :attr:`RecordEpisodes.stop_requested` for the control loop to act on.
* The dataset is created (or, with ``resume=True``, opened and repaired) in ``__init__``, so a
  wrong root or mismatched features fail before the robot moves. Creating a directory is the
  only I/O; the env itself is not touched.
* Observations are copied when the env returns them: the frame is written after the next
  ``step`` returns, and a camera backend may reuse its image buffers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.core import ActType, ObsType

from lerobot_gym.core import info as info_keys
from lerobot_gym.dataset import LeRobotDatasetWriter, layout
from lerobot_gym.errors import ConfigError, DatasetMismatchError
from lerobot_gym.wrappers.lerobot_keys import (
    ACTION,
    DISCRETE_PENALTY,
    DONE,
    IS_INTERVENTION,
    REWARD,
    SUCCESS,
    applied_action,
    lerobot_features,
    to_lerobot_observation,
)

TASK_OPTION = "task"


class RecordEpisodes(
    gym.Wrapper[ObsType, ActType, ObsType, ActType],
    gym.utils.RecordConstructorArgs,
):
    """Record every step into a LeRobot v3.0 dataset, one durable episode at a time.

    Args:
        env: any env with Dict (``agent_pos``/``pixels``/``environment_state`` or LeRobot
            keys) or Box observations and a 1-D Box action space.
        root: dataset directory (must not exist unless ``resume=True``).
        repo_id: Hugging Face repo id, e.g. ``"me/pick"``.
        task: default task string of each episode (default: the env's
            ``unwrapped.task.description``); ``reset(options={"task": ...})`` overrides it for
            one episode.
        fps: dataset fps (default: the env's ``metadata["render_fps"]``, its control rate).
        use_videos: store cameras as MP4 (True) or as PNG images in the parquet files.
        vcodec: video encoder, ``"libsvtav1"`` (LeRobot's default) or ``"h264"``; on resume the
            dataset's own codec is kept.
        resume: append to the dataset at ``root`` if there is one (features and fps must
            match; an interrupted save is repaired first), else create it.
        writer: an open writer to record into instead (the caller closes it).

    Raises:
        ConfigError: no task string, no fps, or spaces that cannot be stored.
        DatasetError: ``root`` is not empty (and ``resume`` is False).
        DatasetMismatchError: resuming a dataset with other features or fps.

    Example:
        >>> import tempfile, pathlib
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> from lerobot_gym.dataset import LeRobotDataset
        >>> root = pathlib.Path(tempfile.mkdtemp()) / "reach"
        >>> env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state", max_episode_steps=10)
        >>> env = RecordEpisodes(env, root, repo_id="me/reach")
        >>> for seed in range(2):
        ...     obs, info = env.reset(seed=seed)
        ...     done = False
        ...     while not done:
        ...         obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        ...         done = terminated or truncated
        >>> env.num_episodes
        2
        >>> env.close()
        >>> dataset = LeRobotDataset(root, format="numpy")
        >>> len(dataset), dataset[0]["task"]
        (20, 'reach the green target with the gripper')

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        env: gym.Env[ObsType, ActType],
        root: str | Path,
        repo_id: str,
        task: str | None = None,
        fps: int | None = None,
        use_videos: bool = True,
        vcodec: str = "libsvtav1",
        resume: bool = False,
        writer: LeRobotDatasetWriter | None = None,
    ) -> None:
        # The writer is not recorded: a stack rebuilt from env.spec must open its own. A rebuilt
        # stack appends to the dataset this one created, hence resume=True.
        gym.utils.RecordConstructorArgs.__init__(
            self,
            root=str(root),
            repo_id=repo_id,
            task=task,
            fps=fps,
            use_videos=use_videos,
            vcodec=vcodec,
            resume=True,
        )
        gym.Wrapper.__init__(self, env)
        default_task = task if task is not None else _task_description(env)
        if not isinstance(default_task, str) or not default_task:
            raise ConfigError(
                "RecordEpisodes needs a task string: pass task='pick up the red cube' (the env "
                "has no unwrapped.task.description)"
            )
        self.default_task: str = default_task
        fps = fps if fps is not None else env.metadata.get("render_fps")
        if fps is None or int(fps) != fps or fps <= 0:
            raise ConfigError(
                f"RecordEpisodes needs an integer fps (the env's control rate); got {fps!r}: "
                "pass fps=30"
            )
        self.fps = int(fps)
        self.features = lerobot_features(env, use_videos=use_videos)
        robot = getattr(env.unwrapped, "robot", None)
        if writer is not None:
            self._writer, self._owns_writer = writer, False
            _check_writer(writer, self.features, self.fps)
        elif resume and (Path(root) / layout.INFO_PATH).exists():
            self._writer = LeRobotDatasetWriter.resume(
                root, fps=self.fps, features=self.features, repo_id=repo_id
            )
            self._owns_writer = True
        else:
            self._writer = LeRobotDatasetWriter.create(
                root,
                repo_id=repo_id,
                fps=self.fps,
                features=self.features,
                robot_type=getattr(robot, "robot_type", None),
                use_videos=use_videos,
                vcodec=vcodec,
            )
            self._owns_writer = True
        self._pending_obs: dict[str, Any] | None = None
        self._episode_task = self.default_task
        self._recording = False
        self._closed = False
        self.stop_requested = False

    # -- public ----------------------------------------------------------------------------

    @property
    def num_episodes(self) -> int:
        """Episodes saved in the dataset (including those before a resume)."""
        return self._writer.num_episodes

    @property
    def dataset_root(self) -> Path:
        """The dataset directory."""
        return self._writer.root

    @property
    def episode_frames(self) -> int:
        """Frames recorded in the episode in progress."""
        return self._writer.episode_buffer_size

    @property
    def writer(self) -> LeRobotDatasetWriter:
        """The dataset writer (for its ``tasks``, ``num_frames`` ...)."""
        return self._writer

    def save_episode(self) -> int | None:
        """Save the episode in progress now; recording resumes at the next ``reset()``.

        Returns:
            The saved episode's index, or None if it had no frames.
        """
        self._recording = False
        if self._writer.episode_buffer_size == 0:
            return None
        return self._writer.save_episode()

    def discard_episode(self) -> None:
        """Drop the episode in progress (to re-record it); recording resumes at ``reset()``."""
        self._recording = False
        if self._writer.episode_buffer_size:
            self._writer.clear_episode()

    # -- gymnasium API ---------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Save the episode in progress (if any), then reset the env and start recording.

        ``options={"task": "..."}`` sets this episode's task string; the option is removed
        before the env sees ``options``.
        """
        self._check_open()
        self.save_episode()
        options = dict(options) if options else {}
        task = options.pop(TASK_OPTION, None)
        if task is not None and (not isinstance(task, str) or not task):
            raise ConfigError(f"options['task'] must be a non-empty string, got {task!r}")
        self._episode_task = task or self.default_task
        obs, info = self.env.reset(seed=seed, options=options or None)
        self._pending_obs = _copy_observation(obs)
        self._recording = True
        self.stop_requested = False
        return obs, info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and record the frame (observation before the step + outcome)."""
        self._check_open()
        if self._pending_obs is None:
            raise gym.error.ResetNeeded("call env.reset() before env.step()")
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._recording:
            if info.get(info_keys.RERECORD_EPISODE, False):
                self.discard_episode()
            else:
                # The pending observation is already a private copy: the writer needs no other.
                self._writer.add_frame(
                    self._frame(action, reward, terminated or truncated, info),
                    task=self._episode_task,
                    copy_images=False,
                )
                if info.get(info_keys.TERMINATE_EPISODE, False):
                    self.stop_requested = True
                    self.save_episode()
                elif terminated or truncated:
                    self.save_episode()
        self._pending_obs = _copy_observation(obs)
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Save the episode in progress (if it has frames), close the writer and the env."""
        if not self._closed:
            self._closed = True
            try:
                self.save_episode()
            finally:
                if self._owns_writer:
                    self._writer.close()
        super().close()

    # -- helpers ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise gym.error.ClosedEnvironmentError(
                "RecordEpisodes is closed; wrap the env again with resume=True to record more"
            )

    def _frame(
        self, action: Any, reward: SupportsFloat, done: bool, info: dict[str, Any]
    ) -> dict[str, Any]:
        frame = dict(to_lerobot_observation(self._pending_obs))
        frame[ACTION] = np.asarray(applied_action(self.env, action, info), dtype=np.float32)
        frame[REWARD] = np.float32(reward)
        frame[DONE] = np.bool_(done)
        frame[SUCCESS] = np.bool_(info.get(info_keys.IS_SUCCESS, False))
        frame[IS_INTERVENTION] = np.float32(bool(info.get(info_keys.IS_INTERVENTION, False)))
        frame[DISCRETE_PENALTY] = np.float32(info.get(info_keys.DISCRETE_PENALTY, 0.0))
        return frame


def _task_description(env: gym.Env) -> str | None:
    task = getattr(env.unwrapped, "task", None)
    return getattr(task, "description", None)


def _copy_observation(obs: Any) -> Any:
    if isinstance(obs, dict):
        return {k: _copy_observation(v) for k, v in obs.items()}
    return np.array(obs, copy=True)


def _check_writer(writer: LeRobotDatasetWriter, features: dict[str, Any], fps: int) -> None:
    if writer.fps != fps:
        raise DatasetMismatchError(f"the writer records at {writer.fps} fps, the env at {fps}")
    have = {k: ft for k, ft in writer.features.items() if k not in layout.DEFAULT_FEATURES}
    wrong = sorted(
        k
        for k in set(have) | set(features)
        if k not in have or k not in features or list(have[k]["shape"]) != features[k]["shape"]
    )
    if wrong:
        raise DatasetMismatchError(
            f"the writer's features differ from what this env records on {wrong}; create the "
            "writer with features=lerobot_features(env)"
        )
