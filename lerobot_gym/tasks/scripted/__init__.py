"""Scripted demonstration policies that act from the env's observations and the twin's kinematics.

Each policy plans Cartesian waypoints for the gripper frame at ``reset`` from the observed object
pose (``environment_state`` when the observation has it, otherwise the task's facts, which in
simulation carry the same pose), then at every step interpolates the waypoint path and solves IK
on the twin, warm-started from the previous solution. The output is an action for whatever
controller the env uses (absolute or delta joint targets).

Example:
    >>> import gymnasium as gym
    >>> import lerobot_gym
    >>> from lerobot_gym.tasks.scripted import make_scripted_policy
    >>> env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    >>> policy = make_scripted_policy(env)
    >>> obs, info = env.reset(seed=0)
    >>> policy.reset(obs, info)
    >>> for _ in range(60):
    ...     obs, reward, terminated, truncated, info = env.step(policy(obs))
    >>> info["is_success"]
    True
"""

from __future__ import annotations

import gymnasium as gym

from lerobot_gym.core.env import RobotEnv
from lerobot_gym.errors import ConfigError
from lerobot_gym.tasks.scripted.aloha import InsertionPolicy, TransferCubePolicy
from lerobot_gym.tasks.scripted.aloha_bimanual import BimanualScriptedPolicy
from lerobot_gym.tasks.scripted.base import ScriptedPolicy, Waypoint
from lerobot_gym.tasks.scripted.cube import PickCubePolicy, PushCubePolicy
from lerobot_gym.tasks.scripted.reach import ReachPolicy

POLICIES: dict[str, type[ScriptedPolicy] | type[BimanualScriptedPolicy]] = {
    "reach": ReachPolicy,
    "pick_cube": PickCubePolicy,
    "push_cube": PushCubePolicy,
    "transfer_cube": TransferCubePolicy,
    "insertion": InsertionPolicy,
}


def make_scripted_policy(env: gym.Env) -> ScriptedPolicy | BimanualScriptedPolicy:
    """The scripted policy for an env's task, with an error naming the tasks that have one."""
    if not isinstance(env.unwrapped, RobotEnv):
        raise ConfigError(
            f"scripted policies drive lerobot_gym envs; {type(env.unwrapped).__name__} is not one"
        )
    task = env.unwrapped.task.name
    if task not in POLICIES:
        raise ConfigError(
            f"no scripted policy for task {task!r}; scripted policies exist for {sorted(POLICIES)}"
        )
    return POLICIES[task](env)


__all__ = [
    "POLICIES",
    "BimanualScriptedPolicy",
    "InsertionPolicy",
    "PickCubePolicy",
    "PushCubePolicy",
    "ReachPolicy",
    "ScriptedPolicy",
    "TransferCubePolicy",
    "Waypoint",
    "make_scripted_policy",
]
