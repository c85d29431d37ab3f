"""The ALOHA twin (``lerobot_gym/assets/aloha``): compiles and steps cleanly, has the joints, ranges
and gains its README documents, filters collisions as documented, grasps and lifts a box with its
finger pads, and matches gym-aloha's model where LeRobot's ``aloha_sim_*`` datasets need it to.

The gym-aloha comparisons run gym-aloha in its own virtualenv (``make bench-venv-aloha`` builds
``benchmarks/.venv-gym-aloha``; it needs MuJoCo < 3.9) through
``benchmarks/support/gym_aloha_side.py``, exchanging .npz files; they skip when that venv is absent.
The grasp test doubles as the reference recipe for scripted policies (README.md, "Grasping").
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from lerobot_gym.assets.aloha import (  # noqa: E402
    ALOHA_XML,
    ARM_JOINTS,
    ARMS,
    GRIPPER_POSITION_CLOSE,
    GRIPPER_POSITION_OPEN,
    SCENE_XML,
)

ROOT = Path(__file__).resolve().parents[1]
README = ALOHA_XML.parent / "README.md"
SIDE_SCRIPT = ROOT / "benchmarks/support/gym_aloha_side.py"
GYM_ALOHA_PYTHON = Path(
    os.environ.get("LEROBOT_GYM_ALOHA_PYTHON", ROOT / "benchmarks/.venv-gym-aloha/bin/python")
)
# gym-aloha's qpos[:16] order, in our names.
QPOS_JOINTS = tuple(
    f"{arm}_{j}" for arm in ARMS for j in (*ARM_JOINTS, "gripper", "gripper_mirror")
)
START_ARM_POSE = np.array([0, -0.96, 1.16, 0, -0.3, 0, 0.02239, -0.02239] * 2)
PAD_CENTRE_DEPTH_M = 0.0687 + 0.0625  # finger link x + pad centre x, along gripperframe x


def _assert_no_warnings(data) -> None:
    counts = {
        mujoco.mjtWarning(i).name: int(data.warning[i].number)
        for i in range(len(data.warning))
        if data.warning[i].number
    }
    assert not counts, f"MuJoCo warnings: {counts}"


def _scene():
    return mujoco.MjModel.from_xml_path(str(SCENE_XML))


def _qpos_adr(model) -> np.ndarray:
    return np.array([model.joint(name).qposadr[0] for name in QPOS_JOINTS])


def _gripper_ctrl(g: float) -> float:
    """gym-aloha's gripper mapping (README.md, "Gripper"), clipped as its actuators clip it."""
    pos = g * (GRIPPER_POSITION_OPEN - GRIPPER_POSITION_CLOSE) + GRIPPER_POSITION_CLOSE
    return float(np.clip(pos, 0.021, 0.057))


def _ctrl_from_action(action: np.ndarray) -> np.ndarray:
    ctrl = np.asarray(action, float).copy()
    ctrl[6], ctrl[13] = _gripper_ctrl(action[6]), _gripper_ctrl(action[13])
    return ctrl


# ---------------------------------------------------------------------------------------------
# Compile, step, documented joints and gains
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [ALOHA_XML, SCENE_XML], ids=["aloha", "scene"])
@pytest.mark.parametrize("every", [0, 10, 50], ids=["home", "random-20ms", "random-100ms"])
def test_compiles_and_steps_without_warnings(path: Path, every: int) -> None:
    """At rest, and under step targets drawn anywhere in the joint ranges (what a random policy
    sends): gym-aloha's undamped model reaches NaN under the latter (README.md, change 10)."""
    model = mujoco.MjModel.from_xml_path(str(path))
    data = mujoco.MjData(model)
    data.qpos[_qpos_adr(model)] = START_ARM_POSE
    data.ctrl[:] = np.delete(START_ARM_POSE, [7, 15])
    rng = np.random.default_rng(0)
    lo, hi = model.actuator_ctrlrange.T
    for step in range(2000):
        if every and step % every == 0:
            data.ctrl[:] = rng.uniform(lo, hi)
        mujoco.mj_step(model, data)
    assert np.all(np.isfinite(data.qpos))
    _assert_no_warnings(data)


