"""Our ``meta/stats.json`` as LeRobot 0.4.4 loads and uses it (``meta.stats``, normalisation).

LeRobot normalises policy inputs and outputs with ``dataset.meta.stats``: ``MEAN_STD`` reads
``mean``/``std``, ``MIN_MAX`` ``min``/``max``, ``QUANTILES`` ``q01``/``q99`` and ``QUANTILE10``
``q10``/``q90`` (``lerobot.processor.normalize_processor``). Reference
``shared/reference/lerobot-dataset-v3.md`` section 6 gives the format: per dimension
``(D,)`` for vectors, ``(1,)`` for scalars, per channel ``(3, 1, 1)`` in [0, 1] for cameras,
``count = [frames]``, and across episodes min of mins, max of maxes, exact pooled mean and std,
and for quantiles the envelope of the episodes' quantiles (``q <= 0.5`` the minimum, else the
maximum).

Checked here, on LeRobot's view of each dataset (``lerobot_side.py read`` dumps ``meta.stats``
and what LeRobot's own ``NormalizerProcessorStep`` makes of every frame):

- our datasets (BASIC, both codecs; RL_IMAGES): every numeric, bookkeeping and camera feature
  has all the keys with the right shapes, and values equal numpy on the written data (our
  quantiles are exact per episode, so the envelope is exact too);
- datasets resumed across tools (half the episodes' stats computed by LeRobot, which
  approximates quantiles with histograms): moments and extremes equal numpy over all episodes,
  quantiles are ordered and inside [min, max];
- LeRobot's normaliser, in all four modes, turns the frames into what numpy computes from the
  numpy statistics: the stats broadcast against LeRobot's batches the way they must.
"""

from __future__ import annotations

from typing import Any

import compat_synthetic as synth
import numpy as np
import pytest
from compat_helpers import COMPAT_MARKS, Dump, expected_bookkeeping

pytestmark = COMPAT_MARKS

QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
STAT_KEYS = {"min", "max", "mean", "std", "count", *QUANTILES}
# LeRobot's NormalizerProcessorStep default epsilon.
EPS = 1e-8


def episode_values(spec: synth.Spec) -> dict[str, list[np.ndarray]]:
    """Per stats feature, each episode's values as float64 ``(samples, dims)``.

    Camera samples are pixels in [0, 1] with one column per channel, as LeRobot pools them.
    """
    bookkeeping = expected_bookkeeping(spec)
    bounds = np.cumsum((0, *spec.episode_lengths))
    out: dict[str, list[np.ndarray]] = {}
    for ep in range(len(spec.episode_lengths)):
        frames = spec.episode(ep)
        for key, values in frames.items():
            if key == spec.camera_key:
                sample = values.reshape(-1, 3) / 255.0
            else:
                sample = values.reshape(len(values), -1)
            out.setdefault(key, []).append(sample.astype(np.float64))
        for key, column in bookkeeping.items():
            out.setdefault(key, []).append(column[bounds[ep] : bounds[ep + 1], None].astype(float))
    return out


def expected_stats(episodes: list[np.ndarray], camera: bool) -> dict[str, np.ndarray]:
    """Reference section 6 computed with numpy: pooled moments, quantile envelope."""
    pooled = np.concatenate(episodes)
    frames = sum(len(e) for e in episodes) if not camera else None
    out = {
        "min": pooled.min(axis=0),
        "max": pooled.max(axis=0),
        "mean": pooled.mean(axis=0),
        "std": pooled.std(axis=0),
    }
    for key, q in QUANTILES.items():
        per_episode = np.stack([np.quantile(e, q, axis=0) for e in episodes])
        out[key] = per_episode.min(axis=0) if q <= 0.5 else per_episode.max(axis=0)
    if camera:
        out = {k: v.reshape(3, 1, 1) for k, v in out.items()}
    else:
        out["count"] = np.array([frames])
    return out


def expected_shape(spec: synth.Spec, key: str) -> tuple[int, ...]:
    if key == spec.camera_key:
        return (3, 1, 1)
    if key in spec.features:
        return tuple(spec.features[key]["shape"])
    return (1,)  # bookkeeping columns


def check_stats(stats: dict[str, Any], spec: synth.Spec, who: str, *, exact_q: bool) -> None:
    """LeRobot's ``meta.stats`` against numpy on the written episodes of ``spec``."""
    values = episode_values(spec)
    assert set(stats) == set(values), f"{who}: stats features {sorted(stats)}"
    total = sum(spec.episode_lengths)
    for key, episodes in values.items():
        got = {name: np.asarray(v, dtype=np.float64) for name, v in stats[key].items()}
        assert set(got) == STAT_KEYS, f"{who}: {key} has {sorted(got)}"
        shape = expected_shape(spec, key)
        for name, value in got.items():
            want_shape = (1,) if name == "count" else shape
            assert value.shape == want_shape, f"{who}: {key}/{name} shape {value.shape}"
        assert got["count"].item() == total, f"{who}: {key}/count"
        want = expected_stats(episodes, camera=key == spec.camera_key)
        names = list(want) if exact_q else ["min", "max", "mean", "std"]
        if not exact_q and key == spec.camera_key:
            # LeRobot 0.4.4 squares uint8 pixels in RunningQuantileStats.update, which wraps
            # and records std 0 for every camera of its own episodes (huggingface/lerobot#3682,
            # fixed by #3697 after 0.4.4): the pooled std is not ours to check.
            names.remove("std")
        # We accumulate in float64; LeRobot's episode stats come from float32 arrays (measured
        # relative error up to 5e-6 on std).
        rtol = 1e-9 if exact_q else 2e-5
        for name in names:
            np.testing.assert_allclose(
                got[name], want[name], rtol=rtol, atol=1e-12, err_msg=f"{who}: {key}/{name}"
            )
        if not exact_q:
            # Histogram quantiles: ordered, and inside the data's range up to a bin width.
            qs = np.stack([got[k] for k in QUANTILES])
            slack = (got["max"] - got["min"]) / 1000 + 1e-9
            assert (np.diff(qs, axis=0) >= -1e-12).all(), f"{who}: {key} quantiles unordered"
            assert (qs >= got["min"] - slack).all() and (qs <= got["max"] + slack).all(), who


