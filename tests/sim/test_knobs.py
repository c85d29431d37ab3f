"""Twin knobs: each changes what it says and nothing else, is seeded, never compounds, and
rejects values outside its range with a KnobError that says what to do.

"Nothing else" is checked against an env without knobs on the same seed: every model array
another knob writes, the task's reset sample (the cube's pose), the first observation and, for
the knobs that act on the model, the latency-free signal path. Same seed, same draw.
"""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym
from lerobot_gym.errors import ConfigError, KnobError
from lerobot_gym.sim.knobs import VALID_RANGES, TwinKnobs
from lerobot_gym.sim.randomize import KNOB_FIELDS, TABLE_TEXTURE

ENV_ID = "lerobot_gym/SO101-PickCube-v0"

#: knob -> a setting that turns it on (ranges kept narrow enough to check bounds).
SCENE_SETTINGS = {
    "mass_scale": (0.5, 1.5),
    "friction_scale": (0.5, 2.0),
    "damping_scale": (0.5, 2.0),
    "actuator_gain_scale": (0.5, 2.0),
    "object_size_scale": (0.7, 1.4),
    "object_color_jitter": 0.3,
    "light_scale": (0.2, 2.0),
    "table_texture": True,
    "camera_pos_jitter_m": 0.03,
    "camera_rot_jitter_deg": 8.0,
}
#: Arrays compared for "nothing else" (every knob's, plus a few no knob writes).
WATCHED = [
    *sorted({f for fields in KNOB_FIELDS.values() for f in fields} - {"tex_data"}),
    "body_pos",
    "jnt_range",
    "actuator_forcerange",
    "geom_matid",
]


def _env(knobs=None, **kwargs):
    kwargs.setdefault("obs_type", "state")
    return gym.make(ENV_ID, knobs=knobs, **kwargs)


def _model(env):
    return env.unwrapped.backend.scene.model


def _table_texture(env) -> np.ndarray:
    model = _model(env)
    tex = model.texture(TABLE_TEXTURE)
    adr, size = int(model.tex_adr[tex.id]), int(tex.height[0] * tex.width[0] * 3)
    return model.tex_data[adr : adr + size].copy()


def _changed(env, nominal, knob):
    """Arrays that differ from the nominal env's, as a set of field names."""
    a, b = _model(env), _model(nominal)
    out = set()
    for field in WATCHED:
        if knob == "table_texture" and field == "geom_matid":
            continue  # the textured table has its own material: compared below
        if not np.array_equal(getattr(a, field), getattr(b, field)):
            out.add(field)
    return out


@pytest.mark.parametrize("knob", sorted(SCENE_SETTINGS))
def test_a_scene_knob_changes_its_arrays_and_nothing_else(knob):
    env, nominal = _env(TwinKnobs(**{knob: SCENE_SETTINGS[knob]})), _env()
    try:
        obs, info = env.reset(seed=3)
        obs0, info0 = nominal.reset(seed=3)
        changed = _changed(env, nominal, knob)
        expected = set(KNOB_FIELDS[knob]) - {"tex_data"}
        # Arrays of zeros stay zero when scaled (the scene's light has no ambient term).
        assert changed <= expected, f"{knob} changed {changed}, expected {expected}"
        assert changed or knob == "table_texture"  # (its texture is checked below)
        headlight = _model(env).vis.headlight.diffuse, _model(nominal).vis.headlight.diffuse
        assert (knob == "light_scale") == (not np.array_equal(*headlight))
        if knob == "table_texture":
            texture = _table_texture(env)
            assert len(np.unique(texture.reshape(-1, 3), axis=0)) > 1  # a pattern, not flat
        # The task's draw and the arm's reading are untouched by the knob.
        np.testing.assert_array_equal(obs["agent_pos"], obs0["agent_pos"])
        cube, cube0 = info["facts"]["cube_pos"], info0["facts"]["cube_pos"]
        np.testing.assert_array_equal(cube[:2], cube0[:2])
        if knob != "object_size_scale":
            np.testing.assert_array_equal(cube, cube0)
        assert set(env.unwrapped.backend.variation) == {knob}
    finally:
        env.close()
        nominal.close()


