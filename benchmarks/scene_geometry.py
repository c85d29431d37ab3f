"""What a scene's visual geometry costs a view, and what lighter geometry does to its images.

With software GL a view's cost is its geometry, not its pixels (``lerobot_gym/sim/tiled.py``).
This measures, per camera, the CPU time of one view (one ``mjv_updateScene`` + ``mjr_render`` +
read-back, a one-view :class:`~lerobot_gym.sim.tiled.TiledRenderer`, best of interleaved
repeats; CPU time of this single-threaded process, so it depends less on the machine's load
than wall time) and how far the images move from today's (fraction of pixels that differ, mean
absolute difference in levels, worst over states) from the images of the first variant (the
asset as it was), for variants of the assets' visual-only properties:

- SO-101: the ``floor`` plane (``size="0 0 0.05"``: infinite, drawn out to the far clip, its
  grid spacing 0.05 m) with a larger grid spacing, and as a finite plane of half-size S.
  MuJoCo planes are infinite for collision whatever their size (MuJoCo's XML reference,
  ``geom/size``), so these change only the drawing.
- ALOHA: ``visual/quality`` ``numslices``/``numstacks``/``numquads`` (the tessellation of its
  primitive geoms, read when the GL context is made); ALOHA has no floor, and its table is a box
  (tessellated with ``numquads``).

The images' bound is the tiled renderer's (tests/sim/test_tiled.py): at most 2 % of pixels
differ and the mean absolute difference stays under 0.5 levels. A variant within it for every
camera could be made an asset's default; one outside it trades images for speed.

Measured (2026-12-07, full run, 2-core machine shared with other agents' jobs, load average
8.9-10.7, llvmpipe; 4 states; CPU ms per view, worst % of pixels differing / mean abs diff):

    SO101-PickCube, floor                128x128 front / wrist          480x640 front / wrist
    infinite, grid 0.05 (the asset)      2.88 / 2.55                    10.27 / 9.98
    infinite, grid 0.01 or 1.0           same time, identical images    same
    25 m half-size, grid 0.05            x1.00; wrist 3.46 % / 0.10     x1.01; wrist 4.39 % / 0.07
    25 m half-size, grid 0.5             x0.39; front 0.02 % / 0.00,    x0.77; front 0.07 %,
                                         wrist 3.47 % / 0.10            wrist 4.39 % / 0.07
    25 m half-size, grid 1.0             x0.34; same images as 0.5      x0.75
    10 m half-size, grid 0.5             x0.37; front 21 % / 0.61       x0.73; 16-18 %
    5 m half-size, grid 0.5              x0.34; wrist 9.4 % / 0.49      x0.73; wrist 12 % / 0.84

    Aloha-TransferCube, quality          128x128 (4 views, CPU)         480x640
    28/16/4 (MuJoCo's; before)           4.31 ms                        10.73 ms
    28/8/4                               x0.93, <= 0.02 % / 0.00        x0.90, <= 0.01 %
    16/8/4 (scene.xml now)               x0.84, <= 0.25 % / 0.08        x0.90, <= 0.27 % / 0.11
    28/16/2                              x0.62, wrist 2.61 % / 0.04     x0.71, wrist 3.40 % / 0.06
    28/16/1                              x0.51, wrist 11.9 % / 0.15     x0.65, wrist 10.1 % / 0.19
    8/4/1                                x0.33, wrist 11.9 % / 0.33     x0.50, wrist 10.1 % / 0.56

What it shows:

- The infinite floor's grid spacing is not used: MuJoCo draws an infinite plane the same
  whatever its third size (same images, same time), and at the cost of a finite plane of the far
  clip's half-size (25 m here: ``statistic/extent`` 0.5 x ``map/zfar`` 50) with a fine grid,
  whose checker lines up with it. A finite plane of that half-size with a coarser grid cuts a
  view to 0.34-0.39 of its CPU at 128x128 (0.75 at 480x640, where pixels weigh more); the front
  camera stays within the bound (<= 0.07 %), but the wrist camera, which sees the floor's far
  grid at a grazing angle, differs along one grid diagonal (1-4 levels, 3.5-4.4 % of pixels:
  past the 2 % bound), so the SO-101 asset keeps its infinite floor; the trade is the
  coordinator's. Other half-sizes also shift the floor's checker pattern (21 % at 10 m) or leave
  the far floor undrawn (wrist, 5 m).
- ALOHA: ``numquads`` (a box face's subdivision) is most of the cost; fewer quads change the
  shading across the boxes' faces, past the bound at 2 and 1. Fewer slices and stacks
  (cylinders) stay well within it: the scene now uses 16/8/4 (tests/sim/test_scene_visuals.py
  checks every camera of every ALOHA id).

Since these figures, an infinite plane is drawn only where each view looks
(``lerobot_gym/sim/plane_cull.py``, the same pixels bit for bit): the SO-101 asset's own floor
costs a fraction of what it did (a 96x96 front view's ``mjr_render`` ~2.3 ms -> 0.6-0.9 ms CPU,
load 10-14) without changing the images; this script's "infinite" rows now measure the culled
floor (not re-run for this note).

Usage: ``python benchmarks/scene_geometry.py [--quick]`` (quick: 128x128 only, about 2 min).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco
import numpy as np
from support.sampled_states import sampled_states

import lerobot_gym  # noqa: F401
from lerobot_gym.sim.tiled import TiledRenderer, View

MAX_DIFFERING_FRACTION = 0.02
MAX_MEAN_ABS_DIFF = 0.5

Variant = Callable[[mujoco.MjModel], None]


def _floor(size: tuple[float, float, float]) -> Variant:
    def apply(model: mujoco.MjModel) -> None:
        model.geom_size[model.geom("floor").id] = size

    return apply


def _quality(slices: int, stacks: int, quads: int) -> Variant:
    def apply(model: mujoco.MjModel) -> None:
        q = model.vis.quality
        q.numslices, q.numstacks, q.numquads = slices, stacks, quads

    return apply


SO101_VARIANTS: dict[str, Variant] = {
    "floor infinite, grid 0.05 (today)": _floor((0, 0, 0.05)),
    "floor infinite, grid 0.01": _floor((0, 0, 0.01)),
    "floor infinite, grid 1.0": _floor((0, 0, 1.0)),
    "floor 25 m half-size, grid 0.05": _floor((25, 25, 0.05)),
    "floor 25 m half-size, grid 0.25": _floor((25, 25, 0.25)),
    "floor 25 m half-size, grid 0.5": _floor((25, 25, 0.5)),
    "floor 25 m half-size, grid 1.0": _floor((25, 25, 1.0)),
    "floor 10 m half-size, grid 0.5": _floor((10, 10, 0.5)),
    "floor 5 m half-size, grid 0.5": _floor((5, 5, 0.5)),
}
ALOHA_VARIANTS: dict[str, Variant] = {
    "quality 28/16/4 (MuJoCo's, before)": _quality(28, 16, 4),
    "quality 28/8/4": _quality(28, 8, 4),
    "quality 16/8/4 (scene.xml now)": _quality(16, 8, 4),
    "quality 28/16/2": _quality(28, 16, 2),
    "quality 28/16/1": _quality(28, 16, 1),
    "quality 16/8/1": _quality(16, 8, 1),
    "quality 8/4/1": _quality(8, 4, 1),
}


def _render(model, datas, cam, size) -> tuple[list[np.ndarray], float]:
    """Each state's image from ``cam`` and the CPU seconds of one view (best of the states)."""
    with TiledRenderer(model, [View(cam, *size)]) as renderer:
        images, best = [], float("inf")
        for d in datas:
            renderer.render(d)  # warm
            t0 = time.process_time()
            images.append(renderer.render(d)[0])
            best = min(best, time.process_time() - t0)
    return images, best


