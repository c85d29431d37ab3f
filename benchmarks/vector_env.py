"""The batched vector env (``lerobot_gym.make_vec``) against its anchors, measured in the same run.

SO101-Reach, N = 16 twins, random actions (the same array for every contender):

- state only, env steps/s of the batched vector env divided by the physics limit: the CPU cores
  this process may use times a raw single-thread ``mj_step`` loop's rate (one ``MjData``,
  targets written to ``ctrl``, the same substeps per control step) on the same model
  (goal >= 0.85);
- state only, divided by Gymnasium's ``AsyncVectorEnv`` with 2 workers (2 ``gym.make`` envs,
  one process each; env steps/s = 2 x its steps/s) (goal >= 1.3);
- one 96x96 ``front`` camera per twin, divided by ``AsyncVectorEnv`` with 2 workers with the same
  camera (goal >= 3).

Also printed, because a loaded machine starves the threaded env first: the batched env with one
physics thread divided by the raw loop (what lerobot_gym adds around the physics, per env step,
on one core), and where a batched step's time goes: the physics call (``Batch.step``), the
per-twin Python of the tasks (facts, reward, success), and the rest (actions, safety,
observations, info), so a task whose Python dominates shows it.

And the physics alone for the same 16 twins, to show why the env uses ``mujoco.batch``: one
control step (all substeps) of every twin by a Python loop over 16 ``MjData`` (``mj_step``
holds the GIL, so threads cannot help it), by ``mujoco.rollout`` on a thread pool (state vectors
in and out, no per-twin ``MjData`` left for the tasks), and by ``mujoco.batch.Batch``
(persistent, threaded, what the env runs).

With the camera, CPU time per env step (``time.process_time``, every thread of the process) of
the batched env and of one ``gym.make`` env is printed too: unlike wall time it does not depend
on how many processes share the cores, so it shows what tiling saves per view on a loaded machine.

Every figure is a best of interleaved repeats. The machine's load (``os.getloadavg``) is printed
with the figures: other processes on the cores lower the batched env (which uses every core)
more than the single-thread anchor, so a loaded machine understates the first ratio.

Usage: ``python benchmarks/vector_env.py [--quick]`` (quick runs in about a minute).
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


def _raw_rate(actions: np.ndarray) -> float:
    """Control steps/s of one MjData stepped by a Python loop, targets written to ``ctrl``."""
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
    t0 = time.perf_counter()
    for ctrl in ctrls:
        data.ctrl[arm] = ctrl
        mujoco.mj_step(model, data, nstep=substeps)
    rate = len(ctrls) / (time.perf_counter() - t0)
    env.close()
    return rate


def _cpu_per_step(step, actions: np.ndarray, env_steps_per_call: int) -> float:
    """CPU seconds of this process per env step."""
    t0 = time.process_time()
    for action in actions:
        step(action)
    return (time.process_time() - t0) / (len(actions) * env_steps_per_call)


def _vector_rate(envs: gym.vector.VectorEnv, actions: np.ndarray) -> float:
    """Env steps/s (num_envs x steps/s) over the given batched actions."""
    envs.reset(seed=0)
    t0 = time.perf_counter()
    for action in actions:
        envs.step(action)
    return envs.num_envs * len(actions) / (time.perf_counter() - t0)


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
    """Shares of a batched step: physics, the tasks' per-twin Python, everything else."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (about a minute)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    batched_steps = 150 if args.quick else 600
    cam_steps = 40 if args.quick else 200
    cores = _cores()

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
    for _ in range(repeats):
        raw_rates.append(_raw_rate(actions))
        batched_rates.append(_vector_rate(batched, actions))
        one_rates.append(_vector_rate(one_thread, actions))
        async_rates.append(_vector_rate(async_envs, async_actions))
    shares = _breakdown(one_thread, actions)
    physics: dict[str, float] = {}
    for _ in range(repeats):
        for name, value in _physics_rates(batched_steps, cores).items():
            physics[name] = max(physics.get(name, 0.0), value)
    batched.close()
    one_thread.close()
    async_envs.close()

    cam_batched = lerobot_gym.make_vec(ENV_ID, num_envs=N, **CAMERA)
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
    cam_rates, cam_async_rates, cpu_batched, cpu_single = [], [], [], []
    for _ in range(max(2, repeats - 1)):
        cam_rates.append(_vector_rate(cam_batched, cam_actions))
        cam_async_rates.append(_vector_rate(cam_async, cam_async_actions))
        cpu_batched.append(_cpu_per_step(cam_batched.step, cam_actions, N))
        cpu_single.append(_cpu_per_step(cam_single.step, single_actions, 1))
    cam_batched.close()
    cam_async.close()
    cam_single.close()

    raw, rate, async_rate = max(raw_rates), max(batched_rates), max(async_rates)
    cam_rate, cam_async_rate = max(cam_rates), max(cam_async_rates)
    limit = cores * raw
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load}; cores available: {cores}")
    print(f"raw mj_step loop, one thread:          {raw:9.1f} steps/s")
    print(f"physics limit ({cores} x raw):              {limit:9.1f} steps/s")
    print(f"batched vector env, N={N}, state:      {rate:9.1f} env steps/s")
    print(f"AsyncVectorEnv, 2 workers, state:      {async_rate:9.1f} env steps/s")
    print(f"ratio batched/physics limit: {rate / limit:.3f}  (goal >= 0.85)")
    print(f"ratio batched/AsyncVectorEnv(2): {rate / async_rate:.2f}  (goal >= 1.3)")
    print(f"batched vector env, one physics thread: {max(one_rates):8.1f} env steps/s")
    print(f"ratio one-thread batched/raw: {max(one_rates) / raw:.3f}  (no goal: the Python share)")
    print(
        f"one-thread batched step time: physics {shares[0]:.1%}, tasks' per-twin Python "
        f"{shares[1]:.1%}, rest (actions, safety, observations, info) {shares[2]:.1%}"
    )
    for name, value in physics.items():
        print(f"physics only, N={N}, {name}: {value:9.1f} env steps/s")
    print(f"batched vector env, N={N}, 1x96x96:    {cam_rate:9.1f} env steps/s")
    print(f"AsyncVectorEnv, 2 workers, 1x96x96:    {cam_async_rate:9.1f} env steps/s")
    print(f"ratio batched/AsyncVectorEnv(2), camera: {cam_rate / cam_async_rate:.2f}  (goal >= 3)")
    cpu_b, cpu_s = min(cpu_batched) * 1e3, min(cpu_single) * 1e3
    print(f"CPU per env step, 1x96x96: batched {cpu_b:.2f} ms, one gym.make env {cpu_s:.2f} ms")
    print(
        f"ratio CPU per env step single/batched: {cpu_s / cpu_b:.2f}  (no goal; load-independent)"
    )


if __name__ == "__main__":
    main()
