"""Domain randomisation of a compiled scene: nominal values kept, restored, then redrawn.

:class:`SceneRandomizer` owns the scene-side knobs of :class:`~lerobot_gym.sim.knobs.TwinKnobs`
(masses, friction, damping, actuator gains, object size and colour, lighting, the table's
texture, camera poses). The :class:`~lerobot_gym.sim.scene.Scene` calls it: ``prepare_spec``
before compiling (the table texture needs a texture in the model), ``record_nominal`` after the
model is final (the servo model sets its gains after compiling, so the backend records again
then), and ``apply`` at every reset.

Decisions:

- ``apply`` first copies every nominal array back, then draws and writes only the knobs that
  are on, so randomisation never compounds and a knob that is off leaves its arrays untouched.
- Each knob draws from its own generator (:func:`lerobot_gym.sim.knobs.knob_streams`), a fixed
  number of values per element, so the values drawn do not depend on which other knobs are on.
- "Objects" are the bodies with a free joint: what a task places and the robot manipulates
  (the cube). Resizing one scales its geoms' sizes and offsets about the body's origin, and
  :meth:`lift_m` tells the scene how much higher to place it so it still rests on the table
  (for an object placed upright or turned about the vertical, as the tasks place them). Its mass
  stays (``mass_scale`` is its own knob).
- After masses change, ``mj_setConst`` recomputes the model's derived constants (inverse
  weights used by the constraint solver), as recompiling would, in a scratch ``MjData``: it
  poses the data it is given at ``qpos0``.
- A new texture is uploaded to every live renderer; renderers made later upload it themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import mujoco
import numpy as np

from lerobot_gym.errors import KnobError
from lerobot_gym.sim.knobs import TwinKnobs

TABLE_GEOM = "table"
TABLE_TEXTURE = "lerobot_gym_table_texture"
TABLE_MATERIAL = "lerobot_gym_table_material"
TEXTURE_SIZE = 128

#: model arrays each knob writes (and that are restored before every draw).
KNOB_FIELDS: dict[str, tuple[str, ...]] = {
    "mass_scale": ("body_mass", "body_inertia"),
    "friction_scale": ("geom_friction",),
    "damping_scale": ("dof_damping",),
    "actuator_gain_scale": ("actuator_gainprm", "actuator_biasprm"),
    "object_size_scale": ("geom_size", "geom_rbound", "geom_aabb", "geom_pos", "bvh_aabb"),
    "object_color_jitter": ("geom_rgba",),
    "light_scale": ("light_diffuse", "light_ambient", "light_specular"),  # and the headlight
    "table_texture": ("tex_data",),
    "camera_pos_jitter_m": ("cam_pos",),
    "camera_rot_jitter_deg": ("cam_quat",),
}


class SceneRandomizer:
    """Applies the scene knobs of :class:`TwinKnobs` to a compiled model (module docstring).

    Args:
        knobs: the knobs (only the scene-side ones are used here).
    """

    def __init__(self, knobs: TwinKnobs) -> None:
        self.knobs = knobs
        self.on = tuple(n for n in knobs.enabled() if n in KNOB_FIELDS)
        self._nominal: dict[str, np.ndarray] = {}
        self._lift_m: dict[str, float] = {}
        self._table_rgb = np.array([0.7, 0.6, 0.45])
        self._scratch: mujoco.MjData | None = None
        self._headlight: tuple[np.ndarray, ...] = ()

    # -- before compiling -------------------------------------------------------------------
    def prepare_spec(self, spec: mujoco.MjSpec) -> None:
        """Give the table a texture the knob can redraw (only with ``table_texture`` on)."""
        if "table_texture" not in self.on:
            return
        table = spec.geom(TABLE_GEOM)
        if table is None:
            raise KnobError(
                f"knob table_texture needs a geom named {TABLE_GEOM!r} in the twin's scene; "
                "turn the knob off or name the scene's table geom 'table'"
            )
        if table.material:
            material = spec.material(table.material)
            if material is not None:
                self._table_rgb = np.array(material.rgba[:3], dtype=np.float64)
        elif table.rgba is not None:
            self._table_rgb = np.array(table.rgba[:3], dtype=np.float64)
        spec.add_texture(
            name=TABLE_TEXTURE,
            type=mujoco.mjtTexture.mjTEXTURE_2D,
            builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT,
            width=TEXTURE_SIZE,
            height=TEXTURE_SIZE,
            rgb1=list(self._table_rgb),
            rgb2=list(self._table_rgb),
        )
        material = spec.add_material(name=TABLE_MATERIAL, rgba=[1, 1, 1, 1], texrepeat=[4, 4])
        material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = TABLE_TEXTURE
        table.material = TABLE_MATERIAL

    # -- nominal values ---------------------------------------------------------------------
    def record_nominal(self, model: mujoco.MjModel) -> None:
        """Remember the arrays the knobs that are on will write (the model as it is now)."""
        self._nominal = {
            field: getattr(model, field).copy() for knob in self.on for field in KNOB_FIELDS[knob]
        }
        # mj_setConst computes at qpos0 in the data it is given: never the live one (an emulated
        # arm would jump to its zero pose).
        self._scratch = mujoco.MjData(model) if "mass_scale" in self.on else None
        light = model.vis.headlight
        self._headlight = tuple(np.array(v) for v in (light.diffuse, light.ambient, light.specular))

    def restore(self, model: mujoco.MjModel) -> None:
        """Write the nominal values back."""
        for field, value in self._nominal.items():
            getattr(model, field)[...] = value
        if "light_scale" in self.on:
            light = model.vis.headlight
            light.diffuse, light.ambient, light.specular = self._headlight
        self._lift_m = {}

    # -- one draw ---------------------------------------------------------------------------
    def apply(
        self,
        model: mujoco.MjModel,
        streams: dict[str, np.random.Generator],
        *,
        dof_adr: np.ndarray,
        actuators: np.ndarray,
    ) -> dict[str, Any]:
        """Restore the nominal model, then draw and apply every scene knob that is on.

        Returns:
            What was drawn, knob -> values (JSON-safe), for logs and reports.
        """
        self.restore(model)
        k, drawn = self.knobs, dict[str, Any]()
        if "mass_scale" in self.on:
            bodies = np.flatnonzero((model.body_mass > 0) & (model.body_mocapid < 0))
            scale = streams["mass_scale"].uniform(*k.mass_scale, size=len(bodies))
            model.body_mass[bodies] *= scale
            model.body_inertia[bodies] *= scale[:, None]
            drawn["mass_scale"] = _named(model, mujoco.mjtObj.mjOBJ_BODY, bodies, scale)
        if "friction_scale" in self.on:
            scale = streams["friction_scale"].uniform(*k.friction_scale, size=model.ngeom)
            model.geom_friction[:, 0] *= scale
            drawn["friction_scale"] = scale.tolist()
        if "damping_scale" in self.on:
            scale = streams["damping_scale"].uniform(*k.damping_scale, size=len(dof_adr))
            model.dof_damping[dof_adr] *= scale
            drawn["damping_scale"] = scale.tolist()
        if "actuator_gain_scale" in self.on:
            scale = streams["actuator_gain_scale"].uniform(
                *k.actuator_gain_scale, size=len(actuators)
            )
            model.actuator_gainprm[actuators, 0] *= scale
            model.actuator_biasprm[actuators, 1:3] *= scale[:, None]
            drawn["actuator_gain_scale"] = scale.tolist()
        objects = _object_bodies(model)
        if "object_size_scale" in self.on:
            drawn["object_size_scale"] = self._resize_objects(
                model, objects, streams["object_size_scale"]
            )
        if "object_color_jitter" in self.on:
            j, out = k.object_color_jitter, {}
            for body in objects:
                offset = streams["object_color_jitter"].uniform(-j, j, size=3)
                geoms = np.flatnonzero(model.geom_bodyid == body)
                model.geom_rgba[geoms, :3] = np.clip(model.geom_rgba[geoms, :3] + offset, 0, 1)
                out[mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, body)] = offset.tolist()
            drawn["object_color_jitter"] = out
        if "light_scale" in self.on:
            # One factor per light, the last for the headlight (which lights every scene).
            scale = streams["light_scale"].uniform(*k.light_scale, size=model.nlight + 1)
            for field in KNOB_FIELDS["light_scale"]:
                getattr(model, field)[...] *= scale[:-1, None]
            headlight = model.vis.headlight
            headlight.diffuse, headlight.ambient, headlight.specular = (
                self._headlight[0] * scale[-1],
                self._headlight[1] * scale[-1],
                self._headlight[2] * scale[-1],
            )
            drawn["light_scale"] = scale.tolist()
        if "table_texture" in self.on:
            drawn["table_texture"] = self._draw_texture(model, streams["table_texture"])
        if "camera_pos_jitter_m" in self.on:
            j = k.camera_pos_jitter_m
            offset = streams["camera_pos_jitter_m"].uniform(-j, j, size=(model.ncam, 3))
            model.cam_pos[...] += offset
            drawn["camera_pos_jitter_m"] = offset.tolist()
        if "camera_rot_jitter_deg" in self.on:
            drawn["camera_rot_jitter_deg"] = _turn_cameras(
                model, streams["camera_rot_jitter_deg"], k.camera_rot_jitter_deg
            )
        if self._scratch is not None:
            mujoco.mj_setConst(model, self._scratch)
        return drawn

    def lift_m(self, body: str) -> float:
        """How much higher to place an object than its task says, after resizing it."""
        return self._lift_m.get(body, 0.0)

    def upload_textures(self, model: mujoco.MjModel, renderers: Iterable[Any]) -> None:
        """Send a redrawn table texture to live renderers (their GL contexts)."""
        if "table_texture" not in self.on:
            return
        tex = model.texture(TABLE_TEXTURE).id
        for renderer in renderers:
            _upload_texture(renderer, model, tex)

    # -- helpers ----------------------------------------------------------------------------
    def _resize_objects(
        self, model: mujoco.MjModel, objects: np.ndarray, rng: np.random.Generator
    ) -> dict[str, float]:
        low, high = self.knobs.object_size_scale
        out = {}
        for body in objects:
            s = float(rng.uniform(low, high))
            geoms = np.flatnonzero(model.geom_bodyid == body)
            # Depth of the object's lowest point below its origin (geoms upright in the body).
            bottom = float(
                np.max(
                    model.geom_aabb[geoms, 5] - model.geom_aabb[geoms, 2] - model.geom_pos[geoms, 2]
                )
            )
            model.geom_size[geoms] *= s
            model.geom_rbound[geoms] *= s
            model.geom_aabb[geoms] *= s
            model.geom_pos[geoms] *= s
            # The broadphase culls with the body's bounding-volume tree: resize it too, or
            # contacts of a grown object are found only once it is deep inside the table.
            first = int(model.body_bvhadr[body])
            if first >= 0:
                model.bvh_aabb[first : first + int(model.body_bvhnum[body])] *= s
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, body)
            self._lift_m[name] = (s - 1.0) * bottom
            out[name] = s
        return out

    def _draw_texture(self, model: mujoco.MjModel, rng: np.random.Generator) -> dict[str, Any]:
        """A new table texture: two colours near the table's, mixed by a random pattern."""
        tex = model.texture(TABLE_TEXTURE)
        height, width = int(tex.height[0]), int(tex.width[0])
        base = np.clip(self._table_rgb + rng.uniform(-0.2, 0.2, 3), 0, 1)
        other = base * rng.uniform(0.4, 0.9)
        pattern = int(rng.integers(3))  # 0 checker, 1 stripes, 2 blotches
        cells = int(rng.integers(2, 17))
        angle = float(rng.uniform(0, np.pi))
        noise = rng.uniform(0, 1, (cells, cells))
        y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
        if pattern == 0:
            mix = ((np.floor(x * cells) + np.floor(y * cells)) % 2).astype(np.float64)
        elif pattern == 1:
            mix = 0.5 + 0.5 * np.sin(2 * np.pi * cells * (x * np.cos(angle) + y * np.sin(angle)))
        else:
            mix = noise[(y * cells).astype(int) % cells, (x * cells).astype(int) % cells]
        image = base * (1 - mix[..., None]) + other * mix[..., None]
        adr, size = int(model.tex_adr[tex.id]), height * width * 3
        model.tex_data[adr : adr + size] = np.round(255 * image).astype(np.uint8).reshape(-1)
        return {"pattern": ["checker", "stripes", "blotches"][pattern], "cells": cells}


