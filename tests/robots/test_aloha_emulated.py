"""``backend="emulated"`` for every ALOHA id: the real Dynamixel driver on the emulated station."""

from __future__ import annotations

import dataclasses
import threading
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.dataset import LeRobotDataset
from lerobot_gym.errors import MotorTimeoutError
from lerobot_gym.registry import ENV_IDS
from lerobot_gym.wrappers import ControlRate, RecordEpisodes

pytest.importorskip("dynamixel_sdk")

ALOHA_IDS = sorted(env_id for env_id, (robot, _, _) in ENV_IDS.items() if robot == "aloha")
SMALL = (24, 32)
FAST = {"max_speed_deg_s": 360.0}
# The test machine is shared and often overloaded: four emulator threads and MuJoCo share this
# process, so tests that are not about timeouts give the buses a generous allowance.
PATIENT = {"bus_timeout_ms": 200.0, "bus_retries": 3}


def _make(env_id: str = "lerobot_gym/Aloha-v0", **kwargs) -> gym.Env:
    kwargs = {"backend": "emulated", "image_size": SMALL, **FAST, **PATIENT, **kwargs}
    return gym.make(env_id, disable_env_checker=True, **kwargs)


def _all_torque_off(station, timeout_s: float = 2.0) -> bool:
    # Torque off is an unacknowledged SYNC_WRITE: the emulators apply it a moment later.
    deadline = time.monotonic() + timeout_s
    while any(station.torque_enabled().values()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_the_three_aloha_ids_are_covered():
    assert len(ALOHA_IDS) == 3


def test_gym_make_does_no_io():
    env = _make()
    backend = env.unwrapped.backend
    assert backend.station is None and not backend.is_connected
    env.close()
    assert backend.station is None


@pytest.mark.parametrize("env_id", ALOHA_IDS)
def test_check_env(env_id):
    env = _make(env_id, obs_type="pixels_agent_pos")
    try:
        assert env.unwrapped.spec.nondeterministic
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()
    assert env.unwrapped.backend.station is None  # stopped with the env


@pytest.mark.parametrize("env_id", ALOHA_IDS)
def test_spaces_are_identical_in_sim_and_emulated(env_id):
    # Object poses are sim-only facts: tasks with props observe pixels on hardware.
    for obs_type in (
        ("state", "pixels_agent_pos") if env_id.endswith("Aloha-v0") else ("pixels_agent_pos",)
    ):
        sim = gym.make(env_id, obs_type=obs_type, image_size=SMALL, disable_env_checker=True)
        emulated = _make(env_id, obs_type=obs_type)
        assert sim.observation_space == emulated.observation_space
        assert sim.action_space == emulated.action_space
        sim.close()
        emulated.close()


def test_lockstep_emulated_gripper_and_joints_follow_the_twin_as_in_sim():
    """Same actions, same trajectory (up to tick quantisation and the reset move)."""
    runs = {}
    for backend in ("sim", "emulated"):
        kwargs = {**FAST, **PATIENT, "lockstep": True} if backend == "emulated" else {}
        env = gym.make(
            "lerobot_gym/Aloha-v0",
            backend=backend,
            obs_type="state",
            disable_env_checker=True,
            **kwargs,
        )
        obs, _ = env.reset(seed=0)
        action = obs["agent_pos"].copy()
        trace = []
        for gripper in (0.5, 1.0, 0.2):
            action[[6, 13]] = gripper
            action[0] = gripper - 0.5  # left waist
            for _ in range(15):
                obs, *_ = env.step(action)
            trace.append(obs["agent_pos"].copy())
        runs[backend] = np.array(trace)
        env.close()
    np.testing.assert_allclose(runs["emulated"], runs["sim"], atol=0.03)
    assert runs["emulated"][1, 6] > 0.9  # the gripper really opened through the bus


def test_a_write_to_a_shoulder_reaches_its_shadow_and_reads_never_address_it():
    env = _make(obs_type="state")
    try:
        obs, _ = env.reset(seed=0)
        station = env.unwrapped.backend.station
        emu = station.emulators[("follower", "left")]
        emu.addressed.clear()
        action = obs["agent_pos"].copy()
        action[1] += 0.2  # left shoulder
        for _ in range(3):
            env.step(action)
        primary, shadow = emu.servo("left_shoulder"), emu.servo("left_shoulder_shadow")
        assert shadow.secondary_id == 2 and shadow.torque_enabled
        assert shadow.get("Goal_Position") == primary.get("Goal_Position")
        # Mounted opposite its primary, the shadow holds the same joint angle.
        assert shadow.goal_rad() == pytest.approx(primary.goal_rad(), abs=1e-9)
        reads = {i for (code, i), n in emu.addressed.items() if code in (0x02, 0x82, 0x92)}
        assert reads == {1, 2, 4, 6, 7, 8, 9}  # 3 and 5 (the shadows) never
        assert emu.addressed[(0x83, 2)] >= 3  # goals went to the primary only
    finally:
        env.close()


def test_followers_are_configured_as_the_aloha_configures_them():
    env = _make(obs_type="state")
    try:
        env.reset(seed=0)
        station = env.unwrapped.backend.station
        for arm in ("left", "right"):
            emu = station.emulators[("follower", arm)]
            assert emu.register("Operating_Mode", f"{arm}_waist") == 3
            assert emu.register("Operating_Mode", f"{arm}_gripper") == 5
            assert emu.register("Current_Limit", f"{arm}_gripper") == 200
            assert emu.register("Drive_Mode", f"{arm}_shoulder") == 1
            assert emu.register("Drive_Mode", f"{arm}_shoulder_shadow") == 0
            assert emu.register("Return_Delay_Time", f"{arm}_elbow_shadow") == 0
        assert station.torque_enabled() == {
            ("follower", "left"): True,
            ("follower", "right"): True,
            ("leader", "left"): False,
            ("leader", "right"): False,
        }
    finally:
        env.close()


def test_a_dataset_recorded_through_the_emulated_station_loads_with_the_recorded_values(
    tmp_path,
):
    steps = 12
    env = _make(obs_type="pixels_agent_pos", max_episode_steps=steps)
    env = RecordEpisodes(
        ControlRate(env, fps=50), root=tmp_path / "ds", repo_id="test/aloha", vcodec="h264"
    )
    rng = np.random.default_rng(0)
    states, actions = [], []
    obs, info = env.reset(seed=0)
    done = False
    while not done:
        states.append(obs["agent_pos"])
        action = np.clip(obs["agent_pos"] + rng.normal(0, 0.05, 14), -1, 1).astype(np.float32)
        action[[6, 13]] = np.clip(action[[6, 13]], 0, 1)
        obs, _, terminated, truncated, info = env.step(action)
        actions.append(info["action_applied"])
        done = terminated or truncated
    env.close()
    ds = LeRobotDataset(tmp_path / "ds", format="numpy")
    assert ds.meta.info["robot_type"] == "aloha" and len(ds) == steps
    np.testing.assert_allclose(
        np.stack([ds[i]["observation.state"] for i in range(steps)]), np.stack(states), atol=1e-5
    )
    np.testing.assert_allclose(
        np.stack([ds[i]["action"] for i in range(steps)]), np.stack(actions), atol=1e-5
    )
    frame = ds[steps - 1]["observation.images.top"]
    assert frame.shape == (3, *SMALL) and frame.std() > 0.01


def test_a_persistent_fault_turns_torque_off_on_all_four_arms_and_raises_within_100_ms():
    env = ControlRate(_make(obs_type="state", bus_timeout_ms=20.0, bus_retries=1), fps=50)
    try:
        obs, _ = env.reset(seed=0)
        station = env.unwrapped.backend.station
        emu = station.emulators[("follower", "right")]
        injected: list[float] = []

        def elbow_stops_replying() -> None:
            emu.faults = dataclasses.replace(emu.faults, no_reply_ids=frozenset({4}))
            injected.append(time.perf_counter())

        timer = threading.Timer(0.21, elbow_stops_replying)  # mid-period, not step-aligned
        timer.start()
        with pytest.raises(MotorTimeoutError, match=r"id 4 \(right_elbow\)") as err:
            for _ in range(50):
                env.step(obs["agent_pos"])
        latency_s = time.perf_counter() - injected[0]
        timer.join()
        assert err.value.motor_id == 4
        assert latency_s < 0.1, f"fault detected after {latency_s * 1e3:.0f} ms"
        assert _all_torque_off(station)  # shadows included
    finally:
        env.close()


def test_bimanual_teleop_from_emulated_leaders_drives_the_emulated_followers():
    from lerobot_gym.robots.aloha.leader import AlohaLeaders

    env = _make(obs_type="state", lockstep=True)
    try:
        env.reset(seed=0)
        station = env.unwrapped.backend.station
        leaders = AlohaLeaders(
            {arm: station.ports[("leader", arm)] for arm in ("left", "right")},
            calibration_dir=station.calibration_folder("leader"),
            **PATIENT,
        )
        leaders.connect()
        # The operator's hands: a pose per leader, in the followers' joint units (metres for
        # the fingers), different for the two arms.
        spec = env.unwrapped.robot
        pose = np.asarray(spec.home_rad, float).copy()
        pose[[0, 3, 6]] = (0.3, 0.2, 0.05)  # left waist, forearm roll, finger (metres)
        pose[[7, 11, 13]] = (-0.25, 0.1, 0.03)  # right waist, wrist angle, finger
        for i, arm in enumerate(("left", "right")):
            station.emulators[("leader", arm)].set_actual_positions_rad(pose[7 * i : 7 * i + 7])
        action = leaders.get_action()
        expected = pose.copy()
        close, opened = 0.01844, 0.058
        expected[[6, 13]] = (pose[[6, 13]] - close) / (opened - close)
        np.testing.assert_allclose(action, expected, atol=0.01)
        assert not any(station.torque_enabled()[("leader", arm)] for arm in ("left", "right"))
        for _ in range(40):
            obs, *_ = env.step(leaders.get_action())
        np.testing.assert_allclose(obs["agent_pos"], expected, atol=0.05)
        leaders.disconnect()
    finally:
        env.close()
