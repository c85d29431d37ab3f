"""LeRobot 0.3.3 (v2.1 datasets) side of the conversion tests; runs in ``tests/compat/.venv-v21``.

Usage::

    lerobot_v21_side.py write ROOT [--spec S]

records every episode of a ``compat_synthetic.SPECS`` dataset (default ``basic``) with LeRobot
0.3.3's own writer (``LeRobotDataset.create``, ``add_frame(frame, task)``, ``save_episode``):
the LeRobot v2.1 layout, one parquet and one MP4 (libsvtav1, LeRobot's default) per episode.

torchvision 0.28.0 is the only release matching torch 2.13 and a CUDA build; it imports on CPU
torch once the ``torchvision::nms``/``qnms`` schemas it registers kernels for exist, so they are
defined first (shared/reference/lerobot-dataset-v3.md, "Running LeRobot's own code here"). The
writer never calls them, and never decodes video.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# The tests never touch the network; huggingface_hub reads this once, at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

# Must run before anything imports torchvision (lerobot.datasets does, at import).
_TORCHVISION_SCHEMAS = torch.library.Library("torchvision", "DEF")
_TORCHVISION_SCHEMAS.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_TORCHVISION_SCHEMAS.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

import compat_synthetic as synth  # noqa: E402  (sits next to this script, on sys.path[0])
from lerobot.datasets.lerobot_dataset import CODEBASE_VERSION, LeRobotDataset  # noqa: E402


def write(root: Path, spec: synth.Spec) -> None:
    """Record every episode of ``spec`` into a new v2.1 dataset at ``root``."""
    assert CODEBASE_VERSION == "v2.1", CODEBASE_VERSION
    dataset = LeRobotDataset.create(
        repo_id=synth.REPO_ID,
        fps=synth.FPS,
        # LeRobot compares shapes as tuples (its feature helpers build tuples).
        features={key: dict(ft, shape=tuple(ft["shape"])) for key, ft in spec.features.items()},
        root=root,
        robot_type=synth.ROBOT_TYPE,
        use_videos=spec.camera_dtype == "video",
    )
    for episode_index, length in enumerate(spec.episode_lengths):
        frames = spec.episode(episode_index)
        for i in range(length):
            dataset.add_frame(
                {key: frames[key][i] for key in spec.features}, task=spec.tasks[episode_index]
            )
        dataset.save_episode()


def main(argv: list[str] | None = None) -> int:
    """Parse the subcommand and run it; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("write", help="record a spec's episodes with LeRobot 0.3.3 (v2.1)")
    p.add_argument("root", type=Path)
    p.add_argument("--spec", choices=sorted(synth.SPECS), default="basic")
    args = parser.parse_args(argv)
    write(args.root, synth.SPECS[args.spec])
    return 0


if __name__ == "__main__":
    sys.exit(main())
