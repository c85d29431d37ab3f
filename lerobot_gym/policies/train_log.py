"""Training curves: a CSV file, TensorBoard event files when available, and a PNG plot.

Design decisions:

* ``train_log.csv`` is always written (one row per report, a column per metric, appended on
  resume), because it needs nothing installed and is what the plot is drawn from.
* TensorBoard logs (``tensorboard/``): ``tensorboard`` is part of the ``policies`` extra;
  without it (a bare install) the run still trains and writes the CSV and the plot.
* ``loss.png`` is drawn with numpy and written with the project's PNG encoder (no matplotlib
  here): the loss on a log scale, one panel per metric, without text.
* Weights & Biases only when asked for (:class:`WandbSettings`, ``--wandb.enable=true``), never
  because it happens to be installed: it is the ``wandb`` extra, and asking without it is a
  :class:`~lerobot_gym.errors.MissingExtraError`. The run's id is kept in ``wandb_run_id`` in
  the output folder so a resumed training continues the same W&B run. ``mode="offline"``
  writes the run under ``<output_dir>/wandb`` with no network (``wandb sync`` uploads it later).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.errors import ConfigError, MissingExtraError

__all__ = ["TrainLog", "WandbSettings", "plot_curves", "start_wandb_run"]

CSV_NAME = "train_log.csv"
PLOT_NAME = "loss.png"
WANDB_ID_NAME = "wandb_run_id"
WANDB_MODES = ("online", "offline", "disabled")


@dataclass(frozen=True)
class WandbSettings:
    """Where a training run reports to Weights & Biases (LeRobot's ``--wandb.*`` flags).

    Attributes:
        project: the W&B project.
        entity: the W&B team or user (None: the logged-in default).
        mode: ``"online"``, ``"offline"`` (no network; ``wandb sync`` later) or ``"disabled"``;
            None leaves it to ``WANDB_MODE`` and wandb's settings.
        config: the run's configuration, shown beside its curves.
    """

    project: str = "lerobot_gym"
    entity: str | None = None
    mode: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in WANDB_MODES:
            raise ConfigError(
                f"--wandb.mode={self.mode} is not a W&B mode; use one of {list(WANDB_MODES)}"
            )


class TrainLog:
    """Append metrics per step to CSV (and TensorBoard); draw ``loss.png`` on demand."""

    def __init__(
        self, output_dir: str | Path, *, resume: bool = False, wandb: WandbSettings | None = None
    ) -> None:
        self.dir = Path(output_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        path = self.dir / CSV_NAME
        if resume and path.exists():
            with path.open() as handle:
                self.rows = [
                    {k: float(v) for k, v in row.items() if v not in ("", None)}
                    for row in csv.DictReader(handle)
                ]
        self._tb: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.dir / "tensorboard"))
        except ImportError:
            self._tb = None
        self._wandb: Any = None if wandb is None else self._start_wandb(wandb, resume)

    def _start_wandb(self, settings: WandbSettings, resume: bool) -> Any:
        return start_wandb_run(settings, self.dir, resume=resume)

    @property
    def tensorboard(self) -> bool:
        """Whether TensorBoard event files are written."""
        return self._tb is not None

    def write(self, step: int, metrics: dict[str, float]) -> None:
        """Record metrics at ``step``."""
        self.rows.append({"step": float(step), **metrics})
        self._flush_csv()
        named = {key if "/" in key else f"train/{key}": value for key, value in metrics.items()}
        if self._tb is not None:
            for key, value in named.items():
                self._tb.add_scalar(key, value, step)
        if self._wandb is not None:
            self._wandb.log(named, step=step)

    def plot(self) -> Path | None:
        """Write ``loss.png`` from the rows so far (None while there is nothing to draw)."""
        curves = {}
        for key in ("loss", "l1_loss", "kld_loss", "eval/success_rate"):
            points = [(r["step"], r[key]) for r in self.rows if key in r]
            if points:
                curves[key] = np.asarray(points, dtype=np.float64)
        if not curves:
            return None
        from lerobot_gym.dataset.images import encode_png

        path = self.dir / PLOT_NAME
        path.write_bytes(encode_png(plot_curves(curves)))
        return path

    def close(self) -> None:
        """Flush TensorBoard and finish the W&B run."""
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None

    def _flush_csv(self) -> None:
        columns = ["step", *sorted({k for r in self.rows for k in r} - {"step"})]
        tmp = self.dir / (CSV_NAME + ".tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for row in self.rows:
                writer.writerow(row)
        tmp.replace(self.dir / CSV_NAME)


def start_wandb_run(settings: WandbSettings, directory: Path, *, resume: bool = False) -> Any:
    """``wandb.init`` for a run written in ``directory``, continuing its W&B run on resume.

    The run's id is kept in ``directory / "wandb_run_id"``.

    Raises:
        MissingExtraError: wandb is not installed (the ``wandb`` extra).
    """
    try:
        import wandb
    except ImportError as exc:
        raise MissingExtraError("wandb", "wandb", "--wandb.enable=true") from exc
    id_path = Path(directory) / WANDB_ID_NAME
    run_id = id_path.read_text().strip() if resume and id_path.is_file() else None
    run = wandb.init(
        project=settings.project,
        entity=settings.entity,
        mode=settings.mode,
        dir=str(directory),
        config=settings.config,
        id=run_id,
        resume="allow" if run_id else None,
    )
    id_path.write_text(f"{run.id}\n")
    return run


_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]


def plot_curves(curves: dict[str, np.ndarray], panel: tuple[int, int] = (200, 400)) -> np.ndarray:
    """One panel per curve (rows of ``(step, value)``), stacked vertically, as RGB uint8.

    Losses (names ending in ``loss``) are drawn on a log10 scale.

    Example:
        >>> img = plot_curves({"loss": np.array([[1, 4.0], [2, 2.0], [3, 1.0]])})
        >>> img.shape, img.dtype.name
        ((200, 400, 3), 'uint8')
    """
    height, width = panel
    margin = 10
    image = np.full((height * len(curves), width, 3), 255, np.uint8)
    for index, (name, points) in enumerate(curves.items()):
        top = index * height
        box = image[top : top + height]
        box[margin, margin:-margin] = box[-margin, margin:-margin] = 0
        box[margin:-margin, margin] = box[margin:-margin, -margin] = 0
        x, y = points[:, 0], points[:, 1]
        if name.endswith("loss"):
            y = np.log10(np.maximum(y, 1e-12))
        finite = np.isfinite(y)
        x, y = x[finite], y[finite]
        if len(x) == 0:
            continue
        span_x = max(x.max() - x.min(), 1e-9)
        span_y = max(y.max() - y.min(), 1e-9)
        px = margin + 2 + (x - x.min()) / span_x * (width - 2 * margin - 4)
        py = height - margin - 2 - (y - y.min()) / span_y * (height - 2 * margin - 4)
        colour = _COLOURS[index % len(_COLOURS)]
        for i in range(max(len(px) - 1, 1)):
            j = min(i + 1, len(px) - 1)
            n = int(math.hypot(px[j] - px[i], py[j] - py[i])) + 2
            cols = np.rint(np.linspace(px[i], px[j], n)).astype(int)
            rows = np.rint(np.linspace(py[i], py[j], n)).astype(int)
            for dy in (0, 1):
                box[np.clip(rows + dy, 0, height - 1), np.clip(cols, 0, width - 1)] = colour
    return image