def test_primitive_geoms_only_and_few_collision_geoms() -> None:
    model = _scene()
    assert model.nmesh == 0
    primitives = {mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_CYLINDER}
    assert {mujoco.mjtGeom(t) for t in model.geom_type} <= primitives
    for arm in ARMS:
        collidable = [
            g
            for g in range(model.ngeom)
            if model.geom(g).name.startswith(f"{arm}_")
            and (model.geom_contype[g] or model.geom_conaffinity[g])
        ]
        assert len(collidable) == 10, [model.geom(g).name for g in collidable]


Row = tuple[float, float, float, float, float | None, float | None]


def _readme_joint_table() -> dict[str, Row]:
    """joint -> (lo, hi, frictionloss, damping, kp or None, force limit or None), read from
    README.md's joint table."""
    rows = {}
    for line in README.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or cells[0] not in (*ARM_JOINTS, "gripper", "gripper_mirror"):
            continue
        lo, hi = (float(x) for x in cells[2].split())
        kp = re.match(r"[\d.]+", cells[5])
        force = re.match(r"±([\d.]+)", cells[6])
        rows[cells[0]] = (
            lo,
            hi,
            float(cells[3]),
            float(cells[4]),
            float(kp.group()) if kp else None,
            float(force.group(1)) if force else None,
        )
    return rows


def test_joints_ranges_and_gains_are_those_the_readme_documents() -> None:
    model = _scene()
    table = _readme_joint_table()
    assert len(table) == 8
    names = tuple(model.joint(j).name for j in range(model.njnt))
    assert names == QPOS_JOINTS  # gym-aloha's qpos order, prefix vx300s_<arm>/ -> <arm>_
    for arm in ARMS:
        for joint, (lo, hi, friction, damping, kp, force) in table.items():
            jnt = model.joint(f"{arm}_{joint}")
            assert jnt.range.tolist() == [lo, hi], jnt.name
            assert jnt.frictionloss[0] == friction, jnt.name
            assert (jnt.damping[0], jnt.armature[0]) == (damping, 0.0), jnt.name
            if kp is None:
                assert jnt.id not in model.actuator_trnid[:, 0]
                continue
            act = model.actuator(jnt.name)  # actuators are named as their joints
            assert act.trnid[0] == jnt.id
            assert act.gainprm[0] == kp and act.biasprm[1] == -kp and act.biasprm[2] == 0
            assert act.ctrlrange.tolist() == [lo, hi]
            if force is None:
                assert not model.actuator_forcelimited[act.id]
            else:
                assert act.forcerange.tolist() == [-force, force]


def test_actuators_in_documented_order_with_ctrlrange_inside_joint_range() -> None:
    model = _scene()
    expected = [f"{arm}_{j}" for arm in ARMS for j in (*ARM_JOINTS, "gripper")]
    assert [model.actuator(i).name for i in range(model.nu)] == expected
    # Named as their joints (LeRobot's ALOHA motor names), as the MuJoCo backend looks them up.
    assert [model.joint(model.actuator_trnid[i, 0]).name for i in range(model.nu)] == expected
    for i in range(model.nu):
        lo, hi = model.actuator_ctrlrange[i]
        jlo, jhi = model.jnt_range[model.actuator_trnid[i, 0]]
        assert model.actuator_ctrllimited[i] and jlo <= lo < hi <= jhi


def test_the_two_arms_are_the_same_but_for_their_base() -> None:
    model = _scene()

    def arm_geoms(arm: str) -> dict[str, tuple]:
        out = {}
        for g in range(model.ngeom):
            name = model.geom(g).name
            if name.startswith(f"{arm}_"):
                key = name.removeprefix(f"{arm}_")
                out[key] = (*model.geom_pos[g], *model.geom_quat[g], *model.geom_size[g])
        return out

    assert arm_geoms("left") == arm_geoms("right")
    left, right = model.body("left_base_link"), model.body("right_base_link")
    assert left.pos.tolist() == [-0.469, 0.5, 0.0]
    assert right.pos.tolist() == [0.469, 0.5, 0.0]
    np.testing.assert_allclose(left.quat, [1, 0, 0, 0])
    np.testing.assert_allclose(right.quat, [np.cos(3.1416 / 2), 0, 0, np.sin(3.1416 / 2)])
    masses = [model.body_subtreemass[model.body(f"{a}_base_link").id] for a in ARMS]
    assert masses[0] == masses[1] == pytest.approx(2.7729, abs=1e-4)


