"""The sysid plot: per-joint tracking error of the real arm and of the twin, as a PNG.

One bar group per joint (real arm, twin before, twin after; each at its own best lag, the lag
written under the bar), then one panel per arm joint with a stretch of a checking episode:
the recorded action, the recorded state and the twin's state after fitting.

Drawn with Pillow (the ``sysid`` extra), not matplotlib: a few rectangles and polylines do not
justify a plotting library, and Pillow is imported only here, when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lerobot_gym.errors import MissingExtraError
from lerobot_gym.sim.sysid import CheckReport, Recording

_COLOURS = {"real": (40, 40, 40), "before": (200, 90, 60), "after": (50, 120, 200)}
_W, _BAR_H, _TRACE_H = 1200, 320, 160


def write_plot(report: CheckReport, recording: Recording, path: str | Path) -> Path:
    """Write the PNG (see the module docstring) and return its path."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise MissingExtraError("PIL", "sysid", "the sysid plot") from None
    arm = [i for i, u in enumerate(report.units) if u == "deg"] or list(range(len(report.units)))
    height = _BAR_H + _TRACE_H * len(arm) + 20
    image = Image.new("RGB", (_W, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text(
        (10, 5),
        "tracking error at best lag (mean |state[t+lag] - action[t]|): "
        "real arm (black), twin before (red), twin after (blue); lag in frames",
        fill="black",
    )
    values = np.stack([report.real_error, report.before.tracking, report.after.tracking])
    lags = np.stack([report.real_lag, report.before.lag, report.after.lag])
    top = float(values.max()) or 1.0
    group_w = (_W - 40) / len(report.joint_names)
    base_y = _BAR_H - 40
    for j, name in enumerate(report.joint_names):
        x0 = 20 + j * group_w
        for k, key in enumerate(("real", "before", "after")):
            bx = x0 + 10 + k * (group_w - 20) / 3
            bw = (group_w - 20) / 3 - 6
            bh = (base_y - 40) * values[k, j] / top
            draw.rectangle([bx, base_y - bh, bx + bw, base_y], fill=_COLOURS[key])
            draw.text((bx, base_y - bh - 12), f"{values[k, j]:.2f}", fill="black")
            draw.text((bx + 2, base_y + 4), f"{lags[k, j]}", fill="black")
        draw.text((x0 + 10, base_y + 18), f"{name} [{report.units[j]}]", fill="black")
    episode = 0
    frames = min(240, len(recording.actions[episode]))
    series = (
        ("action", recording.actions[episode][:frames], (150, 150, 150)),
        ("real state", recording.states[episode][:frames], _COLOURS["real"]),
        ("twin state", report.after.states[episode][:frames], _COLOURS["after"]),
    )
    for row, j in enumerate(arm):
        y0 = _BAR_H + row * _TRACE_H
        column = np.concatenate([s[:, j] for _, s, _ in series])
        low, high = float(column.min()), float(column.max())
        span = max(high - low, 1e-6)
        for _, values_t, colour in series:
            xs = 20 + np.arange(frames) * (_W - 40) / max(frames - 1, 1)
            ys = y0 + _TRACE_H - 15 - (values_t[:, j] - low) / span * (_TRACE_H - 30)
            draw.line(list(zip(xs.tolist(), ys.tolist())), fill=colour, width=2)
        draw.text(
            (20, y0 + 2),
            f"{report.joint_names[j]}, episode {recording.episodes[episode]}, first {frames} "
            f"frames: action (grey), real state (black), twin after (blue); "
            f"{low:.1f}..{high:.1f} {report.units[j]}",
            fill="black",
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
