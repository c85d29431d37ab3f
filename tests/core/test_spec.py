"""RobotSpec as one or more arms: the one-arm case, multi-arm lookups, and bad arm tables."""

import dataclasses

import numpy as np
import pytest

from lerobot_gym.core.spec import ArmSpec, JointSpec, RobotSpec
from lerobot_gym.errors import ConfigError
from lerobot_gym.robots.so101.spec import SO101


def _joints(prefix: str) -> list[JointSpec]:
    return [
        JointSpec(f"{prefix}waist", -1.0, 1.0),
        JointSpec(f"{prefix}elbow", -1.0, 1.0, home_rad=0.5),
        JointSpec(f"{prefix}gripper", 0.0, 1.0, unit="fraction", is_gripper=True),
    ]


def _arm(prefix: str, y: float) -> ArmSpec:
    return ArmSpec(
        name=prefix.rstrip("_"),
        joint_names=tuple(j.name for j in _joints(prefix)),
        gripper_joint=f"{prefix}gripper",
        gripper_site=f"{prefix}gripperframe",
        base_site=f"{prefix}baseframe",
        pad_geoms=(f"{prefix}pad_a", f"{prefix}pad_b"),
        workspace_low=(0.1, y - 0.1),
        workspace_high=(0.3, y + 0.1),
        prefix=prefix,
    )


def _bimanual(**changes) -> RobotSpec:
    fields = {
        "name": "bimanual",
        "robot_type": "bimanual",
        "joints": (*_joints("left_"), *_joints("right_")),
        "arms": (_arm("left_", 0.3), _arm("right_", -0.3)),
    }
    return RobotSpec(**{**fields, **changes})


def test_the_so101_is_the_one_arm_case():
    (arm,) = SO101.arms
    assert arm.joint_names == SO101.joint_names
    assert arm.gripper_joint == "gripper"
    assert SO101.arm_slice(0) == slice(0, 6)
    assert SO101.arm("main") is arm
    # The one-arm shortcuts answer from that arm.
    assert SO101.gripper_site == arm.gripper_site == "gripperframe"
    assert SO101.base_site == arm.base_site == "baseframe"
    assert SO101.gripper_geoms == arm.pad_geoms == ("fixed_jaw_pad", "moving_jaw_pad")
    assert SO101.workspace_low == arm.workspace_low
    assert SO101.workspace_high == arm.workspace_high
    assert SO101.gripper_index == SO101.gripper_joint_index(arm) == 5
    np.testing.assert_array_equal(SO101.arm_home_rad(0), SO101.home_rad)


def test_a_spec_without_arms_gets_one_arm_over_every_joint():
    robot = RobotSpec(name="r", robot_type="r", joints=tuple(_joints("")))
    (arm,) = robot.arms
    assert arm.joint_names == ("waist", "elbow", "gripper")
    assert arm.gripper_joint == "gripper"
    assert robot.gripper_index == 2


def test_multi_arm_lookups_by_index_and_name():
    robot = _bimanual()
    assert [a.name for a in robot.arms] == ["left", "right"]
    assert robot.arm_slice("right") == slice(3, 6)
    assert robot.arm(1) is robot.arm("right") is robot.arm(robot.arms[1])
    assert [j.name for j in robot.arm_joints("left")] == [
        "left_waist",
        "left_elbow",
        "left_gripper",
    ]
    assert robot.gripper_joint_index("left") == 2
    assert robot.gripper_joint_index("right") == 5
    np.testing.assert_array_equal(robot.arm_home_rad("right"), [0.0, 0.5, 0.0])
    with pytest.raises(ConfigError, match=r"no arm 'middle'.*\['left', 'right'\]"):
        robot.arm("middle")
    with pytest.raises(ConfigError, match="no arm 2"):
        robot.arm(2)


@pytest.mark.parametrize(
    "shortcut", ["gripper_site", "base_site", "gripper_geoms", "workspace_low", "gripper_index"]
)
def test_one_arm_shortcuts_refuse_a_multi_arm_robot(shortcut):
    with pytest.raises(ConfigError, match=rf"2 arms.*RobotSpec\.{shortcut}.*robot\.arms\[0\]"):
        getattr(_bimanual(), shortcut)


@pytest.mark.parametrize(
    ("arms", "message"),
    [
        # The left arm's joints out of order: not a run of the joint vector.
        (
            (
                dataclasses.replace(
                    _arm("left_", 0.3), joint_names=("left_elbow", "left_waist", "left_gripper")
                ),
                _arm("right_", -0.3),
            ),
            "consecutive run",
        ),
        ((_arm("left_", 0.3), _arm("left_", -0.3)), "duplicate arm names"),
        (
            (_arm("left_", 0.3), dataclasses.replace(_arm("right_", -0.3), name="other")),
            None,
        ),
        (
            (
                _arm("left_", 0.3),
                dataclasses.replace(
                    _arm("right_", -0.3), joint_names=("right_waist", "nope"), gripper_joint=None
                ),
            ),
            r"joints \['nope'\] the robot lacks",
        ),
        (
            (_arm("left_", 0.3), ArmSpec(name="right")),
            "names no joints",
        ),
        (
            (
                _arm("left_", 0.3),
                dataclasses.replace(_arm("right_", -0.3), gripper_joint="right_elbow"),
            ),
            "not marked is_gripper",
        ),
    ],
)
def test_bad_arm_tables_are_refused(arms, message):
    if message is None:  # a renamed but otherwise valid arm table is fine
        assert _bimanual(arms=arms).arm("other").prefix == "right_"
        return
    with pytest.raises(ConfigError, match=message):
        _bimanual(arms=arms)


def test_an_arm_checks_its_own_gripper_and_workspace():
    with pytest.raises(ConfigError, match="gripper_joint 'g' is not one of its joint_names"):
        ArmSpec(joint_names=("a", "b"), gripper_joint="g")
    with pytest.raises(ConfigError, match="workspace_low"):
        ArmSpec(workspace_low=(0.3, 0.0), workspace_high=(0.1, 0.1))
    with pytest.raises(ConfigError, match="jaw_axis must be a unit 3-vector"):
        ArmSpec(jaw_axis=(0.0, 0.0, 2.0))


def test_arms_that_share_a_joint_are_refused():
    shared = dataclasses.replace(
        _arm("right_", -0.3),
        joint_names=("left_gripper", "right_waist"),
        gripper_joint=None,
    )
    with pytest.raises(ConfigError, match="share joints"):
        _bimanual(arms=(_arm("left_", 0.3), shared))
