"""The package's layers, read from the source: lower layers import nothing from higher ones.

Imports are read with :mod:`ast` (every ``import`` and ``from ... import`` anywhere in a module,
including inside functions and ``TYPE_CHECKING`` blocks), so a lazy import counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lerobot_gym

PACKAGE = Path(lerobot_gym.__file__).resolve().parent


def _imports(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of the modules ``source`` (module ``module``) imports."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _violations(layer: str, forbidden: str) -> dict[str, list[str]]:
    """Module path -> the names it imports from ``lerobot_gym.<forbidden>``."""
    prefix = f"lerobot_gym.{forbidden}"
    found = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        module = ".".join(("lerobot_gym", *path.relative_to(PACKAGE).with_suffix("").parts))
        source = path.read_text(encoding="utf-8")
        names = _imports(source, module, is_package=path.name == "__init__.py")
        bad = sorted(n for n in names if n == prefix or n.startswith(prefix + "."))
        if bad:
            found[str(path.relative_to(PACKAGE))] = bad
    return found


def test_the_import_reader_sees_lazy_relative_and_type_checking_imports():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from lerobot_gym.robots.so101 import spec\n"
        "def f():\n    from ..robots import factory\n    import lerobot_gym.robots.x\n"
    )
    names = _imports(source, "lerobot_gym.hardware.bus")
    assert {"lerobot_gym.robots.so101", "lerobot_gym.robots", "lerobot_gym.robots.x"} <= names
    assert "lerobot_gym.robots.factory" in names


def test_hardware_imports_nothing_from_robots():
    """``hardware/`` drives buses, servos and cameras for any robot; robots configure it."""
    assert _violations("hardware", "robots") == {}


def test_the_backend_factory_names_no_robot():
    """``robots/factory.py`` dispatches on the robot type; each robot declares its builders."""
    path = PACKAGE / "robots" / "factory.py"
    names = _imports(path.read_text(encoding="utf-8"), "lerobot_gym.robots.factory")
    robot_packages = {p.name for p in (PACKAGE / "robots").iterdir() if p.is_dir()} - {
        "__pycache__"
    }
    assert robot_packages  # e.g. so101
    imported = {n.split(".")[2] for n in names if n.startswith("lerobot_gym.robots.")}
    assert imported & robot_packages == set()
    source = path.read_text(encoding="utf-8").lower()
    assert not [p for p in robot_packages if p in source]


def _runtime_imports(path: Path, module: str) -> set[str]:
    """Like :func:`_imports`, without ``if TYPE_CHECKING:`` blocks (no import at runtime)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = [ast.Pass()]
    return _imports(ast.unparse(tree), module, is_package=path.name == "__init__.py")


def test_no_import_cycles_under_robots_and_hardware():
    """E.g. ``robots/factory.py`` <-> ``robots/so101/emulated.py`` (0.1.0 had that circle)."""
    modules = {}
    for layer in ("robots", "hardware"):
        for path in (PACKAGE / layer).rglob("*.py"):
            parts = path.relative_to(PACKAGE).with_suffix("").parts
            name = ".".join(("lerobot_gym", *parts)).removesuffix(".__init__")
            modules[name] = path
    graph = {m: _runtime_imports(p, m) & set(modules) - {m} for m, p in modules.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph[node])
        return False

    cycles = sorted((a, b) for a in graph for b in graph[a] if a < b and reaches(b, a))
    assert cycles == []
