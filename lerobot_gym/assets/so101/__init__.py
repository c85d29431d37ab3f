"""Paths of the SO-101 MuJoCo twin (Menagerie layout; see README.md in this folder).

``SO101_XML`` is the arm alone; ``SCENE_XML`` includes it and adds the table (top at z = 0),
floor, lights, the ``front`` camera and the ``home``/``rest`` keyframes. Nothing here imports
MuJoCo, so the paths are usable from any backend.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
SO101_XML = HERE / "so101.xml"
SCENE_XML = HERE / "scene.xml"

__all__ = ["HERE", "SCENE_XML", "SO101_XML"]
