"""LeRobot's side of the interoperability tests; runs in the compat venv (``tests/compat/.venv``).

Subcommands (``--spec`` names a ``compat_synthetic.SPECS`` dataset, default ``basic``)::

    lerobot_side.py write ROOT [--spec S] [--episodes I ...] [--vcodec C] [--read-back OUT.npz]
    lerobot_side.py append ROOT [--spec S] --episodes I ... [--read-back OUT.npz]
    lerobot_side.py read ROOT OUT.npz [--spec S]

``write`` records episodes of the spec (default all) with ``LeRobotDataset.create``,
``add_frame``, ``save_episode`` and ``finalize``. ``append`` is LeRobot's resume (what
``lerobot-record --resume=true`` does in 0.4.4): ``LeRobotDataset(repo_id, root=ROOT)`` on the
existing dataset, then the same ``add_frame``/``save_episode``/``finalize``. ``read`` loads ROOT
with ``LeRobotDataset(repo_id, root=ROOT)``, indexes every frame through ``__getitem__`` and dumps
the values (camera frames, video or PNG, as uint8 CHW: exactly LeRobot's float frames times 255)
to OUT.npz and the metadata LeRobot parsed, including ``meta.stats``, to OUT.json (same path,
``.json`` suffix). It also dumps, under ``norm/<MODE>/<key>``, what LeRobot's own
``NormalizerProcessorStep`` built from ``meta.stats`` makes of every state, action and camera
frame, and for specs with ``complementary_info`` columns, under ``replay/``, what LeRobot's
``ReplayBuffer.from_lerobot_dataset`` (the SAC learner's loader) stores.

Two adaptations let LeRobot 0.4.4 run on CPU torch 2.13 (see
shared/reference/lerobot-dataset-v3.md, "Running LeRobot's own code here"):

- torchvision 0.28.0 (the only release matching torch 2.13, a CUDA build) registers kernels for
  ``torchvision::nms``/``qnms`` at import; on CPU torch those schemas do not exist, so we define
  them first. Nothing here calls them.
- LeRobot's ``pyav`` frame decoder calls ``torchvision.io.VideoReader``, which torchvision 0.28
  removed, and torchcodec is CUDA-only. We replace only that function with a PyAV decoder that
  keeps LeRobot's rule: the caller passes ``from_timestamp + timestamp`` (LeRobot's own
  ``_query_videos`` computes it), the nearest decoded frame must lie strictly within
  ``tolerance_s`` or ``FrameTimestampError`` is raised, and frames come back as float32 CHW in
  [0, 1]. Metadata, parquet, episode and timestamp handling stay LeRobot's own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# The tests never touch the network: a missing local file must fail, not trigger a download.
# huggingface_hub reads this once, at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

# Must run before anything imports torchvision (lerobot.datasets does, at import).
_TORCHVISION_SCHEMAS = torch.library.Library("torchvision", "DEF")
_TORCHVISION_SCHEMAS.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_TORCHVISION_SCHEMAS.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

import av  # noqa: E402
import compat_synthetic as synth  # noqa: E402  (sits next to this script, on sys.path[0])
import numpy as np  # noqa: E402
from lerobot.configs.types import FeatureType, NormalizationMode  # noqa: E402
from lerobot.datasets import video_utils  # noqa: E402
from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402
from lerobot.datasets.utils import dataset_to_policy_features  # noqa: E402
from lerobot.processor.converters import create_transition  # noqa: E402
from lerobot.processor.core import TransitionKey  # noqa: E402
from lerobot.processor.normalize_processor import NormalizerProcessorStep  # noqa: E402

# LeRobot's normalisation modes that read dataset statistics (IDENTITY reads none).
NORM_MODES = ("MEAN_STD", "MIN_MAX", "QUANTILES", "QUANTILE10")


def decode_video_frames_pyav(
    video_path: Path | str,
    timestamps: list[float],
    tolerance_s: float,
    backend: str = "pyav",
    log_loaded_timestamps: bool = False,
) -> torch.Tensor:
    """Stand-in for ``video_utils.decode_video_frames_torchvision`` built on PyAV directly.

    Like LeRobot's version it seeks to the key frame at or before the first query, decodes up to
    the last query, and picks the nearest decoded frame for each query time.

    Raises:
        video_utils.FrameTimestampError: a query has no decoded frame strictly within
            ``tolerance_s`` (LeRobot's rule), or the counts do not match.
    """
    del backend, log_loaded_timestamps  # Same signature as LeRobot's; PyAV is the only backend.
    first_ts, last_ts = min(timestamps), max(timestamps)
    loaded_frames, loaded_ts = [], []
    with av.open(str(video_path)) as container:
        stream = container.streams.video[0]
        # Seek a little before the first query so float rounding cannot skip its key frame.
        seek_pts = max(0, int((first_ts - tolerance_s) / stream.time_base))
        container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            current_ts = float(frame.pts * stream.time_base)
            loaded_frames.append(frame.to_ndarray(format="rgb24"))
            loaded_ts.append(current_ts)
            if current_ts >= last_ts:
                break
    if not loaded_ts:
        raise video_utils.FrameTimestampError(f"no frame decoded from {video_path} at {timestamps}")
    query = np.asarray(timestamps, dtype=np.float64)
    loaded = np.asarray(loaded_ts, dtype=np.float64)
    dist = np.abs(query[:, None] - loaded[None, :])
    nearest = dist.argmin(axis=1)
    min_dist = dist[np.arange(len(query)), nearest]
    if not (min_dist < tolerance_s).all():
        raise video_utils.FrameTimestampError(
            f"query timestamps {query[min_dist >= tolerance_s]} have no frame within "
            f"{tolerance_s=} in {video_path}; loaded timestamps: {loaded}"
        )
    frames = np.stack([loaded_frames[i] for i in nearest])  # (N, H, W, 3) uint8
    return torch.from_numpy(frames).permute(0, 3, 1, 2).to(torch.float32) / 255


video_utils.decode_video_frames_torchvision = decode_video_frames_pyav


def _add_episodes(dataset: LeRobotDataset, spec: synth.Spec, episodes: list[int]) -> None:
    for episode_index in episodes:
        frames = spec.episode(episode_index)
        task = spec.tasks[episode_index]
        for i in range(spec.episode_lengths[episode_index]):
            dataset.add_frame({key: frames[key][i] for key in spec.features} | {"task": task})
        dataset.save_episode()
    dataset.finalize()


def write(root: Path, spec: synth.Spec, episodes: list[int], vcodec: str) -> None:
    """Record ``episodes`` of ``spec`` into a new dataset at ``root`` with LeRobot's writer."""
    dataset = LeRobotDataset.create(
        repo_id=synth.REPO_ID,
        fps=synth.FPS,
        # LeRobot's validate_frame compares shapes as tuples (its feature helpers build tuples).
        features={key: dict(ft, shape=tuple(ft["shape"])) for key, ft in spec.features.items()},
        root=root,
        robot_type=synth.ROBOT_TYPE,
        use_videos=spec.camera_dtype == "video",
        vcodec=vcodec,
    )
    _add_episodes(dataset, spec, episodes)


def append(root: Path, spec: synth.Spec, episodes: list[int], vcodec: str) -> None:
    """Append ``episodes`` of ``spec`` to the existing dataset at ``root`` (LeRobot's resume)."""
    dataset = LeRobotDataset(synth.REPO_ID, root=root, vcodec=vcodec)
    if dataset.meta.total_episodes != episodes[0]:
        raise SystemExit(f"{root} holds {dataset.meta.total_episodes} episodes, not {episodes[0]}")
    _add_episodes(dataset, spec, episodes)


def _jsonable(value):
    """Convert numpy/torch scalars and arrays (nested in dicts/lists) to plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor | np.ndarray | np.generic):
        return np.asarray(value).tolist()
    return value


def _dump(
    dataset: LeRobotDataset, prefix: str = "", dtypes: dict[str, str] | None = None
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Every item of ``dataset`` through ``__getitem__``, stacked per key, and the frame tasks.

    ``dtypes``, if given, receives the dtype of each key as ``__getitem__`` returns it (before
    camera frames are turned back into uint8 for the dump).
    """
    columns: dict[str, list[np.ndarray]] = {}
    frame_tasks = []
    for i in range(len(dataset)):
        item = dataset[i]
        frame_tasks.append(item.pop("task"))
        for key, value in item.items():
            array = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            if dtypes is not None:
                dtypes[prefix + key] = str(array.dtype)
            if key in dataset.meta.camera_keys:
                # LeRobot returns uint8 / 255 as float32; undo it exactly for a compact dump.
                array = np.rint(array * 255).astype(np.uint8)
            columns.setdefault(prefix + key, []).append(array)
    return {key: np.stack(values) for key, values in columns.items()}, frame_tasks


def _normalized(dataset: LeRobotDataset, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """LeRobot's ``NormalizerProcessorStep`` (built from ``meta.stats``) on every frame, per mode.

    States, actions and camera frames (float CHW in [0, 1], as LeRobot feeds policies) go
    through one transition per mode; the outputs are stored as ``norm/<MODE>/<key>``.
    """
    types = (FeatureType.STATE, FeatureType.ACTION, FeatureType.VISUAL)
    features = {
        key: ft
        for key, ft in dataset_to_policy_features(dataset.meta.features).items()
        if ft.type in types
    }
    observation = {
        key: torch.from_numpy(columns[key]).float() / 255
        if key in dataset.meta.camera_keys
        else torch.from_numpy(columns[key])
        for key in features
        if key != "action"
    }
    out = {}
    for mode in NORM_MODES:
        step = NormalizerProcessorStep.from_lerobot_dataset(
            dataset, features, {t: NormalizationMode(mode) for t in types}
        )
        action = torch.from_numpy(columns["action"])
        result = step(create_transition(observation=dict(observation), action=action))
        for key, value in result[TransitionKey.OBSERVATION].items():
            out[f"norm/{mode}/{key}"] = value.numpy()
        out[f"norm/{mode}/action"] = result[TransitionKey.ACTION].numpy()
    return out


def _replay_buffer(dataset: LeRobotDataset) -> dict[str, np.ndarray]:
    """What LeRobot's SAC learner loads from ``dataset``: ``ReplayBuffer`` storage, per field."""
    from lerobot.rl.buffer import ReplayBuffer  # only specs with RL columns need it

    buffer = ReplayBuffer.from_lerobot_dataset(
        dataset,
        device="cpu",
        state_keys=["observation.state"],
        use_drq=False,
        image_augmentation_function=lambda x: x,  # never called; skips a torch.compile
    )
    n = buffer.size
    out = {
        "replay/state": buffer.states["observation.state"][:n].numpy(),
        "replay/action": buffer.actions[:n].numpy(),
        "replay/reward": buffer.rewards[:n].numpy(),
        "replay/done": buffer.dones[:n].numpy(),
    }
    for key in buffer.complementary_info_keys:
        out[f"replay/complementary_info.{key}"] = buffer.complementary_info[key][:n].numpy()
    return out


def read(root: Path, out: Path, spec: synth.Spec) -> None:
    """Load ``root`` with LeRobot's reader and dump every frame and the parsed metadata.

    For ``basic``, a second pass loads only ``SUBSET_EPISODES`` with ``DELTA_TIMESTAMPS``; its
    arrays are stored under the ``delta/`` prefix.
    """
    dataset = LeRobotDataset(synth.REPO_ID, root=root)
    meta = dataset.meta
    dtypes: dict[str, str] = {}
    columns, frame_tasks = _dump(dataset, dtypes=dtypes)
    arrays = columns | _normalized(dataset, columns)
    if spec is synth.BASIC:
        subset = LeRobotDataset(
            synth.REPO_ID,
            root=root,
            episodes=list(synth.SUBSET_EPISODES),
            delta_timestamps=synth.DELTA_TIMESTAMPS,
        )
        arrays |= _dump(subset, prefix="delta/")[0]
    if any(key.startswith("complementary_info.") for key in meta.features):
        arrays |= _replay_buffer(dataset)
    np.savez_compressed(out, **arrays)

    episodes = meta.episodes.to_pandas() if hasattr(meta.episodes, "to_pandas") else meta.episodes
    info = {
        "codebase_version": meta.info["codebase_version"],
        "fps": meta.fps,
        "robot_type": meta.robot_type,
        "features": meta.features,
        "video_keys": meta.video_keys,
        "image_keys": meta.image_keys,
        "total_episodes": meta.total_episodes,
        "total_frames": meta.total_frames,
        "total_tasks": meta.total_tasks,
        "tasks": {str(task): int(row["task_index"]) for task, row in meta.tasks.iterrows()},
        "episodes": [
            {k: v for k, v in row.items() if not k.startswith("stats/")}
            for row in episodes.to_dict(orient="records")
        ],
        "stats_keys": sorted(meta.stats) if meta.stats is not None else None,
        "stats": meta.stats,
        "num_frames": dataset.num_frames,
        "num_episodes": dataset.num_episodes,
        "frame_tasks": frame_tasks,
        "dtypes": dtypes,
    }
    out.with_suffix(".json").write_text(json.dumps(_jsonable(info), indent=1))


def main(argv: list[str] | None = None) -> int:
    """Parse the subcommand and run it; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in [
        ("write", "write a spec's episodes into a new dataset with LeRobot's writer"),
        ("append", "append a spec's episodes to an existing dataset (LeRobot's resume)"),
    ]:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("root", type=Path)
        p.add_argument("--spec", choices=sorted(synth.SPECS), default="basic")
        p.add_argument("--episodes", type=int, nargs="+", help="episode indices (default all)")
        p.add_argument("--vcodec", default="libsvtav1")
        p.add_argument(
            "--read-back",
            type=Path,
            metavar="OUT.npz",
            help="then run `read ROOT OUT.npz` in this process (saves a second LeRobot import)",
        )
    p_read = sub.add_parser("read", help="read a dataset with LeRobot's reader and dump it")
    p_read.add_argument("root", type=Path)
    p_read.add_argument("out", type=Path)
    p_read.add_argument("--spec", choices=sorted(synth.SPECS), default="basic")
    args = parser.parse_args(argv)
    spec = synth.SPECS[args.spec]
    if args.command == "read":
        read(args.root, args.out, spec)
        return 0
    episodes = args.episodes or list(range(len(spec.episode_lengths)))
    (write if args.command == "write" else append)(args.root, spec, episodes, args.vcodec)
    if args.read_back is not None:
        read(args.root, args.read_back, spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
