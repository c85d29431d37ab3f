"""Side-by-side evaluation: one policy, the same seeds, on several backends of one env id.

``lerobot-gym eval --env.backend=sim,emulated`` (and ``real`` where an arm is attached) runs
:func:`evaluate_side_by_side`: for each backend, ``n_episodes`` episodes seeded ``seed + i`` with
a policy built for that backend's env, and reports

- success (``info["is_success"]`` at the final step, as :mod:`lerobot_gym.policies.evaluate`)
  and returns (sum of rewards) on each, with 95 % intervals: Wilson score for a success rate,
  normal for a mean return (:func:`~lerobot_gym.policies.evaluate.wilson_interval` is shared
  with the single-backend evaluation);
- per-joint tracking error on each: ``mean |state[t + lag] - target[t]|`` at each joint's best
  lag (frames), the definition ``lerobot-gym sysid`` uses
  (:func:`lerobot_gym.sim.sysid.tracking_error`), where ``target`` is the action after safety
  (``info["action_applied"]``) and ``state`` the observed ``agent_pos``, in the env's units;
- the gap of every other backend to the first (the reference, normally ``sim``): the
  difference of success rates with Newcombe's hybrid score interval (built from the two Wilson
  intervals), the paired difference of returns per seed with a normal interval, and the
  per-joint difference of tracking errors.

Decisions:

- The success gap uses Newcombe's interval for independent samples (Newcombe 1998, method 10)
  although the episodes share seeds: a paired interval needs discordant pairs, which a handful
  of episodes rarely has, and the independent interval is the wider (conservative) one when the
  backends' outcomes agree seed by seed. Returns are paired by seed: their difference per seed
  cancels what the seed decides (the cube's pose).
- Only the ``agent_pos`` observation and ``info`` are read, so any obs_type that has
  ``agent_pos`` works on every backend; an env without it reports no tracking error.
- The report is JSON-safe (:meth:`SideBySideResult.to_dict`); the plots are drawn by
  :func:`write_plots` with matplotlib's Agg backend (the ``policies`` extra), imported only there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError, MissingExtraError
from lerobot_gym.policies.base import Policy
from lerobot_gym.policies.evaluate import wilson_interval

__all__ = [
    "BackendResult",
    "SideBySideResult",
    "evaluate_side_by_side",
    "newcombe_interval",
    "write_plots",
]

#: z of a two-sided 95 % interval.
Z95 = 1.959963984540054


def newcombe_interval(
    successes_a: int, n_a: int, successes_b: int, n_b: int, z: float = Z95
) -> tuple[float, float]:
    """Interval of ``rate_b - rate_a`` from the two Wilson intervals (Newcombe's method 10)."""
    if n_a <= 0 or n_b <= 0:
        return (math.nan, math.nan)
    p_a, p_b = successes_a / n_a, successes_b / n_b
    low_a, high_a = wilson_interval(successes_a, n_a, z)
    low_b, high_b = wilson_interval(successes_b, n_b, z)
    d = p_b - p_a
    return (
        d - math.sqrt((p_b - low_b) ** 2 + (high_a - p_a) ** 2),
        d + math.sqrt((high_b - p_b) ** 2 + (p_a - low_a) ** 2),
    )


def mean_interval(values: Sequence[float], z: float = Z95) -> tuple[float, float, float]:
    """Mean and its normal 95 % interval ``(mean, low, high)`` (one value: a zero-width one)."""
    x = np.asarray(values, dtype=np.float64)
    if not len(x):
        return (math.nan, math.nan, math.nan)
    mean = float(x.mean())
    half = z * float(x.std(ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else 0.0
    return (mean, mean - half, mean + half)


@dataclass(frozen=True)
class EpisodeRecord:
    """One episode on one backend: outcome and the trajectory tracking is computed from."""

    seed: int
    success: bool
    sum_reward: float
    steps: int
    states: np.ndarray = field(repr=False)  # (steps + 1, D) agent_pos, boundary units
    targets: np.ndarray = field(repr=False)  # (steps, D) action after safety


@dataclass(frozen=True)
class BackendResult:
    """All episodes of one backend.

    Attributes:
        backend: the backend's name (``sim``, ``emulated``, ``real``).
        episodes: per-episode records, in seed order.
        joint_names: the state's joint names.
        units: each joint's boundary unit.
        elapsed_s: wall-clock duration.
    """

    backend: str
    episodes: tuple[EpisodeRecord, ...]
    joint_names: tuple[str, ...]
    units: tuple[str, ...]
    elapsed_s: float

    @property
    def successes(self) -> int:
        """Successful episodes."""
        return sum(ep.success for ep in self.episodes)

    @property
    def success_rate(self) -> float:
        """Fraction of successful episodes."""
        return self.successes / len(self.episodes) if self.episodes else math.nan

    @property
    def returns(self) -> np.ndarray:
        """Sum of rewards per episode."""
        return np.array([ep.sum_reward for ep in self.episodes])

    def tracking(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-joint tracking error and its best lag in frames (module docstring)."""
        from lerobot_gym.sim.sysid import MAX_LAG, tracking_error

        usable = [ep for ep in self.episodes if ep.steps > 0 and ep.states.size]
        if not usable:
            n = len(self.joint_names)
            return np.full(n, np.nan), np.zeros(n, dtype=int)
        # Every lag tried must fit in some episode (short ones cannot show a long lag).
        max_lag = min(MAX_LAG, max(ep.steps for ep in usable) - 1)
        return tracking_error(
            [ep.states for ep in usable], [ep.targets for ep in usable], max_lag=max_lag
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary of this backend."""
        error, lag = self.tracking()
        mean, low, high = mean_interval(self.returns.tolist())
        return {
            "backend": self.backend,
            "n_episodes": len(self.episodes),
            "successes": self.successes,
            "success_rate": self.success_rate,
            "success_rate_interval": list(wilson_interval(self.successes, len(self.episodes))),
            "avg_sum_reward": mean,
            "avg_sum_reward_interval": [low, high],
            "tracking_error": dict(zip(self.joint_names, _floats(error), strict=True)),
            "tracking_lag_frames": dict(zip(self.joint_names, lag.tolist(), strict=True)),
            "units": dict(zip(self.joint_names, self.units, strict=True)),
            "per_episode": [
                {
                    "seed": ep.seed,
                    "success": ep.success,
                    "sum_reward": ep.sum_reward,
                    "steps": ep.steps,
                }
                for ep in self.episodes
            ],
            "eval_s": self.elapsed_s,
        }


@dataclass(frozen=True)
class SideBySideResult:
    """Every backend's result; the first is the reference the gaps are measured from."""

    env_id: str
    seed: int
    backends: tuple[BackendResult, ...]

    @property
    def reference(self) -> BackendResult:
        """The first backend (normally ``sim``)."""
        return self.backends[0]

    def gap(self, other: BackendResult) -> dict[str, Any]:
        """``other`` minus the reference: success rate, return and tracking error."""
        ref = self.reference
        n_ref, n_other = len(ref.episodes), len(other.episodes)
        paired = min(n_ref, n_other)
        diffs = (other.returns[:paired] - ref.returns[:paired]).tolist()
        mean, low, high = mean_interval(diffs)
        error_ref, _ = ref.tracking()
        error_other, _ = other.tracking()
        return {
            "backend": other.backend,
            "reference": ref.backend,
            "success_rate_difference": other.success_rate - ref.success_rate,
            "success_rate_difference_interval": list(
                newcombe_interval(ref.successes, n_ref, other.successes, n_other)
            ),
            "sum_reward_difference": mean,
            "sum_reward_difference_interval": [low, high],
            "tracking_error_difference": dict(
                zip(ref.joint_names, _floats(error_other - error_ref), strict=True)
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        """The report written as ``side_by_side.json``."""
        return _json_safe(
            {
                "env_id": self.env_id,
                "seed": self.seed,
                "seeds": [ep.seed for ep in self.reference.episodes],
                "backends": {b.backend: b.to_dict() for b in self.backends},
                "gaps": [self.gap(b) for b in self.backends[1:]],
                "definitions": {
                    "success": "info['is_success'] at the final step",
                    "success_rate_interval": "95 % Wilson score interval",
                    "success_rate_difference_interval": (
                        "95 % Newcombe hybrid score interval (method 10) of backend - reference"
                    ),
                    "sum_reward_difference_interval": "95 % normal interval, paired by seed",
                    "tracking_error": (
                        "mean |agent_pos[t + lag] - action_applied[t]| per joint at its best "
                        "lag (frames), in the joint's unit"
                    ),
                },
            }
        )


def evaluate_side_by_side(
    env_id: str,
    backends: Mapping[str, Mapping[str, Any]],
    policy_factory: Callable[[gym.Env], Policy],
    n_episodes: int,
    seed: int,
    *,
    max_steps: int | None = None,
    progress: Callable[[str, EpisodeRecord], None] | None = None,
) -> SideBySideResult:
    """Run one policy on each backend with the same seeds (see the module docstring).

    Args:
        env_id: the registered id.
        backends: backend name -> ``gym.make`` keywords for it (``backend=`` is set from the
            name), in order; the first is the reference.
        policy_factory: builds the policy for one backend's env (called once per backend).
        n_episodes: episodes per backend (>= 1), episode ``i`` seeded ``seed + i``.
        seed: seed of the first episode.
        max_steps: cap on steps per episode (None: the id's time limit).
        progress: called with ``(backend, episode)`` as each episode ends.

    Raises:
        ConfigError: fewer than two backends, ``n_episodes < 1`` or ``max_steps < 1``.
    """
    if len(backends) < 2:
        raise ConfigError(
            f"a side-by-side evaluation needs two or more backends, got {list(backends)}; "
            "pass e.g. --env.backend=sim,emulated"
        )
    if n_episodes < 1:
        raise ConfigError(f"n_episodes must be at least 1, got {n_episodes}")
    if max_steps is not None and max_steps < 1:
        raise ConfigError(f"max_steps must be at least 1, got {max_steps}")
    results = []
    for name, kwargs in backends.items():
        start = time.perf_counter()
        env = gym.make(env_id, **{**kwargs, "backend": name})
        try:
            robot = env.unwrapped.robot  # type: ignore[attr-defined]
            policy = policy_factory(env)
            episodes = []
            for index in range(n_episodes):
                record = _run_episode(env, policy, seed + index, max_steps)
                episodes.append(record)
                if progress is not None:
                    progress(name, record)
        finally:
            env.close()
        results.append(
            BackendResult(
                backend=name,
                episodes=tuple(episodes),
                joint_names=tuple(robot.joint_names),
                units=tuple(j.unit for j in robot.joints),
                elapsed_s=time.perf_counter() - start,
            )
        )
    return SideBySideResult(env_id=env_id, seed=seed, backends=tuple(results))


def _run_episode(env: gym.Env, policy: Policy, seed: int, max_steps: int | None) -> EpisodeRecord:
    obs, info = env.reset(seed=seed)
    policy.reset(obs, info)
    states, targets, rewards = [_agent_pos(obs)], [], []
    terminated = truncated = False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        rewards.append(float(reward))
        states.append(_agent_pos(obs))
        targets.append(np.asarray(info.get(info_keys.ACTION_APPLIED, []), dtype=np.float64))
        truncated = truncated or (max_steps is not None and len(rewards) >= max_steps)
    has_state = states[0].size and all(t.size for t in targets)
    return EpisodeRecord(
        seed=seed,
        success=bool(info.get(info_keys.IS_SUCCESS, False)),
        sum_reward=float(np.sum(rewards)),
        steps=len(rewards),
        states=np.stack(states) if has_state else np.zeros((0, 0)),
        targets=np.stack(targets) if has_state and targets else np.zeros((0, 0)),
    )


def _agent_pos(obs: Any) -> np.ndarray:
    if isinstance(obs, Mapping) and "agent_pos" in obs:
        return np.asarray(obs["agent_pos"], dtype=np.float64)
    return np.zeros(0)


def write_plots(result: SideBySideResult, directory: str | Path) -> list[Path]:
    """``success_returns.png`` and ``tracking_error.png`` in ``directory`` (matplotlib, Agg)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingExtraError("matplotlib", "policies", "the side-by-side plots") from None
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = [b.backend for b in result.backends]
    colours = plt.get_cmap("tab10")(np.arange(len(names)))

    fig, (ax_s, ax_r, ax_g) = plt.subplots(1, 3, figsize=(14, 4))
    rates = [b.success_rate for b in result.backends]
    bounds = [wilson_interval(b.successes, len(b.episodes)) for b in result.backends]
    # Clipped at 0: at 10/10 the Wilson bound is 1 - 1e-16, a float step below the rate.
    below = [max(0.0, r - lo) for r, (lo, _) in zip(rates, bounds, strict=True)]
    above = [max(0.0, hi - r) for r, (_, hi) in zip(rates, bounds, strict=True)]
    ax_s.bar(names, rates, yerr=[below, above], color=colours, capsize=6)
    ax_s.set_ylim(0, 1.05)
    ax_s.set_ylabel("success rate (95 % Wilson interval)")
    ax_s.set_title(f"{result.env_id}: success")
    ax_r.boxplot([b.returns for b in result.backends], tick_labels=names)
    for i, b in enumerate(result.backends):
        ax_r.scatter(np.full(len(b.returns), i + 1), b.returns, color=colours[i], s=12, zorder=3)
    ax_r.set_ylabel("return (sum of rewards)")
    ax_r.set_title("returns, same seeds")
    gaps = [result.gap(b) for b in result.backends[1:]]
    for i, gap in enumerate(gaps):
        d = gap["success_rate_difference"]
        low, high = gap["success_rate_difference_interval"]
        ax_g.errorbar(
            [i],
            [d],
            yerr=[[max(0.0, d - low)], [max(0.0, high - d)]],
            fmt="o",
            capsize=6,
            color=colours[i + 1],
        )
    ax_g.axhline(0.0, color="grey", linewidth=0.8)
    ax_g.set_xticks(range(len(gaps)), [f"{g['backend']} - {g['reference']}" for g in gaps])
    ax_g.set_xlim(-0.5, len(gaps) - 0.5)
    ax_g.set_ylim(-1.05, 1.05)
    ax_g.set_ylabel("success-rate difference (95 % Newcombe)")
    ax_g.set_title("gap to the reference")
    fig.tight_layout()
    success_path = directory / "success_returns.png"
    fig.savefig(success_path, dpi=100)
    plt.close(fig)

    ref = result.reference
    labels = [f"{n}\n[{u}]" for n, u in zip(ref.joint_names, ref.units, strict=True)]
    x = np.arange(len(labels))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(labels)), 4))
    for i, b in enumerate(result.backends):
        error, lag = b.tracking()
        bars = ax.bar(
            x + (i - (len(names) - 1) / 2) * width, error, width, label=b.backend, color=colours[i]
        )
        ax.bar_label(bars, labels=[f"lag {v}" for v in lag], fontsize=7)
    ax.set_xticks(x, labels)
    ax.set_ylabel("mean |state[t+lag] - target[t]|")
    ax.set_title("per-joint tracking error at each joint's best lag (frames)")
    ax.legend()
    fig.tight_layout()
    tracking_path = directory / "tracking_error.png"
    fig.savefig(tracking_path, dpi=100)
    plt.close(fig)
    return [success_path, tracking_path]


def _floats(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def _json_safe(value: Any) -> Any:
    # JSON has no NaN/inf: null is what readers of the report can parse.
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
