"""Env step throughput on the twins, each figure a ratio against an anchor measured in this run.

Prints, as steps/s and as ratios (goal in brackets):

1. State-only env / a raw ``mj_step`` loop on the same compiled model with the same substeps,
   targets and episode starts (>= 0.90): what lerobot_gym adds per step. SO101-Reach and
   SO101-PickCube. Like for like: the env's backend and the raw loop both make one
   ``mujoco.mj_step(model, data, nstep=substeps)`` call per control period (the targets are
   constant over a period), so neither side gains from batching the substeps. The env is built
   with ``disable_env_checker=True``; Gymnasium's PassiveEnvChecker only checks the first step
   and forwards after that, and the TimeLimit and OrderEnforcing wrappers that stay cost less
   than the noise (the unwrapped env measured the same, 2026-12-07).
2. The servo model (``actuator="servo"``) / a raw loop on the servo env's own model (>= 0.60);
   the servo's softer actuators also change the physics, which the ratio against the ideal raw
   loop shows.
3. SO101-Reach with one 128x128 camera / a raw step-and-render loop on the same model: the same
   ``mj_step`` plus ``mujoco.Renderer.update_scene`` and ``render`` of that camera at 128x128,
   shadows and reflections off, as the env renders (>= 0.90).
4. Aloha-TransferCube (the robot with four cameras), 128x128: a step observing all four cameras
   costs <= 2x a step observing one; with ``render_workers="auto"`` (the default: on a machine
   with two cores, the cameras interleaved over two threads, the calling thread one of them,
   ``lerobot_gym/sim/tiled_threads.py``; on one core it is the one-pass line again), which
   only a machine with a free core can show. Printed next to them, for reference, the four
   cameras rendered the pre-tiling way (one ``mujoco.Renderer`` call each), and the 1- and
   4-camera envs with the tiled renderer's frustum culling off (``lerobot_gym/sim/culling.py``;
   as before it existed).
5. Each camera's view of Aloha-TransferCube and SO101-PickCube at 128x128 (a one-view
   ``TiledRenderer``): CPU ms per render with culling off and on, and the geoms drawn.

``--cameras-only`` runs items 4 and 5.

Every ratio is printed twice: wall clock (the goal's measure) and process CPU time (which
counts llvmpipe's raster threads too and is what survives a machine loaded by other work; under
load the wall-clock ratios are the noisier ones). The loops being compared are interleaved and
the best of several short repeats is kept (a load spike spoils a repeat, not the figure). The
load average is printed at the start and the end.

Quiet re-run, third session of 2026-12-07 (full run, load average 0.3-1.0, nothing else
running; the step-path third cut and the interleaved render threads in), wall / cpu:

    SO101-Reach state env / raw mj_step      0.915 / 0.914   goal >= 0.90
    SO101-PickCube state env / raw mj_step   0.910 / 0.910   goal >= 0.90
    servo env / raw (servo's model)          0.720 / 0.720   goal >= 0.60
    1-camera env / raw step-and-render       1.804 / 1.798   goal >= 0.90
    Aloha 4 cameras / 1 camera, one pass     2.328 / 2.350   (render_workers=1)
      same, render_workers="auto"            1.635 / 2.510   goal <= 2.0 (wall: the goal's measure)
    Aloha 4 cameras, culling off / 1 camera  2.604 / 2.616
    4-camera tiled env / 4 Renderer calls    1.194 / 1.177   (speed-up)

After it, ``"auto"`` became the single env's default (it was opt-in): four cameras are drawn on
two threads where two cores are free, with one pass's images bit for bit; the CPU cost stays
~2.5x one camera (the same geometry, on two cores), which is what a machine with busy cores
pays (``render_workers=1`` keeps one pass).

Quiet re-run at the end of the second session of 2026-12-07 (full run, load average 2.4-2.7,
one other job on the machine; every change of issue 12 then in), wall / cpu:

    SO101-Reach state env / raw mj_step      0.909 / 0.909   goal >= 0.90  (--quick: 0.899 / 0.859)
    SO101-PickCube state env / raw mj_step   0.890 / 0.890   goal >= 0.90  (--quick: 0.878 / 0.877)
    servo env / raw (servo's model)          0.699 / 0.699   goal >= 0.60
    1-camera env / raw step-and-render       2.065 / 1.752   goal >= 0.90  (env culls the floor)
    Aloha 4 cameras / 1 camera (cost)        2.637 / 2.644   goal <= 2.0   (culling off: 2.944)
      same, render_workers=2                 2.619 / 2.621   (a --quick run: 2.055 wall)
    4-camera env, culling on / off           1.127 / 1.127   (speed-up)

Measured (2026-12-07, two full runs, 2-core machine shared with other agents' jobs, load
average 9.8-13.5, software GL via llvmpipe). CPU-time ratios are the ones to trust under that
load; the wall-clock ones moved by up to +-0.3 between runs (run 2 shown, run 1 in brackets):

    SO101-Reach state env / raw mj_step      wall 0.716 (0.774)  cpu 0.824 (0.830)  goal >= 0.90
    SO101-PickCube state env / raw mj_step   wall 0.805 (0.797)  cpu 0.803 (0.807)  goal >= 0.90
    servo env / raw (servo's model)          wall 0.444 (0.561)  cpu 0.610 (0.625)  goal >= 0.60
    1-camera env / raw step-and-render       wall 1.268 (0.942)  cpu 0.959 (0.955)  goal >= 0.90
    Aloha 4 cameras / 1 camera (cost)        wall 2.740 (2.989)  cpu 2.513 (2.974)  goal <= 2.0
      same, render_workers=2 (opt-in)        wall 1.356 (  -  )  cpu 2.458 (  -  )  goal <= 2.0
    4-camera tiled env / 4 Renderer calls    wall 0.868 (0.909)  cpu 0.979 (0.968)  (info)

So: the state ratios miss 0.90 (CPU 0.80-0.83), the 1-camera ratio meets it, four cameras in one
pass cost 2.5-3x one, and with two render threads the wall-clock cost fell to 1.36x in the one
run measured (the CPU cost does not fall: the same work on two cores; on a loaded machine two
threads also win a bigger share of it, so that figure needs the quiet re-run).

A ``--quick`` run after the ALOHA scene's lighter tessellation (``visual/quality`` 16/8/4;
2026-12-07, load average 6.2-9.7): state Reach wall 0.807 cpu 0.847, PickCube 0.842 / 0.818;
servo 0.607 / 0.647; 1-camera 0.880 / 0.956; Aloha 4 / 1 cameras 2.918 / 3.016 (4 cameras
156.8 steps/s wall, 211.7 cpu), render_workers=2 2.881 / 3.070 (no idle core at that load).
The tessellation makes every view cheaper, so it leaves the 4 / 1 ratio where it was.

Per-view frustum culling (``--quick --cameras-only``, 2026-12-07, load average 6.8-17.4, so
only the CPU figures mean anything: wall clock moved by 2-10x between runs, and even the CPU
ones by +-0.3 or more). Six runs, the first two with an earlier, costlier cull; the fifth is a
full ``--quick`` run; the sixth, the least loaded (6.8-7.4), is shown in full below:

    Aloha 4 cameras / 1 camera, cpu   culling on  2.431 2.510 2.576 3.162 2.413 2.451  goal <= 2
                                      culling off 3.062 2.915 2.766 3.028 3.444 2.814
    4-camera env, on / off, cpu       1.182 1.190 1.096 1.085 1.037 1.141  (steps per CPU s)

    one 128x128 view, CPU ms, off -> on   geoms drawn  run 6                run 3  run 4  run 5
    Aloha top                             72 -> 58     1.43 -> 1.44 (x1.01) x1.09  x1.05  x1.09
    Aloha angle                           72 -> 60     1.53 -> 1.62 (x1.06) x1.03  x1.07  x1.12
    Aloha left_wrist                      72 -> 12     0.84 -> 0.61 (x0.73) x0.78  x0.74  x0.91
    Aloha right_wrist                     72 -> 12     0.75 -> 0.47 (x0.63) x0.66  x0.71  x0.76
    SO-101 front                          27 -> 27     3.17 -> 3.25 (x1.03) x1.05  x1.01  x1.01
    SO-101 wrist                          27 -> 6      4.71 -> 4.83 (x1.02) x1.02  x1.03  x1.04

Items 1-3 in the fifth run (load 15.5-17.3), wall / cpu: state Reach 0.737 / 0.827, PickCube
0.831 / 0.816; servo 0.654 / 0.626; 1-camera 0.963 / 0.944 (its front camera drops nothing,
so it is culled every 8th render only).

So culling takes 10-37 % off the wrist views and leaves the others about even or a little
worse (a geom outside the view costs llvmpipe only its vertex transform, ~5 us, and a cull
costs 65-180 us of CPU between renders on this loaded machine, ~30 us warm, which the quiet
re-run should show); the four-camera step gets ~4-19 % more steps per CPU second, and the
4 / 1 CPU cost was 2.4-2.6x against 2.8-3.4x without culling in five runs (3.2 in the other,
whose 1-camera anchor caught a quiet moment): short of 2.0. (Wall clock, 1.87x in the sixth
run and 0.91x with ``render_workers=2``, is noise at this load: the quiet re-run decides.)
What remains is each view's visible triangles (see below); ``mjv_updateScene`` (~1-2 us) and
the fixed per-view work of ``mjr_render`` (~0.05-0.1 ms) are small.

Render threads (2026-12-07, third pass; machine loaded by other agents, load average 4-26, so
the wall-clock figures are pessimistic and only the CPU ones compare runs; the quiet re-run
decides the goal):

- Why ``render_workers=2`` gave 2.06 in one run and 2.62 in another: it split the cameras in
  runs, so top and angle (2.49 ms of CPU) were drawn on one thread and the wrists (0.95 ms) on
  the other, and the step waited for the slow half: even on free cores that bounds the cost
  near 2.0x; in the full run another job held the second core, and it came out at the serial
  figure. Not the GIL (``mjr_render`` and ``mjr_readPixels`` release it: a spinning Python
  thread kept half its speed on a loaded machine while four views rendered) and not the
  hand-off or ``eglMakeCurrent`` (4 us warm, up to ~45 us cold right after a render).
- Now the single env interleaves its cameras over the threads (top and left wrist on the
  calling thread, angle and right wrist on one worker: per-thread CPU in ``render()`` 1.06 and
  1.11 ms per step, load 6), each at the tile offset one pass gives it, so the images are the
  one-pass images (bit for bit on this scene, tested), and the calling thread draws its share
  instead of waiting. Per step (load 6; CPU of the process, its main thread, and llvmpipe's
  raster threads): 1 camera 1.93 ms (main 1.48, raster 0.45), 4 cameras one pass 4.92 (main
  3.31, raster 1.61), 4 cameras on two threads 4.21 (main 1.72, worker 1.11, raster 1.37).
  llvmpipe rasterises every context's scenes on one shared set of raster threads (one
  rasterizer per screen: Mesa's ``lp_setup_rasterize_scene`` queues each scene to
  ``screen->rast``), so the threads share out the vertex and binning work (the main thread's
  ``render()`` CPU: 2.65 ms of the one-pass step), not the rasterisation (1.37-1.61 ms). With
  two free cores that bounds the two-thread step near 0.66 + 1.11 + 0.7 to 1.4 ms, ~2.5-3.1 ms
  against a one-camera step of ~1.9: an expected cost of ~1.3-1.6x, which only the quiet
  re-run can confirm.
- Measured under load, short interleaved bursts (15 steps, best of 40), ms per step wall /
  CPU, cost against one camera: load 4.1-4.8, three runs: one camera 1.33/1.33, 1.33/1.33,
  1.21/1.34; four, one pass 3.90/3.50, 3.48/3.47, 3.35/3.53 (cost 2.94/2.64, 2.61/2.60,
  2.76/2.63); four, ``"auto"`` (two threads) 3.67/3.67, 3.12/3.66, 2.40/3.81 (cost 2.77/2.77,
  2.34/2.75, 1.98/2.84); at load 5.5-7.1, three more runs (after the camera hand-over below):
  one camera 1.33/1.33 each; one pass cost 2.57, 2.57, 2.59; ``"auto"`` 2.67, 2.74, 2.72 wall
  and CPU alike (wall = CPU: the second core was never free). ``--quick --cameras-only`` at
  load 4-15, three runs: one pass 1.78-5.83 wall (noise), 2.57-2.89 CPU; ``"auto"`` 2.45-5.03
  wall, 2.61-2.94 CPU. The two threads cost 0-8 % more CPU than one pass (the hand-off, a
  second GL context), so on a machine whose cores are busy they gain nothing (then opt-in;
  the default since the quiet run above).
  The images are one pass's, bit for bit (``lerobot_gym/sim/tiled_threads.py``).
- Not done, measured: one scene build per ``MjData`` shared by its views (``mjv_updateScene``
  is 2.4 us of a ~1.1 ms view on this scene, ``lerobot_gym/sim/tiled.py``); what does scale
  with the views besides drawing is the frustum cull, 69-74 us per culled view right after a
  render (~6 % of the four-camera step's main thread), ~30 us warm: a prototype with a scene
  per view, every view updated and culled before any was drawn (the same images), measured
  0.3-3 % less CPU per four-camera step (load 5-6): within the noise, not adopted. A
  ``glFlush`` after each view (so llvmpipe would rasterise a view while the next one's
  vertices are worked) measured no overlap (wall = CPU, +4-6 % CPU). ``LP_NUM_THREADS=0``
  (llvmpipe rasterising on the calling thread) measured about even in CPU at 128x128
  (process-wide, so not set here).
  Lighter geometry changes the images (above), so the CPU cost of four views stays ~2.6x one.

After the second cut of the step path (below), the state ratios measured before and after
back to back on the same loaded machine (``--quick`` state section, main at 622daf6 then the
cut, twice, load average 9.3-11.1; CPU-time ratios, wall in brackets):

    SO101-Reach state env / raw mj_step      before 0.812, 0.828 (0.742, 0.826)
                                             after  0.862, 0.873 (0.789, 0.865)
    SO101-PickCube state env / raw mj_step   before 0.799, 0.810 (0.876, 0.794)
                                             after  0.851, 0.840 (0.886, 0.847)

and two full ``--quick`` runs at load 12.7-13.7: Reach CPU 0.857, 0.866 (wall 0.855, 0.893),
PickCube CPU 0.846, 0.867 (wall 0.855, 0.876); after merging main (its Reach distance), one
``--quick`` run at load 7.2-9.5: Reach CPU 0.886 (wall 0.865), PickCube CPU 0.860 (wall
0.855). Still short of 0.90 under that load; the quiet re-run decides. Load-independent,
callgrind's instruction count per step beyond the raw loop (300 steps each, the same seed and
actions, OpenBLAS's idle threads' spinning left out; measured before the merge): Reach
139,744 -> 92,249 (-34 %), PickCube 185,510 -> 129,139 (-30 %).

What limits them:

- State: the env's own Python per step, measured around the real physics as the median over
  steps of (step time - ``mj_step`` time), before and after back to back at load 8.6-9.0:
  Reach 19.9 -> 13.0 us, PickCube 32.7 -> 20.6 us (a raw step is ~107 us and ~166 us there);
  0.90 needs <= ~11.9 us and <= ~18.4 us. What is left:
  ~20 numpy calls of 0.3-0.5 us on 6-vectors (unit conversion 2, safety 4, two state copies,
  the task's facts 4, ``agent_pos`` 4, ``action_applied`` 1, the ctrl write), ~20 Python calls
  (controller, filter, backend, world, task, two dataclasses, two wrappers), and on PickCube
  the contacts (``MjData.contact.geom`` ~1-2 us) and three pose reads. A MuJoCo contact sensor
  per jaw pad would replace the contact read with a ``sensordata`` slice, but measured it saves
  under 1 us; not done.
- Cameras: a view's cost is its visible geometry, not its pixels (32x32 costs ~70 % of
  128x128) and hardly the geometry outside it (culled, it saves ~5 us a geom), so four views
  that each see most of the scene cost about four times one whether tiled or not; see
  ``lerobot_gym/sim/tiled.py`` and ``lerobot_gym/sim/culling.py``. ALOHA's top camera, the
  one-camera anchor, sees 58 of its 72 geoms, the angle camera 60.
  On the SO-101 scene the infinite floor is ~60-75 % of a view; on the ALOHA scene the
  tessellated boxes and cylinders are. ``benchmarks/scene_geometry.py`` measures lighter
  variants and their image differences: the ALOHA scene now uses ``visual/quality`` 16 slices
  x 8 stacks (a view ~10-16 % cheaper, images within the tiled bound); coarser variants (boxes'
  ``numquads`` < 4, a finite SO-101 floor with a coarse grid) are 30-65 % cheaper but change
  the images past that bound, so the assets keep them. Since then the SO-101 floor is drawn
  only where each view looks (``lerobot_gym/sim/plane_cull.py``, same pixels): a 96x96 front
  view's ``mjr_render`` went from ~2.3 ms to 0.6-0.9 ms CPU, and what a view costs now grows
  with its pixels (24x24: 0.57 ms, 96x96: 1.3 ms, 192x192: 2.4 ms per view at load 14, tiled
  4 views); the figures above were measured before.

Profile of the step path (cProfile, 20000 steps of ``RobotEnv.step`` on SO101-Reach, state
only, ``mj_step`` replaced by a no-op so only lerobot_gym's Python is left; tottime, before the
changes of issue 12):

    ncalls  tottime  function
     20000    0.585  core/env.py:step
    120000    0.483  {numpy.asarray}            six conversions per step
     20000    0.425  core/safety.py:apply
     40000    0.425  {ufunc.reduce}             isfinite(...).all() twice per step
     20000    0.344  core/env.py:_observation
     40000    0.320  core/spec.py:to_user
     20000    0.202  core/controller.py:check  (+0.229 spec.joint_names: the error message's
                                                 layout string was formatted on every step)
     20000    0.167  tasks/reach.py:dense_reward (np.tanh on a Python float)
     20000    0.136  numpy linalg.norm          (dispatch around sqrt(x . x))
    total 5.53 s (profiled)

After: the layout string is built once; one reduction (``np.add.reduce``, exact check only if
it is not finite) replaces ``isfinite().all()``; conversions are skipped for arrays that are
already float64; the safety clamp, ``action_applied`` and ``agent_pos`` clamp in place; the
backend, world and scene keep views of ``MjData``'s arrays (each ``data.qpos`` access builds a
new view); Reach's distance is ``math.sqrt(d.dot(d))`` (what ``np.linalg.norm`` computes) and
its reward ``math.tanh``:

    ncalls  tottime  function
     20000    0.434  core/env.py:step
     20000    0.257  core/safety.py:apply
     20000    0.214  core/env.py:_observation
     40000    0.206  core/spec.py:to_user
     20000    0.164  core/safety.py:as_float_vector
     20000    0.147  sim/backend.py:read
     40000    0.137  {ufunc.reduce}
     20000    0.135  sim/world.py:site_pos
    100000    0.125  {ndarray.astype}
    total 2.58 s (profiled)

Second cut (issue 12, 2026-12-07): the safety filter does the one finite check per step
(NaN propagates through the clip and an infinite target clamps to a finite limit, so one dot
product of the change is both the finite test and the clamp report; the exact check runs only
when it fails, with the same ``ActionError``), the controller converts float arrays without a
second check, every clamp is one call of numpy's clip ufunc (``np.clip`` wraps it in three
Python layers, maximum + minimum is two calls), an absolute float32 action that safety left
exactly alone is reported as itself (clipped into the space), the state-only read returns two
copies of cached arm views, ``agent_pos`` inlines the unit conversion, world poses are copies
of cached row views, the cube tasks' distance is ``d.dot(d)`` (``d @ d`` costs twice the call)
and contacts come from ``MjData.contact.geom`` without the ``ncon`` slice (Reach's distance is
now main's Python-float sum, which its batched evaluation matches; the profile below predates
that merge and used ``d.dot(d)`` there too). Trajectories are bit-identical
(``tests/core/test_step_path.py`` replays them in a raw ``mj_step`` loop). The same profile
(20000 steps, ``mj_step`` a no-op, tottime; before and after run back to back, load average
9-11, so the seconds are inflated alike):

    before (main)                               after
    ncalls  tottime  function                   ncalls  tottime  function
     20000    0.806  core/env.py:step            20000    0.541  core/env.py:step
     20000    0.419  core/safety.py:apply        20000    0.296  core/env.py:_observation
     20000    0.305  sim/backend.py:read         20000    0.233  core/safety.py:_apply_one
     40000    0.297  core/spec.py:to_user        20000    0.230  core/spec.py:from_user
     20000    0.249  core/env.py:_observation    20000    0.168  sim/backend.py:read
    100000    0.181  {ndarray.astype}            40000    0.149  {ndarray.dot}
     40000    0.160  core/safety.py:require_f..  20000    0.116  tasks/reach.py:evaluate
     60000    0.145  {ndarray.dot}               80000    0.108  {ndarray.copy}
     20000    0.135  core/spec.py:from_user      60000    0.106  {ndarray.astype}
     20000    0.125  core/safety.py:as_float_..  20000    0.103  core/safety.py:apply
    total 3.76 s, 47 Python calls per step      total 2.53 s, 33 Python calls per step

Third cut (issue 12, third session of 2026-12-07; the quiet re-run above predates it): the
MuJoCo backend's world reads poses and contacts without the scene's lock (``Scene(shared=
False)``: only the env's thread touches that scene; an emulator's scene keeps the lock, and
entering it cost ~0.2 us a query, four queries per PickCube step); the safety filter tells an
unclamped command by comparing two lists of floats (one call where the subtraction and dot
product were two); float32 actions inside the controller's *interior*
(``Controller.interior``: inside the action space and the strict ranges, with targets inside
the joint limits, computed once; none under a rate limit) skip the controller's check and the
safety clamp, as those would pass them unchanged, and report the action itself; the cube
tasks' distance is inline; ``agent_pos`` uses one temporary; a reset runs one forward pass
(the second was the same computation). Trajectories, observations, rewards and info are
unchanged bit for bit (``tests/core/test_step_path.py``: the raw ``mj_step`` replay, PickCube's
facts against ``MjData`` along a scripted grasp, the interior's bounds).

Measured before (main at d676b3f) and after (9ec0be7) in the same session. Load-independent,
callgrind's instructions per step beyond the raw loop (300 steps, the same seed and actions,
0- and 300-step runs subtracted, OpenBLAS on one thread):

    SO101-Reach      89,732 -> 74,340  (-17 %)   raw loop 1,180,233 per step
    SO101-PickCube  130,569 -> 109,165 (-16 %)   raw loop 1,879,413 per step

and the ``--quick`` state section of this file run by both trees in turn, four rounds each at
load average 1.9-2.2 (CPU-time ratios; wall clock within 0.002 of them except two base
PickCube rounds, 0.878 and 0.851):

    SO101-Reach state env / raw mj_step      before 0.898 0.898 0.902 0.900
                                             after  0.918 0.916 0.916 0.914   goal >= 0.90
    SO101-PickCube state env / raw mj_step   before 0.888 0.886 0.891 0.886
                                             after  0.904 0.903 0.905 0.907   goal >= 0.90

Around the real physics (CPU time per step, PickCube, load ~4-6): the env's own Python fell
from ~21 us to ~17 us (step minus ``mj_step``, the raw loop's own ~4 us subtracted), and the
env's ``mj_step`` costs ~1.5-2 % more than the raw loop's (the Python between steps evicts
some of the physics' data from the caches), which is the rest of the gap. PickCube meets 0.90
with little margin; what is left per step is ~20 numpy calls of ~0.3 us warm (~1 us cold, after
the physics evicted their code and data): the action's conversion (2), the clamp report and
the applied action's copy, the ``ctrl`` write, the two state copies, three pose copies, the
contact list (``MjData.contact.geom``, ~0.5 us), the distance (2), ``agent_pos`` (4) and
``environment_state`` (3). Measured cold (probes around each part, CPU per step after the real
physics, load ~3.6): the task's evaluation 9.2 us (of which the contact query 3.3), the
observation 4.3, the state read 2.6, the reward 1.8, the rest of the step with Gymnasium's two
wrappers 10.6 (probes included). Then the cube tasks asked for the pads' contacts alone
(``World.touching_among``), which skips the contact list while no pad can reach the cube
(MuJoCo's own bounding-sphere test on ``geom_xpos``, bounding radii and margins): the
evaluation fell to 5.9 us cold (the instruction count stayed ~109,300 beyond the raw loop: the
test costs about what the list did, but its data stays in the caches). The state section run
in full after all of it (load ~2, twice): Reach 0.911 and 0.916 wall (0.915, 0.916 CPU),
PickCube 0.905 and 0.909 wall (0.909, 0.909 CPU); three more ``--quick`` rounds against main:
PickCube 0.895 0.904 0.907 after, 0.889 0.888 0.889 before (CPU). PickCube holds 0.90 by
~0.005, less than this machine's noise between runs. A contact sensor per pad would replace
the list read but changes the model every user steps; not done. The profile after (PickCube,
20000 steps, ``mj_step`` a no-op,
cProfile tottime at load ~2; the two wrappers are Gymnasium's TimeLimit and OrderEnforcing):

    ncalls  tottime  function
     20000    0.142  core/env.py:step             (the interior test, conversion, info)
     20100    0.082  tasks/_cube.py:evaluate      (three poses, distance, facts dict)
     20100    0.051  core/env.py:_observation     (agent_pos, environment_state)
     20100    0.042  sim/world.py:touching        (MjData.contact.geom, its pairs)
     20100    0.032  sim/backend.py:read
    120500    0.029  {ndarray.copy}
     20100    0.020  tasks/_cube.py:environment_state
     20000    0.020  sim/backend.py:command
     20000    0.018  tasks/pick_cube.py:dense_reward
     20000    0.014  gymnasium wrappers' step (each)
    total 0.67 s (0.74 s before, where safety's _apply_one 0.042, the controller's step_targets
    0.035 and the lock-taking world queries were on the list)

With one 128x128 camera (SO101-Reach, ``pixels_agent_pos``, 300 steps, cProfile tottime) the
step is the renderer's:

    ncalls  tottime  function
       303    0.710  {mujoco mjr_render}        56 %: llvmpipe's vertex work, queued
       303    0.371  {mujoco mjr_readPixels}    29 %: waits for the rasterisation to finish
       300    0.063  {mujoco mj_step}            5 %
       303    0.018  egl make_current            1.4 % (PyOpenGL's EGL call, as mujoco.Renderer)
       303    0.005  {mujoco mjv_updateScene}    0.4 %
    total 1.27 s (profiled); lerobot_gym's own Python < 4 %

Usage: ``python benchmarks/sim_step.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import mujoco
import numpy as np
from support.sampled_states import sampled_states

import lerobot_gym  # noqa: F401
from lerobot_gym.sim.culling import SceneCuller, cull_scene
from lerobot_gym.sim.tiled import TiledRenderer, View
from lerobot_gym.sim.tiled_threads import resolve_workers

Timed = tuple[float, float]  # (wall seconds, CPU seconds) for one loop
_real_cull = SceneCuller.cull


def _actions(env: gym.Env, steps: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    low, high = env.action_space.low, env.action_space.high
    return rng.uniform(low, high, size=(steps, *low.shape)).astype(np.float32)


def _timed(loop: Callable[[], None]) -> Timed:
    wall, cpu = time.perf_counter(), time.process_time()
    loop()
    return time.perf_counter() - wall, time.process_time() - cpu


def _env_loop(env: gym.Env, actions: np.ndarray) -> Callable[[], Timed]:
    def run() -> Timed:
        env.reset(seed=0)

        def loop() -> None:
            for action in actions:
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()

        return _timed(loop)

    return run


def _raw_loop(
    env: gym.Env, actions: np.ndarray, renderer: mujoco.Renderer | None = None, camera: str = ""
) -> Callable[[], Timed]:
    """The same episodes in plain MuJoCo: the same joint targets (converted once, up front), the
    same episode starts (the env's own reset, on the time limit's schedule) and, with a
    renderer, the camera rendered after every step."""
    robot_env = env.unwrapped
    robot = robot_env.robot
    ctrls = np.clip(robot.from_user(actions), robot.lower_rad, robot.upper_rad)
    horizon = env.spec.max_episode_steps

    def run() -> Timed:
        env.reset(seed=0)
        backend = robot_env.backend
        model, data, substeps = backend.model, backend.data, backend.substeps
        arm = backend.scene.ctrl_index

        def loop() -> None:
            for i, ctrl in enumerate(ctrls):
                data.ctrl[arm] = ctrl
                mujoco.mj_step(model, data, nstep=substeps)
                if renderer is not None:
                    renderer.update_scene(data, camera=camera)
                    renderer.render()
                if i % horizon == horizon - 1:
                    env.reset()

        return _timed(loop)

    return run


def _best(loops: dict[str, Callable[[], Timed]], steps: int, repeats: int) -> dict[str, Timed]:
    """Steps/s (wall, CPU) of each loop: interleaved so machine noise hits all alike, best kept."""
    times: dict[str, list[Timed]] = {name: [] for name in loops}
    for _ in range(repeats):
        for name, run in loops.items():
            times[name].append(run())
    return {
        name: (steps / min(t[0] for t in ts), steps / min(t[1] for t in ts))
        for name, ts in times.items()
    }


def _ratio(label: str, num: Timed, den: Timed, goal: str) -> None:
    print(f"ratio {label}: wall {num[0] / den[0]:.3f}  cpu {num[1] / den[1]:.3f}  ({goal})")


def _rate(label: str, rate: Timed) -> None:
    print(f"  {label:48s} {rate[0]:8.1f} steps/s wall  {rate[1]:8.1f} steps/s cpu")


def _make(env_id: str, **kwargs: object) -> gym.Env:
    env = gym.make(env_id, disable_env_checker=True, **kwargs)
    env.reset(seed=0)
    return env


def _state(quick: bool) -> None:
    steps, repeats = (1000, 7) if quick else (2000, 15)
    for env_id in ("lerobot_gym/SO101-Reach-v0", "lerobot_gym/SO101-PickCube-v0"):
        env = _make(env_id, obs_type="state")
        actions = _actions(env, steps)
        rates = _best(
            {"raw": _raw_loop(env, actions), "env": _env_loop(env, actions)}, steps, repeats
        )
        name = env_id.split("/")[1]
        print(f"{name}, state only ({env.unwrapped.backend.substeps} substeps per step):")
        _rate("raw mj_step loop", rates["raw"])
        _rate("env", rates["env"])
        _ratio(f"{name} state env / raw mj_step", rates["env"], rates["raw"], "goal >= 0.90")
        env.close()


def _servo(quick: bool) -> None:
    steps, repeats = (1000, 5) if quick else (2000, 11)
    env_id = "lerobot_gym/SO101-PickCube-v0"
    ideal = _make(env_id, obs_type="state")
    servo = _make(env_id, obs_type="state", actuator="servo")
    actions = _actions(ideal, steps)
    rates = _best(
        {
            "raw": _raw_loop(ideal, actions),
            "servo_raw": _raw_loop(servo, actions),
            "servo": _env_loop(servo, actions),
        },
        steps,
        repeats,
    )
    print("SO101-PickCube, state only, servo model:")
    _rate("raw mj_step loop, servo's model", rates["servo_raw"])
    _rate("env, actuator='servo'", rates["servo"])
    _ratio("servo env / raw (servo's model)", rates["servo"], rates["servo_raw"], "goal >= 0.60")
    _ratio("servo env / raw (ideal model)", rates["servo"], rates["raw"], "no goal")
    ideal.close()
    servo.close()


def _camera(quick: bool) -> None:
    steps, repeats = (100, 5) if quick else (300, 9)
    env = _make(
        "lerobot_gym/SO101-Reach-v0",
        obs_type="pixels_agent_pos",
        cameras=("front",),
        image_size=(128, 128),
    )
    model = env.unwrapped.backend.model
    renderer = mujoco.Renderer(model, 128, 128)
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    mjcf = env.unwrapped.robot.camera("front").mjcf_camera
    actions = _actions(env, steps)
    rates = _best(
        {"raw": _raw_loop(env, actions, renderer, mjcf), "env": _env_loop(env, actions)},
        steps,
        repeats,
    )
    print("SO101-Reach, one 128x128 camera:")
    _rate("raw mj_step + mujoco.Renderer loop", rates["raw"])
    _rate("env", rates["env"])
    _ratio("1-camera env / raw step-and-render", rates["env"], rates["raw"], "goal >= 0.90")
    renderer.close()
    env.close()


def _no_cull(culler: SceneCuller, width: int, height: int) -> int:
    return 0


def _culling(run: Callable[[], Timed], on: bool) -> Callable[[], Timed]:
    """``run`` with the tiled renderers' frustum culling on or off (as before it existed)."""

    def wrapped() -> Timed:
        SceneCuller.cull = _real_cull if on else _no_cull  # type: ignore[method-assign]
        try:
            return run()
        finally:
            SceneCuller.cull = _real_cull  # type: ignore[method-assign]

    return wrapped


