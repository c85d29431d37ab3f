"""Pytest configuration for the LeRobot interoperability tests.

``lerobot_side.py`` runs only in the compat venv (it imports LeRobot and patches torchvision's
operator registry at import), so the main test run, which imports every module under ``tests``
for ``--doctest-modules``, must not collect it.
"""

collect_ignore = ["lerobot_side.py"]
