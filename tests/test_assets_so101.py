"""The SO-101 twin (``lerobot_gym/assets/so101``): compiles and steps cleanly, agrees with the
upstream model's kinematics and limits, and grasps and lifts a cube with its jaw pads.

The grasp test doubles as the reference recipe for scripted pick policies (README.md, "Grasping").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from lerobot_gym.assets.so101 import SCENE_XML, SO101_XML  # noqa: E402

JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
UPSTREAM_XML = (
    Path(__file__).resolve().parents[2] / "shared/reference/so101-upstream/so101_new_calib.xml"
)
ARM_BODIES = ("base", "shoulder", "upper_arm", "lower_arm", "wrist", "gripper", "moving_jaw")

# Grasp recipe (documented in README.md).
GRIPPER_OPEN_RAD = 0.8
APPROACH_MARGIN_M = 0.004  # fixed-jaw face this far from the cube's near face
GRASP_TIP_HEIGHT_M = 0.006  # gripperframe (jaw tip) height above the table when closing
PREGRASP_HEIGHT_M = 0.05
LIFT_HEIGHT_M = 0.08
IK_SEED = np.array([0.0, -0.3, 0.3, 1.2, 0.0, 0.0])


def _upstream_model():
    if not UPSTREAM_XML.exists():
        pytest.skip(f"upstream reference model not present at {UPSTREAM_XML}")
    return mujoco.MjModel.from_xml_path(str(UPSTREAM_XML))


def _assert_no_warnings(data) -> None:
    counts = {
        mujoco.mjtWarning(i).name: int(data.warning[i].number)
        for i in range(len(data.warning))
        if data.warning[i].number
    }
    assert not counts, f"MuJoCo warnings: {counts}"


# ---------------------------------------------------------------------------------------------
# Compile and step
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SO101_XML, SCENE_XML], ids=["so101", "scene"])
@pytest.mark.parametrize("ctrl", ["zero", "random"])
def test_compiles_and_steps_without_warnings(path: Path, ctrl: str) -> None:
    model = mujoco.MjModel.from_xml_path(str(path))
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    lo, hi = model.actuator_ctrlrange.T
    for step in range(500):
        if ctrl == "random" and step % 16 == 0:
            data.ctrl[:] = rng.uniform(lo, hi)
        mujoco.mj_step(model, data)
    assert np.all(np.isfinite(data.qpos))
    _assert_no_warnings(data)


def test_primitive_geoms_only() -> None:
    model = mujoco.MjModel.from_xml_path(str(SCENE_XML))
    assert model.nmesh == 0
    primitives = {
        mujoco.mjtGeom.mjGEOM_PLANE,
        mujoco.mjtGeom.mjGEOM_BOX,
        mujoco.mjtGeom.mjGEOM_CAPSULE,
        mujoco.mjtGeom.mjGEOM_CYLINDER,
        mujoco.mjtGeom.mjGEOM_SPHERE,
    }
    assert {mujoco.mjtGeom(t) for t in model.geom_type} <= primitives


def test_timestep_divides_30fps_control_period() -> None:
    model = mujoco.MjModel.from_xml_path(str(SO101_XML))
    substeps = (1 / 30) / model.opt.timestep
    assert substeps == pytest.approx(round(substeps), abs=1e-9)
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC


# ---------------------------------------------------------------------------------------------
# Agreement with LeRobot's names and the upstream numbers
# ---------------------------------------------------------------------------------------------


def test_joint_and_actuator_names_in_lerobot_order() -> None:
    model = mujoco.MjModel.from_xml_path(str(SO101_XML))
    assert tuple(model.joint(i).name for i in range(model.njnt)) == JOINTS
    assert tuple(model.actuator(i).name for i in range(model.nu)) == JOINTS
    for i, name in enumerate(JOINTS):
        assert model.actuator_trnid[i, 0] == model.joint(name).id


def test_actuator_ctrlrange_inside_joint_range() -> None:
    model = mujoco.MjModel.from_xml_path(str(SO101_XML))
    for i in range(model.nu):
        jnt = model.actuator_trnid[i, 0]
        lo, hi = model.actuator_ctrlrange[i]
        jlo, jhi = model.jnt_range[jnt]
        assert model.actuator_ctrllimited[i]
        assert jlo <= lo < hi <= jhi, model.actuator(i).name


def test_actuator_and_joint_gains_are_upstreams() -> None:
    model = mujoco.MjModel.from_xml_path(str(SO101_XML))
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], 998.22)
    np.testing.assert_allclose(model.actuator_biasprm[:, 1], -998.22)
    np.testing.assert_allclose(model.actuator_biasprm[:, 2], -2.731)
    np.testing.assert_allclose(model.actuator_forcerange, np.tile([-3.35, 3.35], (6, 1)))
    np.testing.assert_allclose(model.dof_damping, 0.60)
    np.testing.assert_allclose(model.dof_frictionloss, 0.052)
    np.testing.assert_allclose(model.dof_armature, 0.028)


def test_joint_ranges_order_and_mass_match_upstream() -> None:
    upstream = _upstream_model()
    ours = mujoco.MjModel.from_xml_path(str(SO101_XML))
    up_names = tuple(upstream.joint(i).name for i in range(upstream.njnt))
    assert up_names == JOINTS
    np.testing.assert_array_equal(ours.jnt_range, upstream.jnt_range)
    np.testing.assert_allclose(ours.body_subtreemass[0], upstream.body_subtreemass[0], rtol=1e-9)


def _gripperframe_in_baseframe(model, data) -> np.ndarray:
    base, tip = data.site("baseframe"), data.site("gripperframe")
    return base.xmat.reshape(3, 3).T @ (tip.xpos - base.xpos)


def test_forward_kinematics_match_upstream_within_2mm() -> None:
    upstream = _upstream_model()
    ours = mujoco.MjModel.from_xml_path(str(SO101_XML))
    d_up, d_ours = mujoco.MjData(upstream), mujoco.MjData(ours)
    rng = np.random.default_rng(20240601)
    lo, hi = upstream.jnt_range.T
    errors = []
    for _ in range(1000):
        q = rng.uniform(lo, hi)
        d_up.qpos[:] = q
        d_ours.qpos[:] = q
        mujoco.mj_kinematics(upstream, d_up)
        mujoco.mj_kinematics(ours, d_ours)
        theirs = _gripperframe_in_baseframe(upstream, d_up)
        errors.append(np.linalg.norm(theirs - _gripperframe_in_baseframe(ours, d_ours)))
    assert max(errors) < 0.002, f"max FK error {1000 * max(errors):.3f} mm"


def _jaw_gap(model, q_gripper: float, jaw_a: int, jaw_b: int) -> float:
    """Signed distance between two jaw geoms (negative when they overlap)."""
    data = mujoco.MjData(model)
    data.qpos[model.joint("gripper").qposadr[0]] = q_gripper
    mujoco.mj_forward(model, data)
    return float(mujoco.mj_geomDistance(model, data, jaw_a, jaw_b, 0.2, None))


def test_gripper_lower_limit_is_closed_upper_is_open() -> None:
    ours = mujoco.MjModel.from_xml_path(str(SO101_XML))
    lo, hi = ours.jnt_range[ours.joint("gripper").id]
    pads = ours.geom("fixed_jaw_pad").id, ours.geom("moving_jaw_pad").id
    assert _jaw_gap(ours, lo, *pads) < 0.003
    assert _jaw_gap(ours, hi, *pads) > 0.05
    # Upstream agrees: the tip of its moving-jaw mesh (the vertex farthest from the hinge) meets
    # the fixed-jaw tip (the gripperframe site) at the lower limit and swings away at the upper.
    if UPSTREAM_XML.exists():
        up = mujoco.MjModel.from_xml_path(str(UPSTREAM_XML))
        jnt = up.joint("gripper")
        visual = [g for g in range(up.ngeom) if up.geom_group[g] == 2]
        jaw = next(g for g in visual if up.geom_bodyid[g] == jnt.bodyid[0])
        mesh = up.geom_dataid[jaw]
        start = up.mesh_vertadr[mesh]
        verts = up.mesh_vert[start : start + up.mesh_vertnum[mesh]]

        def tip_gap(q: float) -> float:
            data = mujoco.MjData(up)
            data.qpos[jnt.qposadr[0]] = q
            mujoco.mj_forward(up, data)
            world = verts @ data.geom_xmat[jaw].reshape(3, 3).T + data.geom_xpos[jaw]
            tip = world[np.argmax(np.linalg.norm(world - data.xanchor[jnt.id], axis=1))]
            return float(np.linalg.norm(tip - data.site("gripperframe").xpos))

        assert tip_gap(lo) < 0.01 < 0.05 < tip_gap(hi)


# ---------------------------------------------------------------------------------------------
# Scene layout, collision filtering, cameras, keyframes
# ---------------------------------------------------------------------------------------------


def _collides(model, g1: int, g2: int) -> bool:
    ct, ca = model.geom_contype, model.geom_conaffinity
    return bool((ct[g1] & ca[g2]) or (ct[g2] & ca[g1]))


def test_collision_filtering() -> None:
    model = mujoco.MjModel.from_xml_path(str(SCENE_XML))
    arm_bodies = {model.body(name).id for name in ARM_BODIES}
    collidable = model.geom_contype | model.geom_conaffinity
    arm = [g for g in range(model.ngeom) if model.geom_bodyid[g] in arm_bodies and collidable[g]]
    assert len(arm) <= 12, "keep the arm's collision geoms few"
    for i, g1 in enumerate(arm):
        for g2 in arm[i + 1 :]:
            assert not _collides(model, g1, g2), (model.geom(g1).name, model.geom(g2).name)
    table = model.geom("table").id
    for pad in ("fixed_jaw_pad", "moving_jaw_pad"):
        g = model.geom(pad)
        assert g.type[0] == mujoco.mjtGeom.mjGEOM_BOX
        assert _collides(model, g.id, table)
        # A prop added with MjSpec defaults (contype = conaffinity = 1) must touch the pads.
        assert (model.geom_contype[g.id] & 1) or (model.geom_conaffinity[g.id] & 1)
        assert g.priority[0] > 0 and g.condim[0] >= 4


def test_table_top_at_zero_and_base_on_it() -> None:
    model = mujoco.MjModel.from_xml_path(str(SCENE_XML))
    table = model.geom("table")
    assert table.pos[2] + table.size[2] == pytest.approx(0.0, abs=1e-12)
    assert model.body("base").pos.tolist() == [0.0, 0.0, 0.0]
    assert model.site("baseframe").pos.tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-12)


def _project(model, data, cam: str, point: np.ndarray) -> tuple[float, float, float]:
    """Normalised image coordinates (-1..1 at the edges of a square crop) and depth."""
    c = data.cam(cam)
    local = c.xmat.reshape(3, 3).T @ (point - c.xpos)
    depth = -local[2]
    half = np.tan(np.deg2rad(model.cam(cam).fovy[0]) / 2)
    return local[0] / depth / half, local[1] / depth / half, depth


@pytest.mark.parametrize("key", ["home", "rest"])
def test_keyframes_are_contact_free(key: str) -> None:
    model = mujoco.MjModel.from_xml_path(str(SCENE_XML))
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key(key).id)
    mujoco.mj_forward(model, data)
    assert data.ncon == 0
    np.testing.assert_array_equal(data.ctrl, data.qpos[:6])


def test_cameras_see_workspace_and_jaws() -> None:
    model = mujoco.MjModel.from_xml_path(str(SCENE_XML))
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    mujoco.mj_forward(model, data)
    assert model.cam("wrist").bodyid[0] == model.body("gripper").id
    assert model.cam("wrist").fovy[0] == pytest.approx(70)
    for point in ([0.15, -0.12, 0.0], [0.28, 0.12, 0.0], [0.2, 0.0, 0.0]):
        u, v, depth = _project(model, data, "front", np.array(point))
        assert depth > 0 and abs(u) < 1 and abs(v) < 1, point
    pads = (data.geom("fixed_jaw_pad").xpos + data.geom("moving_jaw_pad").xpos) / 2
    u, v, depth = _project(model, data, "wrist", pads)
    assert depth > 0 and abs(u) < 0.8 and abs(v) < 0.8


# ---------------------------------------------------------------------------------------------
# Grasp: open, descend around a cube, close to the lower limit, lift, hold for 2 s
# ---------------------------------------------------------------------------------------------


def _scene_with_cube(xy, yaw: float, half: float = 0.0125, mass: float = 0.03):
    spec = mujoco.MjSpec.from_file(str(SCENE_XML))
    body = spec.worldbody.add_body(
        name="cube", pos=[xy[0], xy[1], half], quat=[np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
    )
    body.add_freejoint(name="cube")
    body.add_geom(
        name="cube", type=mujoco.mjtGeom.mjGEOM_BOX, size=[half] * 3, mass=mass, rgba=[1, 0, 0, 1]
    )
    return spec.compile()


def _top_down(closing_dir: np.ndarray) -> np.ndarray:
    """gripperframe orientation: x (approach) down, z (fixed -> moving jaw) = closing_dir."""
    x = np.array([0.0, 0.0, -1.0])
    z = closing_dir / np.linalg.norm(closing_dir)
    return np.column_stack([x, np.cross(z, x), z])


def _ik(model, q0, target_pos, target_rot, w_rot=0.3, iters=300):
    """Damped least squares on the 5 arm joints for the gripperframe site pose."""
    data = mujoco.MjData(model)
    data.qpos[:6] = q0
    site = model.site("gripperframe").id
    jac_p, jac_r = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    lo, hi = model.jnt_range[:5].T
    for _ in range(iters):
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        rot = data.site_xmat[site].reshape(3, 3)
        e_pos = target_pos - data.site_xpos[site]
        e_rot = 0.5 * sum(np.cross(rot[:, i], target_rot[:, i]) for i in range(3))
        if np.linalg.norm(e_pos) < 1e-4 and np.linalg.norm(e_rot) < 1e-3:
            break
        mujoco.mj_jacSite(model, data, jac_p, jac_r, site)
        jac = np.vstack([jac_p[:, :5], w_rot * jac_r[:, :5]])
        err = np.concatenate([e_pos, w_rot * e_rot])
        dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-3 * np.eye(6), err)
        data.qpos[:5] = np.clip(data.qpos[:5] + dq, lo, hi)
    return data.qpos[:6].copy(), float(np.linalg.norm(e_pos)), float(np.linalg.norm(e_rot))


def _plan_grasp(model, xy, yaw: float, half: float):
    """Joint targets (pre-grasp, grasp, lift) for the best of the cube's four face normals."""
    best = None
    for k in range(4):
        a = yaw + k * np.pi / 2
        closing = np.array([np.cos(a), np.sin(a), 0.0])
        rot = _top_down(closing)
        tip = np.array([xy[0], xy[1], 0.0]) - (half + APPROACH_MARGIN_M) * closing
        tip[2] = GRASP_TIP_HEIGHT_M
        q_grasp, ep, er = _ik(model, IK_SEED, tip, rot)
        up = np.array([0.0, 0.0, 1.0])
        q_pre, ep2, er2 = _ik(model, q_grasp, tip + PREGRASP_HEIGHT_M * up, rot)
        # Lifting needs no strict orientation (the wrist reaches its limit when held top-down).
        q_lift, ep3, _ = _ik(model, q_grasp, tip + LIFT_HEIGHT_M * up, rot, w_rot=0.02)
        cost = ep + ep2 + ep3 + 0.02 * (er + er2)
        if best is None or cost < best[0]:
            best = (cost, q_pre, q_grasp, q_lift, max(ep, ep2), max(er, er2))
    return best[1:]


