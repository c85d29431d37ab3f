"""LeRobot-style command-line flags: ``--group.key=value`` parsed into nested dicts.

Every ``lerobot-gym`` command declares its flags as :class:`Flag` objects and its *open groups*
(groups that accept any key, such as ``--env.*`` whose keys are ``gym.make`` keyword arguments)
and parses ``argv`` with a :class:`CommandParser`. The result is a nested dict::

    lerobot-gym eval --env.id=lerobot_gym/SO101-Reach-v0 --env.image_size=[96,128] --seed 3
    -> {"env": {"id": "lerobot_gym/SO101-Reach-v0", "image_size": [96, 128]}, "seed": 3, ...}

Design decisions:

* Both ``--key=value`` and ``--key value`` are accepted, as in LeRobot (draccus). A flag with no
  value (``--flag`` followed by another flag or the end) means ``true``.
* Values are read as YAML-ish scalars: ``true``/``false``, ``null``/``none``, ints, floats,
  JSON (``[48,64]``, ``{"front": 0}``), flow collections with bare words (``[front, wrist]``,
  ``{front: 0}``), comma lists (``48,64`` -> ``[48, 64]``), and strings otherwise. A flag declared
  ``str`` keeps its text verbatim, so ``--dataset.single_task="pick, then lift"`` stays a string.
* Mistakes are :class:`UsageError` (the CLI exits with code 2 and no traceback); ``--help`` raises
  :class:`HelpRequested` carrying the text, so parsing itself never prints or exits and stays
  testable.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lerobot_gym.errors import ConfigError

_MISSING = object()
_HELP_WIDTH = 100
_FLAG_RE = re.compile(
    r"^--([A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z_][A-Za-z0-9_\-]*)*)(?:=(.*))?$", re.S
)


class UsageError(ConfigError):
    """A command line is malformed: unknown flag, missing value, value of the wrong type."""


class HelpRequested(Exception):
    """``--help`` was given; ``text`` is what to show."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


