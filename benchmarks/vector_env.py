"""The batched vector env (``lerobot_gym.make_vec``) against its anchors, measured in the same run.

SO101-Reach, N = 16 twins, random actions (the same array for every contender):

- state only, env steps/s of the batched vector env divided by the physics limit: the CPU cores
  this process may use times a raw single-thread ``mj_step`` loop's rate (one ``MjData``,
  targets written to ``ctrl``, the same substeps per control step) on the same model
  (goal >= 0.85);
- state only, divided by Gymnasium's ``AsyncVectorEnv`` with 2 workers (2 ``gym.make`` envs,
  one process each; env steps/s = 2 x its steps/s) (goal >= 1.3);
- one 96x96 ``front`` camera per twin, divided by ``AsyncVectorEnv`` with 2 workers with the same
  camera (goal >= 3): ``make_vec``'s default (``render_workers=2`` where 2 CPUs are free: the N
  views drawn on two threads, each with its own GL context, the same images as one thread) and
  ``render_workers=1`` (one pass; the breakdown below times it).

Also printed, because a loaded machine starves the threaded env first: the batched env with one
physics thread divided by the raw loop (what lerobot_gym adds around the physics, per env step,
on one core), and where a batched step's time goes: the physics call (``Batch.step``), the
tasks' evaluation (facts, reward, success: one numpy pass for Reach, ``Task.evaluate_batch``),
and the rest (actions, safety, observations, info).

And the physics alone for the same 16 twins, to show why the env uses ``mujoco.batch``: one
control step (all substeps) of every twin by a Python loop over 16 ``MjData`` (``mj_step``
holds the GIL, so threads cannot help it), by ``mujoco.rollout`` on a thread pool (state vectors
in and out, no per-twin ``MjData`` left for the tasks), and by ``mujoco.batch.Batch``
(persistent, threaded, what the env runs). These run at rest (constant controls), so they are
faster than the raw loop, which follows the random actions.

CPU-time figures (``time.process_time``: every thread of this process; for
``AsyncVectorEnv`` this process plus its workers from ``/proc``) do not count the time other
processes hold the cores, so they hold on a loaded machine where wall-clock ratios do not:

- state: raw CPU per control step / the batched env's CPU per env step (what the env adds);
  ``AsyncVectorEnv``'s CPU per env step / the batched env's (the second goal in CPU); and the
  raw loop's CPU / (cores x the calling thread's CPU per env step): the calling thread runs all
  of the step's Python plus its share of the physics, so its CPU is the step's critical path
  when the other core is free: an estimate of the first goal's ratio on a quiet machine.
- camera: CPU per env step of the batched env (one and two render threads), of one ``gym.make``
  env, and of ``AsyncVectorEnv(2)``; their ratio is the camera goal in CPU time (a quiet 2-core
  machine's wall ratio when both contenders keep both cores busy: ``render_workers=2``).

Every figure is a best of interleaved repeats. The machine's load (``os.getloadavg``) is printed
with the figures. Under load the wall-clock ratios are unreliable both ways: the threaded
batched env loses most (both its threads must be scheduled at every step), and
``AsyncVectorEnv``'s workers, which sleep between steps, are favoured by the scheduler over
busy processes in its short timed windows (one ``--quick`` run at load 15 gave it 884 camera
env steps/s, another at load 11 1139 state env steps/s, more than the batched env's 1061 though
it costs 3.7x more CPU per env step: more CPU than two cores' share of the load allows). The
CPU-time figures move with the load too, less: the calling thread's CPU includes its waits
for a descheduled pool thread.

Quiet full run, third session of 2026-12-07 (load average 1.0-2.0, nothing else running; the
step path's third cut, make_vec's two render threads and the floor-cull skip in): state,
batched / physics limit **0.898** (goal 0.85; CPU estimate 0.906), / AsyncVectorEnv(2)
**3.93x** (CPU 3.04x); one physics thread / raw 0.976. Camera, 1x96x96: **1.15x**
AsyncVectorEnv(2) with the default two render threads, 1.02x with one (goal 3x); CPU per env
step 1.22 ms batched, 1.33 ms one ``gym.make`` env, 1.58 ms AsyncVectorEnv(2) (1.30x). Bound
printed by the run: with every twin's static content (skybox, floor, table) drawn for free,
<= 2.56x; with the same sharing in the renderer ``gym.make`` envs use, <= 1.56x; with views
drawn for free (a GPU), <= 7.56x. So 3x needs a renderer whose per-view cost is not each
twin's own geometry on the CPU: a GPU.

Quiet re-run at the end of the second session of 2026-12-07 (load average 0.1-1.0, nothing
else running), every
change of issue 12 in: ``--quick``: batched / physics limit 0.877 (goal 0.85), / AsyncVectorEnv(2)
4.22x, camera 0.80x (render_workers=2: 1.03x; goal 3x); full run right after: 0.808, 4.26x,
camera 1.03x (render_workers=2: 1.34x). The state ratio straddles its goal between runs; the
camera ratio is far from it (see the analysis below).

Measured (2026-12-07, ``--quick``, 2-core machine, llvmpipe), before this session's changes
(commit 622daf6, load average 1.5-2.4, one other process busy):

    raw mj_step loop 6176 steps/s; physics limit (2 x raw) 12352
    state: batched 4272 env steps/s = 0.346 of the limit (goal 0.85); AsyncVectorEnv(2) 1778:
           ratio 2.40 (goal 1.3); one physics thread 6077 = 0.98 of raw; its step: physics
           84 %, tasks' per-twin Python 8.6 %, rest 7.3 %
    1x96x96: batched 347 env steps/s, AsyncVectorEnv(2) 450: ratio 0.77 (goal 3);
             render_workers=2 641: ratio 1.43
    CPU per env step, 1x96x96: batched 2.72 ms, render_workers=2 2.74 ms, gym.make env 2.69 ms

After (load average 14.7-17, every core busy with other agents' jobs: CPU pressure 99.8 %):

    raw mj_step loop 2022 steps/s; batched 1686 = 0.417 of the limit; AsyncVectorEnv(2) 401:
           ratio 4.20; one physics thread 1700 = 0.84 of raw; its step: physics 92 %,
           tasks' evaluation 3.4 %, rest 4.9 %
    CPU per env step: raw loop 115.6 us, batched 139.2 us (0.830; 0.78-0.85 over runs), its
           calling thread 74.0 us:
           critical-path estimate 0.780 of the limit (0.69-0.85 over eight runs at load 7-15;
           0.76 before the changes, measured the same way at load 10); AsyncVectorEnv(2)
           644.7 us: 4.63x (3.67x in another run)
    1x96x96 CPU per env step: batched 1.47 ms, render_workers=2 1.46 ms, gym.make env
           1.34-2.0 ms, AsyncVectorEnv(2) 2.38 ms: ratio 1.62 (goal 3); wall ratios 0.16-0.73
           (not meaningful at this load, see above)

What changed, and what each bought:

- State: the step's Python (measured with the physics stubbed, 16 twins, no reset): 155 us ->
  39 us per batched step: Reach evaluates all twins in one numpy pass, actions inside the
  limits pass safety in one clamp-and-compare, worlds go stale by one counter, info and
  observations without copies. In the running env (caches cold after the physics) the Python
  is ~6 us per env step (was ~12). The remaining gap to 0.85 is the physics itself:
  ``mujoco.batch`` with 2 threads spends 7-10 % more CPU than with one (125 vs 117 us per env
  step at load 10), and each twin's step costs up to ~4 % more than the raw loop's (16 ``MjData``
  evict each other from the caches), so even with no Python the critical-path estimate is
  ~0.9. Wall-clock on a quiet machine is for the coordinator's run.
- Camera: the SO-101 floor (an infinite plane: 200 x 200 quads in MuJoCo's display list) is
  drawn only where each view looks (``lerobot_gym/sim/plane_cull.py``, same pixels bit for
  bit): a 96x96 front view's ``mjr_render`` went from 2.3 ms to 0.6-0.9 ms, and a batched env
  step's CPU from 2.72 ms to ~1.5 ms. This is in ``TiledRenderer``, so ``gym.make`` envs (and
  ``AsyncVectorEnv``'s workers) get it too, and the goal ratio barely moves (CPU ratio ~1.6).
  What a view costs now is its pixels, not its vertices: with every geom moved out of view a
  view still costs 0.22 ms (skybox, clear), and a view of the scene 0.6-0.7 ms (the table, the
  arm and the floor filled at 96x96, load ~10). Tiling shares only what is paid per render call
  (GL context switch, read-back), so the batched env cannot be 3x cheaper per view than a
  ``gym.make`` env with the same software rasteriser; 3x needs cheaper pixels (a GPU, or
  fewer/cheaper fragments, which change the images).

Where a camera env step's CPU goes, and the best ratio software GL leaves (printed by every
camera run; ``benchmarks/_vector_env_render.py`` times a replica of ``TiledRenderer.render``,
checked to draw the same images, with an ``mjr_finish`` before the read-back so llvmpipe's
deferred rasterisation is timed on its own). ``--quick --camera-only``, 2026-12-07, load
average 15 falling to 4, after this session's changes (CPU ms per env step; process CPU, every
thread; batched N=16 with one render thread | one ``gym.make`` env):

    physics (Batch.step | mj_step)         0.115 | 0.140
    tasks' evaluation                      0.021 |   -
    MjData copies for the views            0.028 |   -
    mjv_updateScene                        0.027 | 0.008
    frustum cull                           0.015 | 0.016
    plane cull                             0.017 | 0.083   (batched: 0.088 before sharing it)
    mjr_render (vertices, clipping, bins)  0.437 | 0.559
    rasterise (llvmpipe's threads)         0.682 | 0.625
    read-back + copy out                   0.020 | 0.032
    rest (Python)                          0.017 | 0.085
    total                                  1.380 | 1.547     AsyncVectorEnv(2): 1.64

    one view's mjr_render + rasterisation with part of its scene: empty (clear, lights,
    projection) 0.070; skybox alone 0.414; static geoms (floor, table, legs, arm base) with
    the skybox 0.674; the moving geoms alone (arm, target; no skybox) 0.436; whole view 1.044

So 81 % of the batched env's CPU is drawing (mjr_render + rasterisation), and a batched view
costs what a ``gym.make`` env's view does: llvmpipe pays per view for its vertices and its
fragments, which are the view's own whatever buffer it is drawn into. What batching shares is
paid per render call: read-back (0.014 vs 0.024 ms), the Python around the step (0.017 vs
0.085 ms), and now the floor's plane cull along a run of one fixed camera's views (0.017 vs
0.083 ms). In the earlier run at load 3 (before the plane cull was shared): batched 1.43 ms,
single 1.66 ms, AsyncVectorEnv(2) 2.06 ms per env step; the view parts within 10 %.

The bound. 3x in CPU needs the batched env at AsyncVectorEnv(2)'s CPU / 3 per env step (0.55 ms
in the run above, 0.69 ms at load 3); it spends 1.38. The least a bit-identical view could cost
is its moving geometry drawn alone (0.436 ms: each twin's own arm pose, vertices and fragments
no other view shares) plus what is not drawing (0.26 ms): 0.70 ms per env step, a CPU ratio of
at most 2.36 (2.60 at load 3, 2.25 at load 5), and that only if everything static (skybox,
floor, table: 0.61 ms of a view) were drawn once and shared for free. Such sharing is not
buildable bit for bit with MuJoCo's renderer: ``mjr_render`` clears its viewport's colour and
depth before drawing (``render_gl3.c``), so a view cannot be drawn onto a kept image of the
static part, and compositing afterwards by depth is exact only for opaque geoms (the target
sphere is transparent, alpha 0.7: blended onto what is behind it, and drawn twice). It would
also not be batching's: a ``gym.make`` env's fixed camera sees the same static part every step,
so the same cache in the renderer both use gives a ratio of at most 1.28 (1.77 at load 3). With
views free altogether (a GPU: hardware GL, or MuJoCo Warp's batch renderer drawing every world
in one launch) the batched env would cost 0.26 ms per env step: 6.3x AsyncVectorEnv(2) on
software GL, 1.75x one on the same GPU (whose per-env Python and pipes then dominate). In wall
time the bound is the batched env with every core busy over AsyncVectorEnv(2)'s measured rate,
i.e. the CPU bound divided by the share of the cores AsyncVectorEnv keeps busy (its workers wait
on pipes; printed): 94 % in a run at load 5 (1089 env steps/s at 1.73 ms: wall bound 1.36 with
today's drawing, 2.38 with the static part free), ~60 % in the run at load 1.5-2.4 before this
session (450 env steps/s at ~2.7 ms). Only a quiet machine's figure counts (under load
AsyncVectorEnv's rate swings: four runs at load 4-7 gave wall bounds of 2.1-4.5 with today's
drawing): if AsyncVectorEnv keeps the cores ~80 % busy there, the wall bound is ~1.6 with
today's drawing and ~3 with the static part free; 3x with today's drawing would need
AsyncVectorEnv idle more than half the time and the batched env never (it measured 1.34x quiet
before this session). What blocks the goal: software rasterisation of each twin's own view (the
moving geometry alone is 0.44 ms of CPU), not anything batching can share; it needs a GPU
renderer, or cheaper images (coarser ``numquads``, no skybox, smaller frames), which change the
pixels.

Tried and kept (same images, tested): ``render_workers=2`` by default for ``make_vec`` on 2+
CPUs, each worker drawing its views at their one-thread tiles (``TiledRenderer(draw=...)``),
so the images are those of one thread bit for bit (before: within the tiled bound) and the same
on every call; CPU per env step 1.29 vs 1.34 ms (one vs two threads, same run); the wall gain
needs a free second core (quiet, before: 1.03x -> 1.34x; at load 15 two threads lose: 1.30x ->
1.05x). The plane cull shared along a run of one world-fixed camera's views (``TiledRenderer``:
the third and later such views whose ``MjData`` place the camera and the floor as the two before
skip it): 0.088 -> 0.017 ms per view. Measured and not kept: ``LP_NUM_THREADS`` (llvmpipe's
rasteriser threads; set for both contenders, whose processes inherit it). In CPU it changes
nothing measurable: at load ~1, 0, 1 and the default 2 gave 1.30-1.42 ms per batched view and
1.07-1.49 ms per ``gym.make`` view; in four ``--quick --camera-only`` runs at load 4-7,
``LP_NUM_THREADS=0`` against the default: batched 1.29-1.34 vs 1.33-1.35 ms per env step,
AsyncVectorEnv(2) 1.73-1.81 vs 1.82-2.07 ms. Its wall effect could not be judged:
AsyncVectorEnv's rate ranged 337-749 env steps/s between those runs (the printed wall bound
2.1-4.5), so a quiet machine must decide (``LP_NUM_THREADS=0 python benchmarks/vector_env.py
--camera-only`` against the same without it).

Third session of 2026-12-07 (issue 12; the quiet re-run above predates it): the state-only
step's Python again. A float32 action that safety leaves alone is reported as itself, as the
single env reports it (it was its unit round trip, which differed for a 1e-20 gripper value:
a bug, tested now); the conversions and clamps are single clip-ufunc calls; the one-pass safety
test and the autoreset test use ``np.count_nonzero`` (``ndarray.any`` runs a Python wrapper);
info's masks are one allocation; Reach's batched distance is one ``add.reduce`` (the same
left-to-right sum, tested over 4000 random poses against the per-twin facts) and its reward
``dense_reward``'s float loop; resets set the twins' state without the template's two forward
passes (the batch's forward pass computes them). Before (main at d676b3f) and after, run in
turn in the same session:

    Python per batched step, physics stubbed (warm caches, calling-thread CPU):
        no resets                          36.3 -> 26.3 us
        Reach's autoresets every 100 steps 49.8 -> 34-36 us
    the real run, calling thread's CPU outside Batch.step per env step (cold caches):
        load ~6                            10.2 -> 7.8 us
        load ~2                            5.3-5.4 -> 4.3-4.6 us
    --quick --state-only, the CPU critical-path estimate of the first goal (>= 0.85):
        load 5-9                           before 0.771 0.874 0.814 0.869; after 0.856 0.893
        load 1.9-2.7                       before 0.888 0.899;             after 0.910 0.898
    same runs, raw CPU / batched CPU per env step:
        before 0.882 0.900 0.861 0.896 0.911 0.913; after 0.898 0.922 0.921 0.918

A full ``--state-only`` run after (load average 1.6-3.7): CPU critical-path estimate 0.899,
raw CPU / batched CPU 0.917, one physics thread 0.973 of the raw loop (wall), AsyncVectorEnv(2)
3.05x (wall) and 3.04x (CPU); wall clock against the limit 0.459, because ``mujoco.batch`` with
two threads ran at 5057 env steps/s there, below one thread's Python loop over the 16
``MjData`` (8934): the second core was busy with other work.

The wall-clock ratio could not be measured this session: even at load ~2 the batch's two
threads rarely ran at once (``Batch.step`` took ~1850 us of wall time per batched step for
~914 us of the calling thread's CPU, so 0.44-0.47 of the limit), which is the coordinator's
quiet run to decide. Where the calling thread's time goes after (real physics, load ~4, per
batched step of 16 twins, probes included): ``Batch.step`` 916 us, the tasks' evaluation 28
(Reach's ``evaluate_batch`` 21), observation 8, safety 4, info's facts 3, the rest of
``_step_all`` 35 (before, load ~6: 926, 58 (41), 17, 11, 5, 85). The profile after (3000
batched steps, physics stubbed, no resets, cProfile tottime):

    ncalls  tottime  function
      3000    0.074  sim/vector_env.py:_step_all      (conversion, safety, info, masks)
      3000    0.054  tasks/reach.py:evaluate_batch    (distance, success, facts)
      3000    0.023  sim/vector_env.py:step
      3000    0.022  sim/vector_env.py:_observation
      3000    0.015  tasks/reach.py:<listcomp>        (16 math.tanh: dense_reward's floats)
      3000    0.013  sim/vector_tasks.py:_evaluate_batch
      6000    0.011  {ndarray.astype}
      3000    0.010  sim/vector_tasks.py:_masked_arrays
    total 0.28 s

What is left is the physics, not the Python: alone (no env, 100 control steps of 16 twins, CPU
per twin-step) ``mujoco.batch`` costs 112.1 us with one thread and 117.5 us with two (+5 %,
persistent or not: the two vCPUs share the host's core resources), and under load the calling
thread does ~54 % of it (its worker starts late), so physics alone allows ~0.94 of the limit by
the CPU estimate; the Python (~4.5 us per env step cold, ~7 % of the calling thread) takes it to
~0.90-0.91 on a quiet machine. Its wall-clock ratio also pays the worker's wake-up at every
step (one ``futex`` wake; not CPU time), which no Python change removes.

Usage: ``python benchmarks/vector_env.py [--quick] [--camera-only | --state-only]`` (quick runs
in about two minutes on a quiet machine; ``--camera-only`` skips the state-only and physics-only
figures, ``--state-only`` the camera ones).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import mujoco
import numpy as np

import lerobot_gym

ENV_ID = "lerobot_gym/SO101-Reach-v0"
N = 16
CAMERA = {"obs_type": "pixels_agent_pos", "cameras": ("front",), "image_size": (96, 96)}


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _actions(space: gym.Space, steps: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    low, high = space.low, space.high
    return rng.uniform(low, high, size=(steps, *low.shape)).astype(np.float32)


def _raw_rate(actions: np.ndarray) -> tuple[float, float]:
    """Control steps/s of one MjData stepped by a Python loop, targets written to ``ctrl``,
    and its CPU seconds per control step."""
    env = gym.make(ENV_ID, obs_type="state", disable_env_checker=True)
    env.reset(seed=0)
    robot_env = env.unwrapped
    backend = robot_env.backend
    model, data, substeps = backend.model, backend.data, backend.substeps
    robot = robot_env.robot
    ctrls = np.clip(
        robot.from_user(actions.reshape(-1, actions.shape[-1])), robot.lower_rad, robot.upper_rad
    )
    arm = backend.scene.ctrl_index
    t0, c0 = time.perf_counter(), time.process_time()
    for ctrl in ctrls:
        data.ctrl[arm] = ctrl
        mujoco.mj_step(model, data, nstep=substeps)
    rate = len(ctrls) / (time.perf_counter() - t0)
    cpu = (time.process_time() - c0) / len(ctrls)
    env.close()
    return rate, cpu


def _cpu_per_step(step, actions: np.ndarray, env_steps_per_call: int) -> float:
    """CPU seconds of this process per env step."""
    t0 = time.process_time()
    for action in actions:
        step(action)
    return (time.process_time() - t0) / (len(actions) * env_steps_per_call)


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _async_cpu_per_step(envs: gym.vector.AsyncVectorEnv, actions: np.ndarray) -> float:
    """CPU seconds per env step of AsyncVectorEnv: this process plus its worker processes."""
    pids = [process.pid for process in envs.processes]
    envs.reset(seed=0)
    c0, w0 = time.process_time(), sum(_process_cpu(pid) for pid in pids)
    for action in actions:
        envs.step(action)
    workers = sum(_process_cpu(pid) for pid in pids) - w0
    return (time.process_time() - c0 + workers) / (envs.num_envs * len(actions))


def _vector_rate(envs: gym.vector.VectorEnv, actions: np.ndarray) -> float:
    """Env steps/s (num_envs x steps/s) over the given batched actions."""
    return _vector_rate_cpu(envs, actions)[0]


def _vector_rate_cpu(envs: gym.vector.VectorEnv, actions: np.ndarray) -> tuple[float, float, float]:
    """Env steps/s, and CPU seconds per env step of the whole process (every thread) and of
    the calling thread alone (its Python plus its share of the physics)."""
    envs.reset(seed=0)
    t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
    for action in actions:
        envs.step(action)
    wall = time.perf_counter() - t0
    steps = envs.num_envs * len(actions)
    cpu, main = time.process_time() - c0, time.thread_time() - m0
    return steps / wall, cpu / steps, main / steps


def _physics_rates(steps: int, cores: int) -> dict[str, float]:
    """Env steps/s of the physics alone: a loop over MjData, mujoco.rollout, mujoco.batch."""
    from mujoco import rollout
    from mujoco.batch import Batch

    env = gym.make(ENV_ID, obs_type="state", disable_env_checker=True)
    env.reset(seed=0)
    backend = env.unwrapped.backend
    model, data, substeps = backend.model, backend.data, backend.substeps
    datas = [mujoco.MjData(model) for _ in range(N)]
    for d in datas:
        mujoco.mj_copyData(d, model, data)
    rates = {}
    t0 = time.perf_counter()
    for _ in range(steps):
        for d in datas:
            mujoco.mj_step(model, d, nstep=substeps)
    rates["python loop over MjData"] = N * steps / (time.perf_counter() - t0)

    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state = np.zeros((N, mujoco.mj_stateSize(model, spec)))
    for i, d in enumerate(datas):
        mujoco.mj_getState(model, d, state[i], spec)
    control = np.tile(data.ctrl, (N, substeps, 1))
    warmstart = np.stack([d.qacc_warmstart for d in datas])
    thread_datas = [mujoco.MjData(model) for _ in range(cores)]
    with rollout.Rollout(nthread=cores) as pool:
        t0 = time.perf_counter()
        for _ in range(steps):
            states, _ = pool.rollout(
                model, thread_datas, state, control, initial_warmstart=warmstart
            )
            state = states[:, -1]
        rates[f"mujoco.rollout, {cores} threads"] = N * steps / (time.perf_counter() - t0)

    batch = Batch(model, N, nthread=cores, persistent=True)
    row = np.zeros(batch.nstate)
    mujoco.mj_getState(model, data, row, mujoco.mjtState.mjSTATE_INTEGRATION)
    batch.state[:] = row
    batch.forward()
    t0 = time.perf_counter()
    for _ in range(steps):
        batch.step(nstep=substeps)
    rates[f"mujoco.batch, {cores} threads"] = N * steps / (time.perf_counter() - t0)
    env.close()
    return rates


class _Timer:
    """Wraps a callable and adds up the time spent in it."""

    def __init__(self, fn):
        self.fn, self.total = fn, 0.0

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.total += time.perf_counter() - t0


def _breakdown(envs: gym.vector.VectorEnv, actions: np.ndarray) -> tuple[float, float, float]:
    """Shares of a batched step: physics, the tasks' evaluation, everything else."""
    inner = envs.unwrapped
    envs.reset(seed=0)
    physics = _Timer(inner.batch.step)
    tasks = _Timer(inner._evaluate_rows)  # facts, success, reward, failure, environment_state
    inner.batch.step, inner._evaluate_rows = physics, tasks
    t0 = time.perf_counter()
    for action in actions:
        envs.step(action)
    total = time.perf_counter() - t0
    del inner.batch.step, inner._evaluate_rows
    return physics.total / total, tasks.total / total, 1 - (physics.total + tasks.total) / total


