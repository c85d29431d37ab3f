"""Side-by-side evaluation: the same policy and seeds on the twin and the emulated arm.

The emulated arm runs in lockstep (one control period per step), so its results do not depend
on how loaded the machine is, and gets 0.5 s per bus reply: its emulator thread shares two
loaded cores with the test (the 50 ms default timed out once under load). Interval functions
are checked against published values.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.cli.main import main
from lerobot_gym.errors import ConfigError
from lerobot_gym.policies import make_policy
from lerobot_gym.policies.evaluate import wilson_interval
from lerobot_gym.policies.side_by_side import evaluate_side_by_side, newcombe_interval, write_plots

REACH = "lerobot_gym/SO101-Reach-v0"
PNG = b"\x89PNG\r\n\x1a\n"


def test_wilson_interval_matches_published_values():
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 0/10 and 1/29, method 3.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(1, 29) == pytest.approx((0.0061, 0.1718), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert all(np.isnan(wilson_interval(0, 0)))


def test_newcombe_interval_matches_published_values():
    # Newcombe (1998), Statistics in Medicine 17:873, table II: 56/70 - 48/80, method 10.
    assert newcombe_interval(48, 80, 56, 70) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    # ... and 9/10 - 3/10.
    assert newcombe_interval(3, 10, 9, 10) == pytest.approx((0.1705, 0.8090), abs=1e-4)


def _scripted(env):
    return make_policy("scripted", env, seed=0)


def test_sim_and_emulated_same_seeds_and_a_measured_lag_gap(tmp_path):
    # The emulated arm's observations are made 3 frames late: the report must see it in the
    # tracking lags, and nothing else about the arms differs.
    result = evaluate_side_by_side(
        REACH,
        {
            "sim": {"obs_type": "state"},
            "emulated": {
                "obs_type": "state",
                "lockstep": True,
                "bus_timeout_ms": 500.0,
                "knobs": {"observation_latency_frames": [3, 3]},
            },
        },
        _scripted,
        n_episodes=2,
        seed=7,
    )
    sim, emulated = result.backends
    assert [ep.seed for ep in sim.episodes] == [ep.seed for ep in emulated.episodes] == [7, 8]
    assert sim.success_rate == 1.0  # the scripted reach succeeds on the twin
    error_sim, lag_sim = sim.tracking()
    error_emu, lag_emu = emulated.tracking()
    arm = slice(0, 4)  # joints that move in a reach (the roll and gripper barely do)
    np.testing.assert_array_equal(lag_emu[arm], lag_sim[arm] + 3)
    assert np.all(np.isfinite(error_sim)) and np.all(np.isfinite(error_emu))

    report = result.to_dict()
    json.dumps(report, allow_nan=False)  # strictly JSON
    assert set(report["backends"]) == {"sim", "emulated"}
    (gap,) = report["gaps"]
    assert gap["backend"] == "emulated" and gap["reference"] == "sim"
    low, high = gap["success_rate_difference_interval"]
    assert low <= gap["success_rate_difference"] <= high
    assert report["backends"]["sim"]["tracking_lag_frames"]["shoulder_pan"] == lag_sim[0]
    assert report["backends"]["sim"]["units"]["gripper"] == "percent"

    paths = write_plots(result, tmp_path)
    assert [p.name for p in paths] == ["success_returns.png", "tracking_error.png"]
    assert all(p.read_bytes().startswith(PNG) for p in paths)


def test_one_backend_is_not_side_by_side():
    with pytest.raises(ConfigError, match="two or more backends"):
        evaluate_side_by_side(REACH, {"sim": {}}, _scripted, n_episodes=1, seed=0)


def test_cli_eval_on_two_backends_writes_one_report(tmp_path, capsys):
    out = tmp_path / "sbs"
    code = main(
        [
            "eval",
            f"--env.id={REACH}",
            "--env.obs_type=state",
            "--env.backend=sim,emulated",
            "--env.emulated.lockstep=true",
            "--env.emulated.bus_timeout_ms=500",
            '--env.emulated.knobs={"observation_latency_frames":[2,2]}',
            "--policy.type=scripted",
            "--eval.n_episodes=2",
            "--eval.max_steps=40",
            "--seed=3",
            f"--output_dir={out}",
        ]
    )
    stdout = capsys.readouterr().out
    assert code == 0
    report = json.loads((out / "side_by_side.json").read_text())
    assert report["seeds"] == [3, 4]
    assert report["config"]["env"]["backends"] == ["sim", "emulated"]
    assert report["config"]["env"]["kwargs"]["emulated"]["lockstep"] is True
    assert "lockstep" not in report["config"]["env"]["kwargs"]["sim"]
    lags = {b: report["backends"][b]["tracking_lag_frames"] for b in ("sim", "emulated")}
    assert lags["emulated"]["shoulder_lift"] == lags["sim"]["shoulder_lift"] + 2
    for backend in ("sim", "emulated"):
        assert [ep["steps"] for ep in report["backends"][backend]["per_episode"]] == [40, 40]
        assert f"{backend}: success" in stdout
    assert "gap emulated - sim: success" in stdout
    assert (out / "success_returns.png").read_bytes().startswith(PNG)
    assert (out / "tracking_error.png").read_bytes().startswith(PNG)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--env.backend=sim,sim"], "--env.backend=sim,sim: name two or more different"),
        (["--env.backend=sim,moon"], "--env.backend=sim,moon"),
        (["--env.backend=sim,emulated", "--env.real.port=/dev/x"], "--env.real.* given"),
    ],
)
def test_cli_bad_backend_lists_name_the_flag(tmp_path, capsys, flags, message):
    code = main(["eval", f"--env.id={REACH}", "--env.obs_type=state", *flags])
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert "Traceback" not in captured.err


def _synthetic(name, successes, steps):
    from lerobot_gym.policies.side_by_side import BackendResult, EpisodeRecord

    rng = np.random.default_rng(len(name))
    episodes = tuple(
        EpisodeRecord(
            seed=i,
            success=bool(s),
            sum_reward=float(i + s),
            steps=steps,
            states=rng.random((steps + 1, 2)),
            targets=rng.random((steps, 2)),
        )
        for i, s in enumerate(successes)
    )
    return BackendResult(name, episodes, ("a", "b"), ("deg", "percent"), 1.0)


def test_three_backends_and_one_step_episodes_report_and_plot(tmp_path):
    from lerobot_gym.policies.side_by_side import SideBySideResult

    result = SideBySideResult(
        "x",
        0,
        (
            _synthetic("sim", [1, 1, 1, 0], 1),
            _synthetic("emulated", [1, 0, 1, 0], 1),
            _synthetic("real", [0, 0, 1, 0], 1),
        ),
    )
    report = result.to_dict()
    assert [g["backend"] for g in report["gaps"]] == ["emulated", "real"]
    assert report["gaps"][1]["success_rate_difference"] == pytest.approx(-0.5)
    assert report["backends"]["real"]["tracking_lag_frames"] == {"a": 0, "b": 0}
    assert all(p.read_bytes().startswith(PNG) for p in write_plots(result, tmp_path))


def test_cli_side_by_side_refuses_a_batch_size(capsys):
    code = main(["eval", f"--env.id={REACH}", "--env.backend=sim,emulated", "--eval.batch_size=4"])
    assert code == 2
    assert "--eval.batch_size" in capsys.readouterr().err


@pytest.mark.parametrize("n", [10, 20, 29])
def test_plots_of_all_successes(tmp_path, n):
    # The Wilson bound at n/n lands a float step below 1 for some n: no negative error bar.
    from lerobot_gym.policies.side_by_side import SideBySideResult

    result = SideBySideResult(
        "x", 0, (_synthetic("sim", [1] * n, 2), _synthetic("emulated", [1] * n, 2))
    )
    assert all(p.read_bytes().startswith(PNG) for p in write_plots(result, tmp_path))
