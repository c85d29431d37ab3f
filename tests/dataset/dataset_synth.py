"""Synthetic frames and recordings shared by the dataset tests (imported by basename)."""

from __future__ import annotations

import numpy as np

from lerobot_gym.dataset import LeRobotDatasetWriter

FPS = 30
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def features(cams=("front",), h=48, w=64, dtype="video"):
    feats = {
        "observation.state": {
            "dtype": "float32",
            "shape": [6],
            "names": [f"{j}.pos" for j in JOINTS],
        },
        "action": {"dtype": "float32", "shape": [6], "names": [f"{j}.pos" for j in JOINTS]},
        "next.reward": {"dtype": "float32", "shape": [1], "names": None},
        "next.done": {"dtype": "bool", "shape": [1], "names": None},
        "complementary_info.is_intervention": {"dtype": "float32", "shape": [1], "names": None},
        "complementary_info.discrete_penalty": {
            "dtype": "float32",
            "shape": [1],
            "names": ["discrete_penalty"],
        },
    }
    for cam in cams:
        feats[f"observation.images.{cam}"] = {
            "dtype": dtype,
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
        }
    return feats


def image(ep: int, i: int, cam: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth image whose mean brightness encodes the frame number (6 levels a frame)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    level = 20.0 + 6.0 * (i % 25) + 5.0 * cam
    base = level + 12.0 * np.sin(xx / w * np.pi) + 8.0 * np.cos(yy / h * np.pi + ep)
    img = np.stack([base, base + 20.0 + 10 * cam, base + 40.0], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


def frame(ep: int, i: int, n: int, cams=("front",), h=48, w=64) -> dict:
    state = (np.arange(6, dtype=np.float32) + 100 * ep + i).astype(np.float32)
    out = {
        "observation.state": state,
        "action": -state,
        "next.reward": np.float32(1.0 if i == n - 1 else 0.0),
        "next.done": i == n - 1,
        "complementary_info.is_intervention": np.float32(i % 2),
        "complementary_info.discrete_penalty": np.float32(-0.5 * (i % 3 == 0)),
    }
    for c, cam in enumerate(cams):
        out[f"observation.images.{cam}"] = image(ep, i, c, h, w)
    return out


def record(writer: LeRobotDatasetWriter, lengths, first_ep: int = 0, cams=("front",), h=48, w=64):
    """Record episodes of the given lengths; returns the saved indices."""
    saved = []
    for k, n in enumerate(lengths):
        ep = first_ep + k
        for i in range(n):
            writer.add_frame(frame(ep, i, n, cams, h, w), task=f"task {ep % 2}")
        saved.append(writer.save_episode())
    return saved
