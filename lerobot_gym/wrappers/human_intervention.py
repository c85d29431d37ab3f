"""HumanIntervention: a teleoperator overrides the agent while the operator intervenes.

Each step the wrapper reads the teleop device (:class:`~lerobot_gym.teleop.base.Teleop`): its
action, then its events. While ``events["is_intervention"]`` is True the device's action is sent
instead of the agent's. ``info`` then carries (keys of :mod:`lerobot_gym.core.info`):

* ``is_intervention``: whether the operator drove this step;
* ``teleop_action``: the device's action, in this env's action space, as sent when
  intervening (LeRobot's ``complementary_data["teleop_action"]``);
* ``success``, ``failure``, ``rerecord_episode``, ``terminate_episode``: the operator's one-shot
  events, copied for the wrappers outside (``HumanLabels`` turns them into labels,
  ``RecordEpisodes`` discards on ``rerecord_episode`` and stops on ``terminate_episode``).

``RecordEpisodes(HumanIntervention(env, teleop))`` then records the applied action (the
operator's, after safety) and ``complementary_info.is_intervention``.

Design decisions:

* Reward, ``terminated`` and ``truncated`` pass through unchanged: labelling is
  ``HumanLabels``' job, so an intervention never silently rewrites an outcome.
* The device is built and connected by the caller and passed in; ``reset()`` calls the
  device's ``reset()`` (a new episode ends latched interventions) and never steps the env.
* The device's action kind is checked against the env in ``__init__``: a ``"joint"`` device
  (a leader arm) needs the env's own joint-position action space, an ``"ee_delta"`` device
  (keyboard, gamepad) needs a 4-wide ``(dx, dy, dz, gripper)`` space (``EEDeltaAction``
  inside this wrapper). ``action_map=`` declares any other mapping from the device's action to
  the env's. The device's action is clipped to the env's action space before it is sent.
* The order is checked too: a ``RecordEpisodes`` *inside* this wrapper would never see
  ``is_intervention``, so that stack is refused with the order that works.
* A device that vanishes mid-episode (its driver raises a
  :class:`~lerobot_gym.errors.HardwareError`, or the ``OSError``/``termios.error`` of a port
  that disappeared) leaves the robot as ``on_teleop_lost`` says
  (``"hold"``: the last targets stay, servos keep holding; ``"limp"``: the backend's
  fail-safe, torque off on hardware), then raises
  :class:`~lerobot_gym.errors.TeleopLostError`. The step is not taken, so the frames already
  recorded stay in the recorder's episode, which ``close()`` saves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.core import ObsType

from lerobot_gym.core import info as info_keys
from lerobot_gym.errors import ConfigError, HardwareError, TeleopLostError
from lerobot_gym.teleop.base import Teleop

__all__ = ["ON_TELEOP_LOST", "HumanIntervention"]

ON_TELEOP_LOST: tuple[str, ...] = ("hold", "limp")

try:  # a pulled USB serial adapter surfaces from pyserial as termios.error (EIO), not OSError
    from termios import error as _TermiosError
except ImportError:  # pragma: no cover - Windows
    _TermiosError = OSError  # type: ignore[assignment,misc]

#: What a device's driver raises when the device is gone: typed hardware errors, and the OS
#: errors a vanished port gives before a driver can translate them.
_DEVICE_ERRORS = (HardwareError, OSError, _TermiosError)


class HumanIntervention(
    gym.Wrapper[ObsType, np.ndarray, ObsType, np.ndarray], gym.utils.RecordConstructorArgs
):
    """Send the teleoperator's action instead of the agent's while the operator intervenes.

    Args:
        env: an env with a 1-D Box action space.
        teleop: a connected teleop device (see the module docstring for its action kind).
        action_map: device action -> env action, when the device's kind does not fit the env.
        on_teleop_lost: ``"hold"`` or ``"limp"``: what the robot does when the device vanishes.

    Example:
        >>> import gymnasium as gym
        >>> import numpy as np
        >>> import lerobot_gym
        >>> from lerobot_gym.teleop.scripted import ScriptedHuman, intervene_between
        >>> from lerobot_gym.wrappers.human_intervention import HumanIntervention
        >>> base = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
        >>> human = ScriptedHuman(lambda step: np.zeros(6), intervene_between(1, 2))
        >>> human.connect()
        >>> env = HumanIntervention(base, human)
        >>> _ = env.reset(seed=0)
        >>> [env.step(env.action_space.sample())[4]["is_intervention"] for _ in range(3)]
        [False, True, False]

    Change logs:
        * v0.1.0 - Initially added.
    """

    def __init__(
        self,
        env: gym.Env[ObsType, np.ndarray],
        teleop: Teleop,
        *,
        action_map: Callable[[np.ndarray], np.ndarray] | None = None,
        on_teleop_lost: str = "hold",
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            teleop=teleop,
            action_map=action_map,
            on_teleop_lost=on_teleop_lost,
            _disable_deepcopy=True,  # a device holds threads, ports and locks
        )
        gym.Wrapper.__init__(self, env)
        space = env.action_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 1:
            raise ConfigError(f"HumanIntervention needs a 1-D Box action space, got {space}")
        if on_teleop_lost not in ON_TELEOP_LOST:
            raise ConfigError(
                f"on_teleop_lost must be one of {ON_TELEOP_LOST}, got {on_teleop_lost!r}"
            )
        if not isinstance(teleop, Teleop):
            raise ConfigError(
                f"{type(teleop).__name__} is not a Teleop (it needs action_kind, connect, "
                "get_action, events, reset, disconnect; lerobot_gym.teleop.base.Teleop)"
            )
        if action_map is None:
            _check_kind(env, teleop.action_kind)
        _check_no_recorder_inside(env)
        self.teleop, self.action_map, self.on_teleop_lost = teleop, action_map, on_teleop_lost
        self._low, self._high = space.low, space.high
        self.interventions = 0  # steps the operator drove since the last reset

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env and the device (latched interventions end)."""
        obs, info = self.env.reset(seed=seed, options=options)
        self.teleop.reset()
        self.interventions = 0
        info[info_keys.IS_INTERVENTION] = False
        return obs, info

    def step(self, action: np.ndarray) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step with the operator's action while they intervene, else with ``action``."""
        try:
            teleop_action = self.teleop.get_action()
            events = info_keys.check_events(self.teleop.events(), type(self.teleop).__name__)
        except _DEVICE_ERRORS as exc:
            self._make_safe()
            raise TeleopLostError(
                f"the teleop device {type(self.teleop).__name__} stopped answering mid-episode "
                f"({exc}); the robot was left to {self.on_teleop_lost!r}. Reconnect the device "
                "and call reset(); closing the recorder saves the frames taken so far"
            ) from exc
        if self.action_map is not None:
            teleop_action = np.asarray(self.action_map(teleop_action), dtype=np.float32)
        teleop_action = np.clip(teleop_action, self._low, self._high).astype(np.float32)
        intervening = events[info_keys.IS_INTERVENTION]
        obs, reward, terminated, truncated, info = self.env.step(
            teleop_action if intervening else action
        )
        self.interventions += int(intervening)
        info.update(events)
        info[info_keys.TELEOP_ACTION] = teleop_action
        return obs, reward, terminated, truncated, info

    def _make_safe(self) -> None:
        if self.on_teleop_lost == "limp":
            backend = getattr(self.env.unwrapped, "backend", None)
            if backend is not None:
                backend.fail_safe()