@pytest.mark.parametrize("knob", sorted(SCENE_SETTINGS))
def test_a_scene_knob_is_seeded_and_never_compounds(knob):
    knobs = TwinKnobs(**{knob: SCENE_SETTINGS[knob]})
    first, second, nominal = _env(knobs), _env(knobs), _env()
    fields = [f for f in KNOB_FIELDS[knob] if f != "tex_data"]
    try:
        nominal.reset(seed=0)
        snapshots = []
        for seed in (5, 6, 5):
            first.reset(seed=seed)
            snapshots.append({f: getattr(_model(first), f).copy() for f in fields})
            if knob == "table_texture":
                snapshots[-1]["tex"] = _table_texture(first)
            _check_within_range(knob, knobs, _model(first), _model(nominal))
        second.reset(seed=5)
        again = {f: getattr(_model(second), f) for f in fields}
        if knob == "table_texture":
            again["tex"] = _table_texture(second)
        for field, value in snapshots[0].items():
            np.testing.assert_array_equal(value, again[field])  # same seed, other env
            np.testing.assert_array_equal(value, snapshots[2][field])  # same seed, later
        assert any(not np.array_equal(snapshots[0][f], snapshots[1][f]) for f in snapshots[0])
    finally:
        for env in (first, second, nominal):
            env.close()


def _check_within_range(knob, knobs, model, nominal):
    """Each drawn value relative to nominal lies in the knob's range: nothing compounds."""
    value = getattr(knobs, knob)
    if knob == "mass_scale":
        has_mass = nominal.body_mass > 0
        ratio = model.body_mass[has_mass] / nominal.body_mass[has_mass]
    elif knob == "friction_scale":
        ratio = model.geom_friction[:, 0] / nominal.geom_friction[:, 0]
    elif knob == "damping_scale":
        has = nominal.dof_damping > 0
        ratio = model.dof_damping[has] / nominal.dof_damping[has]
    elif knob == "actuator_gain_scale":
        ratio = model.actuator_gainprm[:, 0] / nominal.actuator_gainprm[:, 0]
    elif knob == "object_size_scale":
        cube = model.geom("cube").id
        ratio = model.geom_size[cube] / nominal.geom_size[cube]
    elif knob == "light_scale":
        has = nominal.light_diffuse > 0
        ratio = model.light_diffuse[has] / nominal.light_diffuse[has]
    elif knob == "object_color_jitter":
        cube = model.geom("cube").id
        step = np.abs(model.geom_rgba[cube, :3] - nominal.geom_rgba[cube, :3])
        assert step.max() <= value + 1e-12
        return
    elif knob == "camera_pos_jitter_m":
        assert np.abs(model.cam_pos - nominal.cam_pos).max() <= value + 1e-12
        return
    elif knob == "camera_rot_jitter_deg":
        dots = np.abs(np.sum(model.cam_quat * nominal.cam_quat, axis=1)).clip(0, 1)
        assert np.rad2deg(2 * np.arccos(dots)).max() <= value + 1e-6
        return
    else:
        return
    low, high = value
    assert ratio.min() >= low - 1e-9 and ratio.max() <= high + 1e-9


def test_one_knob_draws_the_same_whichever_other_knobs_are_on():
    alone = _env(TwinKnobs(mass_scale=(0.5, 1.5)))
    together = _env(
        TwinKnobs(mass_scale=(0.5, 1.5), friction_scale=(0.5, 2.0), light_scale=(0.5, 1.5))
    )
    try:
        alone.reset(seed=9)
        together.reset(seed=9)
        np.testing.assert_array_equal(_model(alone).body_mass, _model(together).body_mass)
    finally:
        alone.close()
        together.close()


