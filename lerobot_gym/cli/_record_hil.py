"""``lerobot-gym record --env.config=FILE --teleop.type=...``: HIL-SERL demonstrations.

With an env config (:mod:`lerobot_gym.hil.config`) ``record`` builds the env with
:func:`lerobot_gym.hil.make_hil_env` and the teleop device inside it (``HumanIntervention``,
``HumanLabels``), instead of letting the device drive the env from outside. This module holds
what differs from a plain recording; :func:`lerobot_gym.cli.record.record` does the rest (the
dataset folder checks, ``RecordEpisodes``, the episode loop, clean-up).

Design decisions:

* The agent holds still (:class:`HoldSource`: a zero end-effector delta, or the joint targets
  last sent), or is the ``--policy.type`` policy (human-in-the-loop correction). The operator
  takes over with the device's intervention control; the frames they drive are recorded with
  ``complementary_info.is_intervention = 1`` and their actions.
* Operator events reach the recording only through the stack (the device's ``events()`` read
  once per step by ``HumanIntervention``): the episode loop reads no keyboard of its own, so a
  key press is never consumed twice. Success and failure end the episode through
  ``HumanLabels`` (``next.success``, ``next.reward``); re-record and stop through
  ``RecordEpisodes``.
* The terminal keyboard is the device for ``--teleop.type=keyboard``, and the source of the
  leader arm's events (space: intervene, right arrow: success ...) for
  ``--teleop.type=so101_leader``; a gamepad has its own buttons. With
  ``--teleop.intervention_threshold_deg`` a leader held further than that from the follower's
  present pose intervenes (:class:`FollowerPose`).
* ``--dataset.episode_time_s`` and the file's ``episode_time_s`` both limit an episode; the
  shorter ends it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lerobot_gym.cli._record_loop import ActionSource
from lerobot_gym.cli.args import UsageError

__all__ = [
    "HIL_TELEOP_TYPES",
    "FollowerPose",
    "HilPlan",
    "HoldSource",
    "NoKeys",
    "make_hil_teleop",
    "plan_hil",
]

#: --teleop.type values of a config recording.
HIL_TELEOP_TYPES = ("keyboard", "gamepad", "so101_leader")


class NoKeys:
    """The episode loop's keyboard in a config recording: events come through the stack."""

    active = False

    def events(self) -> dict[str, bool]:
        """No events of its own."""
        return {}


class HoldSource(ActionSource):
    """The agent of a demonstration: asks the arm to stay where it was last sent."""

    drives_reset_phase = True  # the operator may intervene to reset the scene

    def __init__(self, env: Any) -> None:
        self.env = env
        self._ee = env.action_space.shape == (4,)

    def action(self, obs: Any) -> np.ndarray:
        """Zeros for an end-effector stack, else the joint targets last sent."""
        if self._ee:
            return np.zeros(4, np.float32)
        base = self.env.unwrapped
        return np.asarray(base.robot.to_user(base.joint_targets_rad), np.float32)


@dataclasses.dataclass
class HilPlan:
    """A config recording, parsed from the flags before any I/O."""

    config: Any  # HilConfig
    env_overrides: dict[str, Any]
    teleop_type: str
    teleop_options: dict[str, Any]
    policy_type: str | None

    @property
    def env_id(self) -> str:
        """The env id (``--env.id`` overrides the file's)."""
        return str(self.env_overrides.get("id") or self.config.env["id"])

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """The ``gym.make`` keywords: the file's ``env`` section, then ``--env.*`` flags."""
        merged = {**self.config.env, **self.env_overrides}
        merged.pop("id", None)
        return merged

    def make_teleop(self, keyboard: Any, follower: Any = None) -> Any:
        """The device, unconnected (``keyboard``: the terminal keyboard of the session)."""
        return make_hil_teleop(self.teleop_type, self.teleop_options, keyboard, follower)

    def open(self, keyboard: Any, teleop: Any | None = None) -> tuple[Any, Any]:
        """``(env, device)``: the stack with the device inside, the device connected.

        ``teleop``: the caller's device instead of ``--teleop.type``'s (the caller keeps it:
        the returned device, which the caller of this method disconnects, is then None).
        """
        follower = FollowerPose()
        device = teleop if teleop is not None else self.make_teleop(keyboard, follower)
        connected_here = not device.is_connected
        if connected_here:
            device.connect()
        try:
            env = follower.env = self.make_env(device)
        except BaseException:
            if connected_here:
                device.disconnect()
            raise
        return env, device if connected_here else None

    def make_env(self, teleop: Any) -> Any:
        """The HIL-SERL stack with ``teleop`` inside it."""
        from lerobot_gym.hil import make_hil_env

        config = dataclasses.replace(self.config, env={**self.config.env, "id": self.env_id})
        overrides = {k: v for k, v in self.env_overrides.items() if k != "id"}
        return make_hil_env(config, teleop=teleop, **overrides)

    def make_source(self, env: Any, seed: int | None, cfg: dict[str, Any]) -> ActionSource:
        """The agent: the ``--policy.type`` policy, or :class:`HoldSource`."""
        if self.policy_type is None:
            return HoldSource(env)
        from lerobot_gym.cli.record import PolicySource
        from lerobot_gym.policies import make_policy

        options = {k: v for k, v in (cfg.get("policy") or {}).items() if k != "type"}
        return PolicySource(make_policy(self.policy_type, env, seed=seed, **options))


