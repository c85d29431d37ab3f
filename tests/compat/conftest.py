"""Pytest configuration for the LeRobot interoperability tests.

``lerobot_side.py`` runs only in the compat venv (it imports LeRobot and patches torchvision's
operator registry at import), so the main test run, which imports every module under ``tests``
for ``--doctest-modules``, must not collect it.
"""

import sys
from pathlib import Path

collect_ignore = ["lerobot_side.py"]

# compat_synthetic is shared with lerobot_side.py (which finds it as its script directory); make
# the import independent of pytest's import mode.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
