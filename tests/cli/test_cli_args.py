"""Flag parsing (`--group.key=value`), value reading, and the top-level dispatch of `main`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lerobot_gym.cli import main as cli_main
from lerobot_gym.cli.args import (
    REQUIRED,
    CommandParser,
    Flag,
    HelpRequested,
    UsageError,
    parse_value,
)
from lerobot_gym.cli.main import main

REPO = Path(__file__).resolve().parents[2]

PARSER = CommandParser(
    prog="lerobot-gym test",
    description="A test command.",
    flags=(
        Flag("eval.n_episodes", 10, "episodes", int),
        Flag("eval.max_steps", None, "cap", int, nullable=True),
        Flag("seed", 1000, "seed", int),
        Flag("fast", False, "go fast", bool),
        Flag("task", "pick, then lift", "task text", str),
        Flag("out", REQUIRED, "output", str),
    ),
    open_groups={"env": "gym.make keywords"},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("False", False),
        ("null", None),
        ("none", None),
        ("3", 3),
        ("-2", -2),
        ("0.25", 0.25),
        ("1e-3", 1e-3),
        ("[48,64]", [48, 64]),
        ("48,64", [48, 64]),
        ("[front, wrist]", ["front", "wrist"]),
        ("front,wrist", ["front", "wrist"]),
        ('{"front": 0}', {"front": 0}),
        ("{front: 0, wrist: /dev/video2}", {"front": 0, "wrist": "/dev/video2"}),
        ("[[1, 2], [3]]", [[1, 2], [3]]),
        ("lerobot_gym/SO101-Reach-v0", "lerobot_gym/SO101-Reach-v0"),
        ('"007"', "007"),
        ("'a,b'", "a,b"),
        ("[unclosed", "[unclosed"),
        ("nan", "nan"),
    ],
)
def test_parse_value(text, expected):
    assert parse_value(text) == expected


def test_both_flag_forms_nest_into_groups():
    cfg = PARSER.parse(
        [
            "--env.id=lerobot_gym/SO101-Reach-v0",
            "--env.image_size",
            "[96,128]",
            "--seed",
            "-3",
            "--eval.n_episodes=2",
            "--out=x",
            "--env.render_mode=null",
            "--fast",
        ]
    )
    assert cfg == {
        "env": {"id": "lerobot_gym/SO101-Reach-v0", "image_size": [96, 128], "render_mode": None},
        "eval": {"n_episodes": 2, "max_steps": None},
        "seed": -3,
        "fast": True,
        "task": "pick, then lift",
        "out": "x",
    }


def test_typed_flags_keep_or_check_their_type():
    cfg = PARSER.parse(["--out=1,2", "--task=a, b", "--eval.max_steps=null", "--fast=false"])
    assert cfg["out"] == "1,2" and cfg["task"] == "a, b"  # str flags stay verbatim
    assert cfg["eval"]["max_steps"] is None and cfg["fast"] is False
    with pytest.raises(UsageError, match=r"--eval\.n_episodes: expected an integer"):
        PARSER.parse(["--out=x", "--eval.n_episodes=2.5"])
    with pytest.raises(UsageError, match="--seed: expected an integer"):
        PARSER.parse(["--out=x", "--seed=null"])  # not nullable
    with pytest.raises(UsageError, match="--fast: expected true or false"):
        PARSER.parse(["--out=x", "--fast=maybe"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out=x", "--eval.n_episode=2"], "unknown flag --eval.n_episode"),
        (["--out=x", "--policy.type=act"], "unknown flag --policy.type"),
        (["--out=x", "--env=3"], "unknown flag --env"),
        (["--out=x", "positional"], "unexpected argument 'positional'"),
        (["--out=x", "--seed=1", "--seed=2"], "--seed is given twice"),
        (["--seed=1"], "--out is required"),
        (["--out"], "--out needs a value"),
        (["--out=x", "--seed", "--fast"], "--seed needs a value"),
    ],
)
def test_usage_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        PARSER.parse(argv)


def test_help_lists_flags_defaults_and_open_groups():
    with pytest.raises(HelpRequested) as request:
        PARSER.parse(["--seed=1", "--help"])
    text = request.value.text
    assert "usage: lerobot-gym test" in text and "A test command." in text
    assert "--eval.n_episodes" in text and "default: 10" in text and "required" in text
    assert "--env.<key>" in text and "gym.make keywords" in text


def test_main_overview_lists_existing_commands_only(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "eval" in out and "demo" in out and "Evaluate a policy" in out
    for name in cli_main.COMMANDS:
        listed = f"  {name} " in out
        assert listed == (name in cli_main.available_commands())


def test_main_without_command_shows_usage_with_code_2(capsys):
    assert main([]) == 2
    assert "usage: lerobot-gym COMMAND" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["evl"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'evl'" in err and "did you mean 'eval'" in err
    assert "Traceback" not in err


def test_missing_command_module_is_reported_not_available(monkeypatch, capsys):
    monkeypatch.setitem(cli_main.COMMANDS, "teleport", "lerobot_gym.cli.no_such_module:run")
    assert "teleport" not in cli_main.available_commands()
    assert main(["teleport", "--x=1"]) == 1
    err = capsys.readouterr().err
    assert "command 'teleport' is not available" in err and "Traceback" not in err


def test_command_whose_import_fails_is_reported(monkeypatch, tmp_path, capsys):
    (tmp_path / "broken_cli_cmd.py").write_text('"""Broken."""\nimport no_such_dependency_xyz\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli_main.COMMANDS, "broken", "broken_cli_cmd:run")
    assert main(["broken"]) == 1
    err = capsys.readouterr().err
    assert "command 'broken' is not available" in err and "no_such_dependency_xyz" in err


def test_adding_a_command_is_one_table_entry(monkeypatch, tmp_path, capsys):
    (tmp_path / "hello_cli_cmd.py").write_text(
        '"""Say hello."""\n'
        "from lerobot_gym.cli.args import CommandParser, Flag\n"
        'P = CommandParser("lerobot-gym hello", flags=(Flag("name", "you", "who", str),))\n'
        "def run(argv):\n"
        '    print("hello", P.parse(argv)["name"])\n'
        "    return 0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli_main.COMMANDS, "hello", "hello_cli_cmd:run")
    assert main(["--help"]) == 0
    assert "hello  " in capsys.readouterr().out
    assert main(["hello", "--name", "SO-101"]) == 0
    assert capsys.readouterr().out == "hello SO-101\n"
    assert main(["hello", "--nam=x"]) == 2
    assert "unknown flag --nam" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("lerobot-gym 0.")


def test_installed_console_script_help():
    script = Path(sys.executable).parent / "lerobot-gym"
    if not script.exists():
        script = REPO / ".venv" / "bin" / "lerobot-gym"
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert "eval" in done.stdout and "demo" in done.stdout
    done = subprocess.run(
        [str(script), "eval", "--eval.bogus=1"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "unknown flag --eval.bogus" in done.stderr and "Traceback" not in done.stderr