def _state_figures(repeats: int, batched_steps: int, cores: int) -> None:
    """The state-only figures: against the physics limit and AsyncVectorEnv, and physics alone."""
    batched = lerobot_gym.make_vec(ENV_ID, num_envs=N, obs_type="state")
    one_thread = lerobot_gym.make_vec(ENV_ID, num_envs=N, obs_type="state", nthread=1)
    actions = _actions(batched.action_space, batched_steps)
    async_envs = gym.make_vec(
        ENV_ID,
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"context": "spawn"},
        obs_type="state",
        disable_env_checker=True,
    )
    async_actions = actions.reshape(-1, 2, actions.shape[-1])
    raw_rates, batched_rates, async_rates, one_rates = [], [], [], []
    raw_cpus, batched_cpus, main_cpus, async_cpus = [], [], [], []
    for _ in range(repeats):
        raw_rate, raw_cpu = _raw_rate(actions)
        raw_rates.append(raw_rate)
        raw_cpus.append(raw_cpu)
        rate, cpu, main = _vector_rate_cpu(batched, actions)
        batched_rates.append(rate)
        batched_cpus.append(cpu)
        main_cpus.append(main)
        one_rates.append(_vector_rate(one_thread, actions))
        async_rates.append(_vector_rate(async_envs, async_actions))
        async_cpus.append(_async_cpu_per_step(async_envs, async_actions))
    shares = _breakdown(one_thread, actions)
    physics: dict[str, float] = {}
    for _ in range(repeats):
        for name, value in _physics_rates(batched_steps, cores).items():
            physics[name] = max(physics.get(name, 0.0), value)
    batched.close()
    one_thread.close()
    async_envs.close()

    raw, rate, async_rate = max(raw_rates), max(batched_rates), max(async_rates)
    limit = cores * raw
    print(f"raw mj_step loop, one thread:          {raw:9.1f} steps/s")
    print(f"physics limit ({cores} x raw):              {limit:9.1f} steps/s")
    print(f"batched vector env, N={N}, state:      {rate:9.1f} env steps/s")
    print(f"AsyncVectorEnv, 2 workers, state:      {async_rate:9.1f} env steps/s")
    print(f"ratio batched/physics limit: {rate / limit:.3f}  (goal >= 0.85)")
    print(f"ratio batched/AsyncVectorEnv(2): {rate / async_rate:.2f}  (goal >= 1.3)")
    print(f"batched vector env, one physics thread: {max(one_rates):8.1f} env steps/s")
    print(f"ratio one-thread batched/raw: {max(one_rates) / raw:.3f}  (no goal: the Python share)")
    print(
        f"one-thread batched step time: physics {shares[0]:.1%}, tasks' evaluation "
        f"{shares[1]:.1%}, rest (actions, safety, observations, info) {shares[2]:.1%}"
    )
    for name, value in physics.items():
        print(f"physics only, N={N}, {name}: {value:9.1f} env steps/s")
    # CPU time does not count the time other processes hold the cores, so these hold on a
    # loaded machine where the wall-clock ratio above cannot.
    raw_cpu, cpu, main = min(raw_cpus), min(batched_cpus), min(main_cpus)
    print(
        f"CPU per step: raw loop {raw_cpu * 1e6:.1f} us; batched env {cpu * 1e6:.1f} us per env "
        f"step (all threads), its calling thread {main * 1e6:.1f} us"
    )
    print(
        f"ratio raw CPU/batched CPU per env step: {raw_cpu / cpu:.3f}  (what the env adds "
        "around the physics, load-independent)"
    )
    print(
        f"CPU per env step, AsyncVectorEnv(2) (main + workers): {min(async_cpus) * 1e6:.1f} us; "
        f"ratio to batched {min(async_cpus) / cpu:.2f}  (the second ratio in CPU time)"
    )
    print(
        f"ratio batched/physics limit from CPU time: {raw_cpu / (cores * main):.3f}  (the calling "
        "thread's CPU per env step is the step's critical path when the other cores are free: "
        "an estimate of the first ratio on a quiet machine)"
    )


