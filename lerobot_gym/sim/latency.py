"""Observation latency, action latency and joint-reading noise between a twin and its env.

:class:`SignalKnobs` holds the per-episode draw of the signal-side knobs of
:class:`~lerobot_gym.sim.knobs.TwinKnobs` and applies them:

- observation latency: :meth:`observe` returns the state read ``n`` control periods ago (joints
  and images alike, as a camera and a servo bus both deliver late); the history starts full of
  the reset state, as an arm at rest reads the same before and after;
- joint-reading noise: Gaussian, added to the delayed reading's joint positions, fresh each read;
- action latency: :attr:`action_delay_substeps`, the delay in physics steps, which the backend
  applies (:class:`CommandDelay` for the ideal actuators, the servo model's own goal queue
  otherwise).

Decisions: latency is drawn per episode, not per step (a bus and a camera pipeline have a steady
delay; jitter would reorder commands); the generators come from
:func:`lerobot_gym.sim.knobs.knob_streams`, so the same seed gives the same noise sequence.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.core.backend import RobotState
from lerobot_gym.errors import KnobError
from lerobot_gym.sim.knobs import TwinKnobs, resolve_knobs


class SignalKnobs:
    """The latency and noise knobs of one episode (module docstring).

    Args:
        knobs: the knobs (only latency and noise are used here).
    """

    def __init__(self, knobs: TwinKnobs) -> None:
        self.knobs = knobs
        self.observation_delay_frames = 0
        self.action_delay_substeps = 0
        self._noise_rng: np.random.Generator | None = None
        self._history: collections.deque[RobotState] = collections.deque()

    def draw(self, streams: dict[str, np.random.Generator], timestep_s: float) -> dict[str, Any]:
        """Draw this episode's latencies (and take the noise generator); returns what was drawn."""
        k, drawn = self.knobs, dict[str, Any]()
        low, high = k.observation_latency_frames
        if high > 0:
            self.observation_delay_frames = int(
                streams["observation_latency_frames"].integers(low, high + 1)
            )
            drawn["observation_latency_frames"] = self.observation_delay_frames
        low_ms, high_ms = k.action_latency_ms
        if high_ms > 0:
            ms = float(streams["action_latency_ms"].uniform(low_ms, high_ms))
            self.action_delay_substeps = round(ms / 1000.0 / timestep_s)
            drawn["action_latency_ms"] = self.action_delay_substeps * timestep_s * 1000.0
        if k.joint_noise_std_rad > 0:
            self._noise_rng = streams["joint_noise_std_rad"]
        self._history.clear()
        return drawn

    def observe(self, state: RobotState) -> RobotState:
        """The state the env sees now: ``observation_delay_frames`` old, with reading noise."""
        if self.observation_delay_frames:
            if not self._history:  # the first read of an episode: the arm was at rest before
                self._history.extend(_copy(state) for _ in range(self.observation_delay_frames))
            self._history.append(state)
            state = self._history.popleft()
        if self._noise_rng is not None:
            q = state.joint_positions_rad
            noise = self._noise_rng.normal(0.0, self.knobs.joint_noise_std_rad, size=q.shape)
            state = dataclasses.replace(state, joint_positions_rad=q + noise)
        return state


def _copy(state: RobotState) -> RobotState:
    """A copy that shares no array with ``state`` (observations must not alias each other)."""
    return dataclasses.replace(
        state,
        joint_positions_rad=state.joint_positions_rad.copy(),
        joint_velocities_rad_s=state.joint_velocities_rad_s.copy(),
        images={name: image.copy() for name, image in state.images.items()},
        extras=dict(state.extras),
    )


class CommandDelay:
    """Joint targets that reach the twin's ideal actuators ``delay`` physics steps late.

    Targets queue, so a delay longer than a control period works too; until the first delayed
    target arrives, the actuators hold what they had (the reset pose).
    """

    def __init__(self) -> None:
        self.delay_substeps = 0
        self._pending: collections.deque[tuple[int, np.ndarray]] = collections.deque()
        self._clock = 0

    def reset(self) -> None:
        """No target in flight (an episode starts)."""
        self._pending.clear()
        self._clock = 0

    def step(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        ctrl_index: Any,
        targets: np.ndarray,
        substeps: int,
    ) -> None:
        """Queue ``targets`` and simulate ``substeps`` physics steps, switching as they arrive."""
        self._pending.append((self._clock + self.delay_substeps, np.array(targets)))
        end = self._clock + substeps
        while self._clock < end:
            while self._pending and self._pending[0][0] <= self._clock:
                data.ctrl[ctrl_index] = self._pending.popleft()[1]
            n = end - self._clock
            if self._pending:
                n = min(n, max(1, self._pending[0][0] - self._clock))
            mujoco.mj_step(model, data, nstep=n)
            self._clock += n


def knobs_for_emulated_arm(value: Any) -> tuple[TwinKnobs | None, SignalKnobs | None]:
    """``knobs=`` for an emulated arm: the knobs (None when off) and its latency and noise.

    Raises:
        KnobError: ``action_latency_ms`` is on: an emulated arm's commands take the time its
            emulated bus takes, so this knob is the twin's (``backend="sim"``) only.
    """
    knobs = resolve_knobs(value)
    if knobs is None or not knobs.any:
        return None, None
    if "action_latency_ms" in knobs.enabled():
        raise KnobError(
            "knob action_latency_ms is simulated on backend='sim' only: an emulated arm's "
            "commands take the time its (emulated) servo bus takes; drop the knob here"
        )
    return knobs, SignalKnobs(knobs)