def test_a_resized_cube_rests_on_the_table():
    env = _env(TwinKnobs(object_size_scale=(1.5, 1.5)))
    try:
        _, info = env.reset(seed=0)
        half = _model(env).geom_size[_model(env).geom("cube").id, 2]
        assert info["facts"]["cube_pos"][2] == pytest.approx(half, abs=1e-6)
        for _ in range(10):
            _, _, _, _, info = env.step(_hold(env))
        assert info["facts"]["cube_pos"][2] == pytest.approx(half, abs=1e-3)  # no jump, no sink
    finally:
        env.close()


def _hold(env):
    return env.unwrapped.robot.to_user(env.unwrapped.joint_targets_rad).astype(np.float32)


def _rollout(env, seed, n=12, joints=slice(None)):
    """agent_pos and the gripper's position over ``n`` steps of a fixed action sequence."""
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(0)
    robot = env.unwrapped.robot
    start = robot.to_user(robot.home_rad)  # not the reading: that is what noise changes
    positions, facts = [obs["agent_pos"].copy()], [info["facts"]["tcp_pos"].copy()]
    for _ in range(n):
        action = start.copy()
        action[joints] += rng.uniform(-15, 15, start.shape)[joints]
        low, high = env.action_space.low, env.action_space.high
        obs, _, _, _, info = env.step(np.clip(action, low, high).astype(np.float32))
        positions.append(obs["agent_pos"].copy())
        facts.append(info["facts"]["tcp_pos"].copy())
    return np.array(positions), np.array(facts)


def test_observation_latency_delays_the_observation_not_the_physics():
    late, nominal = _env(TwinKnobs(observation_latency_frames=(2, 2))), _env()
    try:
        pos, facts = _rollout(late, seed=1)
        pos0, facts0 = _rollout(nominal, seed=1)
        np.testing.assert_array_equal(facts, facts0)  # the arm moved the same
        np.testing.assert_array_equal(pos[2:], pos0[:-2])  # seen two frames late
        np.testing.assert_array_equal(pos[:2], np.repeat(pos0[:1], 2, axis=0))
        assert late.unwrapped.backend.variation == {"observation_latency_frames": 2}
        assert _model(late).body_mass.tolist() == _model(nominal).body_mass.tolist()
    finally:
        late.close()
        nominal.close()


@pytest.mark.parametrize("actuator", ["ideal", "servo"])
def test_action_latency_delays_the_commands(actuator):
    # 100 ms at 30 fps is exactly three control periods (48 physics steps of 1/480 s).
    late = _env(TwinKnobs(action_latency_ms=(100.0, 100.0)), actuator=actuator)
    nominal = _env(actuator=actuator)
    try:
        # Only the shoulder pan moves (about the vertical: gravity does not pull it), so the
        # other joints hold the same goals in both envs.
        pos, _ = _rollout(late, seed=2, joints=slice(0, 1))
        pos0, _ = _rollout(nominal, seed=2, joints=slice(0, 1))
        assert late.unwrapped.backend.variation["action_latency_ms"] == pytest.approx(100.0)
        # The delayed arm does what the prompt one did, three frames later.
        np.testing.assert_allclose(pos[3:, 0], pos0[:-3, 0], atol=0.2)
        np.testing.assert_allclose(pos[:3, 0], pos0[0, 0], atol=0.2)
        assert np.abs(pos[4:, 0] - pos0[4:, 0]).max() > 1.0  # and it is really late
    finally:
        late.close()
        nominal.close()


def test_joint_noise_is_gaussian_on_the_reading_only_and_seeded():
    std = 0.01
    noisy, noisy2, nominal = (_env(TwinKnobs(joint_noise_std_rad=std)) for _ in range(3))
    nominal.close()
    nominal = _env()
    try:
        pos, facts = _rollout(noisy, seed=4, n=40)
        pos2, _ = _rollout(noisy2, seed=4, n=40)
        pos0, facts0 = _rollout(nominal, seed=4, n=40)
        np.testing.assert_array_equal(facts, facts0)  # the noise never reaches the physics
        np.testing.assert_array_equal(pos, pos2)  # same seed, same noise
        error_deg = (pos - pos0)[:, :5]  # arm joints, degrees
        assert np.std(error_deg) == pytest.approx(np.rad2deg(std), rel=0.25)
        assert abs(np.mean(error_deg)) < 0.2
        pos3, _ = _rollout(noisy2, seed=5, n=40)
        assert not np.array_equal(pos3, pos)
    finally:
        for env in (noisy, noisy2, nominal):
            env.close()


