"""Fixtures of the dataset tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_synth import FPS, features, record

from lerobot_gym.dataset import LeRobotDatasetWriter


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    """Three episodes (20, 25, 15 frames), one camera, libsvtav1."""
    root = tmp_path / "ds"
    with LeRobotDatasetWriter.create(
        root, repo_id="test/ds", fps=FPS, features=features(), robot_type="so101_follower"
    ) as w:
        record(w, [20, 25, 15])
    return root
