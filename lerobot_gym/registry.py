"""Ids -> Gymnasium; robot, task and backend lookup; entry-point plugins.

Built-in robots and tasks are registered here by name. Third-party packages add their own
through entry-point groups (Gymnasium >= 1.0 removed its own plugin mechanism):

.. code-block:: toml

    [project.entry-points."lerobot_gym.robots"]
    koch = "my_pkg.koch:koch_spec"        # a RobotSpec, or a callable returning one
    [project.entry-points."lerobot_gym.tasks"]
    stack = "my_pkg.tasks:StackCubes"     # a Task subclass
    [project.entry-points."lerobot_gym.robot_backends"]
    koch_follower = "my_pkg.koch.backends:BACKENDS"   # robot_type -> {"real": builder, ...}

Hardware backends are declared by each robot, per robot type (``RobotSpec.robot_type``): a
mapping ``{"real": builder, "emulated": builder}`` of callables ``builder(robot, task, *, fps,
image_size, config, **options) -> Backend`` (see ``lerobot_gym/robots/so101/backends.py``), found
through :func:`get_robot_backend`. ``backend="real"`` and ``"emulated"`` dispatch there
(``robots/factory.py``), so adding a robot never edits the factory.

Plugins are imported lazily, only when a lookup misses the built-ins; a plugin that fails to
import raises :class:`~lerobot_gym.errors.PluginLoadError` naming it. Plugin robots and tasks are
used through the generic id ``lerobot_gym/RobotEnv-v0`` (``robot=``, ``task=``) or
:func:`register_env`.

Unknown ids: ``gym.make`` looks ids up in Gymnasium's registry before any code of ours runs, and
for an id without the namespace (``SO101-PickCube-v0``) it says only "doesn't exist"; for a typo
inside the namespace it suggests a bare name (``SO101-PickCube``), not an id. Gymnasium has no
hook for a failed lookup, and patching its private lookup functions would change every other
package's errors, so the hint lives in our own entry points instead: :func:`make` (exported as
``lerobot_gym.make``) and every CLI command resolve the id with :func:`resolve_env_id`, which
accepts the id without its namespace and otherwise raises
:class:`~lerobot_gym.errors.UnknownEnvIdError` (a Gymnasium ``UnregisteredEnv`` too) naming the
closest registered ids (:func:`suggest_env_ids`: case, namespace and version forgiven).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

import gymnasium as gym

from lerobot_gym.core.spec import RobotSpec, check_image_size
from lerobot_gym.errors import (
    ConfigError,
    PluginLoadError,
    UnknownEnvIdError,
    UnknownRobotError,
    UnknownTaskError,
)

NAMESPACE = "lerobot_gym"
ROBOT_GROUP = "lerobot_gym.robots"
TASK_GROUP = "lerobot_gym.tasks"
ROBOT_BACKEND_GROUP = "lerobot_gym.robot_backends"

# name -> "module:attribute", imported on first use so `import lerobot_gym` stays light.
_ROBOTS: dict[str, str | RobotSpec | Callable[[], RobotSpec]] = {
    "so101": "lerobot_gym.robots.so101.spec:so101_spec",
    "aloha": "lerobot_gym.robots.aloha.spec:aloha_spec",
}
_TASKS: dict[str, str | type] = {
    "free": "lerobot_gym.tasks.free:FreeMotion",
    "reach": "lerobot_gym.tasks.reach:Reach",
    "pick_cube": "lerobot_gym.tasks.pick_cube:PickCube",
    "push_cube": "lerobot_gym.tasks.push_cube:PushCube",
    "free_home": "lerobot_gym.tasks.free_home:FreeFromHome",
    "transfer_cube": "lerobot_gym.tasks.transfer_cube:TransferCube",
    "insertion": "lerobot_gym.tasks.insertion:Insertion",
}
# robot_type -> "module:attribute" of its {backend name: builder} mapping (module doc).
_ROBOT_BACKENDS: dict[str, str | Mapping[str, Callable]] = {
    "so101_follower": "lerobot_gym.robots.so101.backends:BACKENDS",
    "aloha": "lerobot_gym.robots.aloha.backends:BACKENDS",
}
# backend name -> "module:factory"; factory(robot, task, config, **options) -> Backend
_BACKENDS: dict[str, str | Callable] = {
    "sim": "lerobot_gym.sim.factory:make_sim_backend",
    "real": "lerobot_gym.robots.factory:make_real_backend",
    "emulated": "lerobot_gym.robots.factory:make_emulated_backend",
}


def _resolve(target: Any) -> Any:
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)
    return target


def _from_plugins(group: str, name: str) -> Any | None:
    for ep in metadata.entry_points(group=group):
        if ep.name == name:
            try:
                return ep.load()
            except Exception as exc:
                raise PluginLoadError(
                    f"plugin {name!r} ({ep.value}) in entry-point group {group!r} failed to "
                    f"load: {type(exc).__name__}: {exc}; fix or uninstall the package providing it"
                ) from exc
    return None


def _plugin_names(group: str) -> list[str]:
    return sorted(ep.name for ep in metadata.entry_points(group=group))


def register_robot(name: str, robot: RobotSpec | Callable[[], RobotSpec] | str) -> None:
    """Register a robot spec (or a factory, or a ``"module:attr"`` string) under a name."""
    _ROBOTS[name] = robot


def register_task(name: str, task_cls: type | str) -> None:
    """Register a Task subclass (or ``"module:attr"``) under a name."""
    _TASKS[name] = task_cls


def _lookup(table: dict[str, Any], group: str, name: str, kind: str, error: type) -> Any:
    """A built-in entry, else a plugin from ``group`` (cached), else a typed error."""
    target = table.get(name)
    if target is None:
        target = _from_plugins(group, name)
        if target is None:
            known = sorted(table) + _plugin_names(group)
            raise error(
                f"unknown {kind} {name!r}; known {kind}s: {known}. Third-party {kind}s register "
                f"in the entry-point group {group!r}."
            )
        table[name] = target
    return _resolve(target)


def get_robot(name: str) -> RobotSpec:
    """The spec of a built-in or plugin robot."""
    robot = _lookup(_ROBOTS, ROBOT_GROUP, name, "robot", UnknownRobotError)
    robot = robot() if callable(robot) and not isinstance(robot, RobotSpec) else robot
    if not isinstance(robot, RobotSpec):
        raise PluginLoadError(f"robot {name!r} did not give a RobotSpec but {type(robot)!r}")
    return robot


def get_task(name: str) -> type:
    """The Task class of a built-in or plugin task."""
    from lerobot_gym.core.task import Task

    task_cls = _lookup(_TASKS, TASK_GROUP, name, "task", UnknownTaskError)
    if not (isinstance(task_cls, type) and issubclass(task_cls, Task)):
        raise PluginLoadError(f"task {name!r} did not give a Task subclass but {task_cls!r}")
    return task_cls


def register_robot_backends(robot_type: str, builders: Mapping[str, Callable] | str) -> None:
    """Declare a robot type's hardware backends (see the module docstring).

    Args:
        robot_type: ``RobotSpec.robot_type`` of the robots they drive.
        builders: ``{"real": builder, "emulated": builder}``, or ``"module:attr"`` naming one.
    """
    _ROBOT_BACKENDS[robot_type] = builders


def get_robot_backend(robot: RobotSpec, backend: str) -> Callable:
    """The builder of ``backend`` (``"real"``, ``"emulated"``) for ``robot``'s type.

    Raises:
        ConfigError: The robot declares no such backend; names those it has and the fix.
    """
    robot_type = robot.robot_type
    builders = _ROBOT_BACKENDS.get(robot_type)
    if builders is None:
        builders = _from_plugins(ROBOT_BACKEND_GROUP, robot_type)
        if builders is not None:
            _ROBOT_BACKENDS[robot_type] = builders
    table = _resolve(builders) if builders is not None else {}
    if not isinstance(table, Mapping):
        raise PluginLoadError(
            f"the backends of robot type {robot_type!r} must be a mapping backend name -> "
            f"builder, got {type(table).__name__}"
        )
    if backend not in table:
        has = [*sorted(table), "sim"]
        raise ConfigError(
            f"backend={backend!r} is not available for robot {robot.name!r} (robot type "
            f"{robot_type!r}); it runs with backend in {has}. Hardware backends are declared "
            f"per robot type with register_robot_backends() or the entry-point group "
            f"{ROBOT_BACKEND_GROUP!r}"
        )
    return table[backend]


def get_backend_factory(name: str) -> Callable:
    """The factory of a backend by name (``sim``, ``real``, ``emulated``)."""
    if name not in _BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose one of {sorted(_BACKENDS)}")
    return _resolve(_BACKENDS[name])


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Keyword arguments accepted by every lerobot_gym id (see ``gym.make``).

    Attributes:
        backend: ``"sim"`` (MuJoCo twin), ``"real"`` (the arm) or ``"emulated"`` (the real driver
            over an emulated servo bus).
        obs_type: ``"state"``, ``"pixels"`` or ``"pixels_agent_pos"``.
        cameras: camera names to observe; on ``backend="real"`` a mapping name -> device (index
            or path).
        image_size: (height, width) of observed images.
        render_mode: ``None`` or ``"rgb_array"``.
        render_camera: camera used by ``render()``.
        reward_type: ``"dense"`` or ``"sparse"``.
        control_mode: ``"joint_pos"`` (absolute targets) or ``"joint_delta"``.
        max_delta: bound of a ``joint_delta`` action, boundary units.
        max_relative_target: per-step bound on target changes, boundary units (None: off).
        terminate_on_success: end the episode at the first success.
        fps: control rate (default: the robot's).
        shadows: render shadows (simulation).
        reflections: render reflections (simulation).
        render_samples: multisample anti-aliasing samples (simulation; 0 is off).
        model_path: alternative twin scene file (simulation).
    """

    backend: str = "sim"
    obs_type: str = "pixels_agent_pos"
    cameras: tuple[str, ...] | dict[str, Any] | None = None
    image_size: tuple[int, int] = (480, 640)
    render_mode: str | None = None
    render_camera: str | None = None
    reward_type: str = "dense"
    control_mode: str = "joint_pos"
    max_delta: float = 5.0
    max_relative_target: float | None = None
    terminate_on_success: bool = False
    fps: int | None = None
    shadows: bool = False
    reflections: bool = False
    render_samples: int = 0
    model_path: str | None = None


