"""Child process of test_dataset_tools_crash.py: runs one dataset tool until killed (or done).

Usage: python dataset_tools_crash_child.py MODE READY_FILE ARGS...

* ``merge READY OUT A B``: ``tools.merge([A, B], OUT)``;
* ``delete READY ROOT``: ``tools.delete_episodes(ROOT, [1])`` in place;
* ``delete-to READY ROOT OUT``: ``tools.delete_episodes(ROOT, [1], OUT)``.

It creates READY_FILE just before the tool starts (imports done), so the parent's kill lands
inside the tool's work, and prints the tool's duration in seconds when it finishes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lerobot_gym.dataset import tools


def main() -> None:
    mode, ready, *args = sys.argv[1:]
    paths = [Path(a) for a in args]
    Path(ready).touch()
    start = time.perf_counter()
    if mode == "merge":
        tools.merge(paths[1:], paths[0])
    elif mode == "delete":
        tools.delete_episodes(paths[0], [1])
    elif mode == "delete-to":
        tools.delete_episodes(paths[0], [1], paths[1])
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(time.perf_counter() - start, flush=True)


if __name__ == "__main__":
    main()
