"""Paths of the SO-101 twin's model files (see README.md in this folder)."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
SO101_XML = HERE / "so101.xml"
SCENE_XML = HERE / "scene.xml"
