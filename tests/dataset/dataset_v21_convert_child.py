"""Child process of test_dataset_v21_crash.py: converts a v2.1 dataset until it is killed.

Usage: python dataset_v21_convert_child.py SRC OUT READY_FILE. It creates READY_FILE once the
converter is imported, right before the conversion starts, so the parent can aim its SIGKILL
at the conversion rather than at Python's start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lerobot_gym.dataset.convert import convert_v21


def main() -> None:
    src, out, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    ready.touch()
    convert_v21(src, out)


if __name__ == "__main__":
    main()
