"""ALOHA step throughput: our twin against gym-aloha's ``AlohaInsertion-v0``, measured in one run.

Prints:
- gym-aloha ``AlohaInsertion-v0`` ``env.step`` rate (its 480x640 ``top`` camera, plus the two
  other 480x640 renders its task does every step), run in its own venv through
  ``benchmarks/support/gym_aloha_side.py``;
- our twin's raw scene (``lerobot_gym/assets/aloha/scene.xml``) stepped at 50 Hz (10 x 2 ms
  ``mj_step``) with one 480x640 ``top`` render per step (shadows and reflections off), and the
  ratio to gym-aloha (issue goal >= 10x);
- the same without rendering (state only), and its ratio.

Skeleton: until the registered ``lerobot_gym/Aloha-Insertion-v0`` exists, our side is the raw
scene without the task's peg and socket; switch ``_our_rate`` to ``gym.make`` then.

Usage: ``python benchmarks/aloha_vs_gym_aloha.py [--quick]`` (quick: under 60 s). Needs the
gym-aloha venv (``make bench-venv-aloha``); without it, prints why and exits 0.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import mujoco
import numpy as np

from lerobot_gym.assets.aloha import SCENE_XML

ROOT = Path(__file__).resolve().parents[1]
GYM_ALOHA_PYTHON = Path(
    os.environ.get("LEROBOT_GYM_ALOHA_PYTHON", ROOT / "benchmarks/.venv-gym-aloha/bin/python")
)
SIDE_SCRIPT = ROOT / "benchmarks/support/gym_aloha_side.py"
CONTROL_DT = 0.02  # 50 Hz, gym-aloha's DT


def _gym_aloha_rate(seconds: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.npz"
        subprocess.run(
            [str(GYM_ALOHA_PYTHON), str(SIDE_SCRIPT), "bench", str(out), "--seconds", str(seconds)],
            check=True,
            capture_output=True,
        )
        result = np.load(out)
        return float(result["steps"]) / float(result["seconds"])


def _targets(steps: int) -> np.ndarray:
    """A slow random walk around the start pose (both arms, grippers opening and closing)."""
    rng = np.random.default_rng(0)
    home = np.array([0, -0.96, 1.16, 0, -0.3, 0, 0.04] * 2)
    walk = np.cumsum(rng.normal(0, 0.01, (steps, 14)), axis=0)
    walk[:, [6, 13]] *= 0.05
    return home + walk


def _our_rate(seconds: float, render: bool) -> float:
    model = mujoco.MjModel.from_xml_path(str(SCENE_XML))
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    substeps = round(CONTROL_DT / model.opt.timestep)
    lo, hi = model.actuator_ctrlrange.T
    renderer = mujoco.Renderer(model, 480, 640) if render else None
    if renderer is not None:
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    targets = np.clip(_targets(100_000), lo, hi)
    steps, t0 = 0, time.perf_counter()
    try:
        while time.perf_counter() - t0 < seconds:
            data.ctrl[:] = targets[steps % len(targets)]
            mujoco.mj_step(model, data, substeps)
            if renderer is not None:
                renderer.update_scene(data, camera="top")
                renderer.render()
            steps += 1
        return steps / (time.perf_counter() - t0)
    finally:
        if renderer is not None:
            renderer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (< 60 s)")
    args = parser.parse_args()
    seconds = 8.0 if args.quick else 30.0
    if not GYM_ALOHA_PYTHON.exists():
        print(f"skipped: gym-aloha venv absent ({GYM_ALOHA_PYTHON}); run make bench-venv-aloha")
        return
    theirs = _gym_aloha_rate(seconds)
    ours_pixels = _our_rate(seconds, render=True)
    ours_state = _our_rate(seconds / 4, render=False)
    print(f"gym-aloha AlohaInsertion-v0 (480x640 top + 2 renders): {theirs:9.1f} steps/s")
    print(f"twin scene, 50 Hz + one 480x640 top render:           {ours_pixels:9.1f} steps/s")
    print(f"twin scene, 50 Hz, state only:                        {ours_state:9.1f} steps/s")
    print(f"ratio pixels ours/gym-aloha: {ours_pixels / theirs:.1f}x  (goal >= 10x)")
    print(f"ratio state  ours/gym-aloha: {ours_state / theirs:.1f}x")


if __name__ == "__main__":
    main()