def _four_cameras(quick: bool) -> None:
    steps, repeats = (40, 5) if quick else (150, 7)
    env_id = "lerobot_gym/Aloha-TransferCube-v0"
    cameras = ("top", "angle", "left_wrist", "right_wrist")
    kwargs: dict[str, object] = {"obs_type": "pixels", "image_size": (128, 128)}
    one = _make(env_id, cameras=cameras[:1], **kwargs)
    four = _make(env_id, cameras=cameras, render_workers=1, **kwargs)  # one pass
    four_threads = _make(env_id, cameras=cameras, render_workers="auto", **kwargs)  # default
    threads = resolve_workers("auto", len(cameras))
    actions = _actions(one, steps)
    # The pre-tiling way, for reference: the same physics, then one mujoco.Renderer call per
    # camera (each its own update, render, read-back and flip).
    robot_env = four.unwrapped
    renderer = mujoco.Renderer(robot_env.backend.model, 128, 128)
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    mjcf = [robot_env.robot.camera(c).mjcf_camera for c in cameras]
    state_env = _make(env_id, obs_type="state")

    def per_camera() -> Timed:
        state_env.reset(seed=0)
        data = state_env.unwrapped.backend.data

        def loop() -> None:
            for action in actions:
                state_env.step(action)
                for camera in mjcf:
                    renderer.update_scene(data, camera=camera)
                    renderer.render()

        return _timed(loop)

    rates = _best(
        {
            "one": _culling(_env_loop(one, actions), True),
            "four": _culling(_env_loop(four, actions), True),
            "four_threads": _culling(_env_loop(four_threads, actions), True),
            "one_nocull": _culling(_env_loop(one, actions), False),
            "four_nocull": _culling(_env_loop(four, actions), False),
            "old": per_camera,
        },
        steps,
        repeats,
    )
    print("Aloha-TransferCube, 128x128 cameras:")
    _rate("env, 1 camera", rates["one"])
    _rate("env, 4 cameras (one tiled pass)", rates["four"])
    _rate(f"env, 4 cameras, render_workers='auto' ({threads} threads)", rates["four_threads"])
    _rate("env, 1 camera, culling off (before)", rates["one_nocull"])
    _rate("env, 4 cameras, culling off (before)", rates["four_nocull"])
    _rate("state env + 4 mujoco.Renderer calls (before)", rates["old"])
    for label, key, base in (
        ("", "four", "one"),
        (", render_workers='auto'", "four_threads", "one"),
        (", culling off (before)", "four_nocull", "one_nocull"),
    ):
        cost = (rates[base][0] / rates[key][0], rates[base][1] / rates[key][1])
        print(
            f"cost 4 cameras{label} / 1 camera: wall {cost[0]:.3f}  cpu {cost[1]:.3f}  "
            "(goal <= 2.0)"
        )
    _ratio("4-camera tiled env / 4 Renderer calls (speed-up)", rates["four"], rates["old"], "info")
    _ratio("4-camera env, culling on / off (speed-up)", rates["four"], rates["four_nocull"], "info")
    renderer.close()
    for env in (one, four, four_threads, state_env):
        env.close()