def test_knobs_are_off_by_default():
    plain, defaults = _env(), _env(TwinKnobs())
    try:
        pos, facts = _rollout(plain, seed=8)
        pos0, facts0 = _rollout(defaults, seed=8)
        np.testing.assert_array_equal(pos, pos0)
        np.testing.assert_array_equal(facts, facts0)
        assert TwinKnobs().enabled() == ()
        assert defaults.unwrapped.backend.knobs is None
        assert defaults.unwrapped.backend.scene.randomizer is None
    finally:
        plain.close()
        defaults.close()


def test_turning_knobs_on_leaves_the_task_stream_alone():
    """Later episodes' reset samples do not shift when knobs draw (spawned, not consumed)."""
    knobbed, plain = _env(TwinKnobs(mass_scale=(0.5, 2.0))), _env()
    try:
        knobbed.reset(seed=11)
        plain.reset(seed=11)
        for _ in range(3):
            _, info = knobbed.reset()
            _, info0 = plain.reset()
            np.testing.assert_array_equal(info["facts"]["cube_pos"], info0["facts"]["cube_pos"])
    finally:
        knobbed.close()
        plain.close()


def test_knobs_as_a_mapping_from_the_command_line():
    env = _env({"mass_scale": [0.9, 1.1], "joint_noise_std_rad": 0.001})
    try:
        assert env.unwrapped.backend.knobs == TwinKnobs(
            mass_scale=(0.9, 1.1), joint_noise_std_rad=0.001
        )
        assert TwinKnobs.from_mapping(env.unwrapped.backend.knobs.to_json()) == (
            env.unwrapped.backend.knobs
        )
    finally:
        env.close()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("mass_scale", (0.0, 1.0), "outside the valid range"),
        ("mass_scale", (1.5, 1.2), "swap them"),
        ("mass_scale", 1.2, "must be a range (low, high)"),
        ("friction_scale", (1.0, 100.0), "outside the valid range"),
        ("damping_scale", (float("nan"), 1.0), "must be a number"),
        ("actuator_gain_scale", (1.0, 11.0), "outside the valid range"),
        ("object_size_scale", (0.2, 1.0), "outside the valid range"),
        ("object_color_jitter", 1.5, "outside the valid range"),
        ("light_scale", (-1.0, 1.0), "outside the valid range"),
        ("camera_pos_jitter_m", 0.5, "outside the valid range"),
        ("camera_rot_jitter_deg", 45.0, "outside the valid range"),
        ("observation_latency_frames", (0.5, 1), "must be a whole number"),
        ("observation_latency_frames", (0, 100), "outside the valid range"),
        ("action_latency_ms", (0.0, 1000.0), "outside the valid range"),
        ("joint_noise_std_rad", -0.1, "outside the valid range"),
        ("table_texture", "yes", "true or false"),
    ],
)
def test_a_knob_outside_its_range_is_a_typed_error(field, value, says):
    with pytest.raises(KnobError, match=field) as raised:
        TwinKnobs(**{field: value})
    assert says in str(raised.value)
    if field in VALID_RANGES:
        assert VALID_RANGES[field][0] in str(raised.value)  # the unit
    assert isinstance(raised.value, ConfigError)


def test_unknown_knobs_and_wrong_types_are_typed_errors():
    with pytest.raises(KnobError, match="unknown knob"):
        _env({"mass": (0.9, 1.1)})
    with pytest.raises(KnobError, match="TwinKnobs or a mapping"):
        _env(0.5)


def test_knobs_are_frozen_and_every_field_documented():
    from lerobot_gym.sim import knobs as module

    with pytest.raises(dataclasses.FrozenInstanceError):
        TwinKnobs().mass_scale = (1.0, 2.0)  # type: ignore[misc]
    for field in dataclasses.fields(TwinKnobs):
        assert field.name in module.__doc__


