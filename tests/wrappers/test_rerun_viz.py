import collections
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym import viz
from lerobot_gym.errors import ConfigError, MissingExtraError
from lerobot_gym.wrappers import RecordEpisodes, RerunViz

rerun_chunk = pytest.importorskip("rerun.chunk")  # the viz extra is part of the dev setup

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


def tiny_env(**kwargs):
    return gym.make(
        "lerobot_gym/SO101-Reach-v0",
        obs_type="pixels_agent_pos",
        cameras=("front",),
        image_size=(48, 64),
        **kwargs,
    )


def rows_per_entity(path):
    """Rows logged per entity path on the time-indexed (non-static) chunks of an .rrd."""
    counts = collections.Counter()
    timelines = set()
    for chunk in rerun_chunk.RrdReader(path).stream():
        if not chunk.is_static:
            counts[chunk.entity_path] += chunk.num_rows
            timelines.update(chunk.timeline_names)
    return counts, timelines


def test_live_steps_land_in_the_rrd(tmp_path):
    path = tmp_path / "live.rrd"
    env = RerunViz(tiny_env(), save=path)
    for seed in (0, 1):
        env.reset(seed=seed)
        for _ in range(4):
            env.step(env.action_space.sample())
    env.close()
    assert path.stat().st_size > 0
    counts, timelines = rows_per_entity(path)
    # 2 episodes x (reset + 4 steps) observations, 2 x 4 actions and outcomes.
    assert counts["/observation/images/front"] == 10
    for joint in JOINTS:
        assert counts[f"/observation/state/{joint}.pos"] == 10
        assert counts[f"/action/{joint}.pos"] == 8
    assert counts["/next/reward"] == 8
    assert counts["/next/done"] == 8
    assert counts["/next/success"] == 8
    assert counts["/episode_index"] == 2
    assert {"step", "frame_index", "timestamp"} <= timelines


def test_dataset_episode_to_rrd(tmp_path):
    root = tmp_path / "ds"
    rec = RecordEpisodes(tiny_env(max_episode_steps=5), root, repo_id="t/viz")
    for seed in (0, 1):
        rec.reset(seed=seed)
        done = False
        while not done:
            *_, terminated, truncated, _ = rec.step(rec.action_space.sample())
            done = terminated or truncated
    rec.close()
    path = tmp_path / "episode1.rrd"
    session = viz.log_dataset_episode(root, 1, save=path)
    assert session.server_uri is None
    session.close()
    counts, timelines = rows_per_entity(path)
    assert counts["/observation/images/front"] == 5
    for joint in JOINTS:
        assert counts[f"/observation/state/{joint}.pos"] == 5
        assert counts[f"/action/{joint}.pos"] == 5
    for key in ("next/reward", "next/done", "next/success", "complementary_info/is_intervention"):
        assert counts[f"/{key}"] == 5
    assert counts["/task"] == 1
    assert {"step", "frame_index", "timestamp"} <= timelines


def test_frame_logger_logs_what_it_is_given(tmp_path):
    path = tmp_path / "frames.rrd"
    session = viz.open_session(save=path)
    logger = viz.FrameLogger(session, {"observation.state": ["a", "b"]}, fps=10, jpeg_quality=80)
    for t in range(3):
        logger.set_time(t, t)
        logger.log(
            {
                "observation.state": np.array([t, -t], np.float32),
                "observation.images.cam": np.full((8, 8, 3), 10 * t, np.uint8),
                "next.reward": 1.0,
            }
        )
    session.close()
    counts, _ = rows_per_entity(path)
    assert counts["/observation/state/a"] == 3 and counts["/observation/state/b"] == 3
    assert counts["/observation/images/cam"] == 3 and counts["/next/reward"] == 3


def test_sink_choice_is_checked():
    with pytest.raises(ConfigError, match="save="):
        viz.open_session()
    with pytest.raises(ConfigError, match="choose one"):
        viz.open_session(serve=True, spawn=True)
    with pytest.raises(ConfigError, match="save="):
        RerunViz(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"))


def test_missing_rerun_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "rerun", None)  # makes `import rerun` fail
    with pytest.raises(MissingExtraError, match=r"lerobot-gym\[viz\]"):
        viz.require_rerun()
    with pytest.raises(MissingExtraError):
        RerunViz(gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state"), save="x.rrd")


def test_importing_the_package_and_wrappers_does_not_import_rerun():
    code = (
        "import sys, lerobot_gym, lerobot_gym.wrappers, lerobot_gym.viz; "
        "assert 'rerun' not in sys.modules, 'rerun imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