_CONFIG_FIELDS = {f.name for f in dataclasses.fields(EnvConfig)}


def make_env(*, robot: str | RobotSpec, task: str, **kwargs: Any) -> gym.Env:
    """Build a :class:`~lerobot_gym.core.env.RobotEnv` (the entry point of every id).

    Keywords not in :class:`EnvConfig` go to the backend factory, which rejects those it does
    not know with a :class:`~lerobot_gym.errors.ConfigError` listing the valid ones.
    """
    from lerobot_gym.core.controller import make_controller
    from lerobot_gym.core.env import RobotEnv

    config = EnvConfig(**{k: v for k, v in kwargs.items() if k in _CONFIG_FIELDS})
    backend_options = {k: v for k, v in kwargs.items() if k not in _CONFIG_FIELDS}
    spec = robot if isinstance(robot, RobotSpec) else get_robot(robot)
    task_obj = get_task(task)(reward_type=config.reward_type)
    fps = _check_fps(spec.fps if config.fps is None else config.fps)
    camera_names = None
    if config.cameras is not None:
        if isinstance(config.cameras, str):
            raise ConfigError(
                f"cameras must be a sequence of names (or, on hardware, a mapping name -> "
                f"device), e.g. cameras=({config.cameras!r},); got the string {config.cameras!r}"
            )
        camera_names = tuple(config.cameras)
    if config.max_relative_target is not None and not config.max_relative_target > 0:
        raise ConfigError(
            f"max_relative_target must be positive (boundary units per step) or None to "
            f"disable it; got {config.max_relative_target!r}"
        )
    if config.obs_type == "state" and config.backend != "sim" and task_obj.privileged_state:
        raise ConfigError(
            f"obs_type='state' for task {task!r} observes the object pose, which only the "
            "simulated twin knows; use obs_type='pixels_agent_pos' on real hardware"
        )
    controller_kwargs = (
        {"max_delta": config.max_delta} if config.control_mode == "joint_delta" else {}
    )
    controller = make_controller(config.control_mode, spec, **controller_kwargs)
    # A list when it came from the CLI or JSON.
    image_size = check_image_size(config.image_size)
    backend = get_backend_factory(config.backend)(
        spec, task_obj, fps=fps, image_size=image_size, config=config, **backend_options
    )
    max_rel = config.max_relative_target
    if max_rel is None:
        max_rel = spec.max_relative_target
    return RobotEnv(
        robot=spec,
        task=task_obj,
        backend=backend,
        controller=controller,
        obs_type=config.obs_type,
        cameras=camera_names,
        image_size=image_size,
        render_mode=config.render_mode,
        render_camera=config.render_camera,
        max_relative_target=max_rel,
        terminate_on_success=config.terminate_on_success,
        fps=fps,
        kinematics_factory=_twin_kinematics,
    )


