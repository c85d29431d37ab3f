"""The batched vector env on MuJoCo Warp (``physics="warp"``) against mujoco.batch, same run.

SO101-Reach, N = 16 twins, state only, random actions (the same array for both physics):

- cold compile: a fresh process with ``WARP_CACHE_PATH`` at an empty directory builds
  ``make_vec(..., physics="warp", device=...)``, resets and steps once; its wall and CPU time
  (the child's ``rusage``) is what the first Warp step costs on a machine whose kernel cache is
  empty (a fresh CI runner); the same with the cache then filled is the per-process load cost.
- warm: CPU per env step of the batched env on Warp divided by the same env on mujoco.batch
  (the anchor), and the same for the physics call alone (``batch.step(nstep=substeps)``).

Warp's CPU device runs its kernels on one thread in float32; it is for tests and machines
without a GPU, not for speed. On a CUDA machine pass ``--device=cuda``; the GPU figures are
not measured here (no GPU on this machine).

Measured (2026-12-07, 2-core machine, ``--device=cpu``, full run under ``nice -n 5`` at load
average 4.9-8.8 from other agents; CPU-time figures, which the load moves less than wall-clock):

    first step of a process (build, reset, one step): cold cache 80.6 s wall / 29.3 s CPU;
      filled cache 2.3 s wall / 3.4 s CPU (imports included)
    CPU per env step (16 twins x 16 substeps): mujoco.batch 1.98 ms (physics 2.06),
      Warp 111.0 ms (physics 117.3): Warp / mujoco.batch 56x
    tests/sim/test_warp_physics.py (pytest, not this script): cold cache 61-95 s wall /
      35-36 s CPU, filled cache 16-20 s wall / 8-8.6 s CPU (two pairs of runs, load 4-7)

So on a CPU, Warp costs ~30 s of CPU once per empty cache and ~56x mujoco.batch's CPU per step:
``physics="warp"`` pays off only on a GPU.

Usage: ``python benchmarks/warp_physics.py [--quick] [--device=cpu|cuda|auto] [--no-cold]``
(without the ``warp`` extra it says so and exits 0, so ``make bench`` keeps running).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

import lerobot_gym

ENV_ID = "lerobot_gym/SO101-Reach-v0"
N = 16

_COLD = """
import time, numpy as np, lerobot_gym
t0 = time.perf_counter()
envs = lerobot_gym.make_vec({env!r}, num_envs={n}, obs_type="state", physics="warp",
                            device={device!r})
envs.reset(seed=0)
envs.step(np.zeros(envs.action_space.shape, dtype=np.float32))
print(time.perf_counter() - t0)
"""


def _cold(device: str, cache: str) -> tuple[float, float]:
    """Wall and CPU seconds of a fresh process's first Warp step with the kernel cache at cache."""
    code = _COLD.format(env=ENV_ID, n=N, device=device)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "WARP_CACHE_PATH": cache},
        check=True,
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(out.stdout.strip().splitlines()[-1]), cpu


def _per_step(envs, actions: np.ndarray) -> tuple[float, float]:
    """CPU and wall seconds per env step, and per physics call, best of 3 repeats."""
    envs.reset(seed=0)
    substeps = envs.unwrapped._substeps
    best_env = best_phys = float("inf")
    for _ in range(3):
        c0 = time.process_time()
        for a in actions:
            envs.step(a)
        best_env = min(best_env, (time.process_time() - c0) / len(actions))
        c0 = time.process_time()
        for _ in actions:
            envs.unwrapped.batch.step(nstep=substeps)
        best_phys = min(best_phys, (time.process_time() - c0) / len(actions))
    return best_env, best_phys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about a minute)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-compile figure")
    args = parser.parse_args()
    try:
        import mujoco_warp  # noqa: F401
    except ImportError:
        print("mujoco_warp is not installed (pip install 'lerobot-gym[warp]'): skipped")
        return
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}; device {args.device}; N = {N}")
    if not args.no_cold:
        cache = tempfile.mkdtemp(prefix="warp-cold-")
        try:
            cold_wall, cold_cpu = _cold(args.device, cache)
            warm_wall, warm_cpu = _cold(args.device, cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        print(
            f"first step of a process (build, reset, one step): cold cache {cold_wall:.1f} s "
            f"wall / {cold_cpu:.1f} s CPU; filled cache {warm_wall:.1f} s / {warm_cpu:.1f} s"
        )
    steps = 5 if args.quick else 20
    mj = lerobot_gym.make_vec(ENV_ID, num_envs=N, obs_type="state")
    wp_envs = lerobot_gym.make_vec(
        ENV_ID, num_envs=N, obs_type="state", physics="warp", device=args.device
    )
    rng = np.random.default_rng(0)
    space = mj.action_space
    actions = rng.uniform(space.low, space.high, size=(steps, *space.shape)).astype(np.float32)
    wp_envs.reset(seed=0)
    wp_envs.step(actions[0])  # compile or load the kernels outside the timing
    mj_env, mj_phys = _per_step(mj, actions)
    wp_env, wp_phys = _per_step(wp_envs, actions)
    print(
        f"CPU per env step: mujoco.batch {mj_env * 1e3:.2f} ms (physics {mj_phys * 1e3:.2f}), "
        f"Warp {wp_env * 1e3:.1f} ms (physics {wp_phys * 1e3:.1f}): Warp / mujoco.batch "
        f"{wp_env / mj_env:.1f}x (physics {wp_phys / mj_phys:.1f}x)"
    )
    mj.close()
    wp_envs.close()


if __name__ == "__main__":
    main()
