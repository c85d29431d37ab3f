"""Reading the layout LeRobot itself writes: several episodes concatenated in one MP4.

LeRobot appends each episode's video to the current MP4 by remuxing packets (no re-encode)
and records ``from_timestamp`` / ``to_timestamp`` inside that file (reference section 7). Our
writer gives each episode its own file, so here we build LeRobot's layout from one of ours
the same way and check the reader, validate() and the tools against it.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from dataset_synth import image

from lerobot_gym.dataset import LeRobotDataset, tools, validate

CAM = "observation.images.front"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"


def _concatenate(paths: list[Path], out: Path) -> list[float]:
    """Remux ``paths`` back to back into ``out``; returns each one's start time (s)."""
    starts = []
    with av.open(str(paths[0])) as first:
        template = first.streams.video[0]
        tmp = out.with_suffix(".tmp.mp4")
        with av.open(str(tmp), "w", format="mp4") as dst:
            stream = dst.add_stream_from_template(template, opaque=True)
            offset = 0.0
            for path in paths:
                starts.append(offset)
                with av.open(str(path)) as src:
                    s = src.streams.video[0]
                    shift = round(offset / s.time_base)
                    for packet in src.demux(s):
                        if packet.dts is None:
                            continue
                        packet.pts += shift
                        packet.dts += shift
                        packet.stream = stream
                        dst.mux(packet)
                    offset += float(s.duration * s.time_base)
    tmp.replace(out)
    return starts


def _to_lerobot_layout(root: Path) -> None:
    table = pq.read_table(root / EPISODES)
    rows = table.to_pylist()
    paths = [
        root / f"videos/{CAM}/chunk-000/file-{r[f'videos/{CAM}/file_index']:03d}.mp4" for r in rows
    ]
    starts = _concatenate(paths, root / f"videos/{CAM}/chunk-000/file-000.mp4")
    for path in paths[1:]:
        path.unlink()
    for row, start in zip(rows, starts):
        length = row[f"videos/{CAM}/to_timestamp"] - row[f"videos/{CAM}/from_timestamp"]
        row[f"videos/{CAM}/file_index"] = 0
        row[f"videos/{CAM}/from_timestamp"] = start
        row[f"videos/{CAM}/to_timestamp"] = start + length
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), root / EPISODES)


def test_reader_finds_frames_in_concatenated_mp4(small_dataset: Path) -> None:
    _to_lerobot_layout(small_dataset)
    assert len(list((small_dataset / f"videos/{CAM}").glob("*/*.mp4"))) == 1
    assert validate(small_dataset) == []
    ds = LeRobotDataset(small_dataset, format="numpy", delta_timestamps={CAM: [-1 / 30, 0.0]})
    assert ds.meta.episodes[2][f"videos/{CAM}/from_timestamp"] > 1.0
    rng = np.random.default_rng(7)
    for idx in [0, 19, 20, 21, 44, 45, 59, *rng.integers(0, 60, 12).tolist()]:
        item = ds[idx]
        ep, i = int(item["episode_index"]), int(item["frame_index"])
        got = item[CAM][1]
        ref = image(ep, i, 0).transpose(2, 0, 1) / 255.0
        assert abs(got.mean() - ref.mean()) < 2.5 / 255, (idx, ep, i)
        # the previous frame never leaks across an episode border: it is padded instead
        assert bool(item[f"{CAM}_is_pad"][0]) == (i == 0)
        if i == 0:
            np.testing.assert_array_equal(item[CAM][0], item[CAM][1])


def test_delete_from_concatenated_mp4_keeps_timestamps(small_dataset: Path, tmp_path: Path) -> None:
    _to_lerobot_layout(small_dataset)
    out = tmp_path / "out"
    meta = tools.delete_episodes(small_dataset, [0], out_root=out)
    assert meta.episodes[0][f"videos/{CAM}/from_timestamp"] > 0.5
    assert validate(out) == []
    item = LeRobotDataset(out, format="numpy")[30]  # old episode 2, frame 5
    ref = image(2, 5, 0).transpose(2, 0, 1) / 255.0
    assert abs(item[CAM].mean() - ref.mean()) < 2.5 / 255


def test_tasks_as_unnamed_pandas_index(small_dataset: Path) -> None:
    """LeRobot 0.4 writes tasks.parquet from a frame whose index (the task) has no name."""
    meta = {"index_columns": ["__index_level_0__"], "columns": []}
    schema = pa.schema(
        [("task_index", pa.int64()), ("__index_level_0__", pa.large_string())],
        metadata={b"pandas": json.dumps(meta).encode()},
    )
    table = pa.table(
        {"task_index": [0, 1], "__index_level_0__": ["task 0", "task 1"]}, schema=schema
    )
    pq.write_table(table, small_dataset / "meta/tasks.parquet")
    ds = LeRobotDataset(small_dataset, format="numpy")
    assert ds.meta.tasks == ["task 0", "task 1"]
    assert ds[25]["task"] == "task 1"
