"""Backend factory for ``backend="sim"``: the MuJoCo twin."""

from __future__ import annotations

from typing import Any

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.registry import EnvConfig, check_keywords
from lerobot_gym.sim.backend import MujocoBackend


def make_sim_backend(
    robot: RobotSpec,
    task: Task,
    *,
    fps: int,
    image_size: tuple[int, int],
    config: EnvConfig,
    **options: Any,
) -> MujocoBackend:
    """Build the twin's backend; simulation takes no options beyond :class:`EnvConfig`."""
    check_keywords(options, set(), "backend='sim'")
    return MujocoBackend(
        robot,
        task,
        fps=fps,
        image_size=image_size,
        shadows=config.shadows,
        reflections=config.reflections,
        model_path=config.model_path,
        render_samples=config.render_samples,
    )
