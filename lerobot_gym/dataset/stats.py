"""Per-episode feature statistics and their aggregation into ``meta/stats.json``.

Source: ``shared/reference/lerobot-dataset-v3.md`` section 6 (LeRobot's
``compute_episode_stats`` / ``aggregate_stats``).

Design decisions:

* Numeric features: exact per-dimension ``min, max, mean, std`` and quantiles
  ``q01, q10, q50, q90, q99`` (``np.quantile``, linear interpolation) over the episode's frames.
  LeRobot approximates quantiles with 5000-bin histograms; exact values sit inside its error.
* Camera features: per channel, on frames downsampled to about 150 px like LeRobot's
  ``auto_downsample_height_width``, divided by 255, shaped ``(3, 1, 1)``. Pixels are uint8, so a
  256-bin histogram per channel holds *all* the information: min, max, mean, std and quantiles
  are computed exactly from it, incrementally, for every frame (LeRobot's streaming-encoding
  mode also uses every frame; its default mode subsamples). ``count`` is the number of frames.
* Aggregation across episodes follows LeRobot: min of mins, max of maxes, count-weighted
  mean, parallel-variance std, summed counts, and for quantiles the conservative envelope
  (``q <= 0.5`` takes the minimum over episodes, ``q > 0.5`` the maximum). Aggregation is
  associative, so the writer keeps one running total instead of every episode's stats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lerobot_gym.dataset.layout import QUANTILE_KEYS, QUANTILES, STAT_KEYS
from lerobot_gym.errors import DatasetError

Stats = dict[str, np.ndarray]
"""Statistics of one feature: stat name -> array (``count`` has shape ``(1,)``)."""


def numeric_stats(values: np.ndarray) -> Stats:
    """Statistics of one numeric feature over an episode.

    Args:
        values: ``(N,)`` or ``(N, D)`` array of frames (bools are counted as 0/1).

    Returns:
        Stats with arrays of shape ``(D,)`` (``(1,)`` for scalar features).

    Raises:
        DatasetError: ``values`` holds no frame.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] == 0:
        raise DatasetError(
            "cannot compute statistics of an episode with no frames; add frames before "
            "saving it, or, if its data file lost its rows, run `lerobot-gym dataset validate`"
        )
    out: Stats = {
        "min": arr.min(axis=0),
        "max": arr.max(axis=0),
        "mean": arr.mean(axis=0),
        "std": arr.std(axis=0),
        "count": np.array([arr.shape[0]], dtype=np.int64),
    }
    quantiles = np.quantile(arr, QUANTILES, axis=0)
    for key, q in zip(QUANTILE_KEYS, quantiles):
        out[key] = q
    return out


def downsample_factor(height: int, width: int) -> int:
    """LeRobot's ``auto_downsample_height_width`` stride: larger side down to about 150 px."""
    if max(height, width) < 300:
        return 1
    return int(width / 150) if width > height else int(height / 150)


def histogram_quantiles(counts: np.ndarray, qs: Iterable[float]) -> np.ndarray:
    """Quantiles of integer samples given as a histogram, exactly as ``np.quantile`` (linear).

    Args:
        counts: ``(V,)`` counts of the values ``0 .. V-1``.
        qs: quantiles in [0, 1].
    """
    cum = np.cumsum(counts)
    n = int(cum[-1])
    out = []
    for q in qs:
        pos = q * (n - 1)
        lo = int(np.floor(pos))
        x_lo = np.searchsorted(cum, lo, side="right")
        x_hi = np.searchsorted(cum, min(lo + 1, n - 1), side="right")
        out.append(x_lo + (pos - lo) * (x_hi - x_lo))
    return np.asarray(out, dtype=np.float64)


class ImageStatsAccumulator:
    """Per-channel pixel statistics of a stream of uint8 frames, from 256-bin histograms.

    Cheap enough (a strided view and one ``bincount``) to run on every frame in the encoder
    thread.
    """

    def __init__(self, channels: int = 3) -> None:
        self.channels = channels
        self._hist = np.zeros((channels, 256), dtype=np.int64)
        self._offsets = (np.arange(channels, dtype=np.int64) * 256).reshape(1, 1, channels)
        self.frames = 0

    def update(self, frame_hwc: np.ndarray) -> None:
        """Add one ``(H, W, C)`` uint8 frame."""
        h, w = frame_hwc.shape[:2]
        f = downsample_factor(h, w)
        small = frame_hwc[::f, ::f]
        flat = (small.astype(np.int64) + self._offsets).ravel()
        self._hist += np.bincount(flat, minlength=256 * self.channels).reshape(self.channels, 256)
        self.frames += 1

    def result(self) -> Stats:
        """Stats shaped ``(C, 1, 1)`` in [0, 1]; ``count`` is the number of frames.

        Raises:
            DatasetError: no frame was added.
        """
        if self.frames == 0:
            raise DatasetError(
                "cannot compute camera statistics without frames; add at least one frame "
                "with update(), or, if a video lost its frames, run `lerobot-gym dataset "
                "validate`"
            )
        values = np.arange(256, dtype=np.float64)
        n = self._hist.sum(axis=1)
        mean = (self._hist * values).sum(axis=1) / n
        var = (self._hist * (values[None, :] - mean[:, None]) ** 2).sum(axis=1) / n
        nonzero = self._hist > 0
        vmin = np.array([values[row].min() for row in nonzero])
        vmax = np.array([values[row].max() for row in nonzero])
        out: Stats = {
            "min": vmin,
            "max": vmax,
            "mean": mean,
            "std": np.sqrt(var),
        }
        qs = np.stack([histogram_quantiles(h, QUANTILES) for h in self._hist])  # (C, Q)
        for i, key in enumerate(QUANTILE_KEYS):
            out[key] = qs[:, i]
        shaped = {k: (v / 255.0).reshape(self.channels, 1, 1) for k, v in out.items()}
        shaped["count"] = np.array([self.frames], dtype=np.int64)
        return shaped