# -- value parsing ------------------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """Read a flag value as a YAML-ish scalar or collection (see the module docstring).

    Examples:
        >>> parse_value("true"), parse_value("null"), parse_value("3"), parse_value("0.5")
        (True, None, 3, 0.5)
        >>> parse_value("[48,64]"), parse_value("48,64"), parse_value("[front, wrist]")
        ([48, 64], [48, 64], ['front', 'wrist'])
        >>> parse_value("{front: 0}"), parse_value("lerobot_gym/SO101-Reach-v0")
        ({'front': 0}, 'lerobot_gym/SO101-Reach-v0')
    """
    stripped = text.strip()
    if not stripped:
        return ""
    if stripped[0] in "[{":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            pass
        try:
            value, rest = _parse_flow(stripped, 0)
        except ValueError:
            return text
        return value if rest == len(stripped) else text
    if "," in stripped and not (stripped[0] in "\"'" and stripped[-1] == stripped[0]):
        return [_scalar(part.strip()) for part in stripped.split(",")]
    return _scalar(stripped)


def _scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("null", "none", "~"):
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    for convert in (int, float):
        try:
            value = convert(text)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value) and lowered not in ("inf", "-inf"):
            return text  # "nan" is more likely a name than a number here
        return value
    return text


def _parse_flow(text: str, i: int) -> tuple[Any, int]:
    """Parse a YAML flow collection with bare-word scalars starting at ``text[i]``."""
    opener = text[i]
    closer = "]" if opener == "[" else "}"
    items: list[Any] = []
    mapping: dict[str, Any] = {}
    i += 1
    while True:
        i = _skip_space(text, i)
        if i >= len(text):
            raise ValueError("unclosed bracket")
        if text[i] == closer:
            return (items if opener == "[" else mapping), i + 1
        if opener == "{":
            key, i = _parse_item(text, i, stop=":")
            i = _skip_space(text, i)
            if i >= len(text) or text[i] != ":":
                raise ValueError("expected ':' in mapping")
            value, i = _parse_item(text, _skip_space(text, i + 1), stop=",}")
            mapping[str(key)] = value
        else:
            value, i = _parse_item(text, i, stop=",]")
            items.append(value)
        i = _skip_space(text, i)
        if i < len(text) and text[i] == ",":
            i += 1


def _parse_item(text: str, i: int, stop: str) -> tuple[Any, int]:
    if i < len(text) and text[i] in "[{":
        return _parse_flow(text, i)
    j = i
    while j < len(text) and text[j] not in stop:
        j += 1
    return _scalar(text[i:j].strip()), j


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


# -- typed flags --------------------------------------------------------------------------------
def _as_int(raw: str) -> int:
    value = parse_value(raw)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {raw!r}")
    return value


def _as_float(raw: str) -> float:
    value = parse_value(raw)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {raw!r}")
    return float(value)


def _as_bool(raw: str) -> bool:
    value = parse_value(raw)
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {raw!r}")
    return value


def _as_str(raw: str) -> str:
    return raw


_CONVERTERS: dict[Any, Callable[[str], Any]] = {
    int: _as_int,
    float: _as_float,
    bool: _as_bool,
    str: _as_str,
    Any: parse_value,
}


@dataclass(frozen=True)
class Flag:
    """One declared flag of a command.

    Attributes:
        name: dotted name without dashes, e.g. ``"eval.n_episodes"``.
        default: value when the flag is absent; :data:`REQUIRED` makes it mandatory.
        help: one line for ``--help``.
        type: ``int``, ``float``, ``bool``, ``str`` or ``Any`` (YAML-ish, see :func:`parse_value`).
        nullable: ``null``/``none`` is accepted and gives ``None``.
    """

    name: str
    default: Any = None
    help: str = ""
    type: Any = Any
    nullable: bool = False

    def convert(self, raw: str) -> Any:
        """The typed value of ``raw``, or :class:`UsageError` saying what was expected."""
        if self.nullable and raw.strip().lower() in ("null", "none", "~"):
            return None
        try:
            return _CONVERTERS[self.type](raw)
        except ValueError as exc:
            raise UsageError(f"--{self.name}: {exc}") from None


REQUIRED = _MISSING
_ANY_FLAG = Flag("*")


@dataclass
class CommandParser:
    """Parse one command's flags into a nested dict.

    Args:
        prog: the command line shown in help, e.g. ``"lerobot-gym eval"``.
        description: what the command does (a paragraph for ``--help``).
        flags: the declared flags.
        open_groups: groups accepting any key, name -> help (e.g. ``{"env": "gym.make kwargs"}``).
        examples: example command lines for ``--help``.
    """

    prog: str
    description: str = ""
    flags: Sequence[Flag] = ()
    open_groups: dict[str, str] = field(default_factory=dict)
    examples: Sequence[str] = ()

    def __post_init__(self) -> None:
        self._by_name = {f.name: f for f in self.flags}

    def parse(self, argv: Iterable[str]) -> dict[str, Any]:
        """The nested dict of values (defaults filled in).

        Raises:
            HelpRequested: ``--help`` or ``-h`` is among the arguments.
            UsageError: an unknown flag, a positional argument, a bad or missing value.
        """
        argv = list(argv)
        if "--help" in argv or "-h" in argv:
            raise HelpRequested(self.format_help())
        flat: dict[str, Any] = {}
        i = 0
        while i < len(argv):
            token = argv[i]
            match = _FLAG_RE.match(token)
            if match is None:
                hint = " (flags look like --group.key=value)" if not token.startswith("--") else ""
                raise UsageError(f"unexpected argument {token!r}{hint}; see `{self.prog} --help`")
            name, raw = match.group(1).replace("-", "_"), match.group(2)
            if raw is None:
                has_value = i + 1 < len(argv) and not argv[i + 1].startswith("--")
                if not has_value and self._by_name.get(name, _ANY_FLAG).type not in (bool, Any):
                    raise UsageError(f"--{name} needs a value (--{name}=VALUE)")
                raw = argv[i + 1] if has_value else "true"
                i += 1 if has_value else 0
            i += 1
            if name in flat:
                raise UsageError(f"--{name} is given twice")
            flat[name] = self._convert(name, raw)
        for flag in self.flags:
            if flag.name not in flat:
                if flag.default is REQUIRED:
                    raise UsageError(f"--{flag.name} is required ({flag.help})")
                flat[flag.name] = flag.default
        return nest(flat)

    def _convert(self, name: str, raw: str) -> Any:
        flag = self._by_name.get(name)
        if flag is not None:
            return flag.convert(raw)
        group = name.partition(".")[0]
        if "." in name and group in self.open_groups:
            return parse_value(raw)
        raise UsageError(
            f"unknown flag --{name} for `{self.prog}`; known flags: {self._flag_list()}"
            f"; see `{self.prog} --help`"
        )

    def _flag_list(self) -> str:
        names = [f"--{f.name}" for f in self.flags] + [f"--{g}.*" for g in self.open_groups]
        return ", ".join(names)

    def format_help(self) -> str:
        """The ``--help`` text: usage, description, flags with defaults, open groups, examples."""
        lines = [f"usage: {self.prog} [--group.key=value ...]", ""]
        if self.description:
            paragraphs = textwrap.dedent(self.description).strip().split("\n\n")
            for paragraph in paragraphs:
                lines += [*textwrap.wrap(" ".join(paragraph.split()), _HELP_WIDTH), ""]
        rows = []
        for flag in self.flags:
            text = flag.help
            if flag.default is REQUIRED:
                text += " (required)"
            elif flag.default is not None:
                text += f" (default: {flag.default!r})"
            rows.append((f"--{flag.name}", text))
        rows += [(f"--{group}.<key>", text) for group, text in self.open_groups.items()]
        if rows:
            lines.append("flags:")
            width = max(len(name) for name, _ in rows) + 4
            for name, text in rows:
                wrapped = textwrap.wrap(text, _HELP_WIDTH - width) or [""]
                lines.append(f"  {name:<{width - 2}}{wrapped[0]}")
                lines += [" " * width + more for more in wrapped[1:]]
        if self.examples:
            lines += ["", "examples:"] + [f"  {example}" for example in self.examples]
        return "\n".join(lines) + "\n"


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"env.id": x, "seed": 1}`` -> ``{"env": {"id": x}, "seed": 1}``.

    Example:
        >>> nest({"env.id": "a", "env.image_size": [2, 4], "seed": 1})
        {'env': {'id': 'a', 'image_size': [2, 4]}, 'seed': 1}
    """
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(f"--{dotted} conflicts with --{'.'.join(parents)}")
            node = child
        if isinstance(node.get(leaf), dict):
            raise UsageError(f"--{dotted} conflicts with --{dotted}.<key>")
        node[leaf] = value
    return out
