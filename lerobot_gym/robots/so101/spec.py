"""The SO-101 arm as a RobotSpec.

Joint names and order are LeRobot's; limits are those of the upstream ``so101_new_calib`` model
(zero at mid-range, see ``lerobot_gym/assets/so101/README.md``). At the env boundary the arm
joints are in degrees and the gripper in 0 (closed, the joint's lower limit) .. 100 (open, its
upper limit), LeRobot's ``use_degrees=True`` convention, so recorded data is interchangeable with
the community's SO-101 datasets.
"""

from __future__ import annotations

from lerobot_gym.assets.so101 import SCENE_XML, SO101_XML
from lerobot_gym.core.spec import ArmSpec, CameraSpec, JointSpec, RobotSpec

# (name, lower, upper, home) in radians; limits from upstream so101_new_calib.xml <joint range>.
_JOINTS = (
    ("shoulder_pan", -1.91986, 1.91986, 0.0),
    ("shoulder_lift", -1.74533, 1.74533, -1.0),
    ("elbow_flex", -1.69, 1.69, 1.0),
    ("wrist_flex", -1.65806, 1.65806, 0.9),
    ("wrist_roll", -2.74385, 2.84121, 0.0),
)
_GRIPPER = ("gripper", -0.17453, 1.74533, 0.2)


def so101_spec(name: str = "so101") -> RobotSpec:
    """The SO-101 follower: one arm (``"main"``), a ``front`` and a ``wrist`` camera."""
    joints = [
        JointSpec(n, lo, hi, unit="deg", home_rad=home, motor_id=i + 1, motor_model="sts3215")
        for i, (n, lo, hi, home) in enumerate(_JOINTS)
    ]
    g_name, g_lo, g_hi, g_home = _GRIPPER
    joints.append(
        JointSpec(
            g_name,
            g_lo,
            g_hi,
            unit="percent",
            home_rad=g_home,
            motor_id=6,
            motor_model="sts3215",
            is_gripper=True,
            closed_rad=g_lo,
        )
    )
    return RobotSpec(
        name=name,
        robot_type="so101_follower",
        joints=tuple(joints),
        arms=(
            ArmSpec(
                name="main",
                joint_names=tuple(j.name for j in joints),
                gripper_joint=g_name,
                gripper_site="gripperframe",
                base_site="baseframe",
                pad_geoms=("fixed_jaw_pad", "moving_jaw_pad"),
                workspace_low=(0.15, -0.12),
                workspace_high=(0.26, 0.12),
                # The twin's gripperframe: jaws along local +x, closing along local z.
                approach_axis=(1.0, 0.0, 0.0),
                jaw_axis=(0.0, 0.0, 1.0),
            ),
        ),
        cameras=(CameraSpec("front", "front"), CameraSpec("wrist", "wrist")),
        scene_xml=SCENE_XML,
        robot_xml=SO101_XML,
        table_height_m=0.0,
        fps=30,
    )


SO101 = so101_spec()
