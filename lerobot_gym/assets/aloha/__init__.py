"""Paths of the ALOHA MuJoCo twin (Menagerie layout; see README.md in this folder).

``ALOHA_XML`` is the two ViperX 300 6-DoF arms alone; ``SCENE_XML`` includes it and adds gym-aloha's
table (top at z = 0), lights, the ``top`` and ``angle`` cameras and the ``home`` keyframe (ACT's
start pose). Nothing here imports MuJoCo, so the paths are usable from any backend.

The gripper constants are ACT's (``PUPPET_GRIPPER_POSITION_CLOSE/OPEN``): gym-aloha and LeRobot's
``aloha_sim_*`` datasets map a gripper value g in 0 (closed) .. 1 (open) to the left finger's
position ``g * (OPEN - CLOSE) + CLOSE`` in metres, which the actuator then clips to its ctrlrange
0.021 .. 0.057 (README.md, "Gripper").
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
ALOHA_XML = HERE / "aloha.xml"
SCENE_XML = HERE / "scene.xml"

ARMS = ("left", "right")
ARM_JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
GRIPPER_POSITION_CLOSE = 0.01844
GRIPPER_POSITION_OPEN = 0.05800

__all__ = [
    "ALOHA_XML",
    "ARMS",
    "ARM_JOINTS",
    "GRIPPER_POSITION_CLOSE",
    "GRIPPER_POSITION_OPEN",
    "HERE",
    "SCENE_XML",
]