def _measure(env_id: str, variants: dict[str, Variant], states: int, repeats: int, size) -> None:
    model, datas, cams = sampled_states(env_id, states)
    saved = {
        "geom_size": model.geom_size.copy(),
        "quality": tuple(
            getattr(model.vis.quality, k) for k in ("numslices", "numstacks", "numquads")
        ),
    }

    def restore() -> None:
        model.geom_size[:] = saved["geom_size"]
        q = model.vis.quality
        q.numslices, q.numstacks, q.numquads = saved["quality"]

    first = next(iter(variants.values()))  # the images before any change: the reference
    first(model)
    today = {cam: _render(model, datas, cam, size)[0] for cam in cams}
    restore()
    times: dict[str, dict[str, float]] = {name: {} for name in variants}
    diffs: dict[str, dict[str, tuple[float, float]]] = {name: {} for name in variants}
    for _ in range(repeats):  # interleaved: load spikes hit every variant alike
        for name, apply in variants.items():
            apply(model)
            for cam in cams:
                images, cpu = _render(model, datas, cam, size)
                times[name][cam] = min(times[name].get(cam, float("inf")), cpu)
                worst = (0.0, 0.0)
                for got, want in zip(images, today[cam], strict=True):
                    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
                    frac, mean = float((diff.max(-1) > 0).mean()), float(diff.mean())
                    worst = (max(worst[0], frac), max(worst[1], mean))
                diffs[name][cam] = worst
            restore()
    print(
        f"\n{env_id}, {size[0]}x{size[1]}, {len(datas)} states; per view: CPU ms, "
        "pixels differing, mean abs diff (worst state)"
    )
    base = next(iter(variants))
    for name in variants:
        cells = []
        for cam in cams:
            frac, mean = diffs[name][cam]
            cells.append(f"{cam} {times[name][cam] * 1e3:5.2f} ms {frac:6.2%} {mean:5.2f}")
        total = sum(times[name].values()) / sum(times[base].values())
        ok = all(
            f <= MAX_DIFFERING_FRACTION and m <= MAX_MEAN_ABS_DIFF for f, m in diffs[name].values()
        )
        print(f"  {name:36s} x{total:4.2f}  {'within' if ok else 'OUTSIDE'}  " + " | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128x128 only, fewer states")
    args = parser.parse_args()
    states, repeats = (2, 2) if args.quick else (4, 4)
    sizes = ((128, 128),) if args.quick else ((128, 128), (480, 640))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load}")
    for size in sizes:
        _measure("lerobot_gym/SO101-PickCube-v0", SO101_VARIANTS, states, repeats, size)
        _measure("lerobot_gym/Aloha-TransferCube-v0", ALOHA_VARIANTS, states, repeats, size)


if __name__ == "__main__":
    main()