def _upload_texture(renderer: Any, model: mujoco.MjModel, tex: int) -> None:
    """Upload texture ``tex`` into one renderer's GL context.

    A renderer may offer ``upload_texture(model, tex)``; otherwise its contexts are private
    attributes: ``mujoco.Renderer`` (``_gl_context``, ``_mjr_context``) or the tiled renderer
    (``_gl``, ``_con``). Either way this is what MuJoCo's own viewer does: make the context
    current, then ``mjr_uploadTexture``.
    """
    upload = getattr(renderer, "upload_texture", None)
    if callable(upload):
        upload(model, tex)
        return
    for gl_name, con_name in (("_gl_context", "_mjr_context"), ("_gl", "_con")):
        if hasattr(renderer, con_name):
            gl, con = getattr(renderer, gl_name, None), getattr(renderer, con_name)
            if con is None:
                return  # closed
            if gl is not None:
                gl.make_current()
            mujoco.mjr_uploadTexture(model, con, tex)
            return
    raise KnobError(
        f"knob table_texture cannot reach the GL context of a {type(renderer).__name__}; "
        "give it an upload_texture(model, texture_id) method"
    )


def _object_bodies(model: mujoco.MjModel) -> np.ndarray:
    """Bodies with a free joint (the task's movable objects)."""
    free = model.jnt_type == mujoco.mjtJoint.mjJNT_FREE
    return np.unique(model.jnt_bodyid[free])


def _named(model: mujoco.MjModel, kind: Any, ids: np.ndarray, values: np.ndarray) -> dict:
    return {
        mujoco.mj_id2name(model, kind, int(i)) or str(int(i)): float(v)
        for i, v in zip(ids, values, strict=True)
    }


def _turn_cameras(model: mujoco.MjModel, rng: np.random.Generator, max_deg: float) -> list:
    """Turn each camera about a random axis (its own frame) by up to ``max_deg``."""
    out = []
    for cam in range(model.ncam):
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        angle = np.deg2rad(rng.uniform(0.0, max_deg))
        turn = np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])
        quat = np.empty(4)
        mujoco.mju_mulQuat(quat, model.cam_quat[cam], turn)
        model.cam_quat[cam] = quat / np.linalg.norm(quat)
        out.append({"axis": axis.tolist(), "angle_deg": float(np.rad2deg(angle))})
    return out
