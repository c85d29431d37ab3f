"""Shared parts of the two-arm tasks (ALOHA TransferCube and Insertion).

Decisions, following gym-aloha (shared/reference/sim-anchors.md, section 1) unless noted:

- Props are added with MjSpec under gym-aloha's names (bodies ``box``, ``peg``, ``socket``;
  geoms ``red_box``, ``red_peg``, ``socket-1`` .. ``socket-4``, ``pin``), sizes and masses as its
  XML.
- Resets start the arms exactly at the robot's home pose (gym-aloha's ``START_ARM_POSE``, no
  noise) and draw the props' x, y from gym-aloha's ranges with the env's ``np_random`` (gym-aloha
  draws from a module global seeded per call, a known defect). Props rest on the table (gym-aloha
  drops them from z = 0.05, which only adds a bounce).
- Contacts are gym-aloha's, with one widening: "a gripper touches X" means either jaw pad of that
  arm (``ArmSpec.pad_geoms``) touches X; gym-aloha looks at one finger mesh per arm, so a grasp
  seen by the other finger only counted as no touch there.
- The arms are told apart by their role, not their name: the task's ``holder`` arms are
  ``robot.arms[0]`` (left) and ``robot.arms[1]`` (right), the ALOHA's order.
- Tasks hold no per-episode state: the draw travels in ``ResetSample.world_init``, everything
  else is read from the world at each ``evaluate``.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from lerobot_gym.core.spec import ArmSpec, RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.errors import ConfigError

IDENTITY_QUAT = np.array([1.0, 0.0, 0.0, 0.0])
TABLE_GEOM = "table"
FALL_BELOW_M = 0.05  # a prop this far below the table top has fallen off it


class BimanualTask(Task):
    """A two-arm task with gym-aloha's staged reward; starts exactly at the home pose.

    Subclasses put ``stage`` (0 .. ``max_stage``) in their facts. Dense reward is the stage,
    sparse reward 1 at the last stage; success is the last stage.
    """

    privileged_state = True
    max_stage = 4

    def __init__(self, reward_type: Any = "dense", reset_noise_rad: float = 0.0) -> None:
        super().__init__(reward_type=reward_type, reset_noise_rad=reset_noise_rad)

    def reward(self, facts: dict[str, Any]) -> float:
        if "stage" not in facts:
            return 0.0
        if self.reward_type == "sparse":
            return float(self.is_success(facts))
        return float(facts["stage"])

    def is_success(self, facts: dict[str, Any]) -> bool:
        return facts.get("stage", 0) == self.max_stage

    @staticmethod
    def check_two_arms(robot: RobotSpec, task: str) -> None:
        """Typed error unless the robot has two arms with finger geoms."""
        if len(robot.arms) < 2:
            raise ConfigError(
                f"task {task!r} needs a robot with two arms; robot {robot.name!r} has "
                f"{len(robot.arms)}. Use a bimanual robot, e.g. lerobot_gym/Aloha-* ids"
            )
        for arm in robot.arms[:2]:
            if not arm.pad_geoms:
                raise ConfigError(
                    f"task {task!r} tells grasps by the finger geoms: set ArmSpec.pad_geoms of "
                    f"robot {robot.name!r} arm {arm.name!r}"
                )


def add_prop_body(scene: mujoco.MjSpec, body: str) -> Any:
    """A free body for a prop (its pose is set by ``MujocoWorld.place`` at every reset)."""
    handle = scene.worldbody.add_body(name=body, pos=[0.0, 0.0, 0.1])
    handle.add_freejoint(name=f"{body}_joint")
    return handle


def add_box_geom(
    body: Any,
    name: str,
    half_sizes: tuple[float, float, float],
    *,
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0),
    mass_kg: float,
    rgba: tuple[float, float, float, float],
    friction: tuple[float, float, float] = (1.0, 0.005, 0.0001),
) -> None:
    """A box geom with gym-aloha's prop contact settings (condim 4)."""
    body.add_geom(
        name=name,
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=list(half_sizes),
        pos=list(pos),
        mass=mass_kg,
        rgba=list(rgba),
        friction=list(friction),
        condim=4,
    )


def uniform_xy(np_random: np.random.Generator, low: tuple, high: tuple) -> np.ndarray:
    """One (x, y) drawn uniformly from the box ``low`` .. ``high``."""
    return np_random.uniform(np.asarray(low, np.float64), np.asarray(high, np.float64))


def fingers_touching(world: Any, arm: ArmSpec, touched: set[int]) -> bool:
    """Whether either jaw pad of ``arm`` is among the geom ids ``touched``."""
    return any(g in touched for g in world.geom_id_list(arm.pad_geoms))


def fell_off(pos: np.ndarray, robot: RobotSpec) -> bool:
    """Whether a prop at ``pos`` is below the table top by more than ``FALL_BELOW_M``."""
    return float(pos[2]) < robot.table_height_m - FALL_BELOW_M