def _geoms_drawn(model: mujoco.MjModel, data: mujoco.MjData, camera: str) -> tuple[int, int]:
    """Geoms in a 128x128 view of ``camera``: all, and those left after culling."""
    scene = mujoco.MjvScene(model, maxgeom=10000)
    for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION):
        scene.flags[flag] = False  # as the env renders
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
    cam.fixedcamid = model.camera(camera).id
    catmask = mujoco.mjtCatBit.mjCAT_ALL.value
    mujoco.mjv_updateScene(model, data, mujoco.MjvOption(), None, cam, catmask, scene)
    return scene.ngeom, scene.ngeom - cull_scene(scene, 128, 128)


def _per_view(quick: bool) -> None:
    """CPU ms of each camera's view (a one-view TiledRenderer, 128x128), culling off and on.

    One renderer with culling toggled between blocks of 10 renders of one state (interleaved,
    the median block kept): a single render's CPU time is too noisy, and two renderers would
    add a GL context switch to every render.
    """
    states, repeats = (2, 6) if quick else (4, 12)
    for env_id in ("lerobot_gym/Aloha-TransferCube-v0", "lerobot_gym/SO101-PickCube-v0"):
        model, datas, cams = sampled_states(env_id, states)
        print(
            f"{env_id.split('/')[1]}, one 128x128 view, CPU ms per render (median of "
            f"{repeats} blocks x {states} states), culling off -> on, geoms drawn:"
        )
        total = {False: 0.0, True: 0.0}
        for name in cams:
            view = View(name, 128, 128)
            blocks: dict[bool, list[float]] = {False: [], True: []}
            with TiledRenderer(model, [view]) as renderer:
                for i in range(repeats):
                    for cull in (False, True) if i % 2 else (True, False):
                        renderer.cull = cull
                        cpu = 0.0
                        for d in datas:
                            renderer.render(d)  # the same history for both (test_culling.py)
                            start = time.process_time()
                            for _ in range(10):
                                renderer.render(d)
                            cpu += time.process_time() - start
                        blocks[cull].append(cpu / (10 * states))
            ms = {c: 1e3 * float(np.median(b)) for c, b in blocks.items()}
            for c in total:
                total[c] += ms[c]
            drawn = _geoms_drawn(model, datas[0], view.camera)
            print(
                f"  {name:12s} {ms[False]:5.2f} -> {ms[True]:5.2f} ms "
                f"(x{ms[True] / ms[False]:.2f})  geoms {drawn[0]} -> {drawn[1]}"
            )
        print(f"  {'all cameras':12s} {total[False]:5.2f} -> {total[True]:5.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about a minute)")
    parser.add_argument("--cameras-only", action="store_true", help="items 4 and 5 only")
    args = parser.parse_args()
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if not args.cameras_only:
        _state(args.quick)
        _servo(args.quick)
        _camera(args.quick)
    _four_cameras(args.quick)
    _per_view(args.quick)
    print("load average at end:   {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