def episode_stats(
    features: Mapping[str, Mapping[str, Any]],
    columns: Mapping[str, Any],
    camera_stats: Mapping[str, Stats],
) -> dict[str, Stats]:
    """Stats of every feature of one episode (LeRobot's ``compute_episode_stats``).

    Args:
        features: the dataset's features.
        columns: the episode's values per feature (arrays; lists of HWC frames for images).
        camera_stats: stats already accumulated while encoding, per video key.
    """
    out: dict[str, Stats] = {}
    for key, ft in features.items():
        if key in camera_stats:
            out[key] = camera_stats[key]
        elif ft["dtype"] == "image":
            acc = ImageStatsAccumulator()
            for img in columns[key]:
                acc.update(img)
            out[key] = acc.result()
        elif ft["dtype"] not in ("string", "language", "video"):
            out[key] = numeric_stats(columns[key])
    return out


def aggregate_feature_stats(stats_list: list[Stats]) -> Stats:
    """Combine one feature's stats from several episodes (reference section 6)."""
    if not stats_list:
        raise ValueError("nothing to aggregate")
    means = np.stack([np.asarray(s["mean"], dtype=np.float64) for s in stats_list])
    variances = np.stack([np.asarray(s["std"], dtype=np.float64) ** 2 for s in stats_list])
    counts = np.stack([np.asarray(s["count"], dtype=np.int64) for s in stats_list])
    total = counts.sum(axis=0)
    weights = counts.astype(np.float64)
    while weights.ndim < means.ndim:
        weights = weights[..., None]
    mean = (means * weights).sum(axis=0) / total.reshape((-1,) + (1,) * (means.ndim - 2))
    denom = total.reshape((-1,) + (1,) * (means.ndim - 2))
    var = ((variances + (means - mean) ** 2) * weights).sum(axis=0) / denom
    out: Stats = {
        "min": np.min(np.stack([s["min"] for s in stats_list]), axis=0),
        "max": np.max(np.stack([s["max"] for s in stats_list]), axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": total,
    }
    for key, q in zip(QUANTILE_KEYS, QUANTILES):
        if all(key in s for s in stats_list):
            stacked = np.stack([np.asarray(s[key], dtype=np.float64) for s in stats_list])
            out[key] = stacked.min(axis=0) if q <= 0.5 else stacked.max(axis=0)
    return out


def aggregate_stats(stats_list: Sequence[Mapping[str, Stats]]) -> dict[str, Stats]:
    """Combine whole-episode stats dicts (feature -> stats) from several episodes."""
    keys: list[str] = []
    for stats in stats_list:
        keys += [k for k in stats if k not in keys]
    return {k: aggregate_feature_stats([s[k] for s in stats_list if k in s]) for k in keys}


def stats_to_json(stats: Mapping[str, Stats]) -> dict[str, dict[str, Any]]:
    """Nested plain lists, as LeRobot writes ``meta/stats.json``."""
    return {
        feature: {k: np.asarray(v).tolist() for k, v in per.items()}
        for feature, per in stats.items()
    }


def stats_from_json(obj: Mapping[str, Mapping[str, Any]]) -> dict[str, Stats]:
    """Inverse of :func:`stats_to_json` (LeRobot's ``cast_stats_to_numpy``)."""
    return {feature: {k: np.asarray(v) for k, v in per.items()} for feature, per in obj.items()}


def to_episode_columns(stats: Mapping[str, Stats]) -> dict[str, Any]:
    """Flatten to ``stats/<feature>/<stat>`` columns for one episodes-parquet row."""
    out: dict[str, Any] = {}
    for feature, per in stats.items():
        for stat in STAT_KEYS:
            if stat in per:
                out[f"stats/{feature}/{stat}"] = np.asarray(per[stat]).tolist()
    return out


def from_episode_row(row: Mapping[str, Any]) -> dict[str, Stats]:
    """Recover one episode's stats dict from its episodes-parquet row."""
    out: dict[str, Stats] = {}
    for column, value in row.items():
        if not column.startswith("stats/") or value is None:
            continue
        _, rest = column.split("/", 1)
        feature, stat = rest.rsplit("/", 1)
        out.setdefault(feature, {})[stat] = np.asarray(value)
    return out
