"""The package's layers, read from the source: which parts may import which.

Every module's imports are read with ``ast`` (no module is imported), including imports inside
functions and ``if TYPE_CHECKING:`` blocks, because a lazy import still couples the layers.
Add a rule to ``FORBIDDEN`` as ``(importing package, imported package, why)``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lerobot_gym

PACKAGE_DIR = Path(lerobot_gym.__file__).parent
PACKAGE = "lerobot_gym"

# (importing package, imported package, why)
FORBIDDEN = [
    (
        "lerobot_gym.core",
        "lerobot_gym.sim",
        "core/ states protocols; sim/ implements them and the factory injects them",
    ),
    (
        "lerobot_gym.hardware",
        "lerobot_gym.robots",
        "hardware/ drives buses, servos and cameras for any robot; each robot configures it",
    ),
]


def module_name(path: Path) -> str:
    """Dotted module name of a file under the package."""
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    return {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imported_names(module: str, path: Path, *, module_level_only: bool = False) -> set[str]:
    """Every module name a module imports (``from a import b`` gives ``a`` and ``a.b``).

    With ``module_level_only``, only the imports at the module's top level (including
    ``try``/``if`` blocks, and ``if TYPE_CHECKING:`` ones, which tie modules together for the
    type checker and the reader), not those inside functions or classes (deferred on purpose).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if module_level_only:
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    continue
            visit_one(child)

    def visit_one(child: ast.AST) -> None:
        if isinstance(child, ast.Import):
            names.update(alias.name for alias in child.names)
        elif isinstance(child, ast.ImportFrom):
            base = _absolute(module, path, child)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in child.names)
        visit(child)

    visit(tree)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_reader_sees_lazy_and_type_checking_imports(tmp_path):
    # The reader itself must be able to fail: a lazy import and a TYPE_CHECKING import count.
    pkg = tmp_path / "lerobot_gym" / "core"
    pkg.mkdir(parents=True)
    source = pkg / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from lerobot_gym.sim.world import MujocoWorld\n"
        "def f():\n    from ..sim import backend\n"
    )
    every = imported_names("lerobot_gym.core.probe", source)
    assert "lerobot_gym.sim.world" in every
    assert "lerobot_gym.sim.backend" in every
    top = imported_names("lerobot_gym.core.probe", source, module_level_only=True)
    assert "lerobot_gym.sim.world" in top
    assert "lerobot_gym.sim.backend" not in top


@pytest.mark.parametrize(("importer", "imported", "why"), FORBIDDEN)
def test_forbidden_imports(importer, imported, why):
    offenders = sorted(
        f"{module} imports {name}"
        for module, path in all_modules().items()
        if _within(module, importer)
        for name in imported_names(module, path)
        if _within(name, imported)
    )
    assert not offenders, f"{importer} must not import {imported} ({why}):\n" + "\n".join(offenders)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports when it is imported (module level only).

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else
    ``pkg``; importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, but a package's
    ``__init__`` importing its own submodules is not a cycle a user can hit, so parents are
    not added as edges.
    """
    modules = all_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges = set()
        for name in imported_names(module, path, module_level_only=True):
            if name in modules and name != module:
                edges.add(name)
        # "from a import b" adds both "a" and "a.b": keep the module when b is one.
        graph[module] = {
            e for e in edges if not any(o.startswith(e + ".") and o in edges for o in edges)
        }
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(groups)


def test_find_cycles_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_package_modules():
    cycles = find_cycles(import_graph())
    assert not cycles, "module-level import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_import_cycle_among_robots_and_hardware_even_through_deferred_imports():
    """0.1.0's ``robots/factory.py`` <-> ``robots/so101/emulated.py`` circle went through
    imports inside functions, which the module-level check above does not follow."""
    modules = {
        m: p
        for m, p in all_modules().items()
        if _within(m, "lerobot_gym.robots") or _within(m, "lerobot_gym.hardware")
    }
    graph = {
        module: {n for n in imported_names(module, path) if n in modules and n != module}
        for module, path in modules.items()
    }
    # Drop "pkg" when "pkg.sub" is the module actually imported (as import_graph does).
    graph = {
        m: {e for e in es if not any(o.startswith(e + ".") for o in es)} for m, es in graph.items()
    }
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_backend_factory_names_no_robot():
    """``robots/factory.py`` dispatches on the robot type; each robot declares its builders."""
    path = PACKAGE_DIR / "robots" / "factory.py"
    robots = {p.name for p in (PACKAGE_DIR / "robots").iterdir() if (p / "__init__.py").exists()}
    assert robots  # e.g. so101
    names = imported_names("lerobot_gym.robots.factory", path)
    assert not {n for n in names for r in robots if _within(n, f"lerobot_gym.robots.{r}")}
    source = path.read_text().lower()
    assert not [r for r in robots if r in source]
