"""The package's shape: imports only go down the stack, none hides inside a function, no cycle,
no module over 400 lines, no private name crosses a module (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "prunebook"
MAX_LINES = 400

# Lower layers never import higher ones; a package may import itself and anything below it.
LAYERS = {
    "spec": 0, "extras": 0,
    "config": 1, "networks": 1, "pruning": 1,
    "datasets": 2, "envs": 2,
    "replay": 3,
    "agents": 4, "measures": 4,
    "loops": 5,
    "sweeps": 6,
    "analysis": 7,
    "book": 8, "cli": 8,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path):
    """(node, imported prunebook module, names) for every prunebook import, anywhere in the file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "prunebook"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield node, (sub if sub in MODULES else node.module), alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("prunebook"):
                    yield node, alias.name, None


def graph() -> dict[str, set[str]]:
    return {m: {dep for _, dep, _ in imports(p)} - {m} for m, p in MODULES.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


TOP = max(LAYERS.values()) + 1  # the package itself re-exports the pruning API


def layer(module: str) -> int:
    return LAYERS[module.split(".")[1]] if module != "prunebook" else TOP


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycle_counting_function_bodies():
    assert find_cycle(graph()) is None


def test_no_prunebook_import_inside_a_function():
    inside = []
    for name, path in MODULES.items():
        for func in ast.walk(ast.parse(path.read_text())):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inside += [f"{name}.{func.name} line {node.lineno}" for node in ast.walk(func)
                           if isinstance(node, (ast.Import, ast.ImportFrom))
                           and "prunebook" in ast.unparse(node)]
    assert not inside


def test_every_top_level_module_has_a_layer():
    assert {m.split(".")[1] for m in MODULES if m != "prunebook"} == set(LAYERS)


def test_imports_go_down_the_stack():
    upward = [f"{src} -> {dst}" for src, deps in graph().items() for dst in deps
              if dst != "prunebook" and layer(dst) > layer(src)
              or (layer(dst) == layer(src) and dst.split(".")[1] != src.split(".")[1])]
    assert not upward


def test_spec_imports_nothing_from_prunebook():
    assert graph()["prunebook.spec"] == set()


def test_no_module_over_the_size_limit():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long


def test_private_names_stay_in_their_module():
    crossing = [f"{m} imports {dep}.{name}" for m, p in MODULES.items()
                for _, dep, name in imports(p) if name and name.startswith("_")
                and name != "__future__"]
    assert not crossing
