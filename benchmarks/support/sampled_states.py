"""Scene states to render from: an id's twin after a reset and a few random steps, per seed.

Shared by ``benchmarks/sim_step.py`` (per-view cost with culling off and on) and
``benchmarks/scene_geometry.py`` (lighter scene variants), so both draw the same states.
Imported by the benchmark scripts as ``support.sampled_states`` (their folder is on
``sys.path`` when they run).
"""

from __future__ import annotations

import gymnasium as gym
import mujoco

import lerobot_gym  # noqa: F401  (registers the ids)


def sampled_states(env_id: str, count: int) -> tuple[mujoco.MjModel, list[mujoco.MjData], tuple]:
    """The id's model, ``count`` states (seeds 0..count-1: a reset and 5 random steps each) and
    its cameras' MJCF names."""
    env = gym.make(env_id, obs_type="state", disable_env_checker=True)
    datas = []
    for seed in range(count):
        env.reset(seed=seed)
        env.action_space.seed(seed)
        for _ in range(5):
            env.step(env.action_space.sample())
        backend = env.unwrapped.backend
        d = mujoco.MjData(backend.model)
        mujoco.mj_copyData(d, backend.model, backend.data)
        datas.append(d)
    robot = env.unwrapped.robot
    cams = tuple(robot.camera(c).mjcf_camera for c in robot.camera_names)
    model = env.unwrapped.backend.model
    env.close()
    return model, datas, cams
