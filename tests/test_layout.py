"""The library's layout: no import cycle, and no private name imported across modules.

The layers themselves are checked by ``lint-imports`` (pyproject.toml) in ``make lint``;
these tests cover what a layers contract cannot see.
"""

import ast
from pathlib import Path

import grimp

LIBRARY = Path(__file__).resolve().parents[1] / "mtmri_lib"


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_in_the_library():
    # grimp sees function-local imports too, so a cycle cannot hide inside a function.
    assert _cycles(grimp.build_graph("mtmri_lib")) == []


def test_cycle_finder_finds_a_cycle():
    class Graph:
        modules = {"a", "b", "c"}
        edges = {"a": {"b"}, "b": {"a"}, "c": {"a"}}

        def find_modules_directly_imported_by(self, module):
            return self.edges[module]

    assert _cycles(Graph()) == [["a", "b"]]


def test_no_private_name_is_imported_from_another_module():
    offenders = []
    for path in sorted(LIBRARY.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (
                node.level or "mtmri_lib" in (node.module or "")
            ):
                for alias in node.names:
                    if (
                        alias.name.startswith("_")
                        and not alias.name.startswith("__")
                        and alias.name != "_tf_env"
                    ):
                        offenders.append(f"{path.relative_to(LIBRARY)}: {alias.name}")
    assert offenders == []
