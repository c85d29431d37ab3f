"""The reward classifier: learning, checkpoints, label pairing, metrics and the CLI.

The accuracy goal against the twin's ground truth (>= 95 % on held-out PickCube episodes) is
measured by ``benchmarks/reward_classifier_pickcube.py``; here a tiny model on synthetic images
shows that training learns (the loss falls within a few steps) and everything around it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lerobot_gym.cli.main import main
from lerobot_gym.errors import CheckpointError, ConfigError
from lerobot_gym.policies.reward_classifier import (
    RewardClassifierConfig,
    RewardClassifierNet,
    load_reward_classifier,
)
from lerobot_gym.policies.reward_training import (
    LabelledFrames,
    classifier_metrics,
    load_labelled_frames,
    split_episodes,
    train_reward_classifier,
)

SIZE = (24, 24)
TINY = {"channels": (4, 8), "hidden_dim": 8, "dropout": 0.0}


def _image(lifted: bool, rng: np.random.Generator) -> np.ndarray:
    """A grey scene with a red square low (on the table) or high (lifted), plus noise."""
    img = rng.integers(90, 110, (*SIZE, 3)).astype(np.uint8)
    x = int(rng.integers(2, 16))
    y = int(rng.integers(2, 7)) if lifted else int(rng.integers(14, 17))
    img[y : y + 6, x : x + 6] = (200, 30, 30)
    return img


def _frames(episodes: int, per_episode: int, seed: int = 0) -> LabelledFrames:
    rng = np.random.default_rng(seed)
    n = episodes * per_episode
    labels = np.array([(i % per_episode) >= per_episode // 2 for i in range(n)])
    images = np.stack([_image(bool(lab), rng) for lab in labels])
    eps = np.repeat(np.arange(episodes), per_episode)
    return LabelledFrames({"front": images}, labels, eps)


def test_a_tiny_classifier_learns_within_a_few_steps(tmp_path: Path) -> None:
    frames = _frames(episodes=6, per_episode=20)
    result = train_reward_classifier(
        frames, tmp_path / "clf", steps=60, batch_size=16, lr=3e-3, config_overrides=TINY
    )
    first, last = np.mean(result.losses[:5]), np.mean(result.losses[-5:])
    assert last < 0.5 * first, (first, last)
    assert result.metrics.accuracy >= 0.9, result.metrics
    # Held-out episodes are whole episodes the training never saw.
    assert set(result.held_out_episodes).isdisjoint(result.train_episodes)
    report = json.loads((tmp_path / "clf" / "report.json").read_text())
    assert report["held_out"]["accuracy"] == result.metrics.accuracy
    assert {"precision", "recall"} <= set(report["held_out"])


def test_an_untrained_classifier_does_not_pass_the_same_check(tmp_path: Path) -> None:
    """The metric above could fail: with one step the classifier is near chance."""
    frames = _frames(episodes=6, per_episode=20)
    result = train_reward_classifier(
        frames, tmp_path / "clf", steps=1, batch_size=4, config_overrides=TINY
    )
    assert result.metrics.accuracy < 0.9


def test_checkpoint_round_trip_gives_the_same_probabilities(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = RewardClassifierNet(RewardClassifierConfig(("front", "wrist"), SIZE, **TINY))
    rng = np.random.default_rng(1)
    images = {c: rng.integers(0, 255, (3, *SIZE, 3)).astype(np.uint8) for c in ("front", "wrist")}
    net.save_pretrained(tmp_path / "clf")
    loaded = load_reward_classifier(tmp_path / "clf")
    assert loaded.config == net.config
    np.testing.assert_array_equal(loaded.predict_proba(images), net.predict_proba(images))


def test_broken_checkpoints_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="train-reward-classifier"):
        load_reward_classifier(tmp_path)
    net = RewardClassifierNet(RewardClassifierConfig(("front",), SIZE, **TINY))
    net.save_pretrained(tmp_path / "a")
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    (tmp_path / "a" / "config.json").write_text(json.dumps({**cfg, "hidden_dim": 16}))
    with pytest.raises(CheckpointError, match="does not match"):
        load_reward_classifier(tmp_path / "a")
    (tmp_path / "a" / "config.json").write_text(json.dumps({**cfg, "type": "act"}))
    with pytest.raises(CheckpointError, match="not a reward classifier"):
        load_reward_classifier(tmp_path / "a")


def test_wrong_image_size_or_camera_is_refused() -> None:
    net = RewardClassifierNet(RewardClassifierConfig(("front",), SIZE, **TINY))
    with pytest.raises(ConfigError, match="trained on 24x24"):
        net.predict_proba({"front": np.zeros((32, 32, 3), np.uint8)})
    with pytest.raises(ConfigError, match="needs camera 'front'"):
        net.predict_proba({"wrist": np.zeros((*SIZE, 3), np.uint8)})


def test_metrics_count_each_kind_of_error() -> None:
    m = classifier_metrics(np.array([1, 1, 1, 0, 0, 0], bool), np.array([1, 1, 0, 0, 0, 1], bool))
    assert (m.true_positive, m.false_positive, m.true_negative, m.false_negative) == (2, 1, 2, 1)
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(2 / 3)


def test_split_holds_out_whole_episodes_reproducibly() -> None:
    train, val = split_episodes(range(10), 0.2, seed=3)
    assert len(val) == 2 and sorted(train + val) == list(range(10))
    assert split_episodes(range(10), 0.2, seed=3) == (train, val)
    with pytest.raises(ConfigError, match="at least 2 episodes"):
        split_episodes([0], 0.2, seed=0)


def _labelled_dataset(root: Path, episodes: int = 4, length: int = 10) -> Path:
    """PNG frames whose red channel encodes the frame index; next.success from frame 5 on."""
    from lerobot_gym.dataset import LeRobotDatasetWriter

    features = {
        "observation.images.front": {
            "dtype": "image",
            "shape": [*SIZE, 3],
            "names": ["height", "width", "channels"],
        },
        "next.success": {"dtype": "bool", "shape": [1], "names": None},
    }
    writer = LeRobotDatasetWriter.create(
        root, repo_id="me/labels", fps=10, features=features, use_videos=False
    )
    for _ in range(episodes):
        for t in range(length):
            img = np.zeros((*SIZE, 3), np.uint8)
            img[..., 0] = 10 * t
            writer.add_frame(
                {"observation.images.front": img, "next.success": np.array([t >= 5])}, task="pick"
            )
        writer.save_episode()
    writer.close()
    return root


def test_labels_pair_each_image_with_the_outcome_of_the_step_before(tmp_path: Path) -> None:
    frames = load_labelled_frames(_labelled_dataset(tmp_path / "ds"))
    t = frames.images["front"][:, 0, 0, 0] // 10  # the frame index written into the image
    assert 0 not in t.tolist()  # the reset frame has no recorded label
    # Image t shows the state after step t-1, whose outcome frame t-1 recorded (success from 5).
    np.testing.assert_array_equal(frames.labels, t - 1 >= 5)
    assert len(frames.labels) == 4 * 9
    with pytest.raises(ConfigError, match=r"--label_key=next\.reward"):
        load_labelled_frames(tmp_path / "ds", label_key="next.reward")
    with pytest.raises(ConfigError, match="does not hold"):
        load_labelled_frames(tmp_path / "ds", cameras=["wrist"])


def test_cli_trains_and_writes_a_loadable_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _labelled_dataset(tmp_path / "ds")
    out = tmp_path / "clf"
    code = main(
        [
            "train-reward-classifier",
            f"--dataset.root={root}",
            f"--output_dir={out}",
            "--steps=3",
            "--batch_size=4",
            "--held_out_episodes=[3]",
            "--num_threads=1",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "held-out episodes [3]" in text and "precision" in text and "recall" in text
    assert load_reward_classifier(out).config.cameras == ("front",)
    assert json.loads((out / "report.json").read_text())["held_out_episodes"] == [3]


def test_cli_names_the_flag_of_a_missing_camera(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _labelled_dataset(tmp_path / "ds", episodes=2, length=3)
    code = main(["train-reward-classifier", f"--dataset.root={root}", "--cameras=[wrist]"])
    assert code == 1
    assert "--cameras" in capsys.readouterr().err