class FollowerPose:
    """The follower's present joints (boundary units), for a leader's motion-triggered
    intervention; the env is set once the stack that holds the leader is built."""

    def __init__(self) -> None:
        self.env: Any = None

    def __call__(self) -> np.ndarray:
        """The joints last read from the follower."""
        base = self.env.unwrapped
        return np.asarray(base.robot.to_user(base.last_state.joint_positions_rad), np.float64)


def make_hil_teleop(
    teleop_type: str, options: dict[str, Any], keyboard: Any, follower: Any = None
) -> Any:
    """An unconnected device of :data:`HIL_TELEOP_TYPES` from its ``--teleop.*`` options.

    ``keyboard`` (the session's terminal keyboard) is the device for ``keyboard`` and the
    source of a leader arm's events (space: intervene, right arrow: success, Esc: stop).
    ``follower`` (a :class:`FollowerPose`) is what ``--teleop.intervention_threshold_deg``
    measures a leader's distance from (LeRobot's "leader moved away from the follower").

    Raises:
        UsageError: an unknown type or option, or a leader arm without ``--teleop.port``.
    """
    options = dict(options)
    if teleop_type not in HIL_TELEOP_TYPES:
        raise UsageError(
            f"unknown --teleop.type={teleop_type!r}; known: " + ", ".join(HIL_TELEOP_TYPES)
        )
    if teleop_type == "keyboard":
        if options:
            raise UsageError("--teleop.type=keyboard takes no --teleop.* options")
        return keyboard
    if teleop_type == "so101_leader":
        from lerobot_gym.robots.so101.leader import SO101Leader

        known = ("port", "id", "calibration_dir", "intervention_threshold_deg")
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise UsageError(
                f"--teleop.{unknown[0]} is not an so101_leader option; options: "
                + ", ".join(f"--teleop.{k}" for k in known)
            )
        if not options.get("port"):
            raise UsageError("--teleop.port is required (the leader arm's serial port)")
        return SO101Leader(
            options["port"],
            leader_id=options.get("id") or "leader",
            calibration_dir=options.get("calibration_dir"),
            intervention_threshold_deg=options.get("intervention_threshold_deg"),
            events=keyboard.events,
            follower=follower,
        )
    from lerobot_gym.teleop.factory import make_teleop

    return make_teleop(teleop_type, **options)


def plan_hil(cfg: dict[str, Any], env_args: dict[str, Any]) -> HilPlan | None:
    """The config recording the flags ask for, or None without ``--env.config``.

    Raises:
        UsageError: no ``--teleop.type``, or one a config recording cannot use.
        ConfigError: the file is missing or invalid (the message names it).
    """
    path = env_args.get("config")
    if path is None:
        return None
    from lerobot_gym.hil import load_hil_config

    config = load_hil_config(path)
    teleop = dict(cfg.get("teleop") or {})
    teleop_type = teleop.pop("type", None)
    if teleop_type is None:
        raise UsageError(
            "--env.config records HIL-SERL demonstrations with a human in the stack: pass "
            f"--teleop.type={'|'.join(HIL_TELEOP_TYPES)}"
        )
    if teleop_type not in HIL_TELEOP_TYPES:
        raise UsageError(
            f"unknown --teleop.type={teleop_type!r} for --env.config; known: "
            + ", ".join(HIL_TELEOP_TYPES)
        )
    policy_type = (cfg.get("policy") or {}).get("type")
    overrides = {k: v for k, v in env_args.items() if k != "config"}
    return HilPlan(config, overrides, teleop_type, teleop, policy_type)