def _camera_parts(
    batched: gym.vector.VectorEnv,
    single: gym.Env,
    actions: np.ndarray,
    single_actions: np.ndarray,
    repeats: int,
) -> dict[str, dict[str, float]]:
    """Where a camera env step's CPU goes (benchmarks/_vector_env_render.py), best of repeats."""
    from _vector_env_render import (
        batched_breakdown,
        check_replica,
        content_costs,
        single_breakdown,
    )

    inner = batched.unwrapped
    batched.reset(seed=0)
    for action in actions[:3]:
        batched.step(action)
    (renderer,) = inner._renderers.values()
    datas = [world.materialize() for world in inner._worlds]
    if not check_replica(renderer, datas):
        raise RuntimeError("the timed render replica drew other images than TiledRenderer.render")
    best: dict[str, dict[str, float]] = {}
    for _ in range(max(2, repeats - 1)):
        for name, parts in (
            ("batched", batched_breakdown(batched, actions)),
            ("single", single_breakdown(single, single_actions)),
        ):
            # The repeat with the least total CPU, kept whole (its parts add up).
            if name not in best or parts["total"] < best[name]["total"]:
                best[name] = parts
    best["contents"] = content_costs(renderer, datas, max(2, repeats - 1))
    return best


def _print_camera_parts(
    parts: dict[str, dict[str, float]], async_cpu: float, async_rate: float, cores: int
) -> None:
    """The breakdown of a camera env step, and the best camera ratio software GL allows."""
    batched, single, contents = parts["batched"], parts["single"], parts["contents"]
    print(
        "CPU per env step by part, 1x96x96 (ms; process CPU, every thread): batched "
        f"(N={N}, one render thread) | one gym.make env"
    )
    labels = {"physics": "physics (Batch.step | mj_step)"}
    for name in batched:
        if name != "views per env step":
            s = f"{single[name] * 1e3:6.3f}" if name in single else "     -"
            print(f"  {labels.get(name, name):44s} {batched[name] * 1e3:6.3f} | {s}")
    print(
        "  (mjr_render: the calling thread's vertex work and binning; rasterise: llvmpipe's "
        "threads filling the binned triangles, timed by an mjr_finish before the read-back)"
    )
    print("CPU per 96x96 view of mjr_render + rasterisation with part of each scene (ms):")
    for name, value in contents.items():
        print(f"  {name:44s} {value * 1e3:6.3f}")
    # The bound. Drawing is what the views cost; the rest (physics, Python, scene updates,
    # culls, read-back) is measured. Batching cannot make a twin's own moving geometry
    # cheaper: its vertices and fragments are that twin's alone. The most any sharing across
    # views could save is everything that does not move (skybox, floor, table, base) and the
    # per-call setup is kept in "moving geoms only" (its own clear and lights).
    draw_b = batched["mjr_render"] + batched["rasterise"]
    draw_s = single["mjr_render"] + single["rasterise"]
    moving = contents["moving geoms only"]
    least = batched["total"] - draw_b + moving * batched["views per env step"]
    no_draw = batched["total"] - draw_b
    print(
        f"camera goal 3x in CPU: the batched env may spend {async_cpu / 3 * 1e3:.2f} ms per env "
        f"step (AsyncVectorEnv(2): {async_cpu * 1e3:.2f} ms); it spends "
        f"{batched['total'] * 1e3:.2f}"
    )
    print(
        f"bound, static content shared for free (only each twin's moving geoms drawn): "
        f"{least * 1e3:.2f} ms per env step: ratio <= {async_cpu / least:.2f}"
    )
    shared = async_cpu - draw_s + moving
    print(
        f"bound, the same sharing in the renderer gym.make envs use too (a fixed camera's static "
        f"content kept between steps): ratio <= {shared / least:.2f}"
    )
    # In wall time AsyncVectorEnv may leave the cores idle part of the time (its workers wait
    # on pipes), so its env steps/s can be below cores / its CPU per env step, and the wall
    # bound is the batched env at its best (every core busy) over its measured rate.
    print(
        f"wall bound (batched with all {cores} cores busy at its CPU per env step, over "
        f"AsyncVectorEnv(2)'s measured {async_rate:.0f} env steps/s; meaningful on a quiet "
        f"machine only): today's drawing {cores / batched['total'] / async_rate:.2f}, static "
        f"content free {cores / least / async_rate:.2f}; AsyncVectorEnv uses "
        f"{async_rate * async_cpu / cores:.0%} of the cores"
    )
    print(
        f"asymptote, views drawn for free (physics, Python, scene updates, read-back only): "
        f"ratio <= {async_cpu / no_draw:.2f}; with AsyncVectorEnv's views free too: "
        f"{(async_cpu - draw_s) / no_draw:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about a minute)")
    parser.add_argument("--camera-only", action="store_true", help="only the camera figures")
    parser.add_argument("--state-only", action="store_true", help="only the state-only figures")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    batched_steps = 150 if args.quick else 600
    cam_steps = 40 if args.quick else 200
    cores = _cores()

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load}; cores available: {cores}")
    if not args.camera_only:
        _state_figures(repeats, batched_steps, cores)
    if args.state_only:
        return
    # One render thread (the breakdown below times its renderer) and make_vec's default:
    # render_workers=2 where two CPUs are free (the same images, bit for bit).
    cam_batched = lerobot_gym.make_vec(ENV_ID, num_envs=N, render_workers=1, **CAMERA)
    cam_actions = _actions(cam_batched.action_space, cam_steps)
    cam_async = gym.make_vec(
        ENV_ID,
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"context": "spawn"},
        disable_env_checker=True,
        **CAMERA,
    )
    cam_async_actions = cam_actions.reshape(-1, 2, cam_actions.shape[-1])
    cam_single = gym.make(ENV_ID, disable_env_checker=True, **CAMERA)
    cam_single.reset(seed=0)
    single_actions = cam_actions.reshape(-1, cam_actions.shape[-1])
    cam_threads = lerobot_gym.make_vec(ENV_ID, num_envs=N, **CAMERA)
    workers = cam_threads.unwrapped.render_workers
    cam_rates, cam_async_rates, cpu_batched, cpu_single, cpu_async = [], [], [], [], []
    thread_rates, cpu_threads = [], []
    for _ in range(max(2, repeats - 1)):
        cam_rates.append(_vector_rate(cam_batched, cam_actions))
        cam_async_rates.append(_vector_rate(cam_async, cam_async_actions))
        thread_rates.append(_vector_rate(cam_threads, cam_actions))
        cpu_batched.append(_cpu_per_step(cam_batched.step, cam_actions, N))
        cpu_threads.append(_cpu_per_step(cam_threads.step, cam_actions, N))
        cpu_single.append(_cpu_per_step(cam_single.step, single_actions, 1))
        cpu_async.append(_async_cpu_per_step(cam_async, cam_async_actions))
    parts = _camera_parts(cam_batched, cam_single, cam_actions, single_actions, repeats)
    cam_batched.close()
    cam_threads.close()
    cam_async.close()
    cam_single.close()

    cam_rate, cam_async_rate = max(cam_rates), max(cam_async_rates)
    print(f"batched vector env, N={N}, 1x96x96, render_workers=1: {cam_rate:9.1f} env steps/s")
    print(f"AsyncVectorEnv, 2 workers, 1x96x96:    {cam_async_rate:9.1f} env steps/s")
    print(
        f"ratio batched render_workers=1/AsyncVectorEnv(2), camera: {cam_rate / cam_async_rate:.2f}"
    )
    thread_rate = max(thread_rates)
    print(f"same, make_vec's default render_workers={workers}: {thread_rate:9.1f} env steps/s")
    print(
        f"ratio batched (default, render_workers={workers})/AsyncVectorEnv(2), camera: "
        f"{thread_rate / cam_async_rate:.2f}  (goal >= 3)"
    )
    cpu_b, cpu_s = min(cpu_batched) * 1e3, min(cpu_single) * 1e3
    cpu_t = min(cpu_threads) * 1e3
    print(
        f"CPU per env step, 1x96x96: batched {cpu_b:.2f} ms, render_workers={workers} "
        f"{cpu_t:.2f} ms, "
        f"one gym.make env {cpu_s:.2f} ms"
    )
    print(
        f"ratio CPU per env step single/batched: {cpu_s / cpu_b:.2f}  (no goal; load-independent)"
    )
    cpu_a = min(cpu_async) * 1e3
    print(
        f"CPU per env step, AsyncVectorEnv(2), 1x96x96 (main + workers): {cpu_a:.2f} ms; ratio "
        f"to batched {cpu_a / cpu_b:.2f}, to render_workers={workers} {cpu_a / cpu_t:.2f}  "
        "(the goal ratio in CPU time: what an env step costs the machine, load-independent; "
        "a quiet 2-core machine's wall ratio if both use both cores)"
    )
    _print_camera_parts(parts, min(cpu_async), cam_async_rate, _cores())


if __name__ == "__main__":
    main()
