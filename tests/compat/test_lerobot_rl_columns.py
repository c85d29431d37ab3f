"""The reward, success, intervention and penalty columns of ``lerobot_features`` in LeRobot 0.4.4.

Our recorder declares ``next.reward`` float32, ``next.done`` and ``next.success`` bool, and
``complementary_info.is_intervention`` / ``complementary_info.discrete_penalty`` float32, all of
shape ``[1]`` (``lerobot_gym.wrappers.lerobot_keys.lerobot_features``), following reference
``shared/reference/lerobot-dataset-v3.md`` section 10. Checked on every RL dataset the
suite builds (resumed both ways, and with PNG ``image`` cameras), from LeRobot's side:

- ``LeRobotDataset.__getitem__`` returns each column with the dtype LeRobot's own producers use
  (bool flags, float32 reward/penalty/intervention, scalars for ``[1]`` features) and the
  written values;
- ``ReplayBuffer.from_lerobot_dataset``, which LeRobot's SAC learner uses to load offline
  demonstrations, picks ``next.reward``/``next.done`` up as reward/done and both
  ``complementary_info.*`` columns as its ``complementary_info`` (prefix stripped), unchanged.
"""

from __future__ import annotations

import compat_synthetic as synth
import gymnasium as gym
import numpy as np
import pytest
from compat_helpers import COMPAT_MARKS, Dump
from gymnasium import spaces

from lerobot_gym.wrappers.lerobot_keys import lerobot_features

pytestmark = COMPAT_MARKS

DATASETS = ["lerobot_then_ours", "ours_then_lerobot", "ours_images"]
RL_KEYS = (
    "next.reward",
    "next.done",
    "next.success",
    "complementary_info.is_intervention",
    "complementary_info.discrete_penalty",
)
# What LeRobot's reader returns for each column (torch dtype names, via numpy).
LEROBOT_DTYPES = {
    "next.reward": "float32",
    "next.done": "bool",
    "next.success": "bool",
    "complementary_info.is_intervention": "float32",
    "complementary_info.discrete_penalty": "float32",
}


class _CameraEnv(gym.Env):
    """Spaces only: a 6-D ``agent_pos``, one 64x96 camera and a 6-D action, no robot spec."""

    def __init__(self) -> None:
        image = spaces.Box(0, 255, (synth.HEIGHT, synth.WIDTH, 3), np.uint8)
        self.observation_space = spaces.Dict(
            {
                "agent_pos": spaces.Box(-np.inf, np.inf, (6,), np.float32),
                "pixels": spaces.Dict({"front": image}),
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, (6,), np.float32)


@pytest.fixture(params=DATASETS)
def rl_dataset(request: pytest.FixtureRequest) -> tuple[str, synth.Spec, Dump]:
    _, dump = request.getfixturevalue(request.param)
    spec = synth.RL_IMAGES if request.param == "ours_images" else synth.RL
    return request.param, spec, dump


@pytest.mark.parametrize("use_videos", [True, False])
def test_specs_are_our_recorder_features(use_videos: bool) -> None:
    """The features the RL datasets are written with are exactly ``lerobot_features``'s."""
    spec = synth.RL if use_videos else synth.RL_IMAGES
    assert lerobot_features(_CameraEnv(), use_videos=use_videos) == spec.features


def test_lerobot_declares_rl_columns(rl_dataset) -> None:
    name, spec, (meta, _) = rl_dataset
    for key in RL_KEYS:
        got = meta["features"][key]
        want = spec.features[key]
        assert (got["dtype"], list(got["shape"]), got["names"]) == (
            want["dtype"],
            [1],
            want["names"],
        ), f"{name}: {key}"


def test_lerobot_returns_rl_columns_with_its_dtypes(rl_dataset) -> None:
    name, spec, (meta, columns) = rl_dataset
    written = spec.frames()
    n = sum(spec.episode_lengths)
    for key in RL_KEYS:
        assert meta["dtypes"][key] == LEROBOT_DTYPES[key], f"{name}: {key}"
        assert columns[key].shape == (n,), f"{name}: {key} is not one scalar per frame"
        np.testing.assert_array_equal(columns[key], written[key].reshape(n), f"{name}: {key}")
    # Both outcomes and both intervention states occur, so constant columns cannot pass.
    assert set(columns["next.success"].tolist()) == {False, True}
    assert set(columns["complementary_info.is_intervention"].tolist()) == {0.0, 1.0}


def test_lerobot_replay_buffer_loads_rl_columns(rl_dataset) -> None:
    name, spec, (_, columns) = rl_dataset
    written = spec.frames()
    n = sum(spec.episode_lengths)
    replay = {k.removeprefix("replay/"): v for k, v in columns.items() if k.startswith("replay/")}
    assert set(replay) == {
        "state",
        "action",
        "reward",
        "done",
        "complementary_info.is_intervention",
        "complementary_info.discrete_penalty",
    }, name
    np.testing.assert_array_equal(replay["state"], written["observation.state"], name)
    np.testing.assert_array_equal(replay["action"], written["action"], name)
    np.testing.assert_array_equal(replay["reward"], written["next.reward"].reshape(n), name)
    np.testing.assert_array_equal(replay["done"], written["next.done"].reshape(n), name)
    assert replay["done"].dtype == np.bool_
    for key in ("complementary_info.is_intervention", "complementary_info.discrete_penalty"):
        assert replay[key].dtype == np.float32, f"{name}: {key}"
        np.testing.assert_array_equal(replay[key], written[key].reshape(n), f"{name}: {key}")
