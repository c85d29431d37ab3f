"""Kinematics and world queries are protocols in core/, implemented in sim/ and injected."""

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.core.backend import RobotState
from lerobot_gym.core.env import RobotEnv
from lerobot_gym.core.kinematics import Kinematics
from lerobot_gym.core.task import TaskContext
from lerobot_gym.core.world import World
from lerobot_gym.errors import ConfigError
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.sim.kinematics import MujocoKinematics
from lerobot_gym.tasks.reach import Reach


def test_the_twin_implements_the_core_protocols():
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    env.reset(seed=0)
    robot_env = env.unwrapped
    assert isinstance(robot_env.backend.world, World)
    assert isinstance(robot_env.kinematics, Kinematics)
    assert robot_env.arm_kinematics("main") is robot_env.kinematics  # built once per arm
    env.close()


def test_tasks_use_the_injected_kinematics_without_a_world():
    calls = []

    def factory(robot, arm):
        calls.append(arm.name)
        return MujocoKinematics.for_robot(robot, arm)

    task = Reach()
    ctx = TaskContext(
        SO101,
        kinematics=lambda arm: factory(SO101, arm),
        world=None,
        goal={"target_pos": np.array([0.2, 0.0, 0.1])},
    )
    state = RobotState(SO101.home_rad, np.zeros(6))
    facts = task.evaluate(ctx, state)
    assert calls == ["main"]
    expected, _ = MujocoKinematics.for_robot(SO101).fk(SO101.home_rad)
    np.testing.assert_allclose(facts["tcp_pos"], expected)


def test_an_env_built_without_kinematics_says_how_to_get_them():
    made = gym.make("lerobot_gym/SO101-v0", obs_type="state").unwrapped
    env = RobotEnv(
        robot=SO101,
        task=made.task,
        backend=made.backend,
        controller=made.controller,
        obs_type="state",
    )
    with pytest.raises(ConfigError, match="kinematics_factory="):
        _ = env.kinematics
