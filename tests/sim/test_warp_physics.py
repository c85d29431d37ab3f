"""The batched vector env on MuJoCo Warp (``physics="warp"``), run on Warp's CPU device.

Tolerance: Warp computes in float32, mujoco.batch in float64, so a Warp twin drifts from the
batch's trajectory by float32 rounding (relative 6e-8) accumulated over the substeps. Measured
on SO101-Reach with this file's actions (towards an upright arm, +-10 degree noise, no
contact): max qpos difference 1.4e-7 rad after 1 control step (16 substeps), ~1e-6 after 10,
4e-6 after 20, 5e-5 after 30-40 (the joints' friction loss sticks or slips at slightly
different substeps as the arm settles). Contacts differ by more than rounding: Warp's box-box
collision makes other contact points (2 where MuJoCo makes 4 for the jaw on the table), and
the twins then differ by 2e-3 rad a step later. So the trajectory comparisons run 10 steps or
fewer, off contacts (checked), and allow 1e-4 rad (m for positions): ~100x the measured drift,
yet any real fault (a wrong state component, a missed substep, a stale row) moves qpos by 1e-3
rad or more in a step.

The first Warp step of a process JIT-compiles its kernels (~30 s on a cold cache, see
``benchmarks/warp_physics.py``; cached in ``~/.cache/warp`` afterwards); the tests share one
compiled module, so that cost is paid once per cache.
"""

from __future__ import annotations

import subprocess
import sys

import mujoco
import numpy as np
import pytest

import lerobot_gym
from lerobot_gym.errors import ConfigError, MissingExtraError, UnsupportedModelError

ENV_ID = "SO101-Reach-v0"
N = 4
UPRIGHT = np.array([0, 0, 0, 0, 0, 50.0])  # SO-101 joints in degrees, gripper half open
TOL = 1e-4  # rad (qpos) and m (site positions): see the module docstring


@pytest.fixture(scope="module")
def mjw():
    return pytest.importorskip(
        "mujoco_warp", reason="MuJoCo Warp is not installed (pip install 'lerobot-gym[warp]')"
    )


def _cuda(mjw):
    import warp

    if not warp.is_cuda_available():
        pytest.skip("Warp sees no CUDA GPU on this machine")


def _pair(device="cpu", **kwargs):
    """The same twins on mujoco.batch and on Warp (its CPU device unless told)."""
    ref = lerobot_gym.make_vec(ENV_ID, num_envs=N, obs_type="state", **kwargs)
    warp = lerobot_gym.make_vec(
        ENV_ID, num_envs=N, obs_type="state", physics="warp", device=device, **kwargs
    )
    return ref, warp


def _close(ref, warp, what):
    for name in ("qpos", "qvel"):
        scale = 1.0 if name == "qpos" else 100.0  # qvel in rad/s, over ~2 ms substeps
        diff = np.abs(ref.batch.bind(name) - warp.batch.bind(name)).max()
        assert diff < TOL * scale, f"{what}: {name} differs by {diff:.2e}"
    diff = np.abs(ref.batch.bind("site_xpos") - warp.batch.bind("site_xpos")).max()
    assert diff < TOL, f"{what}: site_xpos differs by {diff:.2e}"


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_warp_follows_mujoco_batch_with_the_same_spaces(mjw, device):
    """On CUDA the substeps run as one captured CUDA graph (only where a GPU exists)."""
    if device == "cuda":
        _cuda(mjw)
    ref, warp = _pair(device)
    try:
        assert warp.single_observation_space == ref.single_observation_space
        assert warp.single_action_space == ref.single_action_space
        assert warp.observation_space == ref.observation_space
        assert warp.action_space == ref.action_space
        obs_r, _ = ref.reset(seed=3)
        obs_w, _ = warp.reset(seed=3)
        assert type(warp.batch).__name__ == "WarpPhysics"
        # The bound fields have the batch's shapes and dtype; derived ones are read-only.
        for name in ("qpos", "qvel", "ctrl", "time", "xpos", "xquat", "site_xpos", "site_xmat"):
            a, b = ref.batch.bind(name), warp.batch.bind(name)
            assert (a.shape, a.dtype) == (b.shape, b.dtype), name
        with pytest.raises(ValueError):
            warp.batch.bind("xpos")[0, 0, 0] = 1.0
        for key in obs_r:  # the reset writes the same float64 rows into both
            assert np.array_equal(obs_r[key], obs_w[key]), key
        rng = np.random.default_rng(0)
        space = ref.single_action_space
        for t in range(10):
            # Towards an upright arm with +-10 degree noise, off the table (checked below).
            to_upright = UPRIGHT - obs_r["agent_pos"]
            actions = obs_r["agent_pos"] + 0.3 * to_upright + rng.uniform(-10, 10, (N, 6))
            actions = np.clip(actions, space.low, space.high).astype(space.dtype)
            obs_r, rew_r, term_r, trunc_r, info_r = ref.step(actions)
            assert all(ref.twin_data(i).ncon == 0 for i in range(N)), "contact: see docstring"
            obs_w, rew_w, term_w, trunc_w, info_w = warp.step(actions)
            _close(ref, warp, f"step {t}")
            assert obs_w["agent_pos"].dtype == obs_r["agent_pos"].dtype
            assert np.allclose(obs_w["agent_pos"], obs_r["agent_pos"], atol=np.degrees(TOL), rtol=0)
            assert np.allclose(rew_w, rew_r, atol=TOL, rtol=0)
            assert np.array_equal(term_w, term_r) and np.array_equal(trunc_w, trunc_r)
            assert np.array_equal(info_w["action_applied"], info_r["action_applied"])
        # One twin's whole MjData, as the batch's get_data gives it.
        data = warp.twin_data(2)
        assert np.array_equal(data.qpos, warp.batch.bind("qpos")[2])
        assert np.allclose(data.site_xpos, ref.twin_data(2).site_xpos, atol=TOL, rtol=0)
    finally:
        ref.close()
        warp.close()