# ---------------------------------------------------------------------------------------------
# Scene layout, cameras, sites, collision filtering, gripper
# ---------------------------------------------------------------------------------------------


def test_table_cameras_and_sites_are_laid_out_as_gym_aloha() -> None:
    model = _scene()
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    mujoco.mj_forward(model, data)
    table = model.geom("table")
    assert table.pos[2] + table.size[2] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(table.pos[:2], [0.0, 0.6])
    np.testing.assert_allclose(table.size[:2], [0.6096, 0.381])
    top, angle = data.cam("top"), data.cam("angle")
    np.testing.assert_allclose(top.xpos, [0, 0.6, 0.8])
    np.testing.assert_allclose(top.xmat.reshape(3, 3), np.eye(3), atol=1e-12)
    np.testing.assert_allclose(angle.xpos, [0, 0, 0.6])
    # The `angle` camera looks at the table centre (0, 0.6, 0), as its targetbody upstream does.
    view = -angle.xmat.reshape(3, 3)[:, 2]
    np.testing.assert_allclose(view, np.array([0, 0.6, -0.6]) / np.hypot(0.6, 0.6), atol=1e-7)
    for cam in ("top", "angle"):
        assert model.cam(cam).fovy[0] == 78
    for arm in ARMS:
        assert model.cam(f"{arm}_wrist").fovy[0] == 20
        assert model.cam(f"{arm}_wrist").targetbodyid[0] == model.body(f"{arm}_camera_focus").id
        site, link = data.site(f"{arm}_gripperframe"), data.body(f"{arm}_gripper_link")
        np.testing.assert_array_equal(site.xpos, link.xpos)
        np.testing.assert_array_equal(site.xmat, link.xmat)
        np.testing.assert_array_equal(
            data.site(f"{arm}_baseframe").xpos, data.body(f"{arm}_base_link").xpos
        )
    np.testing.assert_allclose(
        data.site("left_gripperframe").xpos, [-0.31719, 0.5, 0.29525], atol=1e-5
    )


def _collides(model, g1: int, g2: int) -> bool:
    ct, ca = model.geom_contype, model.geom_conaffinity
    return bool((ct[g1] & ca[g2]) or (ct[g2] & ca[g1]))


def test_collision_filtering() -> None:
    model = _scene()
    collidable = [
        g for g in range(model.ngeom) if model.geom_contype[g] | model.geom_conaffinity[g]
    ]
    arm_of = {g: model.geom(g).name.split("_")[0] for g in collidable}
    table = model.geom("table").id
    for i, g1 in enumerate(collidable):
        for g2 in collidable[i + 1 :]:
            if table in (g1, g2):
                assert _collides(model, g1, g2)
                continue
            names = {model.geom(g1).name, model.geom(g2).name}
            same_arm = arm_of[g1] == arm_of[g2]
            own_pads = same_arm and all(n.endswith("_finger_pad") for n in names)
            assert _collides(model, g1, g2) == (not same_arm or own_pads), names
    for arm in ARMS:
        for side in ("left", "right"):
            pad = model.geom(f"{arm}_{side}_finger_pad")
            # A prop added with MjSpec defaults (contype = conaffinity = 1) must touch the pads.
            assert (pad.contype[0] & 1) or (pad.conaffinity[0] & 1)
            assert pad.priority[0] > 0 and pad.condim[0] >= 4


def test_home_keyframe_is_acts_start_pose() -> None:
    model = _scene()
    key = model.key("home")
    np.testing.assert_array_equal(key.qpos[_qpos_adr(model)], START_ARM_POSE)
    np.testing.assert_array_equal(key.ctrl, np.delete(START_ARM_POSE, [7, 15]))


def _pad_gap(model, data, arm: str) -> float:
    a, b = model.geom(f"{arm}_left_finger_pad").id, model.geom(f"{arm}_right_finger_pad").id
    return float(mujoco.mj_geomDistance(model, data, a, b, 0.2, None))


