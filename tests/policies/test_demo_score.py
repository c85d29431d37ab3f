"""Demonstration scoring: mixed-quality demos, the rollout classifier, scoring and filtering.

The full pipeline (a base policy good enough to both succeed and fail) is the benchmark's job
(``benchmarks/demo_score.py``); here every stage is checked on its own, on tiny data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lerobot_gym.dataset.meta import DatasetMeta
from lerobot_gym.dataset.validate import validate
from lerobot_gym.errors import ConfigError, DatasetNotFoundError
from lerobot_gym.policies.demo_classifier import (
    NoRolloutContrastError,
    Rollout,
    demo_features,
    filter_metrics,
    score_episodes,
    select_demos,
    train_classifier,
)
from lerobot_gym.policies.demo_score import DemoScoreConfig, filter_dataset
from lerobot_gym.policies.mixed_demos import MixedDemosConfig, record_mixed_demos

REACH = "lerobot_gym/SO101-Reach-v0"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory):
    """Four 45-step Reach demonstrations, two of them aimed 6 cm above the target."""
    root = tmp_path_factory.mktemp("mixed") / "demos"
    config = MixedDemosConfig(REACH, n_episodes=4, bad_fraction=0.5, max_episode_steps=45)
    return record_mixed_demos(config, root)


def test_wrong_target_demos_fail_and_clean_ones_succeed(mixed) -> None:
    assert len(mixed.bad_episodes) == 2
    assert [k is not None for k in mixed.kinds] == [i in mixed.bad_episodes for i in range(4)]
    # The scripted reach gets there in 40 steps; the shifted plan stops 6 cm off (> 2 cm).
    assert list(mixed.demo_success) == [k is None for k in mixed.kinds]


def test_recorded_observation_keeps_the_true_target(mixed) -> None:
    # A bad demo must look like a normal one in the data: its recorded target is the env's
    # true one (not the shifted one it was planned for), so only its motion gives it away.
    import gymnasium as gym

    feats = demo_features(mixed.root)
    assert [f.shape for f in feats] == [(45, 9)] * 4
    bad = mixed.bad_episodes[0]
    env = gym.make(REACH, obs_type="state")
    obs, _ = env.reset(seed=bad)  # episode i is reset with seed + i (seed 0)
    env.close()
    np.testing.assert_allclose(feats[bad][:, 6:9], np.tile(obs["environment_state"], (45, 1)))


def test_drop_demos_let_go_of_the_cube(tmp_path: Path) -> None:
    config = MixedDemosConfig(
        "lerobot_gym/SO101-PickCube-v0",
        n_episodes=2,
        bad_fraction=0.5,
        corruptions=("drop",),
        max_episode_steps=100,
    )
    mixed = record_mixed_demos(config, tmp_path / "pick")
    feats = demo_features(mixed.root, use_actions=True)
    bad = mixed.bad_episodes[0]
    clean = 1 - bad
    assert list(mixed.demo_success) == [i == clean for i in range(2)]
    gripper = 6 + 7 + 5  # agent_pos (6), environment_state (7), then the action's gripper
    assert np.all(feats[bad][80:, gripper] == 100.0) and np.all(feats[clean][80:, gripper] < 50)
    cube_z = 6 + 2
    assert feats[bad][-1, cube_z] < 0.03 < feats[clean][-1, cube_z]


def test_bad_episode_choice_is_exact_and_seeded() -> None:
    config = MixedDemosConfig(REACH, n_episodes=10, bad_fraction=0.3, seed=7)
    a = np.random.default_rng(7).permutation(10)[:3]
    with pytest.raises(ConfigError, match="corruption"):
        MixedDemosConfig(REACH, corruptions=("drop_it",)).validate()
    config.validate()
    assert sorted(a) == sorted(np.random.default_rng(config.seed).permutation(10)[:3])


def _toy_rollouts(n_per_class: int, shift: float, seed: int = 0) -> list[Rollout]:
    rng = np.random.default_rng(seed)
    out = []
    for ckpt in (100, 200):
        for success in (True, False):
            for _ in range(n_per_class):
                centre = shift if success else -shift
                feats = rng.normal(centre, 1.0, (20, 4)).astype(np.float32)
                out.append(Rollout(feats, success, ckpt))
    return out


def test_classifier_loss_falls_on_separable_rollouts() -> None:
    model, summary = train_classifier(_toy_rollouts(6, 2.0), steps=200, hidden=16, seed=0)
    losses = summary["losses"]
    assert losses[-1] < 0.5 * losses[0]
    assert summary["held_out_checkpoint"] == 200
    assert summary["val_accuracy"] == 1.0
    good = score_episodes(model, [np.full((10, 4), 2.0, np.float32)])
    bad = score_episodes(model, [np.full((10, 4), -2.0, np.float32)])
    assert good[0] > 0.8 and bad[0] < 0.2


def test_classifier_on_indistinguishable_rollouts_stays_near_chance() -> None:
    # The same check on labels that carry no information must not pass: the loss stays near
    # log 2 and the held-out accuracy is not perfect.
    rollouts = _toy_rollouts(6, 0.0)
    _, summary = train_classifier(rollouts, steps=200, hidden=16, seed=0)
    assert min(summary["losses"]) > 0.5
    assert summary["val_accuracy"] < 1.0


def test_rollouts_without_both_outcomes_are_a_typed_error_naming_the_fix() -> None:
    ok = [Rollout(np.zeros((3, 2), np.float32), True, 1)] * 4
    with pytest.raises(NoRolloutContrastError, match="--n_checkpoints"):
        train_classifier(ok, steps=5)
    failed = [Rollout(np.zeros((3, 2), np.float32), False, 1)] * 4
    with pytest.raises(NoRolloutContrastError, match="--steps"):
        train_classifier(failed, steps=5)


def test_select_demos_by_threshold_and_by_fraction() -> None:
    scores = [0.9, 0.1, 0.6, 0.2, 0.5]
    assert select_demos(scores, threshold=0.5) == ([0, 2, 4], 0.5)
    assert select_demos(scores, keep_fraction=0.4) == ([0, 2], 0.6)
    assert select_demos(scores, keep_fraction=0.01) == ([0], 0.9)


def test_filter_metrics_count_removed_bad_demos() -> None:
    m = filter_metrics(removed=[1, 3, 4], bad=[1, 3, 7, 8])
    assert (m["precision"], m["recall"], m["true_positives"]) == (2 / 3, 0.5, 2)
    assert np.isnan(filter_metrics([], [1])["precision"])
    scores = [0.9, 0.2, 0.8, 0.3, 0.8]
    assert filter_metrics([1, 3], [1, 3], scores)["auroc"] == 1.0
    assert filter_metrics([1, 3], [0, 2, 4], scores)["auroc"] == 0.0
    assert filter_metrics([], [4], scores)["auroc"] == 0.375  # (1 + 0.5 for the tie) / 4


def test_filter_dataset_writes_a_valid_dataset_of_the_kept_episodes(mixed, tmp_path) -> None:
    before = demo_features(mixed.root)
    out = tmp_path / "kept"
    kept, removed, threshold = filter_dataset(mixed.root, [0.9, 0.1, 0.6, 0.2], out)
    assert (kept, removed, threshold) == ([0, 2], [1, 3], 0.5)
    assert validate(out) == []
    assert DatasetMeta.load(out).num_episodes == 2
    after = demo_features(out)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[2])
    assert DatasetMeta.load(mixed.root).num_episodes == 4  # the input is untouched


def test_filter_dataset_refuses_to_keep_nothing(mixed, tmp_path) -> None:
    with pytest.raises(ConfigError, match="--threshold"):
        filter_dataset(mixed.root, [0.1, 0.1, 0.2, 0.3], tmp_path / "none")
    with pytest.raises(ConfigError, match="4 episodes"):
        filter_dataset(mixed.root, [0.9], tmp_path / "short")
    assert not (tmp_path / "none").exists()


def test_config_names_the_flag_of_a_missing_dataset(tmp_path: Path) -> None:
    config = DemoScoreConfig(str(tmp_path / "absent"), REACH, str(tmp_path / "out"))
    with pytest.raises(DatasetNotFoundError, match=r"--dataset\.root"):
        config.validate()


def test_rollout_features_line_up_with_recorded_demo_features(mixed) -> None:
    # The classifier learns on rollouts and scores datasets: the same episode must give the
    # same per-step features both ways (agent_pos <-> observation.state, and so on).
    import gymnasium as gym

    from lerobot_gym.policies import evaluate_policy, make_policy
    from lerobot_gym.policies.demo_classifier import _RecordingPolicy

    clean = next(i for i in range(4) if i not in mixed.bad_episodes)
    episodes: list[list[np.ndarray]] = []
    evaluate_policy(
        lambda: gym.make(REACH, obs_type="state", max_episode_steps=45),
        lambda env: _RecordingPolicy(make_policy("scripted", env), False, episodes),
        n_episodes=1,
        seed=clean,
    )
    np.testing.assert_allclose(np.stack(episodes[0]), demo_features(mixed.root)[clean])
