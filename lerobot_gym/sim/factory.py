"""Backend factory for ``backend="sim"``: the MuJoCo twin."""

from __future__ import annotations

from typing import Any

from lerobot_gym.core.spec import RobotSpec
from lerobot_gym.core.task import Task
from lerobot_gym.errors import ConfigError
from lerobot_gym.registry import EnvConfig, check_keywords
from lerobot_gym.sim.backend import MujocoBackend
from lerobot_gym.sim.knobs import resolve_knobs
from lerobot_gym.sim.twin_params import resolve_twin_params

#: ``actuator=`` choices: the MJCF's stiff actuators, or the servo model.
ACTUATORS = ("ideal", "servo")


def make_sim_backend(
    robot: RobotSpec,
    task: Task,
    *,
    fps: int,
    image_size: tuple[int, int],
    config: EnvConfig,
    **options: Any,
) -> MujocoBackend:
    """Build the twin's backend.

    Options beyond :class:`EnvConfig`:

    - ``actuator``: ``"ideal"`` (default; the MJCF's stiff position actuators) or ``"servo"``
      (the STS3215 position loop, :mod:`lerobot_gym.sim.servo`).
    - ``twin_params``: a parameter file path or :class:`~lerobot_gym.sim.twin_params.TwinParams`
      (default with ``actuator="servo"``: the robot's own file); giving it implies
      ``actuator="servo"``.
    - ``render_workers``: threads that draw a step's cameras (default ``"auto"``: two threads
      for three or more cameras when the process may use two cores, else one pass through one
      offscreen buffer); a number spreads the cameras over that many threads
      (:mod:`lerobot_gym.sim.tiled_threads`); 1 keeps one pass. The images are the same.
    - ``knobs``: latency, reading noise and domain randomisation, a
      :class:`~lerobot_gym.sim.knobs.TwinKnobs` or a mapping of its fields (default: off).
    """
    check_keywords(options, {"actuator", "twin_params", "render_workers", "knobs"}, "backend='sim'")
    render_workers = options.get("render_workers", "auto")
    if render_workers != "auto" and (type(render_workers) is not int or render_workers < 1):
        raise ConfigError(
            f"render_workers must be a whole number >= 1 or 'auto', got {render_workers!r}"
        )
    actuator = options.get("actuator")
    twin_params = options.get("twin_params")
    if actuator is None:
        actuator = "ideal" if twin_params is None else "servo"
    if actuator not in ACTUATORS:
        raise ConfigError(f"actuator={actuator!r} does not exist; choose one of {ACTUATORS}")
    if actuator == "ideal" and twin_params is not None:
        raise ConfigError(
            "twin_params= drives the servo model; drop actuator='ideal' (or use "
            "actuator='servo') to load them"
        )
    params = resolve_twin_params(twin_params, robot) if actuator == "servo" else None
    return MujocoBackend(
        robot,
        task,
        fps=fps,
        image_size=image_size,
        shadows=config.shadows,
        reflections=config.reflections,
        model_path=config.model_path,
        render_samples=config.render_samples,
        twin_params=params,
        render_workers=render_workers,
        knobs=resolve_knobs(options.get("knobs")),
    )