def test_the_emulated_arms_twin_gets_the_same_randomisation():
    knobs = TwinKnobs(mass_scale=(0.5, 1.5), object_color_jitter=0.3, light_scale=(0.5, 1.5))
    pixels = {"obs_type": "pixels_agent_pos", "image_size": (96, 128), "cameras": ("front",)}
    sim = gym.make(ENV_ID, knobs=knobs, **pixels)
    emulated = gym.make(
        ENV_ID, backend="emulated", lockstep=True, bus_timeout_ms=500.0, knobs=knobs, **pixels
    )
    try:
        emulated.reset(seed=21)
        sim.reset(seed=21)
        for field in ("body_mass", "geom_rgba", "light_diffuse"):
            np.testing.assert_array_equal(
                getattr(emulated.unwrapped.backend.scene.model, field), getattr(_model(sim), field)
            )
        assert emulated.unwrapped.backend.variation == sim.unwrapped.backend.variation
    finally:
        sim.close()
        emulated.close()


def test_the_emulated_arm_refuses_simulated_action_latency():
    with pytest.raises(KnobError, match="backend='sim' only"):
        gym.make(ENV_ID, backend="emulated", knobs=TwinKnobs(action_latency_ms=(10.0, 20.0)))


PIXELS = {"obs_type": "pixels_agent_pos", "image_size": (48, 64), "cameras": ("front",)}


def test_the_table_texture_reaches_a_live_renderer_each_episode():
    env, nominal = _env(TwinKnobs(table_texture=True), **PIXELS), _env(**PIXELS)
    try:
        first = env.reset(seed=1)[0]["pixels"]["front"].copy()
        second = env.reset(seed=2)[0]["pixels"]["front"].copy()
        again = env.reset(seed=1)[0]["pixels"]["front"]
        plain = nominal.reset(seed=1)[0]["pixels"]["front"]
        table = (slice(38, 48), slice(0, 12))  # the front view's lower left corner: table only
        assert np.array_equal(plain[table], nominal.reset(seed=2)[0]["pixels"]["front"][table])
        assert not np.array_equal(first[table], second[table])  # redrawn and uploaded
        np.testing.assert_array_equal(first, again)  # same seed, same texture, same image
        assert not np.array_equal(first[table], plain[table])
    finally:
        env.close()
        nominal.close()


@pytest.mark.parametrize(
    ("knob", "visible"),
    [
        ("light_scale", True),
        ("camera_pos_jitter_m", True),
        ("object_color_jitter", True),
        ("mass_scale", False),
        ("friction_scale", False),
        ("damping_scale", False),
        ("actuator_gain_scale", False),
    ],
)
def test_only_visual_knobs_change_the_first_image(knob, visible):
    env, nominal = _env(TwinKnobs(**{knob: SCENE_SETTINGS[knob]}), **PIXELS), _env(**PIXELS)
    try:
        image = env.reset(seed=4)[0]["pixels"]["front"]
        plain = nominal.reset(seed=4)[0]["pixels"]["front"]
        assert (not np.array_equal(image, plain)) == visible
    finally:
        env.close()
        nominal.close()


def test_latency_draws_are_seeded_and_leave_the_model_alone():
    knobs = TwinKnobs(observation_latency_frames=(0, 5), action_latency_ms=(0.0, 150.0))
    first, second, nominal = _env(knobs), _env(knobs), _env()
    try:
        obs0, _ = nominal.reset(seed=0)
        draws = []
        for seed in range(6):
            first.reset(seed=seed)
            second.reset(seed=seed)
            draws.append(first.unwrapped.backend.variation)
            assert second.unwrapped.backend.variation == draws[-1]  # same seed, same latency
            frames = draws[-1]["observation_latency_frames"]
            assert 0 <= frames <= 5 and 0.0 <= draws[-1]["action_latency_ms"] <= 150.0
        assert len({d["observation_latency_frames"] for d in draws}) > 1
        assert len({d["action_latency_ms"] for d in draws}) > 1
        for field in WATCHED:  # latency is not in the model
            np.testing.assert_array_equal(
                getattr(_model(first), field), getattr(_model(nominal), field)
            )
        first.reset(seed=0)
        np.testing.assert_array_equal(first.reset(seed=0)[0]["agent_pos"], obs0["agent_pos"])
    finally:
        for env in (first, second, nominal):
            env.close()


