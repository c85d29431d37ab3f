"""Pytest configuration and the shared datasets of the LeRobot interoperability tests.

``lerobot_side.py``, ``lerobot_v21_side.py`` and ``lerobot_policy_side.py`` run only in their
compat venvs (they import LeRobot and patch torchvision's operator registry at import), so the
main test run, which imports every module under ``tests`` for ``--doctest-modules``, must not
collect them.

The datasets are session fixtures: several test modules check the same dataset from different
angles (values, statistics, resume), and each LeRobot round trip costs a subprocess of about
6 s, so every dataset is written, and read by LeRobot, once per run. A fixture only runs when
a test asks for it, so a plain ``pytest`` run (compat tests skipped) builds none of them.
"""

import sys
from pathlib import Path

import pytest

collect_ignore = ["lerobot_side.py", "lerobot_v21_side.py", "lerobot_policy_side.py"]

# compat_synthetic and compat_helpers are shared with lerobot_side.py and the test modules;
# make their import independent of pytest's import mode.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

import compat_synthetic as synth  # noqa: E402
from compat_helpers import Dump, lerobot_read, load_dump, our_read, run_lerobot, write_ours  # noqa: E402

# -- BASIC, one tool at a time ------------------------------------------------------------------


# LeRobot's default codec, and the fallback our writer offers where libsvtav1 is missing (H.264
# brings B-frames, whose reordered pts a writer must still map to the right timestamps); and a
# writer whose rewrite limit is so small that every episode starts new data and episodes files
# (what a long session does; LeRobot must read the files in order).
@pytest.fixture(scope="session", params=["libsvtav1", "h264", "h264-many-files"])
def ours_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BASIC written by our writer, with each codec."""
    root = tmp_path_factory.mktemp(f"ours_{request.param}") / "dataset"
    vcodec, _, layout = request.param.partition("-")
    limit = 1e-6 if layout == "many-files" else None
    write_ours(
        root, synth.BASIC, range(len(synth.EPISODE_LENGTHS)), vcodec=vcodec, rewrite_limit_mb=limit
    )
    if layout == "many-files":
        assert len(list(root.glob("data/*/*.parquet"))) == len(synth.EPISODE_LENGTHS)
        assert len(list(root.glob("meta/episodes/*/*.parquet"))) == len(synth.EPISODE_LENGTHS)
    return root


@pytest.fixture(scope="session")
def lerobot_view_of_ours(ours_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Dump:
    return lerobot_read(ours_root, tmp_path_factory.mktemp("lerobot_reads_ours"))


@pytest.fixture(scope="session")
def our_view_of_ours(ours_root: Path):
    return our_read(ours_root)


@pytest.fixture(scope="session")
def lerobot_written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dump]:
    """LeRobot writes BASIC, then reads it back with a fresh ``LeRobotDataset``."""
    tmp = tmp_path_factory.mktemp("lerobot_writes")
    root, out = tmp / "dataset", tmp / "lerobot_read.npz"
    run_lerobot("write", root, "--read-back", out, home=tmp / "hf_home")
    return root, load_dump(out)


@pytest.fixture(scope="session")
def lerobot_root(lerobot_written) -> Path:
    return lerobot_written[0]


@pytest.fixture(scope="session")
def lerobot_view_of_lerobot(lerobot_written) -> Dump:
    return lerobot_written[1]


@pytest.fixture(scope="session")
def our_view_of_lerobot(lerobot_root: Path):
    return our_read(lerobot_root)


# -- RL: two episodes by one tool, resumed by the other for two more ---------------------------

FIRST_HALF, SECOND_HALF = (0, 1), (2, 3)


@pytest.fixture(scope="session")
def lerobot_then_ours(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dump]:
    """LeRobot writes RL episodes 0-1, our writer resumes and adds 2-3, LeRobot reads all."""
    tmp = tmp_path_factory.mktemp("lerobot_then_ours")
    root = tmp / "dataset"
    run_lerobot("write", root, "--spec", "rl", "--episodes", *FIRST_HALF, home=tmp / "hf_home")
    write_ours(root, synth.RL, SECOND_HALF, resume=True)
    return root, lerobot_read(root, tmp, synth.RL)


@pytest.fixture(scope="session")
def ours_then_lerobot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dump]:
    """Our writer writes RL episodes 0-1, LeRobot resumes and adds 2-3, then reads all."""
    tmp = tmp_path_factory.mktemp("ours_then_lerobot")
    root, out = tmp / "dataset", tmp / "lerobot_read.npz"
    write_ours(root, synth.RL, FIRST_HALF)
    run_lerobot(
        "append", root, "--spec", "rl", "--episodes", *SECOND_HALF, "--read-back", out,
        home=tmp / "hf_home",
    )  # fmt: skip
    return root, load_dump(out)


# -- RL_IMAGES: the camera as PNG ``image`` features -------------------------------------------


@pytest.fixture(scope="session")
def ours_images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dump]:
    """RL_IMAGES written by our writer, read by LeRobot."""
    tmp = tmp_path_factory.mktemp("ours_images")
    root = tmp / "dataset"
    write_ours(root, synth.RL_IMAGES, range(len(synth.RL_IMAGES.episode_lengths)))
    return root, lerobot_read(root, tmp, synth.RL_IMAGES)


@pytest.fixture(scope="session")
def lerobot_images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dump]:
    """RL_IMAGES written by LeRobot's writer and read back by LeRobot."""
    tmp = tmp_path_factory.mktemp("lerobot_images")
    root, out = tmp / "dataset", tmp / "lerobot_read.npz"
    run_lerobot("write", root, "--spec", "rl_images", "--read-back", out, home=tmp / "hf_home")
    return root, load_dump(out)
