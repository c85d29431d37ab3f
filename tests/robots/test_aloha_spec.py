"""The ALOHA RobotSpec: LeRobot's names and units, and agreement with the twin's MJCF."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from lerobot_gym.assets.aloha import GRIPPER_POSITION_CLOSE, GRIPPER_POSITION_OPEN, SCENE_XML
from lerobot_gym.errors import ConfigError
from lerobot_gym.registry import get_robot
from lerobot_gym.robots.aloha.spec import ALOHA

ARM = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")


def test_names_order_units_and_metadata_are_the_aloha_sim_datasets():
    robot = get_robot("aloha")
    assert robot.joint_names == tuple(f"{side}_{j}" for side in ("left", "right") for j in ARM)
    assert robot.robot_type == "aloha" and robot.fps == 50
    assert robot.camera_names == ("top", "angle", "left_wrist", "right_wrist")
    assert [a.name for a in robot.arms] == ["left", "right"]
    assert robot.arm_slice("left") == slice(0, 7) and robot.arm_slice("right") == slice(7, 14)
    assert [j.unit for j in robot.joints] == (["rad"] * 6 + ["fraction"]) * 2
    assert robot.gripper_joint_index("right") == 13


def test_multi_arm_shortcuts_refuse():
    with pytest.raises(ConfigError, match="arms"):
        _ = ALOHA.gripper_site


def test_gripper_units_are_gym_aloha_normalisation():
    # gym-aloha: finger = g * (0.058 - 0.01844) + 0.01844; observation (q - 0.01844) / 0.03956.
    joint = ALOHA.joints[6]
    for g in (0.0, 0.25, 0.6, 1.0):
        finger = g * (GRIPPER_POSITION_OPEN - GRIPPER_POSITION_CLOSE) + GRIPPER_POSITION_CLOSE
        assert joint.from_user(g) == pytest.approx(finger)
        assert joint.to_user(finger) == pytest.approx(g)
    assert joint.user_limits == (0.0, 1.0)
    # Home (START_ARM_POSE's finger 0.02239) observes as gym-aloha's ~0.0998.
    assert ALOHA.to_user(ALOHA.home_rad)[6] == pytest.approx(0.09985, abs=1e-4)


def test_spec_agrees_with_the_twin():
    model = mujoco.MjModel.from_xml_path(str(SCENE_XML))
    home = model.key("home")
    for joint in ALOHA.joints:
        mj = model.joint(joint.name)
        actuator = model.actuator(joint.name)
        assert actuator.trnid[0] == mj.id
        if joint.is_gripper:
            # The finger's travel lies inside the normalisation range.
            assert joint.lower_rad <= mj.range[0] < mj.range[1] <= joint.upper_rad
        else:
            np.testing.assert_allclose(mj.range, (joint.lower_rad, joint.upper_rad))
            np.testing.assert_allclose(actuator.ctrlrange, mj.range)
        assert home.qpos[mj.qposadr[0]] == pytest.approx(joint.home_rad)
    for arm in ALOHA.arms:
        model.site(arm.gripper_site)
        model.site(arm.base_site)
        for geom in arm.pad_geoms:
            model.geom(geom)
    for cam in ALOHA.cameras:
        model.camera(cam.mjcf_camera)
