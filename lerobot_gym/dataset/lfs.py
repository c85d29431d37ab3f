"""Files a dataset names but does not have: absent, or Git LFS pointers in their place.

A dataset cloned from the Hugging Face Hub with ``git clone`` and without ``git lfs pull`` (or
with ``GIT_LFS_SKIP_SMUDGE=1``) holds, instead of each parquet and MP4 file, a ~130-byte text
file starting ``version https://git-lfs.github.com/spec/``. Opened as a video or parquet file it
fails with a codec or footer error that names no cause; this module tells the two cases apart so
the error says what to do.

Design decisions:

* A pointer is recognised by :func:`lerobot_gym.dataset.layout.is_lfs_pointer` (its first
  bytes, in files under 1 KiB only, so checking a real MP4 reads nothing); this module adds
  the checks that turn it, or an absent file, into an error saying what to do.
* The checks raise :class:`~lerobot_gym.errors.DatasetCorruptError`, whose ``path`` names the
  file, and the message names both fixes: fetch the file, or read without videos.
"""

from __future__ import annotations

import os
from pathlib import Path

from lerobot_gym.dataset.layout import LFS_POINTER_PREFIX, is_lfs_pointer
from lerobot_gym.errors import DatasetCorruptError

__all__ = ["LFS_POINTER_PREFIX", "WITHOUT_VIDEOS_HINT", "check_file", "is_lfs_pointer"]

#: How to read a dataset's numeric features when its videos cannot be had.
WITHOUT_VIDEOS_HINT = (
    "or read the numeric features without videos: LeRobotDataset(root, features=[...]) "
    "in Python, --dataset.video=false on the command line"
)


def check_file(path: str | os.PathLike[str], what: str, *, video: bool = False) -> None:
    """Raise a typed error naming the cause if ``path`` is absent or a Git LFS pointer.

    Args:
        path: the file a dataset's metadata names.
        what: what the file is, for the message (``"video"``, ``"data file"``).
        video: add how to read the dataset without its videos.

    Raises:
        DatasetCorruptError: the file is missing or is a Git LFS pointer.
    """
    path = Path(path)
    hint = f"; {WITHOUT_VIDEOS_HINT}" if video else ""
    if not path.exists():
        raise DatasetCorruptError(
            f"{what} {path} is missing: download the dataset's files again "
            f"(`git lfs pull` in a git clone){hint}",
            path=str(path),
        )
    if is_lfs_pointer(path):
        raise DatasetCorruptError(
            f"{what} {path} is a Git LFS pointer, not the file itself: run `git lfs pull` in "
            f"the dataset's git clone to fetch it{hint}",
            path=str(path),
        )
