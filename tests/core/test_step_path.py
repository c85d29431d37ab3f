"""The env's per-step path (issue 12's cuts) against a recomputation in plain MuJoCo.

The step path skips work where it can (one finite check, no unit round trip for an action safety
left alone); these tests pin what it must still be: the same physics as an honest ``mj_step``
loop driven by the clamped targets, bit for bit, and the same observations and reports.
"""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.core.controller import JointPositionController
from lerobot_gym.core.safety import SafetyFilter
from lerobot_gym.core.spec import JointSpec, RobotSpec
from lerobot_gym.errors import ActionError
from lerobot_gym.robots.aloha.spec import ALOHA
from lerobot_gym.robots.so101.spec import SO101
from lerobot_gym.tasks.scripted.cube import PickCubePolicy


def _actions(env: gym.Env, n: int) -> list[np.ndarray]:
    """Actions inside, on and past the bounds, float32 and float64, as policies send them."""
    rng = np.random.default_rng(5)
    low, high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
    span = high - low
    out = []
    for i in range(n):
        action = rng.uniform(low - 0.2 * span, high + 0.2 * span)
        if i % 5 == 0:
            action = np.where(rng.random(len(low)) < 0.5, low, high)  # exactly on the bounds
        out.append(action.astype(np.float32 if i % 3 else np.float64))
    return out


@pytest.mark.parametrize("env_id", ["lerobot_gym/SO101-Reach-v0", "lerobot_gym/SO101-PickCube-v0"])
@pytest.mark.parametrize("max_relative_target", [None, 4.0])
def test_trajectory_is_a_raw_mj_step_loop_bit_for_bit(env_id, max_relative_target):
    env = gym.make(env_id, obs_type="state", max_relative_target=max_relative_target)
    base = env.unwrapped
    env.reset(seed=11)
    robot, backend = base.robot, base.backend
    model, scene = backend.model, backend.scene
    raw = mujoco.MjData(model)
    mujoco.mj_copyData(raw, model, backend.data)
    previous = base.joint_targets_rad
    step_rad = np.full(len(robot.joints), np.inf)
    if max_relative_target is not None:
        step_rad = np.array([j.delta_from_user(max_relative_target) for j in robot.joints])
    low_obs = base.observation_space["agent_pos"].low.astype(np.float64)
    high_obs = base.observation_space["agent_pos"].high.astype(np.float64)
    for action in _actions(env, 60):
        obs, _, terminated, truncated, info = env.step(action)
        # The recomputation: unit conversion, limits, rate limit, one mj_step call per period.
        target = robot.from_user(action.astype(np.float64))
        target = np.minimum(np.maximum(target, robot.lower_rad), robot.upper_rad)
        target = np.minimum(np.maximum(target, previous - step_rad), previous + step_rad)
        previous = target
        raw.ctrl[scene.ctrl_index] = target
        mujoco.mj_step(model, raw, nstep=backend.substeps)
        np.testing.assert_array_equal(backend.data.qpos, raw.qpos)
        np.testing.assert_array_equal(backend.data.qvel, raw.qvel)
        np.testing.assert_array_equal(base.joint_targets_rad, target)
        q_user = robot.to_user(raw.qpos[scene.qpos_index])
        expected = np.minimum(np.maximum(q_user, low_obs), high_obs).astype(np.float32)
        np.testing.assert_array_equal(obs["agent_pos"], expected)
        assert env.action_space.contains(info["action_applied"])
        if terminated or truncated:
            break


def test_an_action_safety_left_alone_is_reported_bit_for_bit():
    # A gripper value of 1e-20 %: the unit round trip (to SI and back) loses it to the
    # gripper's offset; the applied action is the action itself, not that round trip.
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    env.reset(seed=0)
    action = ((env.action_space.low + env.action_space.high) / 2).astype(np.float32)
    action[-1] = np.float32(1e-20)
    _, _, _, _, info = env.step(action)
    np.testing.assert_array_equal(info["action_applied"], action)
    assert not info["safety_clamped"].any()
    applied = info["action_applied"]
    action[0] += 1.0  # the caller reuses its buffer: what was reported stays as it was
    assert applied[0] == action[0] - 1.0 and applied is not action


