"""The house rules that the code's shape must keep (developers' guide, issue 23): no function
over 80 lines, no import circle between the project's modules, simulator/ and workloads/
free of torch and transformers, compression/ free of simulator/."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulator", "compression", "workloads", "sslcsim")
MAX_LINES = 80


def _modules() -> dict[str, Path]:
    """{dotted module name: file} of every module of the four packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported(name: str, tree: ast.AST, is_package: bool) -> list[str]:
    """Every dotted name module `name` imports (anywhere: module level, inside functions and
    under `if TYPE_CHECKING:`); `from a import b` gives a.b."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            out += [f"{base}.{alias.name}" for alias in node.names]
    return out


def _import_graph() -> nx.DiGraph:
    """Module -> project module it imports. A dotted name resolves to the longest prefix that
    is a project module (`from a.b import f` of a function f defined in a.b: a.b)."""
    mods = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        for target in _imported(name, tree, path.name == "__init__.py"):
            parts = target.split(".")
            for k in range(len(parts), 0, -1):
                hit = ".".join(parts[:k])
                if hit in mods:
                    if hit != name:
                        g.add_edge(name, hit)
                    break
    return g


def _external_imports(pkg: str) -> dict[str, set[str]]:
    """{module of `pkg`: top-level names it imports}, anywhere in the module."""
    out = {}
    for name, path in _modules().items():
        if name.split(".")[0] != pkg:
            continue
        tree = ast.parse(path.read_text(), str(path))
        out[name] = {t.split(".")[0] for t in _imported(name, tree, path.name == "__init__.py") if t}
    return out


def test_no_function_over_80_lines():
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, f"functions over {MAX_LINES} lines:\n" + "\n".join(long)


def test_the_graph_sees_imports_inside_functions():
    """The check below would pass vacuously if imports inside functions went unseen: models.load
    imports streaming inside the function."""
    g = _import_graph()
    assert g.has_edge("compression.models", "compression.streaming")
    assert g.has_edge("compression.streaming", "compression.layers")
    assert g.number_of_edges() > 100


def test_no_import_circle():
    cycles = sorted(nx.simple_cycles(_import_graph()), key=len)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c + c[:1]) for c in cycles[:20])


def test_layering():
    assert "torch" in set().union(*_external_imports("compression").values())  # the walk sees third-party imports
    bad = []
    for pkg, banned in (("simulator", {"torch", "transformers"}), ("workloads", {"torch", "transformers"}),
                        ("compression", {"simulator"})):
        for name, imported in _external_imports(pkg).items():
            if imported & banned:
                bad.append(f"{name} imports {', '.join(sorted(imported & banned))}")
    assert not bad, "layering broken:\n" + "\n".join(bad)
