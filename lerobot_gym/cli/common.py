"""What several commands share: the ``--env.*`` rule, output folders, JSON files.

The ``--env.*`` rule, the same for every command: ``--env.id=ID`` selects the env and every
other ``--env.<keyword>=value`` is a keyword argument of ``gym.make`` (see
:class:`lerobot_gym.registry.EnvConfig`), so ``--env.obs_type=pixels_agent_pos
--env.image_size=[96,128]`` is ``gym.make(ID, obs_type="pixels_agent_pos", image_size=(96, 128))``.
Unknown keywords are reported by ``gym.make`` itself, with the list of accepted ones.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym

from lerobot_gym import registry
from lerobot_gym.cli.args import Flag, UsageError
from lerobot_gym.errors import UnknownEnvIdError
from lerobot_gym.registry import EnvConfig

ENV_GROUP_HELP = (
    "--env.id=ID selects the env (e.g. lerobot_gym/SO101-PickCube-v0, or SO101-PickCube-v0); "
    "every other --env.<keyword>=value is a gym.make keyword, e.g. --env.obs_type=state "
    "--env.image_size=[96,128]. Keywords: "
    + ", ".join(f.name for f in dataclasses.fields(EnvConfig))
    + ", and the backend's own (backend=real: port, ...)."
)
POLICY_GROUP_HELP = "--policy.type selects the policy; other --policy.<key> are its options"


def registered_ids() -> list[str]:
    """The lerobot_gym ids registered with Gymnasium (built-ins and plugins' register_env)."""
    return registry.registered_env_ids()


def resolve_env_id(env_id: Any) -> str:
    """The registered id for ``env_id``; ``SO101-Reach-v0`` is accepted for the full id.

    Raises:
        UsageError: no ``--env.id``, or an id that is not registered (the message names the
            closest registered ids as flags to copy).
    """
    if not isinstance(env_id, str) or not env_id:
        raise UsageError(f"--env.id is required; registered ids: {', '.join(registered_ids())}")
    try:
        return registry.resolve_env_id(env_id)
    except UnknownEnvIdError:
        suggestions = registry.suggest_env_ids(env_id)
        hint = f"; did you mean --env.id={suggestions[0]}?" if suggestions else "."
        raise UsageError(
            f"--env.id={env_id} is not registered{hint} Registered ids: "
            f"{', '.join(registered_ids())}"
        ) from None


def env_kwargs(env_args: dict[str, Any]) -> dict[str, Any]:
    """``gym.make`` keywords from the ``--env`` group (everything but ``id``), normalised.

    A single camera may be given bare (``--env.cameras=front``) and sizes as lists
    (``--env.image_size=96,128``); both become what ``gym.make`` expects.
    """
    kwargs = {key: value for key, value in env_args.items() if key != "id"}
    if isinstance(kwargs.get("cameras"), str):
        kwargs["cameras"] = [kwargs["cameras"]]
    if isinstance(kwargs.get("image_size"), list):
        kwargs["image_size"] = tuple(kwargs["image_size"])
    return kwargs


def env_factory(env_id: str, kwargs: dict[str, Any]) -> Callable[[], gym.Env]:
    """A zero-argument callable making the env (what evaluation and vector envs take)."""

    def make() -> gym.Env:
        return gym.make(env_id, **kwargs)

    return make


def flag_text(value: Any) -> str:
    """How ``value`` is written on the command line (the inverse of ``parse_value``).

    Example:
        >>> flag_text([240, 320]), flag_text(None), flag_text(True), flag_text("front")
        ('[240,320]', 'null', 'true', 'front')
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def default_output_dir(kind: str, name: str) -> Path:
    """``outputs/<kind>/<date>/<time>_<name>``, LeRobot's layout for run outputs."""
    now = _dt.datetime.now()
    safe = name.replace("/", "_")
    return Path("outputs") / kind / now.strftime("%Y-%m-%d") / f"{now.strftime('%H-%M-%S')}_{safe}"


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


#: The training commands' ``--wandb.*`` flags (LeRobot's names), read by :func:`wandb_settings`.
WANDB_FLAGS = (
    Flag("wandb.enable", False, "also log to Weights & Biases (the wandb extra)", bool),
    Flag("wandb.project", "lerobot_gym", "W&B project", str),
    Flag("wandb.entity", None, "W&B team or user (default: yours)", str, True),
    Flag(
        "wandb.mode",
        None,
        "online, offline (no network; `wandb sync` later) or disabled; default: WANDB_MODE",
        str,
        True,
    ),
)


def wandb_settings(cfg: dict[str, Any], config: dict[str, Any]) -> Any:
    """W&B settings when ``--wandb.enable=true`` (``config``: the run's flags), else None."""
    wandb = cfg.get("wandb", {})
    if not wandb.get("enable"):
        return None
    from lerobot_gym.errors import ConfigError
    from lerobot_gym.policies.train_log import WandbSettings

    try:
        return WandbSettings(
            project=wandb["project"], entity=wandb["entity"], mode=wandb["mode"], config=config
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
