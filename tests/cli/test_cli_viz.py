"""`lerobot-gym viz`: a recorded episode to an .rrd file or a served stream; sink errors."""

from __future__ import annotations

import collections

import pytest
from rerun import chunk as rerun_chunk

from lerobot_gym.cli.main import main

JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two scripted Reach episodes of 9 frames with a 48x64 front camera."""
    root = tmp_path_factory.mktemp("viz") / "reach"
    code = main(
        [
            "record",
            "--env.id=lerobot_gym/SO101-Reach-v0",
            "--env.cameras=front",
            "--env.image_size=[48,64]",
            "--policy.type=scripted",
            f"--dataset.root={root}",
            "--dataset.repo_id=test/viz",
            "--dataset.num_episodes=2",
            "--dataset.episode_time_s=0.3",
            "--dataset.vcodec=h264",
        ]
    )
    assert code == 0
    return root


def _rows_per_entity(path):
    counts, timelines = collections.Counter(), set()
    for chunk in rerun_chunk.RrdReader(path).stream():
        if not chunk.is_static:
            counts[chunk.entity_path] += chunk.num_rows
            timelines.update(chunk.timeline_names)
    return counts, timelines


def test_save_writes_the_episode(recorded, tmp_path, capsys):
    rrd = tmp_path / "out" / "ep1.rrd"
    assert main(["viz", f"--dataset.root={recorded}", "--episode=1", f"--save={rrd}"]) == 0
    out = capsys.readouterr().out
    assert f"logged episode 1 of {recorded}" in out and f"wrote {rrd}" in out
    counts, timelines = _rows_per_entity(rrd)
    assert counts["/observation/images/front"] == 9
    for joint in JOINTS:
        assert counts[f"/observation/state/{joint}.pos"] == 9
        assert counts[f"/action/{joint}.pos"] == 9
    assert counts["/next/done"] == 9
    assert counts["/episode_index"] == 1
    assert {"step", "frame_index", "timestamp"} <= timelines


def test_serve_prints_the_viewer_command_and_returns(recorded, capsys):
    argv = ["viz", f"--dataset.root={recorded}", "--episode=0", "--serve=9931", "--serve_s=0.2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "connect a viewer with `rerun rerun+http://" in out and ":9931/proxy`" in out


@pytest.mark.parametrize(
    ("flags", "code", "message"),
    [
        ([], 2, "--save=PATH.rrd, --serve=true or --spawn=true"),
        (["--serve=0"], 2, "--serve: expected true, false or a port number"),
        (["--save=x.rrd", "--jpeg_quality=0"], 2, "--jpeg_quality must be within 1..100"),
        (["--save=x.rrd", "--episode=9"], 1, "episodes [9] do not exist"),
    ],
)
def test_errors(recorded, tmp_path, capsys, monkeypatch, flags, code, message):
    monkeypatch.chdir(tmp_path)
    assert main(["viz", f"--dataset.root={recorded}", *flags]) == code
    assert message in capsys.readouterr().err
