"""Cube task facts: a grasp needs both jaw pads, and robots without pads are refused."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.errors import ConfigError
from lerobot_gym.robots.so101.spec import SO101


def test_cube_tasks_refuse_robots_without_jaw_pads():
    arm = dataclasses.replace(SO101.arms[0], pad_geoms=())
    padless = dataclasses.replace(SO101, name="padless", arms=(arm,))
    env = gym.make("lerobot_gym/RobotEnv-v0", robot=padless, task="pick_cube", obs_type="state")
    with pytest.raises(ConfigError, match="pad_geoms"):
        env.reset(seed=0)


def test_a_cube_in_the_air_without_the_jaws_is_not_a_success():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state", disable_env_checker=True)
    env.reset(seed=0)
    world = env.unwrapped.backend.world
    # Throw the cube 8 cm up, away from the gripper, and look at it mid-flight.
    world.place("cube", (np.array([0.2, -0.1, 0.09]), np.array([1.0, 0.0, 0.0, 0.0])))
    world.data.qvel[-6:-3] = [0.0, 0.0, 1.0]
    _, reward, _, _, info = env.step(
        env.unwrapped.controller.action_for_targets(
            env.unwrapped.joint_targets_rad, env.unwrapped.joint_targets_rad
        )
    )
    facts = info["facts"]
    assert facts["cube_height_m"] > 0.05
    assert not facts["grasped"] and not info["is_success"]
    assert reward <= 1.0 / 3.0 + 1e-9  # only the reaching term can pay
