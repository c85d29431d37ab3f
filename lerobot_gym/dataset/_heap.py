"""Hand the C heap's free pages back to the OS between episodes (glibc's ``malloc_trim``).

Why (issue 13, item 5; measured by ``benchmarks/soak.py``): every episode opens and closes one
video encoder per camera. SVT-AV1 allocates tens of MB per instance from its own threads, so the
memory lands in many glibc malloc arenas; once freed, small live blocks scattered through those
arenas keep the freed pages resident, and glibc only returns memory at the top of a heap. Nothing
leaks (malloc's bytes in use stay flat), yet the recorder's resident size grew about 2 MB per
episode without end (447 -> 598 MB over 60 episodes in the issue). ``malloc_trim(0)`` walks
every arena and releases the free pages inside them (``madvise(MADV_DONTNEED)``), which bounds it.

Design decisions:

* Called by :class:`~lerobot_gym.dataset.LeRobotDatasetWriter` once per committed episode: the
  encoders have just closed, and the control loop is between episodes, so the few milliseconds
  it takes never land in a step.
* Not a process-wide allocator setting (``mallopt``, ``MALLOC_ARENA_MAX``): those change how the
  whole host program allocates; a trim only gives back what is already free.
* glibc only: on macOS, Windows or musl there is no ``malloc_trim`` and this does nothing (their
  allocators return memory on their own terms).
* **glibc's mmap threshold is left dynamic** (measured, issue 13). glibc serves blocks above its
  mmap threshold (128 KB at start) by ``mmap`` and returns them to the OS on ``free``, but each
  time such a block is freed it raises the threshold to that block's size (up to 32 MB): after
  the first episode's encoder buffers, blocks of up to tens of MB come from the arenas, where
  they can fragment them. ``benchmarks/soak.py --mmap-threshold 131072`` fixes the threshold
  (``mallopt(M_MMAP_THRESHOLD)``) to test this. Measured with ``--episodes 60``, two runs of
  each side at once on two shared cores (load 7 to 13): RSS from episode 5 to 60, default
  +9.0 and +7.8 MB, fixed +6.1 and +6.5 MB; trend from episode 30 on, default +0.028 and
  +0.014 MB an episode, fixed -0.003 and +0.029 (within the noise of each other); the fixed
  threshold lowers the whole curve by ~10 MB RSS (about 35 MB less anonymous memory at the
  end). It does not change the growth the goal is about, so the library does not set it: the
  setting is process-wide and turns every large allocation of the host program (a training
  loop, a viewer) into an ``mmap``/``munmap`` pair. A program that wants the lower level can
  set it itself (``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072``).
* **What remains** (same runs, and one with the parquet files rotated every few episodes,
  ``--rewrite-limit-mb 0.05``: +11.9 MB, trend from episode 30 +0.000, so it is not the size of
  the files a save rewrites): resident memory rises over the first 20 to 30 episodes (the
  renderer, the encoders and the arenas settle: about +5 MB from episode 5 to 20), then by
  0.3 to 3.6 MB over the next 30; malloc's bytes in use stay flat throughout. The trend from
  episode 5 (+0.09 to +0.10 MB an episode over 60 episodes, +0.33 over the 20 of ``--quick``)
  is mostly that settling, which a linear projection to 900 episodes overstates; over 150
  episodes, steps of 3 to 4 MB still came about every 30 episodes (+13.7 MB, trend +0.062 MB
  an episode, x 900 = +56 MB). (Measured with the encoders in the recorder's process, before
  they had their own; see ``benchmarks/soak.py`` for the figures with it.)
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, cast


@functools.cache
def malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # only here: `import lerobot_gym` stays light

    try:
        function = ctypes.CDLL(None).malloc_trim  # the C library this process already uses
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


@functools.cache
def _mallinfo2() -> Callable[[], Any] | None:
    """glibc's ``mallinfo2`` (glibc 2.33+), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
            )
        ]  # fmt: skip

    function.restype = MallInfo2
    return cast(Callable[[], Any], function)


def malloc_in_use() -> int | None:
    """Bytes malloc has handed out and not had back, over every arena (glibc); None elsewhere.

    What a leak grows; memory freed but kept resident shows in the RSS only. For tests and
    ``benchmarks/soak.py``.
    """
    function = _mallinfo2()
    if function is None:
        return None
    info = function()
    return int(info.uordblks + info.hblkhd)


def release_free_heap() -> bool:
    """Return the free pages of every malloc arena to the OS; False where unsupported."""
    trim = malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
