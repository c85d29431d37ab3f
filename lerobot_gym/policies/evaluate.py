"""Roll a policy out for a number of seeded episodes and summarise success, reward and videos.

Design decisions:

* Episodes run one after another in a single env, episode ``i`` reset with ``seed + i``, so a
  result names the seed that reproduces it. (Vector envs and Ray sweeps build on this per-episode
  unit rather than replace it.)
* Success is ``info["is_success"]`` at the episode's *final* step, as LeRobot's ``lerobot-eval``
  reads it: a cube picked and dropped again is not a success.
* An episode ends at ``terminated`` or ``truncated``; the env's time limit (``gym.make`` adds
  one for every lerobot_gym id) bounds it, or ``max_steps`` when given. An env with neither is
  refused rather than run forever.
* Videos come from ``env.render()`` (``render_mode="rgb_array"``) and only the episodes that are
  filmed pay for rendering; frames stream into :class:`~lerobot_gym.media.Mp4Writer` so memory
  does not grow with the episode.
* Progress is reported through a callback, because this module neither prints nor owns a
  progress bar; the CLI turns it into tqdm.
* The JSON layout of :meth:`EvalResult.to_dict` follows LeRobot's ``eval_info.json``
  (``per_episode`` with ``episode_ix``, ``sum_reward``, ``max_reward``, ``success``, ``seed``;
  ``aggregated`` with ``avg_sum_reward``, ``avg_max_reward``, ``pc_success``, ``eval_s``,
  ``eval_ep_s``), plus a top-level ``success_rate``. Source:
  ``shared/reference/lerobot-interfaces.md`` section 3.2 and LeRobot's ``scripts/eval.py``.

Example:
    >>> import gymnasium as gym
    >>> import lerobot_gym
    >>> from lerobot_gym.policies import make_policy
    >>> result = evaluate_policy(
    ...     lambda: gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"),
    ...     lambda env: make_policy("scripted", env),
    ...     n_episodes=2,
    ...     seed=0,
    ... )
    >>> result.success_rate, [ep.seed for ep in result.episodes]
    (1.0, [0, 1])
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError
from lerobot_gym.policies.base import Policy

__all__ = ["EpisodeResult", "EvalResult", "evaluate_policy"]

VIDEO_NAME = "eval_episode_{index}.mp4"


@dataclass(frozen=True)
class EpisodeResult:
    """The outcome of one evaluation episode.

    Attributes:
        episode_ix: position in the evaluation (0-based).
        seed: the ``env.reset`` seed that reproduces it.
        success: ``info["is_success"]`` at the final step.
        sum_reward: sum of rewards.
        max_reward: largest single-step reward (``-inf`` in an episode without steps).
        steps: control steps taken.
        terminated: the episode ended by the task (success or failure), not the time limit.
        elapsed_s: wall-clock duration, including rendering and video encoding.
        video_path: the episode's mp4, when it was filmed.
    """

    episode_ix: int
    seed: int
    success: bool
    sum_reward: float
    max_reward: float
    steps: int
    terminated: bool
    elapsed_s: float
    video_path: str | None = None


@dataclass(frozen=True)
class EvalResult:
    """All episodes of an evaluation and their aggregates.

    Attributes:
        episodes: per-episode results in order.
        elapsed_s: wall-clock duration of the whole evaluation.
    """

    episodes: tuple[EpisodeResult, ...]
    elapsed_s: float

    @property
    def n_episodes(self) -> int:
        """How many episodes ran."""
        return len(self.episodes)

    @property
    def success_rate(self) -> float:
        """Fraction of successful episodes in [0, 1] (NaN without episodes)."""
        return _mean([float(ep.success) for ep in self.episodes])

    @property
    def avg_sum_reward(self) -> float:
        """Mean over episodes of the summed reward."""
        return _mean([ep.sum_reward for ep in self.episodes])

    @property
    def avg_max_reward(self) -> float:
        """Mean over episodes of the largest step reward."""
        return _mean([ep.max_reward for ep in self.episodes])

    @property
    def video_paths(self) -> list[str]:
        """The mp4 files written, in episode order."""
        return [ep.video_path for ep in self.episodes if ep.video_path]

    def to_dict(self) -> dict[str, Any]:
        """The ``eval_info.json`` layout (see the module docstring); JSON-serialisable."""
        n = self.n_episodes
        return {
            "success_rate": _json_float(self.success_rate),
            "per_episode": [
                {key: _json_float(value) for key, value in asdict(ep).items()}
                for ep in self.episodes
            ],
            "aggregated": {
                "n_episodes": n,
                "avg_sum_reward": _json_float(self.avg_sum_reward),
                "avg_max_reward": _json_float(self.avg_max_reward),
                "pc_success": _json_float(100.0 * self.success_rate),
                "eval_s": self.elapsed_s,
                "eval_ep_s": self.elapsed_s / n if n else None,
            },
            "video_paths": self.video_paths,
        }


def evaluate_policy(
    make_env: Callable[[], gym.Env],
    policy_factory: Callable[[gym.Env], Policy],
    n_episodes: int,
    seed: int,
    *,
    video_dir: str | os.PathLike | None = None,
    max_videos: int | None = None,
    max_steps: int | None = None,
    progress: Callable[[EpisodeResult], None] | None = None,
) -> EvalResult:
    """Run ``n_episodes`` episodes of a policy, sequentially, episode ``i`` seeded ``seed + i``.

    Args:
        make_env: builds the env (called once; the env is closed at the end).
        policy_factory: builds the policy for that env (called once).
        n_episodes: how many episodes to run (>= 1).
        seed: seed of the first episode.
        video_dir: write ``eval_episode_<i>.mp4`` here from ``env.render()``. Needs an env made
            with ``render_mode="rgb_array"``; with another render mode no video is written.
        max_videos: film at most this many episodes, the first ones (None: all).
        max_steps: end an episode (as truncated) after this many steps even if the env has no
            time limit.
        progress: called with each :class:`EpisodeResult` as soon as the episode ends.

    Returns:
        The per-episode results and their aggregates.

    Raises:
        ConfigError: ``n_episodes < 1``, or an env with no time limit and no ``max_steps``.
    """
    if n_episodes < 1:
        raise ConfigError(f"n_episodes must be at least 1, got {n_episodes}")
    if max_steps is not None and max_steps < 1:
        raise ConfigError(f"max_steps must be at least 1, got {max_steps}")
    n_videos = n_episodes if max_videos is None else max(0, min(max_videos, n_episodes))
    start = time.perf_counter()
    env = make_env()
    try:
        if max_steps is None and not _has_time_limit(env):
            raise ConfigError(
                "the env has no time limit, so an episode might never end; make it with "
                "gym.make (which adds the id's limit), wrap it in TimeLimit, or pass max_steps"
            )
        filming = video_dir is not None and n_videos > 0 and env.render_mode == "rgb_array"
        fps = float(env.metadata.get("render_fps") or 30)
        policy = policy_factory(env)
        episodes = []
        for index in range(n_episodes):
            video_path = None
            if filming and index < n_videos:
                assert video_dir is not None  # filming requires it
                video_path = Path(video_dir) / VIDEO_NAME.format(index=index)
            result = _run_episode(env, policy, index, seed + index, max_steps, video_path, fps)
            episodes.append(result)
            if progress is not None:
                progress(result)
    finally:
        env.close()
    return EvalResult(episodes=tuple(episodes), elapsed_s=time.perf_counter() - start)


def _run_episode(
    env: gym.Env,
    policy: Policy,
    index: int,
    seed: int,
    max_steps: int | None,
    video_path: Path | None,
    fps: float,
) -> EpisodeResult:
    start = time.perf_counter()
    writer = None
    if video_path is not None:
        from lerobot_gym.media import Mp4Writer  # PyAV loads only when a video is written

        writer = Mp4Writer(video_path, fps=fps)
    try:
        obs, info = env.reset(seed=seed)
        policy.reset(obs, info)
        _film(env, writer)
        rewards: list[float] = []
        terminated = truncated = False
        while not (terminated or truncated):
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            rewards.append(float(reward))
            _film(env, writer)
            truncated = truncated or (max_steps is not None and len(rewards) >= max_steps)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
    return EpisodeResult(
        episode_ix=index,
        seed=seed,
        success=bool(info.get(info_keys.IS_SUCCESS, False)),
        sum_reward=float(np.sum(rewards)),
        max_reward=float(np.max(rewards)) if rewards else -math.inf,
        steps=len(rewards),
        terminated=bool(terminated),
        elapsed_s=time.perf_counter() - start,
        video_path=str(video_path) if writer is not None and writer.frames_written else None,
    )


def _has_time_limit(env: gym.Env) -> bool:
    if env.spec is not None and env.spec.max_episode_steps is not None:
        return True
    while isinstance(env, gym.Wrapper):  # a TimeLimit added by hand leaves spec unset
        if isinstance(env, gym.wrappers.TimeLimit):
            return True
        env = env.env
    return False


def _film(env: gym.Env, writer: Any) -> None:
    if writer is not None:
        frame = env.render()
        if frame is not None:
            writer.write(frame)


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _json_float(value: Any) -> Any:
    # JSON has no NaN/inf; null is what readers of eval_info.json can parse.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