def _run_grasp(xy, yaw: float, half: float = 0.0125, mass: float = 0.03):
    model = _scene_with_cube(xy, yaw, half, mass)
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    mujoco.mj_forward(model, data)
    q_pre, q_grasp, q_lift, pos_err, rot_err = _plan_grasp(model, xy, yaw, half)
    assert pos_err < 0.002 and rot_err < 0.02, "cube placed outside the top-down workspace"
    closed = model.jnt_range[model.joint("gripper").id, 0]
    cube = model.body("cube").id

    def move(target, duration_s):
        start = data.ctrl.copy()
        n = round(duration_s / model.opt.timestep)
        for i in range(1, n + 1):
            s = i / n
            s = s * s * (3 - 2 * s)  # smoothstep: no jerk at the ends
            data.ctrl[:] = start + s * (target - start)
            mujoco.mj_step(model, data)

    q_pre[5] = q_grasp[5] = GRIPPER_OPEN_RAD
    move(q_pre, 1.5)
    move(q_grasp, 1.0)
    z0 = data.xpos[cube, 2]
    q_grasp[5] = closed
    move(q_grasp, 0.3)
    move(q_grasp, 0.5)
    q_lift[5] = closed
    move(q_lift, 1.0)
    heights = []
    for _ in range(round(2.0 / model.opt.timestep)):
        mujoco.mj_step(model, data)
        heights.append(data.xpos[cube, 2] - z0)
    _assert_no_warnings(data)
    touching = {
        model.geom(g).name
        for c in data.contact[: data.ncon]
        for g in (c.geom1, c.geom2)
        if model.geom_bodyid[c.geom1] == cube or model.geom_bodyid[c.geom2] == cube
    }
    return min(heights), float(data.qpos[model.joint("gripper").qposadr[0]]), touching


