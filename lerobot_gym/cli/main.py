"""``lerobot-gym COMMAND --group.key=value ...``: the entry point and the command table.

Each command is a module of :mod:`lerobot_gym.cli` with a ``run(argv: list[str]) -> int``
function that parses its own flags with :class:`lerobot_gym.cli.args.CommandParser`. Adding a
command is one line in :data:`COMMANDS`.

Design decisions:

* Commands are imported only when run, so ``lerobot-gym --help`` is fast and one command's
  optional dependency (torch, rerun, a hardware SDK) never breaks another. The overview lists a
  command when its module exists and shows the first line of its docstring, read from the source
  without importing it. A command whose module is missing or fails to import is reported as
  "not available", with the reason.
* :func:`main` returns the exit code instead of exiting, so tests call it in-process. Exit codes:
  0 success, 1 a lerobot_gym or Gymnasium error (message, no traceback), 2 a usage error
  (unknown command or flag, bad value), 130 interrupted. Any other exception is a bug and keeps
  its traceback.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence

import gymnasium as gym

from lerobot_gym import __version__
from lerobot_gym.cli.args import HelpRequested, UsageError
from lerobot_gym.errors import LeRobotGymError

PROG = "lerobot-gym"

#: command -> "module:function"; the function takes the arguments after the command name.
COMMANDS: dict[str, str] = {
    "eval": "lerobot_gym.cli.eval:run",
    "demo": "lerobot_gym.cli.demo:run",
    "record": "lerobot_gym.cli.record:run",
    "replay": "lerobot_gym.cli.replay:run",
    "teleoperate": "lerobot_gym.cli.teleoperate:run",
    "dataset": "lerobot_gym.cli.dataset:run",
    "viz": "lerobot_gym.cli.viz:run",
    "train": "lerobot_gym.cli.train:run",
    "train-reward-classifier": "lerobot_gym.cli.train_reward_classifier:run",
    "demo-score": "lerobot_gym.cli.demo_score:run",
    "calibrate": "lerobot_gym.cli.calibrate:run",
    "sysid": "lerobot_gym.cli.sysid:run",
    "find-port": "lerobot_gym.cli.find_port:run",
    "find-joint-limits": "lerobot_gym.cli.find_joint_limits:run",
    "select-roi": "lerobot_gym.cli.select_roi:run",
    "find-cameras": "lerobot_gym.cli.find_cameras:run",
}

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CommandUnavailableError(LeRobotGymError):
    """A command is in the table but its module is missing or cannot be imported."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lerobot-gym``; returns the process exit code.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).
    """
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # The reader went away (`lerobot-gym --help | head`): stop quietly, and point stdout
        # at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        _out(overview(), to_stderr=not argv)
        return EXIT_OK if argv else EXIT_USAGE
    if argv[0] == "--version":
        _out(f"{PROG} {__version__}")
        return EXIT_OK
    name, rest = argv[0], argv[1:]
    try:
        run = resolve(name)
        code = run(rest)
    except HelpRequested as request:
        _out(request.text.rstrip("\n"))
        return EXIT_OK
    except UsageError as exc:
        _out(f"{PROG} {name}: error: {exc}", to_stderr=True)
        return EXIT_USAGE
    except (LeRobotGymError, gym.error.Error) as exc:
        _out(f"{PROG} {name}: error: {exc}", to_stderr=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        _out(f"{PROG} {name}: interrupted", to_stderr=True)
        return EXIT_INTERRUPTED
    return EXIT_OK if code is None else int(code)


def resolve(name: str) -> Callable[[list[str]], int | None]:
    """The ``run`` function of a command, imported now.

    Raises:
        UsageError: no such command (the message suggests close names and lists all).
        CommandUnavailableError: the command's module is missing or fails to import.
    """
    target = COMMANDS.get(name)
    if target is None:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(
            f"unknown command {name!r}{hint}; commands: {', '.join(available_commands())}"
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise CommandUnavailableError(
                f"command {name!r} is not available in this installation (no module "
                f"{module_name}); available commands: {', '.join(available_commands())}"
            ) from None
        raise CommandUnavailableError(f"command {name!r} is not available: {exc}") from exc
    except ImportError as exc:
        raise CommandUnavailableError(f"command {name!r} is not available: {exc}") from exc
    return getattr(module, attr)


def available_commands() -> list[str]:
    """Commands whose module exists in this installation (not imported to find out)."""
    return [name for name in COMMANDS if _module_spec(name) is not None]


def overview() -> str:
    """The text of ``lerobot-gym --help``."""
    rows = []
    for name in available_commands():
        rows.append((name, _summary(name)))
    width = max((len(name) for name, _ in rows), default=0) + 2
    lines = [
        f"usage: {PROG} COMMAND [--group.key=value ...]",
        "",
        "Real robot arms and their MuJoCo twins as Gymnasium envs (LeRobot-style flags).",
        "",
        "commands:",
        *(f"  {name:<{width}}{summary}" for name, summary in rows),
        "",
        f"Run `{PROG} COMMAND --help` for a command's flags. Flags are --group.key=value or "
        "--group.key value;",
        "--env.id=ID selects an env and other --env.<keyword>=value go to gym.make.",
    ]
    return "\n".join(lines)


def _module_spec(name: str):
    module_name = COMMANDS[name].partition(":")[0]
    try:
        return importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None


def _summary(name: str) -> str:
    spec = _module_spec(name)
    try:
        with open(spec.origin, encoding="utf-8") as handle:
            doc = ast.get_docstring(ast.parse(handle.read())) or ""
    except (OSError, SyntaxError, TypeError, ValueError):
        return ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _out(text: str, *, to_stderr: bool = False) -> None:
    print(text, file=sys.stderr if to_stderr else sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
