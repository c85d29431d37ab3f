"""Cameras stored as ``dtype: "image"`` (PNG bytes inside the data parquet) across tools.

LeRobot writes such features when ``use_videos=False`` and in its learner checkpoints
(reference ``shared/reference/lerobot-dataset-v3.md`` sections 3 and 10): a
``{"bytes", "path"}`` struct per frame, which its reader decodes with PIL into float CHW
frames in [0, 1]. PNG is lossless, so here, unlike with video, every pixel must come back
exactly as written, in both directions:

- ``ours_images``: our writer (``use_videos=False``) writes RL_IMAGES, LeRobot reads;
- ``lerobot_images``: LeRobot's writer writes RL_IMAGES, our reader reads.
"""

from __future__ import annotations

import compat_synthetic as synth
import numpy as np
from compat_helpers import (
    COMPAT_MARKS,
    assert_episode_rows,
    assert_user_features_match,
    assert_values_match,
    frame_tasks,
    our_read,
)

pytestmark = COMPAT_MARKS

SPEC = synth.RL_IMAGES


def written_chw() -> np.ndarray:
    return SPEC.frames()[SPEC.camera_key].transpose(0, 3, 1, 2)


def test_lerobot_reads_our_image_metadata(ours_images) -> None:
    _, (meta, _) = ours_images
    who = "LeRobot reading our images"
    assert meta["image_keys"] == [SPEC.camera_key]
    assert meta["video_keys"] == []
    assert_user_features_match(meta["features"], who, SPEC)
    assert meta["total_episodes"] == len(SPEC.episode_lengths)
    assert meta["total_frames"] == meta["num_frames"] == sum(SPEC.episode_lengths)
    assert meta["frame_tasks"] == frame_tasks(SPEC)
    assert_episode_rows(meta["episodes"], who, SPEC)


def test_lerobot_reads_our_images_exactly(ours_images) -> None:
    _, (meta, columns) = ours_images
    # LeRobot returns float32 frames in [0, 1]; the dump multiplies by 255 and rounds.
    assert meta["dtypes"][SPEC.camera_key] == "float32"
    np.testing.assert_array_equal(columns[SPEC.camera_key], written_chw())
    assert_values_match(columns, "LeRobot reading our images", SPEC)


def test_we_read_lerobot_images_exactly(lerobot_images) -> None:
    root, (their_meta, theirs) = lerobot_images
    meta, ours, tasks = our_read(root)
    who = "us reading LeRobot's images"
    assert meta.video_keys == [] and meta.camera_keys == [SPEC.camera_key]
    assert_user_features_match(meta.features, who, SPEC)
    assert meta.num_frames == their_meta["total_frames"] == sum(SPEC.episode_lengths)
    assert meta.tasks == SPEC.unique_tasks()
    assert tasks == frame_tasks(SPEC)
    np.testing.assert_array_equal(ours[SPEC.camera_key], written_chw())
    # The harness itself: LeRobot reads back its own images exactly too.
    np.testing.assert_array_equal(theirs[SPEC.camera_key], written_chw())
    assert_values_match(ours, who, SPEC)
