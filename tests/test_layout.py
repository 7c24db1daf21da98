"""The folder tree is the architecture: imports go one way (docs/design.md "Layout").

The import graph is read from the source (every ``import`` and ``from ...
import``, also those inside functions), so a new module that breaks the
direction or closes a cycle fails here before anyone has to notice it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest

from tests.paths import ROOT

PACKAGES = ("dosing", "optimizer")

#: Which top-level parts of ``dosing`` each part may import (besides itself,
#: ``dosing.errors``, ``dosing.files`` and ``optimizer``).  The interfaces sit on top; nothing below
#: them knows they exist.
ALLOWED = {
    "dosing.files": set(),
    "dosing.jsontext": set(),
    "dosing.stops": set(),
    "dosing.billing": set(),
    "dosing.orders": {"dosing.billing"},
    "dosing.identity": {"dosing.billing"},
    "dosing.pipeline": {"dosing.billing", "dosing.orders", "dosing.identity"},
    "dosing.supply": {"dosing.billing", "dosing.orders", "dosing.identity", "dosing.pipeline"},
    "dosing.audit": {"dosing.billing", "dosing.orders", "dosing.pipeline"},
    "dosing.batch": {"dosing.billing", "dosing.jsontext", "dosing.pipeline"},
    "dosing.shelf": {
        "dosing.billing",
        "dosing.orders",
        "dosing.identity",
        "dosing.pipeline",
        "dosing.supply",
    },
    "dosing.pk": {"dosing.billing", "dosing.orders", "dosing.pipeline"},
    "dosing.fhir": {"dosing.billing", "dosing.pipeline"},
    "dosing.cli": {
        "dosing",
        "dosing.billing",
        "dosing.orders",
        "dosing.identity",
        "dosing.pipeline",
        "dosing.supply",
        "dosing.audit",
        "dosing.shelf",
        "dosing.jsontext",
        "dosing.batch",
        "dosing.web",
        "dosing.pk",
        "dosing.fhir",
    },
    "dosing.web": {
        "dosing",
        "dosing.billing",
        "dosing.orders",
        "dosing.pipeline",
        "dosing.supply",
        "dosing.audit",
        "dosing.shelf",
        "dosing.jsontext",
        "dosing.batch",
        "dosing.pk",
        "dosing.fhir",
    },
}


def modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = ast.parse(path.read_text(), str(path))
    return found


MODULES = modules()


def imported(tree: ast.Module) -> Iterator[str]:
    """The project modules a module imports (a ``from`` import of a submodule counts
    as the submodule)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [n if n in MODULES else node.module for n in names]
        else:
            continue
        yield from (n for n in names if n in MODULES)


GRAPH = {name: set(imported(tree)) - {name} for name, tree in MODULES.items()}


def part(module: str) -> str:
    """``dosing.billing.units`` -> ``dosing.billing``; ``dosing.orders`` stays."""
    return ".".join(module.split(".")[:2])


def test_the_optimizer_never_imports_dosing() -> None:
    offenders = {
        (m, t)
        for m, ts in GRAPH.items()
        if m.startswith("optimizer")
        for t in ts
        if t[:6] == "dosing"
    }
    assert not offenders


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if part(m) in ALLOWED))
def test_imports_go_down_the_layers(module: str) -> None:
    own = part(module)
    allowed = ALLOWED[own] | {own, "dosing.errors", "dosing.files", "dosing.stops"}
    wrong = sorted(
        t for t in GRAPH[module] if t.startswith("dosing") and part(t) not in allowed and t != own
    )
    assert not wrong, f"{module} imports {wrong}"


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components: every one has a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles


def test_the_graph_is_read() -> None:
    # the checks above would pass on an empty graph: make sure they see real edges
    assert "dosing.billing.codesets" in GRAPH["dosing.billing.units"]
    assert "optimizer.supply.scaled" in GRAPH["optimizer.supply.columns"]
    assert "dosing.cli.report" in GRAPH["dosing.cli.batch"]


def test_every_data_file_is_in_the_package_data() -> None:
    """A data file missing from pyproject's package-data works from the checkout and
    fails once installed (the catalog did, in CI): every one is matched."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]
    for package, patterns in globs.items():
        folder = ROOT / package.replace(".", "/")
        for path in (folder / "data").rglob("*") if (folder / "data").exists() else []:
            if path.is_file():
                relative = path.relative_to(folder)
                assert any(relative.match(p) for p in patterns), relative
    assert (ROOT / "dosing/billing/data/catalog.csv").exists()
