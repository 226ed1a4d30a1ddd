"""The import graph: shell -> domain -> shared, imports only going down, no cycle, nothing generic on top.

Layers (docs/architecture.md): the shell (``auditlog.cli``, ``auditlog.extras``, ``auditlog.commands``,
``auditlog.options``, ``auditlog.demo``) imports anything and nothing imports it; the domain packages
(``auditlog.agent``, ``auditlog.indexer``, ``auditlog.tui``) import each other only along agent -> indexer
and tui -> indexer; ``auditlog.core`` imports nothing of the project. Every import counts, also those inside functions.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = {"auditlog": ROOT / "auditlog", "auditlog.agent": ROOT / "agent",
               "auditlog.indexer": ROOT / "indexer", "auditlog.tui": ROOT / "tui"}
SHELL = ("auditlog.cli", "auditlog.__main__", "auditlog.extras", "auditlog.commands", "auditlog.options",
         "auditlog.demo")
DOMAIN = ("auditlog.agent", "auditlog.indexer", "auditlog.tui")
#: domain package -> the other domain packages it may import.
LATERAL = {"auditlog.agent": {"auditlog.indexer"}, "auditlog.tui": {"auditlog.indexer"}, "auditlog.indexer": set()}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, folder in SOURCE_DIRS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder)
            if package == "auditlog" and rel.parts[0] in ("agent", "indexer", "tui"):
                continue  # the symlinks to the domain folders, listed under their own names
            parts = [*package.split("."), *rel.with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> Iterator[str]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {target for target in _imports(name, path) if target in modules and target != name}
    return graph


def _layer(module: str) -> str:
    if module.startswith(SHELL) or module == "auditlog":
        return "shell"
    if module.startswith("auditlog.core"):
        return "shared"
    return next(d for d in DOMAIN if module == d or module.startswith(d + "."))


def test_no_module_imports_the_generic_top_level_names() -> None:
    """No code, test or benchmark imports ``agent``, ``indexer`` or ``tui`` other than as ``auditlog.*``."""
    offenders = []
    for folder in ("auditlog", "agent", "indexer", "tui", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(ROOT / "auditlog") and path.relative_to(ROOT / "auditlog").parts[0] in DOMAIN_DIRS:
                continue
            for target in _imports("x", path):
                if target.split(".")[0] in ("agent", "indexer", "tui"):
                    offenders.append(f"{path.relative_to(ROOT)}: {target}")
    assert [] == offenders


DOMAIN_DIRS = ("agent", "indexer", "tui")


def test_nothing_imports_the_shell() -> None:
    """Only the shell imports shell modules (the CLI, commands, options, demo)."""
    graph = _graph()
    upward = sorted(f"{m} -> {t}" for m, targets in graph.items() if _layer(m) != "shell"
                    for t in targets if _layer(t) == "shell" and t != "auditlog")
    assert [] == upward


def test_shared_imports_nothing_above_it() -> None:
    """``auditlog.core`` imports no other part of the project."""
    graph = _graph()
    upward = sorted(f"{m} -> {t}" for m, targets in graph.items() if _layer(m) == "shared"
                    for t in targets if _layer(t) != "shared" and t != "auditlog")
    assert [] == upward


def test_domain_packages_import_each_other_one_way() -> None:
    """agent and tui may use the indexer; the indexer uses neither, and agent and tui never each other."""
    graph = _graph()
    wrong = sorted(f"{m} -> {t}" for m, targets in graph.items() if _layer(m) in DOMAIN
                   for t in targets if _layer(t) in DOMAIN and _layer(t) != _layer(m)
                   and _layer(t) not in LATERAL[_layer(m)])
    assert [] == wrong


def test_import_graph_has_no_cycle() -> None:
    """No module reaches itself through imports (a package's ``__init__`` counts as its own module)."""
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert [] == [" -> ".join(c) for c in cycles]


def test_distribution_lists_every_package_folder() -> None:
    """pyproject's explicit package list names every folder with an ``__init__.py`` (else the wheel drops it)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    wanted = {name for name, path in _modules().items() if path.name == "__init__.py"}
    assert wanted == listed
    assert {"auditlog.agent": "agent", "auditlog.indexer": "indexer", "auditlog.tui": "tui"} == config["package-dir"]
