"""Fixtures of the learned-policy tests (helpers in policy_helpers.py).

Tests keep torch on one thread: on this 2-core machine shared by several jobs, torch's
intra-op pool oversubscribes the cores and a tiny model's step slows a hundredfold.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from policy_helpers import record  # noqa: E402


@pytest.fixture(scope="session")
def state_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 25-step scripted PickCube episodes with agent_pos + environment_state."""
    return record(tmp_path_factory.mktemp("pick_state") / "ds", "state")