@pytest.mark.parametrize("arm", ARMS)
def test_one_gripper_dof_moves_both_fingers(arm: str) -> None:
    model = _scene()
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    act = model.actuator(f"{arm}_gripper").id
    left = model.joint(f"{arm}_gripper").qposadr[0]
    right = model.joint(f"{arm}_gripper_mirror").qposadr[0]
    gaps = []
    for g in (1.0, 0.5, 0.0):
        data.ctrl[act] = _gripper_ctrl(g)
        mujoco.mj_step(model, data, 500)
        assert data.qpos[right] == pytest.approx(-data.qpos[left], abs=2e-4)
        gaps.append(_pad_gap(model, data, arm))
    assert gaps[0] > 0.065  # open: 69 mm between the pads
    assert 0.02 < gaps[1] < 0.04
    # Closed on nothing the pads meet (q = 0.0224, README), as gym-aloha's finger meshes do.
    assert data.qpos[left] == pytest.approx(0.0224, abs=5e-4)
    assert abs(gaps[2]) < 1e-3
    _assert_no_warnings(data)


# ---------------------------------------------------------------------------------------------
# Grasp: open, descend around a box, close, lift 10 cm, hold for 2 s
# ---------------------------------------------------------------------------------------------


def _scene_with_box(xy, yaw: float, half: float = 0.02, mass: float = 0.05):
    """gym-aloha's red_box (4 cm, 50 g, condim 4, friction 1) added the way tasks add props."""
    spec = mujoco.MjSpec.from_file(str(SCENE_XML))
    body = spec.worldbody.add_body(
        name="box", pos=[xy[0], xy[1], half], quat=[np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
    )
    body.add_freejoint(name="box")
    body.add_geom(
        name="box",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[half] * 3,
        mass=mass,
        condim=4,
        friction=[1, 0.005, 0.0001],
    )
    return spec.compile()


def _ik(model, arm: str, q0, target_pos, target_rot, iters: int = 300):
    """Damped least squares on one arm's six joints for its gripperframe pose."""
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    joints = [model.joint(f"{arm}_{j}").id for j in ARM_JOINTS]
    qadr, dadr = model.jnt_qposadr[joints], model.jnt_dofadr[joints]
    lo, hi = model.jnt_range[joints].T
    site = model.site(f"{arm}_gripperframe").id
    jac_p, jac_r = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    data.qpos[qadr] = q0
    for _ in range(iters):
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        rot = data.site_xmat[site].reshape(3, 3)
        e_pos = target_pos - data.site_xpos[site]
        e_rot = 0.5 * sum(np.cross(rot[:, i], target_rot[:, i]) for i in range(3))
        if np.linalg.norm(e_pos) < 1e-4 and np.linalg.norm(e_rot) < 1e-3:
            break
        mujoco.mj_jacSite(model, data, jac_p, jac_r, site)
        jac = np.vstack([jac_p[:, dadr], 0.3 * jac_r[:, dadr]])
        err = np.concatenate([e_pos, 0.3 * e_rot])
        dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err)
        data.qpos[qadr] = np.clip(data.qpos[qadr] + dq, lo, hi)
    return data.qpos[qadr].copy(), float(np.linalg.norm(e_pos)), float(np.linalg.norm(e_rot))


