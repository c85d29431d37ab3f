"""Roll a policy out for a number of seeded episodes and summarise success, reward and videos.

Design decisions:

* Episode ``i`` is reset with ``seed + i``, so a result names the seed that reproduces it.
  By default episodes run one after another in a single env; ``batch_size > 1`` runs them over
  several envs of a Gymnasium ``SyncVectorEnv`` (:mod:`lerobot_gym.policies.eval_vector`), with
  the same seeds and, for a deterministic env and policy, the same results; a learned policy
  acts for all of them in one forward pass a step (``batch_inference``).
* The success rate comes with its 95 % Wilson score interval (:func:`wilson_interval`): 45 of
  50 is "90 %, between 79 % and 96 %", which is what a benchmark threshold must be read against.
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
  ``eval_ep_s``), plus ``n_successes`` and ``avg_steps`` in ``aggregated`` and a top-level
  ``success_rate`` and ``success_rate_ci95`` (``[low, high]``). Source:
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

__all__ = ["EpisodeResult", "EvalResult", "evaluate_policy", "wilson_interval"]

VIDEO_NAME = "eval_episode_{index}.mp4"
_Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile


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
    def n_successes(self) -> int:
        """How many episodes ended successful."""
        return sum(ep.success for ep in self.episodes)

    @property
    def success_ci95(self) -> tuple[float, float]:
        """95 % Wilson score interval of the success rate (NaNs without episodes)."""
        return wilson_interval(self.n_successes, self.n_episodes)

    @property
    def avg_steps(self) -> float:
        """Mean episode length in control steps."""
        return _mean([float(ep.steps) for ep in self.episodes])

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
            "success_rate_ci95": [_json_float(bound) for bound in self.success_ci95],
            "per_episode": [
                {key: _json_float(value) for key, value in asdict(ep).items()}
                for ep in self.episodes
            ],
            "aggregated": {
                "n_episodes": n,
                "avg_sum_reward": _json_float(self.avg_sum_reward),
                "avg_max_reward": _json_float(self.avg_max_reward),
                "pc_success": _json_float(100.0 * self.success_rate),
                "n_successes": self.n_successes,
                "avg_steps": _json_float(self.avg_steps),
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
    batch_size: int = 1,
    batch_inference: bool = True,
) -> EvalResult:
    """Run ``n_episodes`` episodes of a policy, episode ``i`` seeded ``seed + i``.

    Args:
        make_env: builds the env (called once, or ``batch_size`` times for a vector env; every
            env is closed at the end).
        policy_factory: builds the policy for an env (called once per env: a policy holds one
            episode's state, such as ACT's action queue; with ``batch_size > 1`` called once
            when the policy offers ``batched``, see ``batch_inference``).
        n_episodes: how many episodes to run (>= 1).
        seed: seed of the first episode.
        video_dir: write ``eval_episode_<i>.mp4`` here from ``env.render()``. Needs an env made
            with ``render_mode="rgb_array"``; with another render mode no video is written.
        max_videos: film at most this many episodes, the first ones (None: all).
        max_steps: end an episode (as truncated) after this many steps even if the env has no
            time limit.
        progress: called with each :class:`EpisodeResult` as soon as the episode ends (in the
            order episodes end, which with ``batch_size > 1`` is not always index order).
        batch_size: run this many envs at once in a Gymnasium ``SyncVectorEnv``
            (:mod:`lerobot_gym.policies.eval_vector`); 1 runs episodes one after another in one
            env. The results are the same either way for a deterministic env and policy.
        batch_inference: with ``batch_size > 1``, let a policy that offers
            ``batched(num_envs)`` (ACT, diffusion, SB3) act for every env in one forward pass a
            step; False builds one policy per env and steps them one after another (the
            per-env path; same results up to float rounding).

    Returns:
        The per-episode results (in episode order) and their aggregates.

    Raises:
        ConfigError: ``n_episodes < 1``, ``batch_size < 1``, or an env with no time limit and
            no ``max_steps``.
    """
    if n_episodes < 1:
        raise ConfigError(f"n_episodes must be at least 1, got {n_episodes}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    if max_steps is not None and max_steps < 1:
        raise ConfigError(f"max_steps must be at least 1, got {max_steps}")
    n_videos = n_episodes if max_videos is None else max(0, min(max_videos, n_episodes))
    start = time.perf_counter()
    if min(batch_size, n_episodes) > 1:
        from lerobot_gym.policies.eval_vector import run_vectorised

        episodes = run_vectorised(
            make_env,
            policy_factory,
            n_episodes,
            seed,
            num_envs=min(batch_size, n_episodes),
            video_dir=video_dir,
            n_videos=n_videos,
            max_steps=max_steps,
            progress=progress,
            batch_inference=batch_inference,
        )
        return EvalResult(episodes=tuple(episodes), elapsed_s=time.perf_counter() - start)
    env = make_env()
    try:
        check_time_limit(env, max_steps)
        filming = video_dir is not None and env.render_mode == "rgb_array"
        fps = float(env.metadata.get("render_fps") or 30)
        policy = policy_factory(env)
        episodes = []
        for index in range(n_episodes):
            video_path = video_path_for(video_dir if filming else None, index, n_videos)
            result = _run_episode(env, policy, index, seed + index, max_steps, video_path, fps)
            episodes.append(result)
            if progress is not None:
                progress(result)
    finally:
        env.close()
    return EvalResult(episodes=tuple(episodes), elapsed_s=time.perf_counter() - start)


def check_time_limit(env: gym.Env, max_steps: int | None) -> None:
    """Refuse an env whose episodes might never end (no time limit and no ``max_steps``)."""
    if max_steps is None and not _has_time_limit(env):
        raise ConfigError(
            "the env has no time limit, so an episode might never end; make it with "
            "gym.make (which adds the id's limit), wrap it in TimeLimit, or pass max_steps"
        )


class EpisodeRun:
    """One episode in progress: its rewards, its video writer and its clock.

    Shared by the sequential loop here and the vectorised one
    (:mod:`lerobot_gym.policies.eval_vector`), so both summarise an episode the same way.
    """

    def __init__(self, index: int, seed: int, video_path: Path | None, fps: float) -> None:
        self.index, self.seed = index, seed
        self.rewards: list[float] = []
        self.start = time.perf_counter()
        self.writer: Any = None
        if video_path is not None:
            from lerobot_gym.media import Mp4Writer  # PyAV loads only when a video is written

            self.writer = Mp4Writer(video_path, fps=fps)
        self.video_path = video_path

    def film(self, env: gym.Env) -> None:
        """Add ``env.render()`` to the video, when this episode is filmed."""
        if self.writer is not None:
            frame = env.render()
            if frame is not None:
                self.writer.write(frame)

    def add(self, reward: float) -> None:
        """Record one step's reward."""
        self.rewards.append(float(reward))

    def abort(self) -> None:
        """Drop the partial video (the evaluation failed)."""
        if self.writer is not None:
            self.writer.abort()

    def finish(self, info: dict[str, Any], terminated: bool) -> EpisodeResult:
        """Close the video; the episode's result from its final step's ``info``."""
        if self.writer is not None:
            self.writer.close()
        filmed = self.writer is not None and self.writer.frames_written
        return EpisodeResult(
            episode_ix=self.index,
            seed=self.seed,
            success=bool(info.get(info_keys.IS_SUCCESS, False)),
            sum_reward=float(np.sum(self.rewards)),
            max_reward=float(np.max(self.rewards)) if self.rewards else -math.inf,
            steps=len(self.rewards),
            terminated=bool(terminated),
            elapsed_s=time.perf_counter() - self.start,
            video_path=str(self.video_path) if filmed else None,
        )


