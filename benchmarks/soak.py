"""Long recording sessions: does the recorder's memory stay bounded, and is any frame dropped?

Anchor and goal (issue 13, item 5): a recording session grows the recorder's resident memory by
at most 50 MB over one hour, and drops no frame. The issue's measurement: 60 scripted PickCube
episodes (12,000 frames, two 240x320 cameras) grew the process from 447 MB to 598 MB, still
rising about 10 MB a minute at the end.

What runs: ``SO101-PickCube-v0`` on the MuJoCo twin with ``obs_type="pixels_agent_pos"`` and
two 240x320 cameras (front, wrist), wrapped in :class:`~lerobot_gym.wrappers.RecordEpisodes`
(video, the writer's default codec), driven by the scripted pick policy; every episode runs to
the id's time limit (200 steps), each reset with seed ``episode index``. This is the recording
path of ``lerobot-gym record --policy.type=scripted`` and of ``lerobot-gym demo``.

What it prints:

* RSS after every saved episode (MB) and the wall time, and (glibc) the bytes malloc has in use:
  RSS growing while "in use" stays flat is freed memory kept resident, not a leak;
* growth: RSS at the end minus RSS after episode 5 (the first episodes warm up the renderer,
  the encoders and the allocator's arenas, which is not growth), and its trend in MB per episode
  (least squares after episode 5), for RSS and for malloc's bytes in use;
* the one-hour growth projected as trend x 900 episodes (one hour of 200-step episodes at the
  twin's pace, about 4 s each; independent of the machine's speed), and its ratio to the 50 MB
  goal; and the measured growth itself over 50 MB;
* frames dropped: steps taken minus parquet rows, and minus MP4 frames per camera.

``--tracemalloc`` also prints the 15 largest differences of Python allocations between the
snapshot after episode 5 and the one at the end (slow: about 2x; Python objects only, not what
PyAV, MuJoCo or the GL driver allocate natively).

What was found (issue 13): nothing leaked; SVT-AV1 opens one encoder per camera per episode
(tens of MB each, from its own threads' malloc arenas), and glibc kept the freed pages resident
(about 2 MB more per episode, without end). The writer now returns them after every committed
episode (:mod:`lerobot_gym.dataset._heap`). Measured with ``--episodes 30`` on two shared,
oversubscribed cores (load 4 to 11), RSS from episode 5 to 30: before, 599 -> 661 MB (+62.5 MB,
trend +13.4 MB/min, about 2.5 MB per episode); after, 481 -> 497 MB (+16.9 MB, trend +1.4 MB/min,
0.2 MB per episode from episode 13 on); 0 frames dropped in both.

Second finding (issue 13, malloc in use +0.26 MB an episode): the writer held the current data
and episodes parquet files as in-memory tables, one more chunk per column per episode, and the
episodes file is not rotated within hours. It now reads them back at each save
(``tests/dataset/test_writer_memory.py``); pyarrow's mimalloc then kept the pages of those
reads, a little larger every episode, so pyarrow allocates from malloc (``lerobot_gym``
sets ``ARROW_DEFAULT_MEMORY_POOL=system``). Measured on two cores at load ~10 (25-30 episodes,
RSS episode 5 -> end): before, +16.5 MB, +0.66 MB per episode, malloc in use +0.26 MB per
episode; read back with mimalloc, +1.71 MB per episode; read back with malloc, +9.8 MB over 20
episodes, trend +0.40 MB per episode, malloc in use +0.07 MB per episode.

Third finding: much of the trend of a short run is the arenas settling. A save reads back and
rewrites the current data and episodes files, so the writer now rotates them at
``rewrite_limit_mb`` (1 MB by default, :mod:`lerobot_gym.dataset._commit`) and a save's cost
stops growing with the session. Over 60 episodes the files stay below 1 MB (0.58 MB of data,
0.14 MB of episodes rows), and rotating them every few episodes instead (``--rewrite-limit-mb
0.05``) did not change the curve, so the files were not what grew. Measured on two shared cores,
load 7 to 13, several soaks at once (RSS episode 5 -> 60; trend after episode 5 / after episode
30, MB per episode): default +9.0 and +7.8 MB, +0.091 / +0.028 and +0.098 / +0.014;
``--rewrite-limit-mb 0.05`` +11.9 MB, +0.098 / +0.000; ``--mmap-threshold 131072`` (glibc's
dynamic mmap threshold fixed: :mod:`lerobot_gym.dataset._heap`) +6.1 and +6.5 MB, +0.027 /
-0.003 and +0.067 / +0.029, about 10 MB lower throughout; 0 frames dropped in every run; malloc
in use flat (+0.001 MB per episode). ``--quick`` (load 7): +4.9 MB over episodes 5-20, trend
+0.33 MB per episode, projected +297 MB (ratio 5.9): episodes 5-20 are the settling. The
projection x 900 of the 60-episode trend, default, is +82 and +88 MB (ratio 1.6 and 1.8); of its
second-half trend, +25 and +13 MB (ratio 0.5 and 0.25). 150 episodes, default (load 6.6): +13.7
MB from episode 5 to 150 in steps of 3 to 4 MB about every 30 episodes, flat over the last 30,
trend +0.062 MB per episode (x 900: +56 MB, ratio 1.12); the data file rotated once (1.04 MB).
These runs predate the encoders' own process. With it (RSS of both processes): ``--quick`` at
load 5, +6.8 MB over episodes 5-20, trend +0.39 (ratio 7.1), second half +0.12; ``--episodes
60`` at load 4, +6.2 MB over episodes 5-60, trend +0.051 MB per episode (x 900: +46 MB, ratio
0.91), second half +0.021 (+19 MB), malloc in use flat; 0 frames dropped in every run.

Usage: ``python benchmarks/soak.py [--quick] [--episodes N] [--tracemalloc]
[--rewrite-limit-mb MB] [--mmap-threshold BYTES]`` (quick: 20 episodes, under two minutes on
two idle cores).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.dataset import DatasetMeta, LeRobotDatasetWriter
from lerobot_gym.dataset._heap import malloc_in_use
from lerobot_gym.dataset.encoder_process import encoder_host
from lerobot_gym.dataset.video import video_frame_count
from lerobot_gym.tasks.scripted import make_scripted_policy
from lerobot_gym.wrappers import RecordEpisodes
from lerobot_gym.wrappers.lerobot_keys import lerobot_features

ENV_ID = "lerobot_gym/SO101-PickCube-v0"
IMAGE_SIZE = (240, 320)
CAMERAS = ("front", "wrist")
GOAL_MB_PER_HOUR = 50.0
WARMUP_EPISODES = 5
# One hour of recording at the twin's pace: a 200-step episode takes about 4 s unpaced (a real
# arm at 30 fps takes 6.7 s, 540 an hour, so this is the stricter projection).
EPISODES_PER_HOUR = 900


def malloc_in_use_mb() -> float | None:
    """Bytes malloc has handed out and not had back (glibc), MB; None elsewhere."""
    in_use = malloc_in_use()
    return None if in_use is None else in_use / 1e6


def per_episode_slope(samples: list[tuple[int, float]]) -> float:
    """MB per episode: least-squares slope through (episode, MB) samples.

    Less noisy than the two end points: the allocators return memory in steps.
    """
    if len(samples) < 3:
        return 0.0
    points = np.array(samples, dtype=np.float64)
    return float(np.polyfit(points[:, 0], points[:, 1], 1)[0])


def rss_mb() -> float:
    """Resident set size of this process plus its video encoder process, MB.

    The encoders run in their own process (``lerobot_gym.dataset.encoder_process``), so the
    recorder's memory is the sum of both (Linux /proc; psutil elsewhere).
    """
    encoder_pid = encoder_host().pid
    pids: list[int | str] = ["self"] if encoder_pid is None else ["self", encoder_pid]
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as handle:
                pages = int(handle.read().split()[1])
            total += pages * os.sysconf("SC_PAGE_SIZE") / 1e6
        except OSError:
            import psutil

            total += psutil.Process(None if pid == "self" else int(pid)).memory_info().rss / 1e6
    return total


def rss_parts() -> str:
    """Resident memory by kind (anonymous, file-backed, shared), from /proc; "" elsewhere."""
    try:
        with open("/proc/self/status") as handle:
            lines = [
                ln.split() for ln in handle if ln.startswith(("RssAnon", "RssFile", "RssShmem"))
            ]
    except OSError:
        return ""
    return ", ".join(f"{ln[0].rstrip(':')[3:]} {int(ln[1]) / 1e3:.1f}" for ln in lines)


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)


def set_mmap_threshold(nbytes: int) -> None:
    """Fix glibc's mmap threshold (this process only; disables its dynamic adjustment)."""
    if not ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, nbytes):
        raise SystemExit(f"mallopt(M_MMAP_THRESHOLD, {nbytes}) failed")


