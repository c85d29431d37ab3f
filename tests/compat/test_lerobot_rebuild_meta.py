"""``rebuild_meta`` on a dataset LeRobot 0.4.4 wrote: every episode concatenated in one MP4.

Our writer gives each episode its own MP4, so only LeRobot's layout exercises the ordered
assignment of episodes to frames inside a shared file (non-zero ``from_timestamp``). After the
episodes table (or the tasks file) is deleted and rebuilt, the episodes rows must equal
LeRobot's own (timestamps within LeRobot's ``tolerance_s``), and LeRobot must read the rebuilt
dataset frame for frame as it read the original.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from compat_helpers import COMPAT_MARKS, lerobot_read

pytestmark = COMPAT_MARKS

TOLERANCE_S = 1e-4  # LeRobot's default tolerance_s


def _rows(root: Path) -> list[dict]:
    tables = [pq.read_table(p) for p in sorted((root / "meta/episodes").glob("*/*.parquet"))]
    rows = [r for t in tables for r in t.to_pylist()]
    return [{k: v for k, v in r.items() if not k.startswith(("stats/", "meta/"))} for r in rows]


@pytest.mark.parametrize("lose", ["episodes", "tasks"])
def test_rebuild_meta_of_a_lerobot_dataset(
    lerobot_root: Path, lerobot_view_of_lerobot, tmp_path: Path, lose: str
) -> None:
    from lerobot_gym.dataset import validate
    from lerobot_gym.dataset.rebuild import rebuild_meta

    root = tmp_path / "dataset"
    shutil.copytree(lerobot_root, root)
    before = _rows(root)
    assert any(r[k] > 0 for r in before for k in r if k.endswith("from_timestamp"))
    if lose == "episodes":
        shutil.rmtree(root / "meta/episodes")
    else:
        (root / "meta/tasks.parquet").unlink()

    rebuild_meta(root)

    after = _rows(root)
    assert len(after) == len(before)
    for old, new in zip(before, after):
        assert set(new) == set(old)
        for key, value in old.items():
            if key.endswith("_timestamp"):
                assert new[key] == pytest.approx(value, abs=TOLERANCE_S), key
            elif key == "tasks":
                assert sorted(new[key]) == sorted(value)
            else:
                assert new[key] == value, key
    assert validate(root) == []
    meta, columns = lerobot_read(root, tmp_path)
    want_meta, want = lerobot_view_of_lerobot
    assert meta["total_episodes"] == want_meta["total_episodes"]
    assert columns.keys() == want.keys()
    for key in want:
        if not key.startswith("norm/"):
            np.testing.assert_array_equal(columns[key], want[key], err_msg=key)
        elif "images" not in key and "QUANTILE" not in key:
            np.testing.assert_allclose(columns[key], want[key], rtol=1e-3, atol=1e-4, err_msg=key)
    # Normalised columns go through meta/stats.json, which rebuilding rewrites with this
    # project's aggregation: from kept per-episode stats (tasks lost) or from the files
    # (episodes lost: numeric stats exact where LeRobot approximates quantiles in float32, and
    # camera stats from every decoded frame where LeRobot stored another scale). Mean/std and
    # min/max normalisation of numeric keys agree closely; quantile and camera ones may not.
