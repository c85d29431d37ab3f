"""A robot with two arms runs the single-arm tasks, kinematics and scripted policies unchanged.

The robot is two SO-101 twins in one scene: the stock arm at the origin and a second one,
attached with MjSpec under the prefix ``right_``, 0.3 m to its right. The right arm is listed
first (``arms[0]``), so anything that still assumed "the" unprefixed gripper would fail.
"""

import dataclasses
import warnings

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.assets.so101 import SCENE_XML, SO101_XML
from lerobot_gym.core.spec import ArmSpec, RobotSpec
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.sim.kinematics import MujocoKinematics
from lerobot_gym.tasks.scripted import make_scripted_policy

RIGHT_Y_M = -0.3


def _right_arm_scene(path):
    """The SO-101 scene plus a second, ``right_``-prefixed SO-101 at y = RIGHT_Y_M."""
    scene = mujoco.MjSpec.from_file(str(SCENE_XML))
    for key in list(scene.keys):  # the keyframes know one arm only
        scene.delete(key)
    child = mujoco.MjSpec.from_file(str(SO101_XML))
    frame = scene.worldbody.add_frame(pos=[0.0, RIGHT_Y_M, 0.0])
    with warnings.catch_warnings():  # the child's <option> equals the parent's: nothing lost
        warnings.simplefilter("ignore")
        frame.attach_body(child.body("base"), "right_", "")
    path.write_text(scene.to_xml())
    return path


@pytest.fixture(scope="module")
def two_arms(tmp_path_factory):
    xml = _right_arm_scene(tmp_path_factory.mktemp("two_arms") / "scene.xml")
    main = SO101.arms[0]
    right_joints = tuple(dataclasses.replace(j, name=f"right_{j.name}") for j in SO101.joints)
    right = dataclasses.replace(
        main,
        name="right",
        prefix="right_",
        joint_names=tuple(j.name for j in right_joints),
        gripper_joint="right_gripper",
        gripper_site="right_gripperframe",
        base_site="right_baseframe",
        pad_geoms=tuple(f"right_{g}" for g in main.pad_geoms),
        workspace_low=(main.workspace_low[0], main.workspace_low[1] + RIGHT_Y_M),
        workspace_high=(main.workspace_high[0], main.workspace_high[1] + RIGHT_Y_M),
    )
    return RobotSpec(
        name="two_so101",
        robot_type="two_so101",
        joints=(*right_joints, *SO101.joints),
        arms=(right, main),
        cameras=SO101.cameras,
        scene_xml=xml,
        robot_xml=xml,
    )


def test_each_arm_has_its_own_kinematics_over_the_whole_joint_vector(two_arms):
    single = MujocoKinematics.for_robot(SO101)
    right = MujocoKinematics.for_robot(two_arms, "right")
    main = MujocoKinematics.for_robot(two_arms, "main")
    rng = np.random.default_rng(0)
    for _ in range(20):
        q_right = rng.uniform(SO101.lower_rad, SO101.upper_rad)
        q_main = rng.uniform(SO101.lower_rad, SO101.upper_rad)
        q = np.concatenate([q_right, q_main])
        pos, rot = right.fk(q)
        ref_pos, ref_rot = single.fk(q_right)
        np.testing.assert_allclose(pos, ref_pos + np.array([0.0, RIGHT_Y_M, 0.0]), atol=1e-9)
        np.testing.assert_allclose(rot, ref_rot, atol=1e-9)
        np.testing.assert_allclose(main.fk(q)[0], single.fk(q_main)[0], atol=1e-9)
    # IK of one arm moves that arm's joints only.
    q0 = two_arms.home_rad
    target = right.fk(q0)[0] + [0.02, 0.0, -0.02]
    result = right.ik(target, q0)
    assert result.converged
    np.testing.assert_array_equal(result.q_rad[two_arms.arm_slice("main")], q0[6:])


def test_pick_cube_and_its_scripted_policy_use_the_first_arm(two_arms):
    env = gym.make("lerobot_gym/RobotEnv-v0", robot=two_arms, task="pick_cube", obs_type="state")
    env = gym.wrappers.TimeLimit(env.unwrapped, max_episode_steps=200)
    policy = make_scripted_policy(env)
    obs, info = env.reset(seed=3)
    cube_y = info["facts"]["cube_pos"][1]
    assert two_arms.arms[0].workspace_low[1] <= cube_y <= two_arms.arms[0].workspace_high[1]
    policy.reset(obs, info)
    for _ in range(110):
        obs, _, _, _, info = env.step(policy(obs))
    assert info["is_success"]
    # The main arm stayed at its start pose (home plus the reset's 0.02 rad noise): the policy
    # drove the right arm only.
    main = two_arms.arm_slice("main")
    np.testing.assert_allclose(
        env.unwrapped.joint_targets_rad[main], two_arms.arm_home_rad("main"), atol=0.03
    )
    env.close()


def test_a_multi_arm_robot_refuses_single_arm_shortcuts_with_advice(two_arms):
    from lerobot_gym.errors import ConfigError

    with pytest.raises(ConfigError, match=r"robot\.arms\[0\]"):
        _ = two_arms.gripper_site
    assert isinstance(two_arms.arms[0], ArmSpec)