def dropped_frames(root: Path, steps: int) -> tuple[int, dict[str, int]]:
    """(steps - parquet rows, per camera steps - MP4 frames) of the dataset at ``root``."""
    meta = DatasetMeta.load(root)
    per_camera = {}
    for key in meta.video_keys:
        files = {meta.video_path(ep, key) for ep in range(meta.num_episodes)}
        per_camera[key.rsplit(".", 1)[1]] = steps - sum(video_frame_count(f) for f in files)
    return steps - meta.num_frames, per_camera


def run(episodes: int, root: Path, trace: bool, rewrite_limit_mb: float | None) -> None:
    env = gym.make(ENV_ID, obs_type="pixels_agent_pos", cameras=CAMERAS, image_size=IMAGE_SIZE)
    writer = None
    if rewrite_limit_mb is not None:  # otherwise RecordEpisodes opens it, with the default
        writer = LeRobotDatasetWriter.create(
            root,
            repo_id="bench/soak",
            fps=env.metadata["render_fps"],
            features=lerobot_features(env),
            rewrite_limit_mb=rewrite_limit_mb or None,
        )
    rec = RecordEpisodes(env, root, repo_id="bench/soak", writer=writer)
    policy = make_scripted_policy(rec)
    start_rss, start = rss_mb(), time.perf_counter()
    print(f"RSS before the first episode: {start_rss:.1f} MB")
    samples: list[tuple[int, float, float]] = []  # (episode, minutes, RSS MB)
    in_use_samples: list[tuple[int, float]] = []  # (episode, malloc in use MB)
    snapshot = None
    steps = 0
    for episode in range(episodes):
        obs, info = rec.reset(seed=episode)
        policy.reset(obs, info)
        done = False
        while not done:
            obs, _, terminated, truncated, info = rec.step(policy(obs))
            steps += 1
            done = terminated or truncated
        gc.collect()
        minutes = (time.perf_counter() - start) / 60
        samples.append((episode + 1, minutes, rss_mb()))
        in_use = malloc_in_use_mb()
        if in_use is not None:
            in_use_samples.append((episode + 1, in_use))
        print(
            f"episode {episode + 1:3d}: {steps:6d} frames, {minutes * 60:7.1f} s, "
            f"RSS {samples[-1][2]:7.1f} MB"
            + (f", malloc in use {in_use:6.1f} MB" if in_use is not None else ""),
            flush=True,
        )
        if trace and episode + 1 == WARMUP_EPISODES:
            snapshot = tracemalloc.take_snapshot()
    rec.close()
    if writer is not None:
        writer.close()
    print(f"resident at the end, this process (MB): {rss_parts()}")
    data_files = sorted((root / "data").glob("*/*.parquet"))
    episodes_files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    largest = [max(p.stat().st_size for p in files) / 1e6 for files in (data_files, episodes_files)]
    print(
        f"files: {len(data_files)} data (largest {largest[0]:.2f} MB), {len(episodes_files)} "
        f"episodes (largest {largest[1]:.2f} MB)"
    )
    if trace and snapshot is not None:
        stats = tracemalloc.take_snapshot().compare_to(snapshot, "lineno")
        print(f"tracemalloc: largest growth of Python allocations, episode {WARMUP_EPISODES}..end")
        for stat in stats[:15]:
            print(f"  {stat}")

    rows_dropped, video_dropped = dropped_frames(root, steps)
    total_dropped = rows_dropped + sum(video_dropped.values())
    print(
        f"frames: {steps} steps; dropped {rows_dropped} parquet rows, MP4 frames dropped per "
        f"camera {video_dropped} (goal 0: {'OK' if total_dropped == 0 else 'FAIL'})"
    )
    if len(samples) <= WARMUP_EPISODES:
        print(f"growth: needs more than {WARMUP_EPISODES} episodes")
        return
    _, t0, m0 = samples[WARMUP_EPISODES - 1]
    _, t1, m1 = samples[-1]
    growth = m1 - m0
    measured = len(samples) - WARMUP_EPISODES
    rss_slope = per_episode_slope([(e, m) for e, _, m in samples[WARMUP_EPISODES - 1 :]])
    in_use_slope = per_episode_slope(in_use_samples[WARMUP_EPISODES - 1 :])
    print(
        f"growth after episode {WARMUP_EPISODES}: {growth:+.1f} MB over {measured} episodes, "
        f"{t1 - t0:.1f} min ({m0:.1f} -> {m1:.1f} MB); trend {rss_slope:+.3f} MB per episode "
        f"(malloc in use {in_use_slope:+.3f}); since start {m1 - start_rss:+.1f} MB"
    )
    # The allocators' arenas settle over tens of episodes: the trend of the second half shows
    # whether growth continues once they have (printed beside, not instead of, the full trend).
    half = max(WARMUP_EPISODES, len(samples) // 2)
    late_slope = per_episode_slope([(e, m) for e, _, m in samples[half - 1 :]])
    print(
        f"trend after episode {half} (second half): {late_slope:+.3f} MB per episode, "
        f"x {EPISODES_PER_HOUR} = {max(late_slope, 0.0) * EPISODES_PER_HOUR:+.1f} MB"
    )
    hour = max(rss_slope, 0.0) * EPISODES_PER_HOUR
    print(
        f"projected one-hour growth ({EPISODES_PER_HOUR} episodes x trend): {hour:+.1f} MB; "
        f"ratio to the {GOAL_MB_PER_HOUR:.0f} MB goal: {hour / GOAL_MB_PER_HOUR:.3f} (goal <= 1); "
        f"malloc in use projected {max(in_use_slope, 0.0) * EPISODES_PER_HOUR:+.1f} MB; "
        f"measured growth / goal: {growth / GOAL_MB_PER_HOUR:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 episodes (under two minutes)")
    parser.add_argument("--episodes", type=int, default=None, help="episodes (default 60)")
    parser.add_argument("--tracemalloc", action="store_true", help="diff Python allocations")
    parser.add_argument("--keep", type=Path, default=None, help="record here and keep it")
    parser.add_argument(
        "--rewrite-limit-mb",
        type=float,
        default=None,
        help="the writer's rewrite_limit_mb (default: the writer's default; 0: none, rotate at "
        "data_files_size_in_mb only, as before)",
    )
    parser.add_argument(
        "--mmap-threshold",
        type=int,
        default=None,
        help="fix glibc's mmap threshold to this many bytes first (mallopt; this process only, "
        "not the encoder process)",
    )
    args = parser.parse_args()
    if args.mmap_threshold is not None:
        set_mmap_threshold(args.mmap_threshold)
    episodes = args.episodes or (20 if args.quick else 60)
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"MUJOCO_GL={os.environ['MUJOCO_GL']}; {episodes} episodes of {ENV_ID}, cameras "
        f"{' + '.join(CAMERAS)} at {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}; rewrite_limit_mb "
        f"{'default' if args.rewrite_limit_mb is None else args.rewrite_limit_mb or None}; "
        f"mmap threshold {args.mmap_threshold or 'glibc dynamic'}"
    )
    if args.tracemalloc:
        tracemalloc.start(10)
    tmp = Path(tempfile.mkdtemp(prefix="soak_"))
    root = args.keep if args.keep is not None else tmp / "soak"
    try:
        run(episodes, root, args.tracemalloc, args.rewrite_limit_mb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