def test_masked_reset_and_autoreset_follow_mujoco_batch(mjw):
    """Twins that truncate at different steps: the step then runs a subset (``ids``)."""
    ref, warp = _pair(max_episode_steps=3)
    try:
        space = ref.single_action_space
        outs = {}
        for name, envs in (("ref", ref), ("warp", warp)):
            rng = np.random.default_rng(1)
            envs.reset(seed=7)
            log = []
            for t in range(5):
                if t == 1:  # twin 0 starts over: its episode now ends a step after the others'
                    mask = np.array([True] + [False] * (N - 1))
                    obs, _ = envs.reset(options={"reset_mask": mask})
                    log.append((obs["agent_pos"], None, None, None))
                actions = rng.uniform(space.low, space.high, size=(N, *space.shape))
                obs, rew, term, trunc, _ = envs.step(actions.astype(space.dtype))
                log.append((obs["agent_pos"], rew, term, trunc))
            outs[name] = log
        truncs = [entry[3] for entry in outs["ref"] if entry[3] is not None]
        assert truncs[2].tolist() == [False] + [True] * (N - 1)  # twins 1.. truncate first
        assert truncs[3].tolist() == [True] + [False] * (N - 1)  # twin 0 alone, then
        for (o_r, r_r, te_r, tr_r), (o_w, r_w, te_w, tr_w) in zip(outs["ref"], outs["warp"]):
            assert np.allclose(o_w, o_r, atol=np.degrees(TOL), rtol=0)
            if r_r is not None:
                assert np.allclose(r_w, r_r, atol=TOL, rtol=0)
                assert np.array_equal(te_w, te_r) and np.array_equal(tr_w, tr_r)
        _close(ref, warp, "after the autoresets")
        # The last step ran twins 1.. (ids), then the reset of twin 0 ran a forward of it alone:
        # twin 1's device data is recomputed from its state before get_data reports it.
        assert not warp.batch._current[1]
        data = warp.twin_data(1)
        assert np.array_equal(data.qpos, warp.batch.bind("qpos")[1])
        assert np.allclose(data.qpos, ref.twin_data(1).qpos, atol=TOL, rtol=0)
        # Twin 0's device data is its forward pass, from its float64 reset state in float32.
        assert np.array_equal(warp.twin_data(0).qpos, warp.batch.bind("qpos")[0].astype(np.float32))
    finally:
        ref.close()
        warp.close()


def test_step_and_forward_of_a_subset_leave_the_others_alone(mjw):
    """``step(ids)``/``forward(ids)`` as ``Batch``'s: the other rows and their data keep still."""
    from mujoco.batch import Batch

    from lerobot_gym.sim.warp_physics import WarpPhysics

    envs = lerobot_gym.make_vec(ENV_ID, num_envs=3, obs_type="state")
    try:
        envs.reset(seed=5)
        model = envs.batch.model
        batch, warp = Batch(model, 3, nthread=1, persistent=True), WarpPhysics(model, 3, "cpu")
        for physics in (batch, warp):
            physics.state[:] = envs.batch.state
            physics.bind("ctrl")[:] += np.array([[0.3], [-0.2], [0.1]])  # every twin moves
            physics.forward()
            physics.bind("site_xpos")  # bound: refreshed from here on
            physics.step(ids=np.array([1], dtype=np.int32), nstep=16)
        moved = np.abs(batch.state[1] - envs.batch.state[1]).max()
        assert moved > 1e-3  # twin 1 did move
        assert np.abs(warp.state - batch.state).max() < TOL * 100  # qvel among them
        assert np.array_equal(warp.state[[0, 2]], batch.state[[0, 2]])  # untouched rows
        sites = np.abs(warp.bind("site_xpos") - batch.bind("site_xpos")).max()
        assert sites < TOL
        # Twin 0 was not in the last call: its MjData is recomputed from its (unmoved) state.
        data = warp.get_data(0)
        assert np.array_equal(data.qpos, warp.bind("qpos")[0].astype(np.float32))
        assert np.allclose(data.site_xpos, batch.get_data(0).site_xpos, atol=TOL, rtol=0)
    finally:
        envs.close()


