"""Twin knobs: latency, joint-reading noise and domain randomisation, as one typed config.

``gym.make(id, knobs=TwinKnobs(mass_scale=(0.8, 1.2), observation_latency_frames=(1, 3)))``
(or a plain mapping of the same fields, as the CLI passes ``--env.knobs='{...}'``) turns knobs on
for the twin (``backend="sim"``) and for the emulated arm's twin (``backend="emulated"``). Every
knob is off by default, and :class:`TwinKnobs` with every field at its default changes nothing.

The knobs, their units, and what one draw changes (a draw is per episode, at ``reset``):

========================== =========== ============================================================
knob                        unit        what it changes
========================== =========== ============================================================
observation_latency_frames  frames      the whole observation (joints and images) is that many
                                        control periods old; integer range ``(low, high)``
action_latency_ms           ms          a command takes effect that much later (quantised to the
                                        physics timestep; with the servo model, on top of its bus
                                        delay); range ``(low, high)``
joint_noise_std_rad         rad         Gaussian noise on every joint reading, fresh each read
mass_scale                  factor      each body's mass and inertia (robot links and objects),
                                        one factor per body drawn from ``(low, high)``
friction_scale              factor      each geom's sliding friction, one factor per geom
damping_scale               factor      each robot joint's damping, one factor per joint
actuator_gain_scale         factor      each robot actuator's stiffness and damping gains (one
                                        factor per actuator; force limits unchanged)
object_size_scale           factor      each object's geoms (bodies with a free joint), one
                                        factor per object; placed so it still rests on the table
object_color_jitter         RGB 0..1    each object's colour, every channel moved uniformly by at
                                        most this much (clipped to 0..1)
light_scale                 factor      each light's diffuse, ambient and specular colour, one
                                        factor per light and one for the headlight
table_texture               on/off      a procedural texture on the ``table`` geom, redrawn each
                                        episode (pattern, colours, scale)
camera_pos_jitter_m         m           each camera moved by up to this much along each axis
camera_rot_jitter_deg       degrees     each camera turned by up to this angle about a random axis
========================== =========== ============================================================

Decisions:

- One frozen dataclass, validated on construction: a value outside its valid range
  (:data:`VALID_RANGES`) or of the wrong type is a :class:`~lerobot_gym.errors.KnobError` that
  names the knob, its unit and range, and the fix.
- All randomness comes from the env's ``np_random``: at ``reset`` the backend takes one child
  generator with ``np_random.spawn`` (which does not advance the parent's stream, so turning knobs
  on never changes the task's reset sample for a seed) and gives every knob its own stream from
  it, in a fixed order. Turning one knob on therefore never changes what another one draws, and
  the same seed gives the same randomisation.
- The scene restores its nominal values before each draw (:mod:`lerobot_gym.sim.randomize`), so
  randomisation never compounds across episodes.
- Latency and noise act in the backend (between the physics and the env), the other knobs in the
  :class:`~lerobot_gym.sim.scene.Scene`, which the emulators' twin shares.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lerobot_gym.errors import KnobError

__all__ = ["KNOB_STREAMS", "VALID_RANGES", "TwinKnobs", "knob_streams", "resolve_knobs"]

#: knob -> (unit, lowest valid value, highest valid value).
VALID_RANGES: dict[str, tuple[str, float, float]] = {
    "observation_latency_frames": ("frames", 0, 30),
    "action_latency_ms": ("ms", 0.0, 500.0),
    "joint_noise_std_rad": ("rad", 0.0, 0.1),
    "mass_scale": ("factor", 0.1, 10.0),
    "friction_scale": ("factor", 0.1, 10.0),
    "damping_scale": ("factor", 0.1, 10.0),
    "actuator_gain_scale": ("factor", 0.1, 10.0),
    "object_size_scale": ("factor", 0.5, 2.0),
    "object_color_jitter": ("RGB 0..1", 0.0, 1.0),
    "light_scale": ("factor", 0.0, 5.0),
    "camera_pos_jitter_m": ("m", 0.0, 0.1),
    "camera_rot_jitter_deg": ("degrees", 0.0, 20.0),
}
_RANGE_KNOBS = (
    "observation_latency_frames",
    "action_latency_ms",
    "mass_scale",
    "friction_scale",
    "damping_scale",
    "actuator_gain_scale",
    "object_size_scale",
    "light_scale",
)
#: Every knob's random stream, in the order they are spawned (never reorder: seeds would change).
KNOB_STREAMS = (
    "observation_latency_frames",
    "action_latency_ms",
    "joint_noise_std_rad",
    "mass_scale",
    "friction_scale",
    "damping_scale",
    "actuator_gain_scale",
    "object_size_scale",
    "object_color_jitter",
    "light_scale",
    "table_texture",
    "camera_pos_jitter_m",
    "camera_rot_jitter_deg",
)


@dataclasses.dataclass(frozen=True)
class TwinKnobs:
    """The twin's latency, noise and domain randomisation (module docstring: units, meaning).

    Ranges are ``(low, high)``, drawn uniformly per episode; ``(1.0, 1.0)`` (or ``(0, 0)``) is off.

    Example:
        >>> import gymnasium as gym
        >>> import lerobot_gym
        >>> knobs = TwinKnobs(mass_scale=(0.8, 1.2), observation_latency_frames=(1, 2))
        >>> knobs.enabled()
        ('observation_latency_frames', 'mass_scale')
        >>> env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state", knobs=knobs)
        >>> _ = env.reset(seed=0)
        >>> drawn = env.unwrapped.backend.variation
        >>> 0.8 <= drawn["mass_scale"]["cube"] <= 1.2, drawn["observation_latency_frames"]
        (True, 1)
        >>> env.close()
        >>> TwinKnobs(mass_scale=(0.0, 1.0))
        Traceback (most recent call last):
        lerobot_gym.errors.KnobError: knob mass_scale (unit: factor; valid values 0.1 to 10): ...
    """

    observation_latency_frames: tuple[int, int] = (0, 0)
    action_latency_ms: tuple[float, float] = (0.0, 0.0)
    joint_noise_std_rad: float = 0.0
    mass_scale: tuple[float, float] = (1.0, 1.0)
    friction_scale: tuple[float, float] = (1.0, 1.0)
    damping_scale: tuple[float, float] = (1.0, 1.0)
    actuator_gain_scale: tuple[float, float] = (1.0, 1.0)
    object_size_scale: tuple[float, float] = (1.0, 1.0)
    object_color_jitter: float = 0.0
    light_scale: tuple[float, float] = (1.0, 1.0)
    table_texture: bool = False
    camera_pos_jitter_m: float = 0.0
    camera_rot_jitter_deg: float = 0.0

    def __post_init__(self) -> None:
        for name in _RANGE_KNOBS:
            object.__setattr__(self, name, _check_range_knob(name, getattr(self, name)))
        for name in set(VALID_RANGES) - set(_RANGE_KNOBS):
            object.__setattr__(self, name, _check_scalar_knob(name, getattr(self, name)))
        if not isinstance(self.table_texture, (bool, np.bool_)):
            raise KnobError(f"knob table_texture must be true or false; got {self.table_texture!r}")

    # -- which parts are on ------------------------------------------------------------------
    def enabled(self) -> tuple[str, ...]:
        """The knobs that are on (differ from their off value), in :data:`KNOB_STREAMS` order."""
        off = {f.name: f.default for f in dataclasses.fields(TwinKnobs)}
        return tuple(n for n in KNOB_STREAMS if getattr(self, n) != off[n])

    @property
    def any(self) -> bool:
        """Whether any knob is on."""
        return bool(self.enabled())

    @property
    def scene_knobs_on(self) -> bool:
        """Whether a knob that changes the scene's model (not latency or noise) is on."""
        signal = {"observation_latency_frames", "action_latency_ms", "joint_noise_std_rad"}
        return any(n not in signal for n in self.enabled())

    def to_json(self) -> dict[str, Any]:
        """The knobs as a JSON-safe mapping (``from_mapping`` reads it back)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TwinKnobs:
        """Build from a mapping of field names (lists are accepted for ranges)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise KnobError(
                f"unknown knob(s) {unknown}; the twin's knobs are {sorted(names)} "
                "(see lerobot_gym.sim.knobs for units and ranges)"
            )
        converted: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
        }
        return cls(**converted)


