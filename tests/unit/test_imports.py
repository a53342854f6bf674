"""Imports in devstack/ run one way: cli -> operations -> runtime/seed/render ->
plan -> manifest/services -> small helpers. A kind declares, runtimes execute.

The graph is read from the source with `ast`, so it holds every import a
module can run: top-level ones and those inside functions (deferred for speed,
they still tie the modules together). Left out: imports under
`if TYPE_CHECKING:`, which never run and only name types for annotations.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "devstack"

# Below the catalog and the runtimes; they import neither (nor anything above).
HELPERS = ("devstack.errors", "devstack.programs", "devstack.probes", "devstack.fsutil", "devstack.sigv4",
           "devstack.yamlpos", "devstack.background", "devstack.lock")


def module_names() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["devstack", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(nodes):
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif _is_type_checking(node):
            yield from _imports(node.orelse)
        else:
            yield from _imports(ast.iter_child_nodes(node))


def graph() -> dict[str, set[str]]:
    """module -> the devstack modules it imports (a name imported from a package
    counts as that submodule when there is one)."""
    modules = module_names()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in _imports([ast.parse(path.read_text(), str(path))]):
            if isinstance(node, ast.Import):
                targets |= {owner(alias.name) for alias in node.names}
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in modules else owner(base))
        edges[name] = {t for t in targets if t and t != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_deferred_imports():
    edges = graph()
    # runtime/native.py imports forkserver inside functions only.
    assert "devstack.runtime.forkserver" in edges["devstack.runtime.native"]
    assert "devstack.services.spec" in edges["devstack.services.redis"]
    assert "devstack.plan" not in edges["devstack.services.base"]  # under TYPE_CHECKING only


def test_no_import_circle():
    found = cycles(graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_catalog_never_imports_a_runtime():
    bad = [(m, t) for m, targets in graph().items() if m.startswith("devstack.services.")
           for t in targets if t == "devstack.runtime" or t.startswith("devstack.runtime.")]
    assert not bad, "a kind declares, the runtime executes: " + ", ".join(f"{m} -> {t}" for m, t in bad)


def test_helpers_import_no_layer_above_them():
    above = ("devstack.services", "devstack.runtime", "devstack.plan", "devstack.manifest", "devstack.seed",
             "devstack.render", "devstack.operations", "devstack.cli")
    edges = graph()
    bad = [(h, t) for h in HELPERS for t in edges.get(h, ()) if t.startswith(above)]
    assert not bad, bad


def test_only_the_cli_imports_the_cli():
    bad = [(m, t) for m, targets in graph().items() if not m.startswith("devstack.cli") and m != "devstack.__main__"
           for t in targets if t.startswith("devstack.cli")]
    assert not bad, "the core does not import the CLI: " + ", ".join(f"{m} -> {t}" for m, t in bad)
