"""The ALOHA as a RobotSpec: two ViperX 300 6-DoF arms, ``left`` then ``right``.

Joint names and order are those of LeRobot's ``aloha_sim_*`` datasets (``left_waist`` ..
``left_gripper``, ``right_waist`` .. ``right_gripper``); ``robot_type`` is ``"aloha"``, as their
``info.json`` says. Arm joints are in radians at the env boundary, grippers normalised 0 (closed)
.. 1 (open), so recorded data and policies trained on those datasets mean the same thing here.

Decisions:

- The gripper's SI "limits" are ACT's normalisation constants (``GRIPPER_POSITION_CLOSE`` /
  ``_OPEN``, left-finger position in metres), not the finger's travel: the boundary value g then
  maps to the finger target ``g * (OPEN - CLOSE) + CLOSE`` exactly as gym-aloha maps it, and the
  observed gripper is gym-aloha's ``agent_pos`` gripper. The finger's travel (0.021 .. 0.057 m,
  0.065 .. 0.975 normalised) lies inside; the actuator's ctrlrange clips to it as gym-aloha's does.
- The gripper joint is the twin's left finger slide, named as the joint (``left_gripper``, in
  metres), with its actuator of the same name; the right finger mirrors it.
- A gripper action outside 0..1 is refused (``strict_range``), not clamped: arm joints are
  clamped to their limits by the safety filter as on every robot.
- Arm limits and the home pose (ACT's ``START_ARM_POSE``) are the twin's (assets/aloha/README.md).
- ``max_relative_target`` defaults to 0.25 per step (12.5 rad/s at 50 Hz, four times a ViperX
  joint's top speed; a quarter of the gripper's travel): far above what demonstrations and ACT
  policies command, and it keeps the twin stable under uniformly random actions (whole-range
  jumps every step drove gym-aloha's stiff shoulder gains to a MuJoCo instability reset in 3 of
  3 random 400-step episodes; none with the limit). ``max_relative_target=`` overrides it (a
  large value such as 10 effectively turns it off).
"""

from __future__ import annotations

from lerobot_gym.assets.aloha import (
    ALOHA_XML,
    ARMS,
    GRIPPER_POSITION_CLOSE,
    GRIPPER_POSITION_OPEN,
    SCENE_XML,
)
from lerobot_gym.core.spec import ArmSpec, CameraSpec, JointSpec, RobotSpec

# (joint, lower, upper, home) in radians: ranges from the twin (gym-aloha's vx300s joints),
# home is ACT's / gym-aloha's START_ARM_POSE.
_ARM_JOINTS = (
    ("waist", -3.14158, 3.14158, 0.0),
    ("shoulder", -1.85005, 1.25664, -0.96),
    ("elbow", -1.76278, 1.6057, 1.16),
    ("forearm_roll", -3.14158, 3.14158, 0.0),
    ("wrist_angle", -1.8675, 2.23402, -0.3),
    ("wrist_rotate", -3.14158, 3.14158, 0.0),
)
MAX_RELATIVE_TARGET = 0.25  # per step, boundary units (rad; gripper fraction)
GRIPPER_HOME_M = 0.02239  # START_ARM_POSE's finger position (closed on nothing)

# Table regions (x, y) each arm works in: the half of the table on its side, plus the middle
# where the arms meet (gym-aloha's props lie at x in [-0.2, 0.2], y in [0.4, 0.6]).
_WORKSPACES = {"left": ((-0.25, 0.35), (0.05, 0.7)), "right": ((-0.05, 0.35), (0.25, 0.7))}


def _arm_joints(arm: str) -> list[JointSpec]:
    joints = [
        JointSpec(f"{arm}_{name}", lo, hi, unit="rad", home_rad=home)
        for name, lo, hi, home in _ARM_JOINTS
    ]
    joints.append(
        JointSpec(
            f"{arm}_gripper",
            GRIPPER_POSITION_CLOSE,
            GRIPPER_POSITION_OPEN,
            unit="fraction",
            home_rad=GRIPPER_HOME_M,
            is_gripper=True,
            closed_rad=GRIPPER_POSITION_CLOSE,
            strict_range=True,
        )
    )
    return joints


def _arm(arm: str, joints: list[JointSpec]) -> ArmSpec:
    low, high = _WORKSPACES[arm]
    return ArmSpec(
        name=arm,
        joint_names=tuple(j.name for j in joints),
        gripper_joint=f"{arm}_gripper",
        gripper_site=f"{arm}_gripperframe",
        base_site=f"{arm}_baseframe",
        # The jaw pads: an object held between the fingers touches them (gym-aloha looks at one
        # finger mesh per arm; the twin's pads are the fingers' inner faces).
        pad_geoms=(f"{arm}_left_finger_pad", f"{arm}_right_finger_pad"),
        workspace_low=low,
        workspace_high=high,
        prefix=f"{arm}_",
    )


def aloha_spec(name: str = "aloha") -> RobotSpec:
    """The ALOHA twin: arms ``left`` and ``right``, cameras top, angle and the two wrists."""
    per_arm = {arm: _arm_joints(arm) for arm in ARMS}
    return RobotSpec(
        name=name,
        robot_type="aloha",
        joints=tuple(j for arm in ARMS for j in per_arm[arm]),
        arms=tuple(_arm(arm, per_arm[arm]) for arm in ARMS),
        cameras=(
            CameraSpec("top", "top"),
            CameraSpec("angle", "angle"),
            CameraSpec("left_wrist", "left_wrist"),
            CameraSpec("right_wrist", "right_wrist"),
        ),
        scene_xml=SCENE_XML,
        robot_xml=ALOHA_XML,
        table_height_m=0.0,
        fps=50,
        max_relative_target=MAX_RELATIVE_TARGET,
    )


ALOHA = aloha_spec()
