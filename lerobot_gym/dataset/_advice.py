"""The fixes :mod:`lerobot_gym.dataset.validate` proposes, worded once, with the root filled in.

Every fix is a CLI command (``lerobot-gym dataset ...``) or "restore from a copy": users meet
these messages in ``lerobot-gym dataset validate``, so none names a Python function.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from lerobot_gym.errors import DatasetError

Report = Callable[[Path, str], None]
"""``report(path, message)``: one problem found."""

FROM_A_COPY = "from a copy of the dataset (e.g. the one pushed to the Hugging Face Hub)"


def root_flag(root: Path) -> str:
    return shlex.quote(f"--dataset.root={root}")


def delete_fix(root: Path, episodes: list[int]) -> str:
    """How to delete ``episodes`` (then the dataset loads, and they can be recorded again)."""
    unique = sorted(set(episodes))
    word, them = ("episode", "it") if len(unique) == 1 else ("episodes", "them")
    return (
        f"delete the {word} with `lerobot-gym dataset delete-episodes {root_flag(root)} "
        f"--dataset.episodes=[{','.join(map(str, unique))}]` (and record {them} again if "
        "needed)"
    )


def repair_fix(root: Path, what: str = "rewrite the totals from the episodes table") -> str:
    return (
        f"{what} with `lerobot-gym dataset repair {root_flag(root)}` (as `lerobot-gym record "
        "--resume=true` does before recording; it deletes only what no committed episode holds)"
    )


UNCOMMITTED_WHY = "LeRobot loads every data row, so they would train as a phantom episode"


def what_is_wrong(exc: DatasetError) -> str:
    """A reader's error without its advice (which sends the user back to this check)."""
    cause = exc.__cause__
    if isinstance(cause, FileNotFoundError):
        return "missing"
    if cause is not None:
        return f"not a readable parquet file ({cause}); it may be truncated"
    return str(exc)
