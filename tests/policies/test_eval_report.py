"""write_eval_report: one PNG for one evaluation or several side by side."""

from __future__ import annotations

import pytest

from lerobot_gym.errors import ConfigError
from lerobot_gym.policies import EpisodeResult, EvalResult
from lerobot_gym.policies.eval_report import write_eval_report

plt = pytest.importorskip("matplotlib.pyplot")


def _result(successes):
    episodes = tuple(
        EpisodeResult(i, 100 + i, ok, float(10 * ok + i), 1.0, 50 + 10 * ok, ok, 0.1)
        for i, ok in enumerate(successes)
    )
    return EvalResult(episodes=episodes, elapsed_s=1.0)


def test_report_of_one_and_of_two_evaluations(tmp_path):
    one = write_eval_report(_result([True, False, True]), tmp_path / "one.png", title="t")
    two = write_eval_report(
        {"twin": _result([True] * 5), "emulated": _result([False] * 5)},
        tmp_path / "sub" / "two.png",
    )
    for path in (one, two):
        image = plt.imread(path)
        assert image.ndim == 3 and image.shape[1] > 2 * image.shape[0]
        assert image[..., :3].std() > 0.05  # something was drawn


def test_report_refuses_empty_evaluations(tmp_path):
    with pytest.raises(ConfigError, match="at least one evaluation with episodes"):
        write_eval_report({}, tmp_path / "x.png")
    with pytest.raises(ConfigError, match="at least one evaluation with episodes"):
        write_eval_report(EvalResult(episodes=(), elapsed_s=0.0), tmp_path / "x.png")
