"""A dataset recorded through the whole HIL-SERL stack, read by LeRobot 0.4.4's ReplayBuffer.

``make_hil_env`` on the twin (end-effector control, the operator's labels, gripper penalty,
a time limit) with a scripted operator who intervenes and labels; ``RecordEpisodes`` writes it.
LeRobot's ``ReplayBuffer.from_lerobot_dataset`` (what its SAC learner loads offline
demonstrations with) must read back, per frame, the reward, done, intervention and penalty
that the stack reported in ``info`` and the step's return values while recording (the ground
truth here, not our reader).
"""

from __future__ import annotations

from pathlib import Path

import compat_synthetic as synth
import numpy as np
import pytest
from compat_helpers import COMPAT_MARKS, lerobot_read

pytestmark = COMPAT_MARKS

CONFIG = {
    "env": {"id": "SO101-Reach-v0", "obs_type": "state"},
    "ee_control": {"step_sizes_m": 0.01},
    "reward": {"source": "human"},
    "gripper_penalty": -0.02,
    "episode_time_s": 0.5,
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    from lerobot_gym.hil import make_hil_env
    from lerobot_gym.teleop.scripted import ScriptedHuman, intervene_between
    from lerobot_gym.wrappers import RecordEpisodes

    root = tmp_path_factory.mktemp("hil_stack") / "ds"
    up_open = np.array([0.0, 0.0, 1.0, 1.0], np.float32)
    human = ScriptedHuman(
        lambda s: up_open, intervene_between(2, 6), presses={8: "success"}, action_kind="ee_delta"
    )
    human.connect()
    env = RecordEpisodes(make_hil_env(CONFIG, teleop=human), root, repo_id=synth.REPO_ID)
    truth: dict[str, list] = {"reward": [], "done": [], "is_intervention": [], "penalty": []}
    for seed in range(2):  # the first ends on the operator's success, the second on time
        env.reset(seed=seed)
        done = False
        while not done:
            _, reward, terminated, truncated, info = env.step(np.zeros(4, np.float32))
            done = terminated or truncated
            truth["reward"].append(reward)
            truth["done"].append(done)
            truth["is_intervention"].append(float(info["is_intervention"]))
            truth["penalty"].append(info["discrete_penalty"])
    env.close()
    return root, {k: np.asarray(v) for k, v in truth.items()}


def test_lerobot_replay_buffer_reads_what_the_stack_reported(recorded, tmp_path) -> None:
    root, truth = recorded
    assert truth["reward"].tolist().count(1.0) == 1 and truth["is_intervention"].sum() == 8
    assert (truth["penalty"] == -0.02).any()  # the operator's "open" flipped the jaws
    _, columns = lerobot_read(root, tmp_path, synth.RL)
    np.testing.assert_array_equal(columns["replay/reward"], truth["reward"].astype(np.float32))
    np.testing.assert_array_equal(columns["replay/done"], truth["done"])
    np.testing.assert_array_equal(
        columns["replay/complementary_info.is_intervention"],
        truth["is_intervention"].astype(np.float32),
    )
    np.testing.assert_allclose(
        columns["replay/complementary_info.discrete_penalty"], truth["penalty"], atol=1e-7
    )
    assert columns["replay/action"].shape == (len(truth["reward"]), 4)
