"""Child process of test_encoder_process.py: opens a camera writer and records until killed.

Usage: python encoder_orphan_child.py ROOT PID_FILE. Writes the encoder process's pid to
PID_FILE once frames are flowing to it, then keeps adding frames (never saving).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from lerobot_gym.dataset import LeRobotDatasetWriter

FEATURES = {
    "observation.state": {"dtype": "float32", "shape": [2], "names": None},
    "observation.images.front": {
        "dtype": "video",
        "shape": [64, 64, 3],
        "names": ["height", "width", "channels"],
    },
}


def main() -> None:
    root, pid_file = Path(sys.argv[1]), Path(sys.argv[2])
    writer = LeRobotDatasetWriter.create(
        root, repo_id="t/orphan", fps=30, features=FEATURES, vcodec="h264"
    )
    rng = np.random.default_rng(0)
    i = 0
    while True:
        image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        writer.add_frame(
            {"observation.state": np.zeros(2, np.float32), "observation.images.front": image},
            task="wait to be killed",
        )
        i += 1
        if i == 10:
            pid = writer._encoders["observation.images.front"].process_pid
            pid_file.write_text(f"{pid}\n")
        if i % 200 == 0:  # keep the episode small: restart it
            writer.clear_episode()
            i = 11


if __name__ == "__main__":
    main()