def test_contacts_reach_the_tasks(mjw):
    """A twin whose jaw hits the table: the world's contact queries see it on Warp too."""
    ref, warp = _pair()
    try:
        space = ref.single_action_space
        for envs in (ref, warp):
            rng = np.random.default_rng(0)
            envs.reset(seed=3)
            for _ in range(6):  # twin 0 reaches into the table at step 6 (5 steps: no contact)
                actions = rng.uniform(space.low, space.high, size=(N, *space.shape))
                envs.step(actions.astype(space.dtype))
        touching = {}
        for name, envs in (("ref", ref), ("warp", warp)):
            world = envs._worlds[0]
            ids = world.touching(world.geom_ids(["table"]))
            touching[name] = {
                mujoco.mj_id2name(world.model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in ids
            }
        assert touching["ref"] == {"fixed_jaw", "fixed_jaw_pad"}
        assert touching["warp"] == touching["ref"]
    finally:
        ref.close()
        warp.close()


def test_cameras_render_the_warp_twins(mjw):
    """Cameras draw each twin's MjData from get_data: the same images up to edge pixels."""
    kwargs = {"obs_type": "pixels_agent_pos", "cameras": ("front",), "image_size": (64, 64)}
    ref = lerobot_gym.make_vec(ENV_ID, num_envs=2, **kwargs)
    warp = lerobot_gym.make_vec(ENV_ID, num_envs=2, physics="warp", device="cpu", **kwargs)
    try:
        obs_r, _ = ref.reset(seed=1)
        warp.reset(seed=1)
        actions = obs_r["agent_pos"] + 5.0
        obs_r, *_ = ref.step(actions)
        obs_w, *_ = warp.step(actions)
        img_r, img_w = obs_r["pixels"]["front"], obs_w["pixels"]["front"]
        assert img_w.shape == img_r.shape == (2, 64, 64, 3) and img_w.dtype == np.uint8
        # Poses 1e-7 m apart move an edge across a pixel centre only rarely (measured: 1 of
        # 24576 values, off by 1 level).
        assert (img_w != img_r).mean() < 1e-3
        assert img_r.std() > 10  # a real scene, not a blank buffer
    finally:
        ref.close()
        warp.close()


def test_import_stays_free_of_warp():
    code = (
        "import sys, lerobot_gym, lerobot_gym.sim.vector_env, lerobot_gym.sim.warp_physics; "
        "print(sorted(m for m in ('warp', 'mujoco_warp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_contact_buffer_overflow_is_an_error_naming_the_buffers(mjw):
    """Too few contact slots (the cube resting on the table needs several): an error, not a
    silently dropped contact; with enough slots the same state steps."""
    from mujoco.batch import SimulationError

    from lerobot_gym.sim.warp_physics import WarpPhysics

    envs = lerobot_gym.make_vec("SO101-PickCube-v0", num_envs=2, obs_type="state")
    try:
        envs.reset(seed=0)
        model = envs.batch.model
        small = WarpPhysics(model, 2, "cpu", nconmax=1)
        small.state[:] = envs.batch.state
        with pytest.raises(SimulationError, match="nconmax"):
            small.step(nstep=2)
        roomy = WarpPhysics(model, 2, "cpu")
        roomy.state[:] = envs.batch.state
        roomy.step(nstep=2)
        assert roomy.get_data(0).ncon > 1
    finally:
        envs.close()


def test_unsupported_model_features_are_named(mjw):
    from lerobot_gym.sim.warp_physics import WarpPhysics

    model = mujoco.MjModel.from_xml_string(
        '<mujoco><option solver="PGS"/><worldbody><body><joint type="hinge"/>'
        '<geom size="0.1"/></body></worldbody></mujoco>'
    )
    with pytest.raises(UnsupportedModelError, match="mjSOL_PGS") as err:
        WarpPhysics(model, 2, "cpu")
    assert "physics='mujoco'" in str(err.value)


def test_missing_extra_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "mujoco_warp", None)  # import mujoco_warp now fails
    with pytest.raises(ConfigError, match=r"pip install 'lerobot-gym\[warp\]'") as err:
        lerobot_gym.make_vec(ENV_ID, num_envs=2, physics="warp")
    assert isinstance(err.value, MissingExtraError) and err.value.extra == "warp"


def test_bad_physics_and_device_choices():
    with pytest.raises(ConfigError, match="physics must be one of"):
        lerobot_gym.make_vec(ENV_ID, num_envs=2, physics="jax")
    with pytest.raises(ConfigError, match="physics='warp' only"):
        lerobot_gym.make_vec(ENV_ID, num_envs=2, device="cuda")


def test_unknown_warp_device(mjw):
    with pytest.raises(ConfigError, match="device must be one of"):
        lerobot_gym.make_vec(ENV_ID, num_envs=2, physics="warp", device="tpu")
    import warp

    if not warp.is_cuda_available():
        with pytest.raises(ConfigError, match="sees no CUDA GPU"):
            lerobot_gym.make_vec(ENV_ID, num_envs=2, physics="warp", device="cuda")
        envs = lerobot_gym.make_vec(ENV_ID, num_envs=2, physics="warp", device="auto")
        assert envs.unwrapped._physics == ("warp", "cpu")  # "auto" falls back to the CPU
        envs.close()
