"""gym-aloha's side of the twin-fidelity checks; runs in benchmarks/.venv-gym-aloha.

Invoked as a subprocess by tests/test_assets_aloha.py and benchmarks/aloha_vs_gym_aloha.py, never
imported by lerobot_gym (it needs gym-aloha, dm-control and MuJoCo < 3.9). Inputs and outputs are
.npz files, so the two virtual environments share nothing but numpy arrays:

    python gym_aloha_side.py fk IN.npz OUT.npz       # qpos (N, 16) -> gripper_link poses
    python gym_aloha_side.py silhouette IN.npz OUT.npz  # qpos (N, 16) -> `top` arm masks
    python gym_aloha_side.py rollout IN.npz OUT.npz  # actions (T, 14) at 50 Hz -> qpos (T, 16),
                                                     # arm contacts per step
    python gym_aloha_side.py bench OUT.npz --seconds S  # AlohaInsertion-v0 env.step rate

qpos is gym-aloha's first 16: per arm (left, right) waist, shoulder, elbow, forearm_roll,
wrist_angle, wrist_rotate, left_finger, right_finger (the twin's gripper, gripper_mirror).
Actions are gym-aloha's 14: per arm six joint targets (rad) and a gripper 0 (closed) .. 1 (open).
"""

from __future__ import annotations

import sys
import time

import mujoco
import numpy as np
from gym_aloha.constants import ASSETS_DIR, DT, unnormalize_puppet_gripper_position

ARMS = ("vx300s_left", "vx300s_right")
SCENE = ASSETS_DIR / "bimanual_viperx_transfer_cube.xml"


def _model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(SCENE))


def _park_box(data: mujoco.MjData) -> None:
    """Move the scene's red_box far from the arms (out of sight and reach): the comparisons are
    about the robot alone."""
    data.qpos[16:23] = [0.0, 50.0, 0.02, 1.0, 0.0, 0.0, 0.0]


def fk(inp: dict, out: str) -> None:
    model = _model()
    data = mujoco.MjData(model)
    qpos = inp["qpos"]
    pos = np.zeros((len(qpos), 2, 3))
    mat = np.zeros((len(qpos), 2, 9))
    ids = [model.body(f"{arm}/gripper_link").id for arm in ARMS]
    for i, q in enumerate(qpos):
        data.qpos[:16] = q
        mujoco.mj_kinematics(model, data)
        pos[i] = data.xpos[ids]
        mat[i] = data.xmat[ids]
    np.savez(out, pos=pos, mat=mat, mujoco_version=mujoco.__version__)


def _arm_geoms(model: mujoco.MjModel) -> np.ndarray:
    roots = {model.body(arm).id for arm in ARMS}
    arm_body = np.zeros(model.nbody, bool)
    for b in range(model.nbody):
        a = b
        while a != 0 and a not in roots:
            a = model.body_parentid[a]
        arm_body[b] = a in roots
    return arm_body[model.geom_bodyid]


def silhouette(inp: dict, out: str) -> None:
    model = _model()
    data = mujoco.MjData(model)
    height, width = int(inp["height"]), int(inp["width"])
    renderer = mujoco.Renderer(model, height, width)
    renderer.enable_segmentation_rendering()
    # Segmentation ignores lighting: skip the shadow and reflection passes (they only cost).
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    is_arm = _arm_geoms(model)
    masks = np.zeros((len(inp["qpos"]), height, width), bool)
    for i, q in enumerate(inp["qpos"]):
        data.qpos[:16] = q
        _park_box(data)
        mujoco.mj_forward(model, data)
        renderer.update_scene(data, camera="top")
        seg = renderer.render()
        geom = (seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM) & (seg[..., 0] >= 0)
        ids = np.where(geom, seg[..., 0], 0)
        masks[i] = geom & is_arm[ids]
    renderer.close()
    np.savez_compressed(out, masks=masks)


def rollout(inp: dict, out: str) -> None:
    """gym-aloha's joint-space step without rendering: the task's before_step mapping, then
    DT / timestep physics steps (what dm_control's control.Environment does each env.step)."""
    model = _model()
    data = mujoco.MjData(model)
    data.qpos[:16] = inp["qpos0"]
    _park_box(data)
    data.ctrl[:] = inp["ctrl0"]
    mujoco.mj_forward(model, data)
    n_sub = round(DT / model.opt.timestep)
    actions = inp["actions"]
    traj = np.zeros((len(actions), 16))
    contacts = np.zeros(len(actions), int)
    names = [model.geom(g).name for g in range(model.ngeom)]
    for t, a in enumerate(actions):
        ctrl = []
        for arm in (a[:7], a[7:]):
            g = unnormalize_puppet_gripper_position(arm[6])
            ctrl += [*arm[:6], g, -g]
        data.ctrl[:] = ctrl
        for _ in range(n_sub):
            mujoco.mj_step(model, data)
            contacts[t] = max(contacts[t], _arm_contacts(data, names))
        traj[t] = data.qpos[:16]
    np.savez(out, qpos=traj, arm_contacts=contacts)


def _arm_contacts(data: mujoco.MjData, names: list[str]) -> int:
    """Contacts touching an arm, but the two fingers of one gripper pressing on each other."""
    n = 0
    for c in data.contact[: data.ncon]:
        a, b = names[c.geom1], names[c.geom2]
        if not (a.startswith("vx300s_") or b.startswith("vx300s_")):
            continue
        same_gripper = a.split("/")[0] == b.split("/")[0] and "gripper_finger" in a + b
        n += not (same_gripper and "gripper_finger" in a and "gripper_finger" in b)
    return n


def bench(out: str, seconds: float) -> None:
    import gym_aloha  # noqa: F401  (registers the ids)
    import gymnasium as gym

    env = gym.make("gym_aloha/AlohaInsertion-v0", obs_type="pixels_agent_pos")
    env.reset(seed=0)
    start_pose = np.array(
        [0, -0.96, 1.16, 0, -0.3, 0, 1.0, 0, -0.96, 1.16, 0, -0.3, 0, 1.0], np.float32
    )
    env.step(start_pose)  # warm-up (first render allocates the GL context)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        env.step(start_pose)
        steps += 1
    elapsed = time.perf_counter() - t0
    env.close()
    np.savez(out, steps=steps, seconds=elapsed, mujoco_version=mujoco.__version__)


def main(argv: list[str]) -> None:
    cmd = argv[0]
    if cmd == "bench":
        seconds = float(argv[argv.index("--seconds") + 1]) if "--seconds" in argv else 10.0
        bench(argv[1], seconds)
        return
    inp = dict(np.load(argv[1]))
    {"fk": fk, "silhouette": silhouette, "rollout": rollout}[cmd](inp, argv[2])


if __name__ == "__main__":
    main(sys.argv[1:])