def test_the_emulated_arm_reads_late_and_noisy():
    knobs = TwinKnobs(joint_noise_std_rad=0.02, observation_latency_frames=(2, 2))
    pixels = {"obs_type": "pixels_agent_pos", "image_size": (48, 64), "cameras": ("front",)}
    env = gym.make(
        "lerobot_gym/SO101-Reach-v0",
        backend="emulated",
        lockstep=True,
        bus_timeout_ms=500.0,
        knobs=knobs,
        **pixels,
    )
    try:
        readings = [env.reset(seed=3)[0]["agent_pos"]]
        hold = readings[0].copy()
        for _ in range(30):
            readings.append(env.step(hold)[0]["agent_pos"])
        spread_deg = np.std(np.array(readings)[:, :5], axis=0)
        # The arm holds still: what moves is the noise (1.15 deg), far above the bus's tick
        # (0.088 deg) and the hold's own settling.
        assert np.all(spread_deg > 0.5) and np.all(spread_deg < 2.5)
        assert env.unwrapped.backend.variation == {"observation_latency_frames": 2}
    finally:
        env.close()


def test_randomizing_never_moves_the_live_arm():
    """The emulators' twin randomises while the arm stands where it is (no reset teleport)."""
    from lerobot_gym.robots.so101.spec import SO101
    from lerobot_gym.sim.knobs import knob_streams
    from lerobot_gym.sim.scene import Scene
    from lerobot_gym.tasks.pick_cube import PickCube

    knobs = TwinKnobs(**{k: v for k, v in SCENE_SETTINGS.items() if k != "table_texture"})
    scene = Scene(SO101, PickCube(), image_size=(48, 64), knobs=knobs).build(30)
    try:
        scene.reset(SO101.home_rad, None)
        qpos, qvel = scene.data.qpos.copy(), scene.data.qvel.copy()
        scene.randomize(knob_streams(np.random.default_rng(0)))
        np.testing.assert_array_equal(scene.data.qpos, qpos)
        np.testing.assert_array_equal(scene.data.qvel, qvel)
    finally:
        scene.close()


def test_actuator_gains_scale_the_servo_models_gains():
    env = _env(TwinKnobs(actuator_gain_scale=(2.0, 2.0)), actuator="servo")
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        act = backend.scene.actuators
        np.testing.assert_allclose(_model(env).actuator_gainprm[act, 0], 2 * backend.servo.kp)
        np.testing.assert_allclose(_model(env).actuator_biasprm[act, 2], -2 * backend.servo.kd)
        np.testing.assert_array_equal(
            _model(env).actuator_forcerange[act, 1], backend.servo.torque_limit
        )
    finally:
        env.close()


def test_the_knobs_example_runs():
    import doctest

    from lerobot_gym.sim import knobs as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, raise_on_error=False)
    assert result.attempted >= 8 and result.failed == 0


def test_knobs_need_the_sync_vector_env():
    with pytest.raises(ConfigError, match="vectorization_mode='sync'"):
        lerobot_gym.make_vec(
            "SO101-Reach-v0", num_envs=2, obs_type="state", knobs=TwinKnobs(mass_scale=(0.9, 1.1))
        )
    envs = gym.make_vec(
        "lerobot_gym/SO101-Reach-v0",
        num_envs=2,
        vectorization_mode="sync",
        obs_type="state",
        knobs=TwinKnobs(mass_scale=(0.5, 1.5)),
    )
    try:
        envs.reset(seed=0)
        masses = [e.unwrapped.backend.scene.model.body_mass for e in envs.envs]
        assert not np.array_equal(masses[0], masses[1])  # seeds 0 and 1: two draws
    finally:
        envs.close()