@pytest.mark.parametrize(
    ("xy", "yaw"),
    [
        ((0.20, 0.00), 0.0),
        ((0.24, 0.06), 0.4),
        ((0.17, -0.10), -0.9),
        ((0.22, -0.14), 2.2),
        ((0.26, 0.00), -0.3),
        ((0.12, 0.15), 1.3),
    ],
)
def test_grasp_lifts_cube_and_holds_it(xy, yaw: float) -> None:
    lift, gripper_q, touching = _run_grasp(xy, yaw)
    assert lift >= 0.05, f"cube rose only {lift:.3f} m"
    # Held by the two pads, and the jaws stopped on the cube, not at the closed limit.
    assert {"fixed_jaw_pad", "moving_jaw_pad"} <= touching
    assert touching <= {"cube", "fixed_jaw_pad", "moving_jaw_pad", "fixed_jaw", "moving_jaw"}
    assert gripper_q > 0.0


@pytest.mark.parametrize(("half", "mass"), [(0.010, 0.02), (0.015, 0.05)])
def test_grasp_works_for_2_and_3_cm_cubes(half: float, mass: float) -> None:
    lift, _, touching = _run_grasp((0.21, 0.03), 0.7, half=half, mass=mass)
    assert lift >= 0.05
    assert {"fixed_jaw_pad", "moving_jaw_pad"} <= touching