def _run_grasp(arm: str, xy, yaw: float):
    model = _scene_with_box(xy, yaw)
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    mujoco.mj_forward(model, data)
    closing = np.array([np.cos(yaw), np.sin(yaw), 0.0])  # a face normal of the box
    down = np.array([0.0, 0.0, -1.0])
    rot = np.column_stack([down, closing, np.cross(down, closing)])  # x approach, y fingers
    grasp = np.array([xy[0], xy[1], 0.02 + PAD_CENTRE_DEPTH_M])
    q_grasp, e1, r1 = _ik(model, arm, START_ARM_POSE[:6], grasp, rot)
    q_pre, e2, r2 = _ik(model, arm, q_grasp, grasp + np.array([0, 0, 0.08]), rot)
    q_lift, e3, r3 = _ik(model, arm, q_grasp, grasp + np.array([0, 0, 0.10]), rot)
    assert max(e1, e2, e3) < 1e-3 and max(r1, r2, r3) < 1e-2, "box outside the reach"
    first = 0 if arm == "left" else 7
    box = model.body("box").id

    def move(q, finger: float, duration_s: float) -> None:
        start, target = data.ctrl.copy(), data.ctrl.copy()
        target[first : first + 6], target[first + 6] = q, finger
        n = round(duration_s / model.opt.timestep)
        for i in range(1, n + 1):
            s = i / n
            data.ctrl[:] = start + s * s * (3 - 2 * s) * (target - start)  # smoothstep
            mujoco.mj_step(model, data)

    move(q_pre, 0.057, 1.5)
    move(q_grasp, 0.057, 1.0)
    z0 = data.xpos[box, 2]
    move(q_grasp, 0.021, 0.5)
    move(q_grasp, 0.021, 0.3)
    move(q_lift, 0.021, 1.0)
    heights = []
    for _ in range(round(2.0 / model.opt.timestep)):
        mujoco.mj_step(model, data)
        heights.append(data.xpos[box, 2] - z0)
    _assert_no_warnings(data)
    touching = {
        model.geom(g).name
        for c in data.contact[: data.ncon]
        for g in (c.geom1, c.geom2)
        if box in (model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2])
    }
    return min(heights), float(data.qpos[model.joint(f"{arm}_gripper").qposadr[0]]), touching


@pytest.mark.parametrize(
    ("arm", "xy", "yaw"),
    [
        ("right", (0.2, 0.5), 0.0),  # gym-aloha's default red_box pose
        ("right", (0.1, 0.6), 0.5),
        ("right", (0.05, 0.4), -0.3),
        ("left", (-0.15, 0.45), -0.4),
        ("left", (0.0, 0.55), 1.0),
    ],
)
def test_grasp_lifts_box_and_holds_it(arm: str, xy, yaw: float) -> None:
    lift, finger_q, touching = _run_grasp(arm, xy, yaw)
    assert lift >= 0.08, f"box rose only {lift:.3f} m"
    assert touching == {"box", f"{arm}_left_finger_pad", f"{arm}_right_finger_pad"}
    # The fingers stopped on the 4 cm box (pad gap 2 q - 0.0448), not at the closed limit.
    assert finger_q == pytest.approx(0.0424, abs=1e-3)


# ---------------------------------------------------------------------------------------------
# Against gym-aloha (its own venv, through benchmarks/support/gym_aloha_side.py)
# ---------------------------------------------------------------------------------------------