def resolve_knobs(value: TwinKnobs | Mapping[str, Any] | None) -> TwinKnobs | None:
    """``knobs=`` as given to ``gym.make``: a :class:`TwinKnobs`, a mapping, or None (off)."""
    if value is None or isinstance(value, TwinKnobs):
        return value
    if isinstance(value, Mapping):
        return TwinKnobs.from_mapping(value)
    raise KnobError(
        f"knobs must be a lerobot_gym.sim.knobs.TwinKnobs or a mapping of its fields; "
        f"got {type(value).__name__}"
    )


def knob_streams(rng: np.random.Generator) -> dict[str, np.random.Generator]:
    """One generator per knob, derived from the env's ``np_random`` without advancing it.

    ``spawn`` only counts children on the generator's seed sequence; a generator built without
    one (from a raw state) falls back to one draw from its stream.
    """
    try:
        (episode,) = rng.spawn(1)
    except (TypeError, ValueError):
        episode = np.random.default_rng(int(rng.integers(2**63)))
    return dict(zip(KNOB_STREAMS, episode.spawn(len(KNOB_STREAMS)), strict=True))


def _describe(name: str) -> str:
    unit, low, high = VALID_RANGES[name]
    return f"knob {name} (unit: {unit}; valid values {low:g} to {high:g})"


def _check_number(name: str, value: Any, *, integer: bool) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value) == int(value)
    if not ok or not math.isfinite(float(value)):
        kind = "a whole number" if integer else "a number"
        raise KnobError(f"{_describe(name)} must be {kind}; got {value!r}")
    _, low, high = VALID_RANGES[name]
    if not low <= float(value) <= high:
        raise KnobError(
            f"{_describe(name)}: {value!r} is outside the valid range; pass a value from "
            f"{low:g} to {high:g}"
        )
    return int(value) if integer else float(value)


def _check_range_knob(name: str, value: Any) -> tuple[Any, Any]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise KnobError(
            f"{_describe(name)} must be a range (low, high), e.g. {name}=(0.8, 1.2); got {value!r}"
        )
    integer = name == "observation_latency_frames"
    low, high = (_check_number(name, v, integer=integer) for v in value)
    if low > high:
        raise KnobError(f"{_describe(name)}: low {low!r} exceeds high {high!r}; swap them")
    return (low, high)


def _check_scalar_knob(name: str, value: Any) -> float:
    return _check_number(name, value, integer=False)