def test_a_clamped_action_reports_the_clamped_targets():
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    env.reset(seed=0)
    action = env.action_space.high.copy()
    action[0] += 30.0  # degrees past the limit
    _, _, _, _, info = env.step(action)
    assert info["safety_clamped"][0] and not info["safety_clamped"][1:].any()
    assert info["action_applied"][0] == env.action_space.high[0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_actions_are_refused_before_anything_moves(bad, dtype):
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    env.reset(seed=0)
    qpos = env.unwrapped.backend.data.qpos.copy()
    targets = env.unwrapped.joint_targets_rad
    action = env.action_space.sample().astype(dtype)
    action[3] = bad
    with pytest.raises(ActionError, match=r"action has non-finite values at indices \[3\]"):
        env.step(action)
    np.testing.assert_array_equal(env.unwrapped.backend.data.qpos, qpos)
    np.testing.assert_array_equal(env.unwrapped.joint_targets_rad, targets)
    env.step(env.action_space.sample())  # the env goes on: the refusal changed nothing


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_every_float_dtype_sends_the_targets_of_its_float64_value(dtype):
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    env.reset(seed=0)
    robot = env.unwrapped.robot
    action = ((env.action_space.low + env.action_space.high) / 3).astype(dtype)
    env.step(action)
    expected = np.clip(robot.from_user(action.astype(np.float64)), robot.lower_rad, robot.upper_rad)
    np.testing.assert_array_equal(env.unwrapped.joint_targets_rad, expected)


def test_pick_cube_facts_are_the_physics_read_directly():
    # The cube task's per-step facts (their reads cut for issue 12) against MjData read the
    # plain way, bit for bit, along the scripted grasp and lift (the jaws touch the cube).
    env = gym.make("lerobot_gym/SO101-PickCube-v0", obs_type="state")
    base = env.unwrapped
    obs, info = env.reset(seed=4)
    policy = PickCubePolicy(env)
    policy.reset(obs, info)
    model, data, robot = base.backend.model, base.backend.data, base.robot
    cube_body, cube_geom = model.body("cube").id, model.geom("cube").id
    site = model.site(robot.arms[0].gripper_site).id
    pads = {model.geom(name).id for name in robot.arms[0].pad_geoms}
    seen = set()
    for _ in range(150):
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        facts = info["facts"]
        tcp, cube = data.site_xpos[site].copy(), data.xpos[cube_body].copy()
        d = tcp - cube
        on_cube = set()
        for g1, g2 in data.contact.geom[: data.ncon].tolist():
            if cube_geom in (g1, g2):
                on_cube.add(g2 if g1 == cube_geom else g1)
        np.testing.assert_array_equal(facts["tcp_pos"], tcp)
        np.testing.assert_array_equal(facts["cube_pos"], cube)
        np.testing.assert_array_equal(facts["cube_quat"], data.xquat[cube_body])
        assert facts["cube_height_m"] == float(cube[2]) - 0.0125 - robot.table_height_m
        assert facts["tcp_to_cube_m"] == float(np.sqrt(d @ d))
        assert facts["touching_cube"] == bool(on_cube & pads)
        assert facts["grasped"] == (pads <= on_cube)
        assert reward == base.task.reward(facts)
        seen.add((facts["touching_cube"], facts["grasped"]))
        if terminated or truncated:
            break
    assert {(False, False), (True, True)} <= seen  # both sides of the contact facts were met


@pytest.mark.parametrize("robot", [SO101, ALOHA], ids=["so101", "aloha"])
def test_the_controllers_interior_is_the_actions_safety_leaves_alone(robot):
    # The env skips the controller's check and the safety filter for float32 actions inside
    # the interior; each bound must be a value both pass unchanged, and the next float32 value
    # outward must not be (or must be the action space's own bound).
    controller = JointPositionController(robot)
    box = controller.interior(robot.lower_rad, robot.upper_rad)
    assert box is not None
    scale, offset = robot.user_affine
    space = controller.action_space
    f = SafetyFilter(robot.lower_rad, robot.upper_rad, np.full(len(robot.joints), np.inf))

    def passes(j: int, value: np.float32) -> bool:
        action = ((space.low.astype(np.float64) + space.high) / 2).astype(np.float32)
        action[j] = value
        if not space.contains(action):
            return False
        try:
            targets = controller.step_targets(action, robot.home_rad)
        except ActionError:  # a strict joint out of its range
            return False
        report = f.apply(targets)
        expected = (np.float64(value) - offset[j]) / scale[j]
        return bool(report.exact) and report.applied_rad[j] == expected

    for j, (low, high) in enumerate(zip(*box, strict=True)):
        low32, high32 = np.float32(low), np.float32(high)
        assert float(low32) == low and float(high32) == high  # float32 values
        assert passes(j, low32) and passes(j, high32)
        assert low32 == space.low[j] or not passes(j, np.nextafter(low32, np.float32(-np.inf)))
        assert high32 == space.high[j] or not passes(j, np.nextafter(high32, np.float32(np.inf)))


def test_no_interior_under_a_rate_limit_or_for_deltas():
    # Targets then depend on the previous ones: every action takes the full checks.
    assert (
        gym.make("lerobot_gym/SO101-Reach-v0", max_relative_target=5.0).unwrapped._interior is None
    )
    delta = gym.make("lerobot_gym/SO101-Reach-v0", control_mode="joint_delta").unwrapped
    assert delta._interior is None


def test_a_negative_zero_gripper_is_reported_as_the_bound():
    # -0.0 lies in the interior (it equals the gripper's bound 0.0); its report stays the
    # clip's, +0.0, as for every exact float32 action before the interior existed.
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    env.reset(seed=0)
    action = ((env.action_space.low + env.action_space.high) / 2).astype(np.float32)
    action[-1] = np.float32(-0.0)
    _, _, _, _, info = env.step(action)
    assert info["action_applied"][-1] == 0.0 and not np.signbit(info["action_applied"][-1])
    assert not info["safety_clamped"].any()


def test_a_zero_joint_limit_keeps_zero_targets_out_of_the_interior():
    # With a limit of exactly 0 rad (offset 0), the action -0.0 converts to the target -0.0,
    # which the safety clamp reports as 0.0: the interior stops short of zero there, so that
    # action takes the full path and its targets stay the clamp's, sign included.
    joints = (
        JointSpec("a", 0.0, 1.0, unit="rad"),
        JointSpec("b", -1.0, 0.0, unit="rad"),
    )
    robot = RobotSpec(name="zero", robot_type="zero", joints=joints)
    controller = JointPositionController(robot)
    box = controller.interior(robot.lower_rad, robot.upper_rad)
    assert box is not None
    (low_a, low_b), (high_a, high_b) = box
    assert low_a > 0.0 and high_b < 0.0  # zero excluded at the zero limits
    assert low_b == -1.0 and high_a == 1.0  # the other bounds are the space's
    f = SafetyFilter(robot.lower_rad, robot.upper_rad, np.full(2, np.inf))
    f.reset(np.zeros(2))
    applied = f.apply(controller.step_targets(np.array([-0.0, -0.0], np.float32), None))
    assert not np.signbit(applied.applied_rad[0])  # what the full path sends
