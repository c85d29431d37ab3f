"""Rewards from facts: one sparse/dense rule in the Task base; a dropped cube is a failure;
tasks keep no per-episode state."""

from __future__ import annotations

import copy
import math

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.core.task import Task


def _hold(env: gym.Env) -> np.ndarray:
    base = env.unwrapped
    return base.controller.action_for_targets(base.joint_targets_rad, base.joint_targets_rad)


def _reach_at(reward_type: str, offset_m: float) -> tuple[float, dict]:
    """Reset Reach with its tool ``offset_m`` above its target (IK), hold, step once."""
    env = gym.make(
        "lerobot_gym/SO101-Reach-v0",
        obs_type="state",
        reward_type=reward_type,
        disable_env_checker=True,
    )
    _, info = env.reset(seed=4)
    base = env.unwrapped
    target = info["facts"]["target_pos"] + np.array([0.0, 0.0, offset_m])
    ik = base.kinematics.ik(target, base.joint_targets_rad, tol_m=1e-5)
    assert ik.converged
    env.reset(seed=4, options={"joint_positions": base.robot.to_user(ik.q_rad)})
    for _ in range(15):
        _, reward, _, _, info = env.step(_hold(env))
    env.close()
    return float(reward), info


def test_sparse_reward_is_one_exactly_on_success_and_zero_elsewhere():
    on_target, info = _reach_at("sparse", 0.0)
    assert info["is_success"] and on_target == 1.0
    near, info = _reach_at("sparse", 0.04)
    assert not info["is_success"] and near == 0.0


def test_dense_reward_grows_as_the_tool_nears_the_target():
    rewards = []
    for offset in (0.12, 0.06, 0.02, 0.0):
        reward, info = _reach_at("dense", offset)
        assert reward == pytest.approx(1.0 - math.tanh(10 * info["facts"]["distance_m"]))
        rewards.append(reward)
    assert rewards == sorted(rewards) and rewards[0] < 0.5 < rewards[-1]


def test_one_rule_in_the_base_task_for_every_task():
    class Lit(Task):
        def dense_reward(self, facts):
            return 0.25

        def is_success(self, facts):
            return facts["lit"]

    assert Lit("dense").reward({"lit": True}) == 0.25
    assert Lit("sparse").reward({"lit": True}) == 1.0
    assert Lit("sparse").reward({"lit": False}) == 0.0


def test_pick_cube_sparse_pays_nothing_before_a_lift_where_dense_shapes():
    rewards = {}
    for reward_type in ("sparse", "dense"):
        env = gym.make(
            "lerobot_gym/SO101-PickCube-v0",
            obs_type="state",
            reward_type=reward_type,
            disable_env_checker=True,
        )
        env.reset(seed=0)
        rewards[reward_type] = env.step(_hold(env))[1]
        env.close()
    assert rewards["sparse"] == 0.0 and 0.0 < rewards["dense"] < 1.0 / 3.0


def test_a_cube_dropped_off_the_table_is_a_failure_that_terminates():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state", disable_env_checker=True)
    env.reset(seed=0)
    world = env.unwrapped.backend.world
    # Push the cube off the table's far side: it falls to the floor.
    world.place("cube", (np.array([0.2, -1.5, 0.02]), np.array([1.0, 0.0, 0.0, 0.0])))
    heights, terminated, truncated = [], False, False
    for _ in range(60):
        _, _, terminated, truncated, info = env.step(_hold(env))
        heights.append(info["facts"]["cube_height_m"])
        if terminated:
            break
    env.close()
    assert terminated and not truncated and not info["is_success"]
    assert heights[-1] < -0.05 and all(h >= -0.05 for h in heights[:-1])
    assert env.unwrapped.task.is_failure(info["facts"])


def test_cube_on_the_table_is_not_a_failure():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state", disable_env_checker=True)
    env.reset(seed=0)
    for _ in range(30):
        _, _, terminated, _, info = env.step(_hold(env))
        assert not terminated
    assert not env.unwrapped.task.is_failure(info["facts"])
    env.close()


@pytest.mark.parametrize("env_id", ["lerobot_gym/SO101-Reach-v0", "lerobot_gym/SO101-PushCube-v0"])
def test_a_reset_leaves_the_task_object_untouched(env_id):
    env = gym.make(env_id, obs_type="state", disable_env_checker=True)
    task = env.unwrapped.task
    before = copy.deepcopy(vars(task))
    goals = []
    for seed in (0, 1):
        _, info = env.reset(seed=seed)
        goals.append(info["facts"].get("target_pos", info["facts"].get("goal_xy")))
        assert vars(task).keys() == before.keys()
        for key, value in vars(task).items():
            assert value == before[key]
    assert not np.allclose(goals[0], goals[1])  # the goal changed, in the facts only
    env.close()