def video_path_for(video_dir: str | os.PathLike | None, index: int, n_videos: int) -> Path | None:
    """Where episode ``index``'s video goes (None when it is not filmed)."""
    if video_dir is None or index >= n_videos:
        return None
    return Path(video_dir) / VIDEO_NAME.format(index=index)


def _run_episode(
    env: gym.Env,
    policy: Policy,
    index: int,
    seed: int,
    max_steps: int | None,
    video_path: Path | None,
    fps: float,
) -> EpisodeResult:
    run = EpisodeRun(index, seed, video_path, fps)
    try:
        obs, info = env.reset(seed=seed)
        policy.reset(obs, info)
        run.film(env)
        terminated = truncated = False
        while not (terminated or truncated):
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            run.add(float(reward))
            run.film(env)
            truncated = truncated or (max_steps is not None and len(run.rewards) >= max_steps)
    except BaseException:
        run.abort()
        raise
    return run.finish(info, terminated)


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95 % by default).

    Unlike the normal approximation ``p +- z sqrt(p(1-p)/n)`` it stays inside [0, 1] and is not
    empty at 0 or n successes, which is where small evaluations often land.

    Example:
        >>> lo, hi = wilson_interval(8, 10)
        >>> round(lo, 4), round(hi, 4)
        (0.4902, 0.9433)
        >>> wilson_interval(0, 20)[0], round(wilson_interval(0, 20)[1], 4)
        (0.0, 0.1611)
    """
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= successes <= n:
        raise ConfigError(f"successes must be within 0..{n}, got {successes}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def _has_time_limit(env: gym.Env) -> bool:
    if env.spec is not None and env.spec.max_episode_steps is not None:
        return True
    while isinstance(env, gym.Wrapper):  # a TimeLimit added by hand leaves spec unset
        if isinstance(env, gym.wrappers.TimeLimit):
            return True
        env = env.env
    return False


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _json_float(value: Any) -> Any:
    # JSON has no NaN/inf; null is what readers of eval_info.json can parse.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