def _gym_aloha(tmp_path: Path, cmd: str, **arrays) -> dict:
    if not GYM_ALOHA_PYTHON.exists():
        pytest.skip(f"gym-aloha venv absent ({GYM_ALOHA_PYTHON}); build it: make bench-venv-aloha")
    inp, out = tmp_path / f"{cmd}_in.npz", tmp_path / f"{cmd}_out.npz"
    np.savez(inp, **arrays)
    env = {**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    proc = subprocess.run(
        [str(GYM_ALOHA_PYTHON), str(SIDE_SCRIPT), cmd, str(inp), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(np.load(out))


def _random_configurations(model, n: int, seed: int) -> np.ndarray:
    """n random qpos[:16] in gym-aloha's order, uniform in the joint ranges, fingers mirrored."""
    lo, hi = model.jnt_range[[model.joint(j).id for j in QPOS_JOINTS]].T
    q = np.random.default_rng(seed).uniform(lo, hi, (n, 16))
    q[:, 7], q[:, 15] = -q[:, 6], -q[:, 14]
    return q


def test_gripper_frames_match_gym_aloha_within_2mm(tmp_path: Path) -> None:
    model = _scene()
    data = mujoco.MjData(model)
    qpos = _random_configurations(model, 1000, seed=7)
    theirs = _gym_aloha(tmp_path, "fk", qpos=qpos)
    sites = [model.site(f"{arm}_gripperframe").id for arm in ARMS]
    adr = _qpos_adr(model)
    pos_err, rot_err = [], []
    for i, q in enumerate(qpos):
        data.qpos[adr] = q
        mujoco.mj_kinematics(model, data)
        pos_err.append(np.linalg.norm(data.site_xpos[sites] - theirs["pos"][i], axis=1).max())
        rot_err.append(np.abs(data.site_xmat[sites] - theirs["mat"][i]).max())
    assert max(pos_err) < 0.002, f"max gripper frame error {1000 * max(pos_err):.3f} mm"
    assert max(rot_err) < 1e-3  # the frames' orientations agree too


def _arm_mask(model, renderer, data) -> np.ndarray:
    arm_body = np.array(
        [model.body(model.body_rootid[b]).name.endswith("_base_link") for b in range(model.nbody)]
    )
    renderer.update_scene(data, camera="top")
    seg = renderer.render()
    is_geom = (seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM) & (seg[..., 0] >= 0)
    geom = np.where(is_geom, seg[..., 0], 0)
    return is_geom & arm_body[model.geom_bodyid[geom]]


def test_top_camera_sees_the_arms_where_gym_aloha_does(tmp_path: Path) -> None:
    """Silhouettes of both arms in the 480x640 `top` image at 20 random configurations."""
    model = _scene()
    data = mujoco.MjData(model)
    qpos = _random_configurations(model, 20, seed=11)
    theirs = _gym_aloha(tmp_path, "silhouette", qpos=qpos, height=480, width=640)["masks"]
    renderer = mujoco.Renderer(model, 480, 640)
    renderer.enable_segmentation_rendering()
    adr = _qpos_adr(model)
    ious = []
    try:
        for q, their_mask in zip(qpos, theirs, strict=True):
            data.qpos[adr] = q
            mujoco.mj_forward(model, data)
            ours = _arm_mask(model, renderer, data)
            assert ours.any() and their_mask.any()
            ious.append((ours & their_mask).sum() / (ours | their_mask).sum())
    finally:
        renderer.close()
    assert min(ious) >= 0.8, f"silhouette IoU min {min(ious):.3f} mean {np.mean(ious):.3f}"


def _smooth_actions(seed: int) -> np.ndarray:
    """gym-aloha actions (14) at 50 Hz: 8 waypoints around the start pose, 0.5 s apart."""
    rng = np.random.default_rng(seed)
    start = np.array([0, -0.96, 1.16, 0, -0.3, 0, 0.1] * 2)
    spread = np.array([0.8, 0.4, 0.4, 0.8, 0.8, 0.8, 0.0] * 2)
    points = [start]
    for _ in range(8):
        p = start + rng.uniform(-spread, spread)
        p[[6, 13]] = rng.uniform(0, 1, 2)
        points.append(p)
    return np.concatenate([np.linspace(a, b, 25) for a, b in itertools.pairwise(points)])


def test_same_actions_move_the_twin_as_gym_aloha(tmp_path: Path) -> None:
    """Free motion with the gripper values of a dataset (0..1), then an empty gripper closing.
    The trajectory touches nothing in gym-aloha but finger on finger (checked), so it compares
    the arms' dynamics: gym-aloha's links can collide with each other, ours cannot."""
    moves = _smooth_actions(seed=1)
    closed = np.array([0, -0.96, 1.16, 0, -0.3, 0, 0.0] * 2)
    actions = np.concatenate([moves, np.linspace(moves[-1], closed, 25), np.tile(closed, (50, 1))])
    result = _gym_aloha(
        tmp_path, "rollout", qpos0=START_ARM_POSE, ctrl0=START_ARM_POSE, actions=actions
    )
    theirs = result["qpos"]
    assert not result["arm_contacts"].any()
    model = _scene()
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    adr = _qpos_adr(model)
    ours = np.zeros_like(theirs)
    substeps = round(0.02 / model.opt.timestep)
    for t, action in enumerate(actions):
        data.ctrl[:] = _ctrl_from_action(action)
        mujoco.mj_step(model, data, substeps)
        ours[t] = data.qpos[adr]
    _assert_no_warnings(data)
    err = np.abs(ours - theirs).max(axis=0)
    arm, fingers = np.delete(err, [6, 7, 14, 15]), err[[6, 7, 14, 15]]
    assert arm.max() < 0.01, f"joint trajectories differ by up to {arm.max():.4f} rad"
    assert fingers.max() < 0.003, f"fingers differ by up to {1000 * fingers.max():.2f} mm"
    # Closed on nothing, both stop where their fingers meet (observation 0.10).
    np.testing.assert_allclose(ours[-1, [6, 14]], theirs[-1, [6, 14]], atol=5e-4)
