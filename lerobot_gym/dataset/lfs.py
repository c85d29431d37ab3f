"""Files a dataset names but does not have: absent, or Git LFS pointers in their place.

A dataset cloned from the Hugging Face Hub with ``git clone`` and without ``git lfs pull`` (or
with ``GIT_LFS_SKIP_SMUDGE=1``) holds, instead of each parquet and MP4 file, a ~130-byte text
file starting ``version https://git-lfs.github.com/spec/``. Opened as a video or parquet file it
fails with a codec or footer error that names no cause; this module tells the two cases apart so
the error says what to do.

Design decisions:

* A pointer is recognised by its first bytes, and only in files under 1 KiB (the spec caps a
  pointer at 1024 bytes), so checking a real MP4 reads nothing.
* The checks raise :class:`~lerobot_gym.errors.DatasetCorruptError`, whose ``path`` names the
  file, and the message names both fixes: fetch the file, or read without videos.
"""

from __future__ import annotations

import os
from pathlib import Path

from lerobot_gym.errors import DatasetCorruptError

LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"
_MAX_POINTER_BYTES = 1024

#: How to read a dataset's numeric features when its videos cannot be had.
WITHOUT_VIDEOS_HINT = (
    "or read the numeric features without videos: LeRobotDataset(root, features=[...]) "
    "in Python, --dataset.video=false on the command line"
)


def is_lfs_pointer(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a Git LFS pointer file rather than the content it points to."""
    try:
        if os.path.getsize(path) > _MAX_POINTER_BYTES:
            return False
        with open(path, "rb") as fh:
            return fh.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX
    except OSError:
        return False


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
