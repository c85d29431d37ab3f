"""The episode loop of ``lerobot-gym record``: episodes, the reset phase and keyboard events.

:mod:`lerobot_gym.cli.record` parses the flags and builds the env stack (``TimeLimit``,
``ControlRate``, ``RecordEpisodes``, ``RerunViz``) and the action source; this module owns what
happens once everything is connected: what drives the env (:class:`ActionSource`, which
``record.py`` implements for policies and teleoperators, so that module imports this one and
never the reverse), and :func:`record_episodes`, which runs one episode after another
(each reset with seed ``seed + episode index``), maps the operator's events (the one
vocabulary, :data:`lerobot_gym.core.info.EVENT_KEYS`, from the keyboard or the teleoperator)
to how an episode ends (:data:`_OUTCOMES`), saves or discards it, and gives the operator the
reset phase between episodes. It returns a :class:`RecordSummary`. The design decisions are those of
:mod:`lerobot_gym.cli.record`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lerobot_gym.core.info import (
    FAILURE,
    RERECORD_EPISODE,
    SUCCESS,
    TERMINATE_EPISODE,
    check_events,
)

__all__ = ["ActionSource", "RecordSummary", "Session", "record_episodes"]


class ActionSource:
    """What drives the env: a policy or a teleoperator."""

    #: keeps driving the robot between episodes (a human resetting the scene).
    drives_reset_phase = False

    def start_episode(self, obs: Any, info: dict[str, Any]) -> None:
        """A new episode starts from ``obs``."""

    def action(self, obs: Any) -> np.ndarray:
        """The action to send now."""
        raise NotImplementedError

    def events(self) -> dict[str, bool]:
        """The operator's events from this source (a teleoperator's; a policy has none)."""
        return {}

    def close(self) -> None:
        """Release the device."""


@dataclass
class RecordSummary:
    """What a recording session did.

    Attributes:
        root: the dataset directory.
        repo_id: its Hub id.
        episodes: episodes saved by this session.
        frames: frames saved by this session.
        total_episodes: episodes in the dataset now (including those before a resume).
        total_frames: frames in the dataset now.
        rerecorded: episodes discarded and recorded again.
        stopped: the operator stopped the session (Esc) before ``num_episodes``.
        elapsed_s: wall-clock duration.
    """

    root: Path
    repo_id: str
    episodes: int
    frames: int
    total_episodes: int
    total_frames: int
    rerecorded: int
    stopped: bool
    elapsed_s: float


@dataclass
class Session:
    """Everything the episode loop needs, built by :func:`lerobot_gym.cli.record.record`."""

    env: Any  # the outermost wrapper
    recorder: Any  # the RecordEpisodes in the stack
    source: ActionSource
    keyboard: Any
    num_episodes: int
    episode_steps: int
    reset_steps: int
    fps: int
    seed: int | None
    repo_id: str


def record_episodes(s: Session) -> RecordSummary:
    """Record ``s.num_episodes`` episodes (or until the operator stops); see the module doc."""
    from tqdm.auto import tqdm

    rec = s.recorder
    start_episodes, start_frames = rec.num_episodes, rec.writer.num_frames
    started = time.perf_counter()
    rerecorded, stopped = 0, False
    while rec.num_episodes - start_episodes < s.num_episodes and not stopped:
        index = rec.num_episodes
        done = index - start_episodes
        stopped = _events(s)[TERMINATE_EPISODE]  # drop presses meant for the last episode
        if stopped:
            break
        seed = None if s.seed is None else s.seed + index
        frames_before = rec.writer.num_frames
        obs, info = s.env.reset(seed=seed)
        s.source.start_episode(obs, info)
        with tqdm(
            total=s.episode_steps,
            desc=f"episode {index} ({done + 1}/{s.num_episodes})",
            unit="step",
            file=sys.stderr,
            leave=False,
        ) as bar:
            outcome, obs = _run_episode(s, obs, bar)
        if outcome == "rerecord":
            rec.discard_episode()
            rerecorded += 1
            print(f"episode {index}: discarded, recording it again")
        else:
            rec.save_episode()  # nothing left to save when the env ended the episode
            if rec.num_episodes > index:
                print(f"episode {index}: saved, {rec.writer.num_frames - frames_before} frames")
        stopped = outcome == "stop"
        more = rec.num_episodes - start_episodes < s.num_episodes
        if not stopped and (more or outcome == "rerecord"):
            stopped = _reset_phase(s, obs)
    return RecordSummary(
        root=Path(rec.dataset_root),
        repo_id=s.repo_id,
        episodes=rec.num_episodes - start_episodes,
        frames=rec.writer.num_frames - start_frames,
        total_episodes=rec.num_episodes,
        total_frames=rec.writer.num_frames,
        rerecorded=rerecorded,
        stopped=stopped,
        elapsed_s=time.perf_counter() - started,
    )


#: The episode ends early on these events, the first present deciding how. ``success`` and
#: ``failure`` both end (and save) the episode; the label itself is ``HumanLabels``' business.
_OUTCOMES = (
    ("stop", TERMINATE_EPISODE),
    ("rerecord", RERECORD_EPISODE),
    ("exit_early", SUCCESS),
    ("exit_early", FAILURE),
)


def _events(s: Session) -> dict[str, bool]:
    """The operator's events this step: the keyboard's, or-ed with the teleoperator's."""
    events = check_events(s.keyboard.events(), "the keyboard")
    for key, value in s.source.events().items():
        events[key] = events.get(key, False) or value
    return events


def _run_episode(s: Session, obs: Any, bar: Any) -> tuple[str, Any]:
    """Step until the episode ends; ``("end" | "stop" | "rerecord" | "exit_early", obs)``."""
    for _ in range(s.episode_steps):
        events = _events(s)
        outcome = next((name for name, key in _OUTCOMES if events[key]), None)
        if outcome is not None:
            return outcome, obs
        obs, _, terminated, truncated, _ = s.env.step(s.source.action(obs))
        bar.update(1)
        if s.recorder.stop_requested:  # a teleoperator's "terminate" event
            return "stop", obs
        if terminated or truncated:
            break
    return "end", obs


def _reset_phase(s: Session, obs: Any) -> bool:
    """Give the operator ``reset_steps`` control periods to reset the scene; True: stop."""
    if s.reset_steps <= 0:
        return False
    print(f"reset the scene ({s.reset_steps / s.fps:g} s; right arrow when ready)")
    period_s = 1.0 / s.fps
    deadline = time.perf_counter()
    for _ in range(s.reset_steps):
        events = _events(s)
        if events[RERECORD_EPISODE]:
            print(
                "the episode is already saved; remove it later with `lerobot-gym dataset "
                "delete-episodes`"
            )
        if events[TERMINATE_EPISODE]:
            return True
        if events[SUCCESS] or events[FAILURE]:  # "ready": the key that ends an episode
            return False
        if s.source.drives_reset_phase:
            obs, *_ = s.env.step(s.source.action(obs))  # paced by ControlRate; not recorded
        else:
            deadline += period_s
            time.sleep(max(0.0, deadline - time.perf_counter()))
    return False
