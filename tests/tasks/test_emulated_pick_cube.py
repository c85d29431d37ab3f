"""An emulated SO-101 on PickCube lives in the task's scene: it sees, touches and scores the cube.

The emulated arm runs the real driver over the pty servo bus; its plant is the same
:class:`~lerobot_gym.sim.scene.Scene` the twin simulates (robot + cube + cameras). In lockstep
the emulator advances one control period per step, so the same actions must give the twin's
rewards and success.

Tolerance: the bus carries positions as 12-bit ticks (360/4096 = 0.088 deg). Goals are rounded
to the nearest tick (at most 0.044 deg per joint) and the arm is read back in ticks, so the
emulated gripper frame strays from the twin's by a fraction of a millimetre (0.3 m of arm x
0.0008 rad), and the dense reward, whose steepest term ``1 - tanh(10 d)`` changes by at most
0.01 per millimetre, by a few thousandths (0.005 measured over two seeded episodes). The test
allows 0.02 per step and the same success step within two steps.
"""

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.tasks.scripted import make_scripted_policy

KWARGS = {"obs_type": "pixels_agent_pos", "image_size": (96, 128), "cameras": ("front",)}
REWARD_TOLERANCE = 0.02


def _red_pixels(image: np.ndarray) -> int:
    """Pixels of the red cube (0.85, 0.15, 0.1) in an image."""
    r, g, b = (image[..., i].astype(int) for i in range(3))
    return int(((r > 150) & (g < 80) & (b < 80)).sum())


def test_emulated_pick_cube_sees_touches_and_scores_the_cube_like_the_twin():
    twin = gym.make("lerobot_gym/SO101-PickCube-v0", **KWARGS)
    emulated = gym.make(
        "lerobot_gym/SO101-PickCube-v0", backend="emulated", lockstep=True, **KWARGS
    )
    try:
        obs_e, info_e = emulated.reset(seed=1)
        # The twin starts where the emulated arm actually came to rest after its reset move.
        obs_t, info_t = twin.reset(seed=1, options={"joint_positions": obs_e["agent_pos"]})
        # Same seed, same cube; the emulated camera shows it as the twin's does.
        np.testing.assert_allclose(info_e["facts"]["cube_pos"], info_t["facts"]["cube_pos"])
        red_e, red_t = _red_pixels(obs_e["pixels"]["front"]), _red_pixels(obs_t["pixels"]["front"])
        assert red_e > 10
        assert abs(red_e - red_t) <= 0.2 * red_t

        policy = make_scripted_policy(twin)
        policy.reset(obs_t, info_t)
        rewards, successes = [], []
        for _ in range(110):
            action = policy(obs_t)
            obs_t, reward_t, _, _, info_t = twin.step(action)
            obs_e, reward_e, _, _, info_e = emulated.step(action)
            rewards.append((reward_t, reward_e))
            successes.append((info_t["is_success"], info_e["is_success"]))
        rewards_t, rewards_e = np.array(rewards).T
        assert rewards_e.max() > 0.9  # the emulated arm reached, grasped and lifted the cube
        np.testing.assert_allclose(rewards_e, rewards_t, atol=REWARD_TOLERANCE)
        first_t, first_e = (next(i for i, s in enumerate(col) if s) for col in zip(*successes))
        assert abs(first_t - first_e) <= 2
        assert info_e["is_success"] and info_e["facts"]["grasped"]
        np.testing.assert_allclose(
            info_e["facts"]["cube_pos"], info_t["facts"]["cube_pos"], atol=0.003
        )
    finally:
        emulated.close()
        twin.close()


def test_an_emulated_arm_without_lockstep_also_has_the_task_world():
    # A generous reply allowance: on the wall clock, a loaded machine must not fail the bus.
    env = gym.make(
        "lerobot_gym/SO101-PickCube-v0", backend="emulated", bus_timeout_ms=500.0, **KWARGS
    )
    try:
        _, info = env.reset(seed=0)
        facts = info["facts"]
        assert facts["cube_height_m"] >= -1e-3  # the cube lies on the table, not inside the arm
        assert env.unwrapped.backend.world is not None
    finally:
        env.close()
