"""The evaluation report: one PNG with the success rate, returns and episode lengths.

``lerobot-gym eval`` writes ``eval_report.png`` beside ``eval_info.json``; comparing
evaluations (a policy on the twin and on the emulated arm, before and after a change) draws the
same figure with one colour per evaluation.

Design decisions:

* Panels: the success rate with its 95 % Wilson interval (the number a reader needs first, and
  how sure it is), the running success rate over episodes with its interval as a band (whether
  more episodes would change the verdict), the return of every episode with successes filled
  and failures hollow, and the distribution of episode lengths.
* Drawn with matplotlib's Agg backend (no display needed); matplotlib comes with the
  ``policies`` and ``rl`` extras, and without it :func:`write_eval_report` raises
  :class:`~lerobot_gym.errors.MissingExtraError` naming the extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from lerobot_gym.errors import ConfigError, MissingExtraError
from lerobot_gym.policies.evaluate import EvalResult, wilson_interval

__all__ = ["REPORT_NAME", "write_eval_report"]

REPORT_NAME = "eval_report.png"
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def write_eval_report(
    results: EvalResult | Mapping[str, EvalResult], path: str | Path, title: str = ""
) -> Path:
    """Draw one or several evaluations into a PNG at ``path``.

    Args:
        results: an evaluation, or evaluations by label (drawn side by side, in order).
        path: the PNG file to write (its folder is created).
        title: the figure's title (e.g. the env id and policy).

    Returns:
        ``path``.

    Raises:
        ConfigError: no evaluation, or one without episodes.
        MissingExtraError: matplotlib is not installed.
    """
    named = {"": results} if isinstance(results, EvalResult) else dict(results)
    if not named or any(r.n_episodes == 0 for r in named.values()):
        raise ConfigError("an evaluation report needs at least one evaluation with episodes")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("matplotlib", "policies", "the evaluation report") from exc

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    labels = [label or "policy" for label in named]
    for k, (label, result) in enumerate(zip(labels, named.values(), strict=True)):
        colour = _COLOURS[k % len(_COLOURS)]
        rate = result.success_rate
        lo, hi = result.success_ci95
        axes[0].bar(k, 100 * rate, color=colour, alpha=0.8)
        # max(0, ...): at 0 or n successes one side of the interval is 0 up to float rounding.
        yerr = [[100 * max(0.0, rate - lo)], [100 * max(0.0, hi - rate)]]
        axes[0].errorbar(k, 100 * rate, yerr=yerr, color="black", capsize=6)
        axes[0].annotate(
            f"{result.n_successes}/{result.n_episodes}",
            (k, 100 * hi),
            textcoords="offset points",
            xytext=(0, 4),
            ha="center",
        )

        successes = np.cumsum([ep.success for ep in result.episodes])
        n = np.arange(1, result.n_episodes + 1)
        bands = np.array([wilson_interval(int(s), int(i)) for s, i in zip(successes, n)])
        axes[1].plot(n, 100 * successes / n, color=colour, label=label)
        axes[1].fill_between(n, 100 * bands[:, 0], 100 * bands[:, 1], color=colour, alpha=0.15)

        index = np.array([ep.episode_ix for ep in result.episodes])
        returns = np.array([ep.sum_reward for ep in result.episodes])
        won = np.array([ep.success for ep in result.episodes], dtype=bool)
        axes[2].scatter(index[won], returns[won], color=colour, s=18, label=label)
        axes[2].scatter(index[~won], returns[~won], facecolors="none", edgecolors=colour, s=18)

        steps = [ep.steps for ep in result.episodes]
        axes[3].hist(steps, bins=min(20, max(1, len(set(steps)))), color=colour, alpha=0.5)

    axes[0].set_xticks(range(len(labels)), labels)
    axes[0].set(title="success rate (95 % Wilson)", ylabel="%", ylim=(0, 112))
    axes[1].set(title="running success rate", xlabel="episodes", ylabel="%", ylim=(-3, 103))
    axes[2].set(title="return (filled: success)", xlabel="episode", ylabel="sum of rewards")
    axes[3].set(title="episode length", xlabel="steps", ylabel="episodes")
    if len(named) > 1:
        axes[1].legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