def make_vec_env(
    num_envs: int = 1,
    *,
    robot: str | RobotSpec,
    task: str,
    max_episode_steps: int | None = None,
    nthread: int | None = None,
    physics: str = "mujoco",
    device: str | None = None,
    **kwargs: Any,
) -> gym.vector.VectorEnv:
    """Every id's ``vector_entry_point``: N batched twins (``sim/vector_env.TwinVectorEnv``).

    Takes the keywords of :func:`make_env`, plus ``max_episode_steps`` (``gym.make_vec`` passes
    the id's), ``nthread`` (physics threads; default, the CPUs this process may use), and
    ``physics``/``device``: ``physics="warp"`` runs the twins on MuJoCo Warp (the ``warp``
    extra) on ``device="auto"``, ``"cpu"`` or ``"cuda"`` (``sim/warp_physics.py``).
    ``render_workers`` left out draws the twins' cameras on 2 threads where 2 CPUs are free
    (the same images as 1; see ``TwinVectorEnv``).
    """
    from lerobot_gym.core.env import RobotEnv
    from lerobot_gym.sim.vector_env import TwinVectorEnv

    template = make_env(robot=robot, task=task, **kwargs)  # no I/O: the twin builds at reset
    assert isinstance(template, RobotEnv)
    return TwinVectorEnv(
        template,
        num_envs,
        max_episode_steps=max_episode_steps,
        nthread=nthread,
        physics=physics,
        device=device,
        render_workers=kwargs.get("render_workers"),
    )


