"""The layers of the README's "Architecture": contracts → ledger → wallets → api. A module
imports only from its own layer or those below, and no two modules import each other,
directly or round a loop (imports only a type checker sees do not count)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("ledger", "wallets", "api")


def _modules() -> dict[str, Path]:
    found = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> Iterator[str]:
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for candidate in (node.module, *(f"{node.module}.{a.name}" for a in node.names)):
                if candidate in known:
                    yield candidate
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in known)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {m for m in _imports(path, modules) if m != name and not name.startswith(m + ".")}
        for name, path in modules.items()
    }


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = [
        f"{module} imports {imported}"
        for module, imports in _graph().items()
        for imported in imports
        if rank[imported.split(".")[0]] > rank[module.split(".")[0]]
    ]
    assert upward == []


def test_no_two_modules_import_each_other_round_a_loop() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            if component:
                cycles.append(sorted([node, *component]))

    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []
