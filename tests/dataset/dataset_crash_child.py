"""Child process of test_dataset_crash.py: records short episodes until it is killed.

Usage: python dataset_crash_child.py ROOT ACK_FILE READY_FILE. It creates READY_FILE once the
writer is open (created or resumed). After each ``save_episode`` returns it
appends ``"<episode> <length>"`` to ACK_FILE (fsynced), so the parent knows which episodes
must have survived the SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset_synth import FPS, features, frame

from lerobot_gym.dataset import LeRobotDatasetWriter

CAMS = ("front", "wrist")
H = W = 64


def main() -> None:
    root, ack, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    feats = features(CAMS, H, W)
    if (root / "meta/info.json").exists():
        writer = LeRobotDatasetWriter.resume(root, fps=FPS, features=feats)
    else:  # killed before create() finished: nothing was ever committed
        shutil.rmtree(root, ignore_errors=True)
        writer = LeRobotDatasetWriter.create(root, repo_id="t/crash", fps=FPS, features=feats)
    ready.touch()
    while True:
        ep = writer.num_episodes
        n = 6 + ep % 5
        for i in range(n):
            writer.add_frame(frame(ep, i, n, CAMS, H, W), task=f"task {ep % 2}")
        saved = writer.save_episode()
        with open(ack, "a") as fh:
            fh.write(f"{saved} {n}\n")
            fh.flush()
            os.fsync(fh.fileno())


if __name__ == "__main__":
    main()