def normalised(mode: str, x: np.ndarray, stats: dict[str, np.ndarray]) -> np.ndarray:
    """LeRobot's normalisation formulas (``_NormalizationMixin._apply_transform``) in numpy."""
    lo_hi = {"MIN_MAX": ("min", "max"), "QUANTILES": ("q01", "q99"), "QUANTILE10": ("q10", "q90")}
    if mode == "MEAN_STD":
        return (x - stats["mean"]) / (stats["std"] + EPS)
    lo, hi = (stats[k] for k in lo_hi[mode])
    denom = np.where(hi - lo == 0, EPS, hi - lo)
    return 2 * (x - lo) / denom - 1


def check_normaliser(
    columns: dict[str, np.ndarray],
    spec: synth.Spec,
    who: str,
    modes: tuple[str, ...],
    keys: tuple[str, ...] = ("observation.state", "action", synth.CAMERA_KEY),
    stats: dict[str, dict[str, Any]] | None = None,
) -> None:
    """LeRobot's normaliser output for ``keys`` against :func:`normalised` with numpy's stats
    of ``spec`` (or, with ``stats``, with those: only the broadcasting is then under test)."""
    values = episode_values(spec)
    n = sum(spec.episode_lengths)
    inputs = {
        "observation.state": columns["observation.state"].astype(np.float64),
        "action": columns["action"].astype(np.float64),
        # What LeRobot feeds its normaliser: its decoded frames, float CHW in [0, 1].
        spec.camera_key: columns[spec.camera_key].astype(np.float64) / 255,
    }
    for mode in modes:
        for key in keys:
            x = inputs[key]
            camera = key == spec.camera_key
            ref = (
                expected_stats(values[key], camera=camera)
                if stats is None
                else {k: np.asarray(v, dtype=np.float64) for k, v in stats[key].items()}
            )
            got = columns[f"norm/{mode}/{key}"]
            assert got.shape == ((n, 3, synth.HEIGHT, synth.WIDTH) if camera else (n, 6)), key
            np.testing.assert_allclose(
                got, normalised(mode, x, ref), rtol=1e-4, atol=1e-4, err_msg=f"{who}: {mode} {key}"
            )


ALL_MODES = ("MEAN_STD", "MIN_MAX", "QUANTILES", "QUANTILE10")
RESUMED = ["lerobot_then_ours", "ours_then_lerobot"]


# -- our writer, start to end -------------------------------------------------------------------


def test_lerobot_loads_our_stats(lerobot_view_of_ours: Dump) -> None:
    meta, _ = lerobot_view_of_ours
    check_stats(meta["stats"], synth.BASIC, "LeRobot's meta.stats of ours", exact_q=True)


def test_lerobot_loads_our_image_feature_stats(ours_images: tuple) -> None:
    _, (meta, _) = ours_images
    check_stats(meta["stats"], synth.RL_IMAGES, "LeRobot's meta.stats of ours", exact_q=True)


def test_lerobot_normalises_with_our_stats(lerobot_view_of_ours: Dump) -> None:
    _, columns = lerobot_view_of_ours
    check_normaliser(columns, synth.BASIC, "LeRobot normalising ours", ALL_MODES)


# -- resumed across tools: half the episodes' stats are LeRobot's ------------------------------


@pytest.mark.parametrize("dataset", RESUMED)
def test_stats_after_resume_across_tools(dataset: str, request: pytest.FixtureRequest) -> None:
    _, (meta, _) = request.getfixturevalue(dataset)
    check_stats(meta["stats"], synth.RL, f"LeRobot's meta.stats of {dataset}", exact_q=False)


@pytest.mark.parametrize("dataset", RESUMED)
def test_lerobot_normalises_after_resume(dataset: str, request: pytest.FixtureRequest) -> None:
    _, (meta, columns) = request.getfixturevalue(dataset)
    who = f"LeRobot normalising {dataset}"
    # Moments and extremes are exact whoever computed them (camera std aside, see
    # check_stats); quantiles and the camera's std are LeRobot's approximations, so for those
    # only the use of the loaded stats is checked.
    check_normaliser(columns, synth.RL, who, ("MIN_MAX",))
    check_normaliser(columns, synth.RL, who, ("MEAN_STD",), keys=("observation.state", "action"))
    check_normaliser(columns, synth.RL, who, ALL_MODES, stats=meta["stats"])