def make_vec(env_id: str, num_envs: int = 1, **kwargs: Any) -> gym.vector.VectorEnv:
    """N twins of an id, batched in one process (the namespace may be left out).

    ``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point", **kwargs)`` with the
    id resolved as :func:`make` resolves it; keywords as ``gym.make``'s, plus ``nthread``,
    ``physics`` and ``device`` (:func:`make_vec_env`).

    Example:
        >>> import lerobot_gym
        >>> envs = lerobot_gym.make_vec("SO101-Reach-v0", num_envs=2, obs_type="state")
        >>> obs, info = envs.reset(seed=0)
        >>> obs["agent_pos"].shape
        (2, 6)
        >>> envs.close()
    """
    return gym.make_vec(
        resolve_env_id(env_id),
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        **kwargs,
    )


def _twin_kinematics(robot: RobotSpec, arm: Any) -> Any:
    """The twin's kinematics of one arm, imported on first use (mujoco loads lazily)."""
    from lerobot_gym.sim.kinematics import kinematics_for

    return kinematics_for(robot, arm)


def _check_fps(fps: Any) -> int:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps != int(fps) or fps <= 0:
        raise ConfigError(f"fps must be a positive whole number of steps per second; got {fps!r}")
    return int(fps)


def check_keywords(given: dict[str, Any], accepted: set[str], where: str) -> None:
    """Raise a ConfigError naming unknown keywords and listing the accepted ones."""
    unknown = sorted(set(given) - accepted)
    if unknown:
        raise ConfigError(
            f"unknown keyword argument(s) {unknown} for {where}; accepted: "
            f"{sorted(accepted | _CONFIG_FIELDS)}"
        )


# id -> (robot, task, max_episode_steps)
ENV_IDS: dict[str, tuple[str, str, int]] = {
    f"{NAMESPACE}/SO101-v0": ("so101", "free", 300),
    f"{NAMESPACE}/SO101-Reach-v0": ("so101", "reach", 100),
    f"{NAMESPACE}/SO101-PickCube-v0": ("so101", "pick_cube", 200),
    f"{NAMESPACE}/SO101-PushCube-v0": ("so101", "push_cube", 200),
    # ALOHA: 50 Hz, 400 steps (LeRobot's episode_length and ACT's scripted data; gym-aloha's own
    # registration says 300).
    f"{NAMESPACE}/Aloha-v0": ("aloha", "free_home", 400),
    f"{NAMESPACE}/Aloha-TransferCube-v0": ("aloha", "transfer_cube", 400),
    f"{NAMESPACE}/Aloha-Insertion-v0": ("aloha", "insertion", 400),
}


# id -> default gym.make keywords beyond robot and task (JSON-safe; the user's override them).
# The ALOHA observes only `top` by default, as gym-aloha and LeRobot's aloha_sim_* datasets do
# (its wrist and angle cameras stay one `cameras=` away); rendering four 480x640 views per step
# would quadruple the cost for views no ALOHA policy expects.
ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    f"{NAMESPACE}/Aloha-v0": {"cameras": ("top",)},
    f"{NAMESPACE}/Aloha-TransferCube-v0": {"cameras": ("top",)},
    f"{NAMESPACE}/Aloha-Insertion-v0": {"cameras": ("top",)},
}


# Every id's batched vector env (``gym.make_vec(id, num_envs=N)``, lerobot_gym.sim.vector_env).
VECTOR_ENTRY_POINT = "lerobot_gym.registry:make_vec_env"