def _check_kind(env: gym.Env, kind: str) -> None:
    shape = env.action_space.shape or ()
    robot = getattr(env.unwrapped, "robot", None)
    if kind == "ee_delta" and shape != (4,):
        raise ConfigError(
            f"this teleop device gives end-effector deltas (dx, dy, dz, gripper) but the env's "
            f"action space has shape {shape}; wrap the env with EEDeltaAction first "
            "(HumanIntervention(EEDeltaAction(env), teleop)) or pass action_map="
        )
    if kind == "joint":
        controller = getattr(env.unwrapped, "controller", None)
        joint_pos = controller is None or getattr(controller, "name", "") == "joint_pos"
        n_joints = len(robot.joints) if robot is not None else shape[0]
        if shape != (n_joints,) or not joint_pos or env.action_space != env.unwrapped.action_space:
            raise ConfigError(
                "this teleop device gives absolute joint positions, but the env's actions are "
                f"not (shape {shape}); use control_mode='joint_pos' without action wrappers "
                "inside HumanIntervention, or pass action_map="
            )
    if kind not in ("joint", "ee_delta"):
        raise ConfigError(f"unknown teleop action_kind {kind!r}; expected 'joint' or 'ee_delta'")


def _check_no_recorder_inside(env: gym.Env) -> None:
    from lerobot_gym.wrappers.record_episodes import RecordEpisodes

    inner: Any = env
    while isinstance(inner, gym.Wrapper):
        if isinstance(inner, RecordEpisodes):
            raise ConfigError(
                "RecordEpisodes is inside HumanIntervention, so it would not record "
                "is_intervention; wrap in this order: RecordEpisodes(HumanIntervention(env, "
                "teleop), ...)"
            )
        inner = inner.env