def register_env(
    env_id: str, robot: str, task: str, max_episode_steps: int, **defaults: Any
) -> None:
    """Register a Gymnasium id for a (robot, task) pair, e.g. one provided by plugins.

    ``defaults`` are further ``gym.make`` keywords the id applies unless the caller gives them.
    ``gym.make_vec(env_id, num_envs=N)`` builds the batched twins (:func:`make_vec_env`).
    """
    gym.register(
        id=env_id,
        entry_point="lerobot_gym.registry:make_env",
        vector_entry_point=VECTOR_ENTRY_POINT,
        kwargs={"robot": robot, "task": task, **defaults},
        max_episode_steps=max_episode_steps,
    )


def register_all() -> None:
    """Register the built-in ids (idempotent)."""
    for env_id, (robot, task, steps) in ENV_IDS.items():
        if env_id not in gym.registry:
            register_env(env_id, robot, task, steps, **ENV_DEFAULTS.get(env_id, {}))
    generic = f"{NAMESPACE}/RobotEnv-v0"
    if generic not in gym.registry:
        gym.register(
            id=generic,
            entry_point="lerobot_gym.registry:make_env",
            vector_entry_point=VECTOR_ENTRY_POINT,
            kwargs={"robot": "so101", "task": "free"},
            max_episode_steps=300,
        )


# -- ids: lookup and suggestions -------------------------------------------------------------


def registered_env_ids() -> list[str]:
    """The ids registered in the ``lerobot_gym`` namespace (built-ins and ``register_env``)."""
    return sorted(env_id for env_id in gym.registry if env_id.startswith(f"{NAMESPACE}/"))


def _id_key(env_id: str) -> str:
    # Compare ids the way people mistype them: any namespace, any case, stray spaces.
    return env_id.strip().rpartition("/")[2].lower()


def suggest_env_ids(env_id: str, n: int = 3) -> list[str]:
    """The registered ``lerobot_gym`` ids closest to ``env_id``, closest first.

    The namespace, letter case and surrounding spaces are ignored, so ``SO101-PickCube-v0``,
    ``lerobot_gym/so101-pickcube-v0`` and ``lerobot-gym/SO101-PickCub-v0`` all suggest
    ``lerobot_gym/SO101-PickCube-v0`` first.
    """
    by_key: dict[str, str] = {}
    for full in registered_env_ids():
        by_key.setdefault(_id_key(full), full)
    query = _id_key(str(env_id))
    exact = [by_key[query]] if query in by_key else []
    close = difflib.get_close_matches(query, list(by_key), n=n, cutoff=0.6)
    suggestions = exact + [by_key[key] for key in close if by_key[key] not in exact]
    return suggestions[:n]


def unknown_env_id_message(env_id: object, *, shown: str | None = None) -> str:
    """What to say about an unregistered id: the closest ids, then every registered one.

    ``shown`` is how the id is quoted (the CLI passes ``--env.id=...``).
    """
    what = shown if shown is not None else f"env id {env_id!r}"
    suggestions = suggest_env_ids(env_id) if isinstance(env_id, str) and env_id else []
    hint = f"; did you mean {suggestions[0]!r}?" if suggestions else "."
    return (
        f"{what} is not registered{hint} Registered ids: {', '.join(registered_env_ids())} "
        "(other packages register theirs when imported)"
    )


def resolve_env_id(env_id: object) -> str:
    """The registered id for ``env_id``; the ``lerobot_gym/`` namespace may be left out.

    Ids of other packages (``CartPole-v1``) pass through unchanged, as does anything Gymnasium's
    own lookup accepts.

    Raises:
        UnknownEnvIdError: no such id; the message names the closest registered ids.
    """
    if not isinstance(env_id, str) or not env_id:
        raise UnknownEnvIdError(unknown_env_id_message(env_id))
    if env_id in gym.registry:
        return env_id
    if "/" not in env_id and f"{NAMESPACE}/{env_id}" in gym.registry:
        return f"{NAMESPACE}/{env_id}"
    try:
        gym.spec(env_id)  # Gymnasium's own lookup, e.g. an unversioned id (with a warning)
    except gym.error.Error as exc:
        raise UnknownEnvIdError(unknown_env_id_message(env_id)) from exc
    return env_id


def make(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make`` with helpful ids (the namespace may be left out).

    An unknown id raises :class:`~lerobot_gym.errors.UnknownEnvIdError` naming the closest
    registered ids.

    Example:
        >>> import lerobot_gym
        >>> env = lerobot_gym.make("SO101-Reach-v0", obs_type="state")
        >>> env.spec.id
        'lerobot_gym/SO101-Reach-v0'
        >>> env.close()
    """
    return gym.make(resolve_env_id(env_id), **kwargs)
