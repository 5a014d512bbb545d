"""The package's import graph: no cycle, and every import points down the layers of pyproject.toml
(``[tool.ktnas.layers]``; docs/architecture.md). Every import counts, also one inside a function or under
``TYPE_CHECKING``: a lazy import is still a dependency a reader has to follow."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]


def layers(pyproject: Path = ROOT / "pyproject.toml") -> list[list[str]]:
    """The units of each layer, top layer first."""
    order = tomllib.loads(pyproject.read_text())["tool"]["ktnas"]["layers"]["order"]
    return [[u.strip() for u in line.split("|")] for line in order]


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> nx.DiGraph:
    """Module -> imported module, for every import of the package by one of its modules."""
    name = package.name
    modules = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    graph = nx.DiGraph()
    for mod, path in modules.items():
        graph.add_node(mod)
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against the importing module's package
                    anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import mod` imports the submodule; `from mod import name` imports mod
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target == name or target.startswith(name + "."):
                    graph.add_edge(mod, target)
    return graph


def unit(module: str) -> str:
    """``pkg.search.multitask`` -> ``search``; ``pkg`` (the package's ``__init__``) -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def problems(package: Path, order: list[list[str]]) -> list[str]:
    """Every import cycle, upward or sideways import and unplaced unit of ``package``."""
    graph = import_graph(package)
    level = {u: i for i, line in enumerate(order) for u in line}
    out = []
    for u in sorted({unit(m) for m in graph} - set(level) - {""}):
        out.append(f"unit {u!r} is in no layer of [tool.ktnas.layers]; place it")
    for a, b in sorted(graph.edges):
        ua, ub = unit(a), unit(b)
        if ua == ub or ub == "" or ua not in level or ub not in level:
            continue  # within a unit; the package root (its version) is importable from anywhere
        if level[ub] <= level[ua]:
            kind = "sideways" if level[ub] == level[ua] else "upward"
            out.append(f"{kind} import: {a} -> {b} ({ua} may not import {ub})")
    for cycle in sorted(sorted(c) for c in nx.simple_cycles(graph)):
        out.append("import cycle: " + " -> ".join(cycle))
    return out


def test_the_package_imports_point_down_and_have_no_cycle() -> None:
    found = problems(ROOT / "ktnas", layers())
    assert not found, "\n".join(found)


def test_every_module_is_in_a_layer_and_every_layer_is_used() -> None:
    units = {unit(m) for m in import_graph(ROOT / "ktnas")} - {""}
    placed = {u for line in layers() for u in line}
    assert units == placed, (sorted(units - placed), sorted(placed - units))


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_the_check_finds_cycles_upward_sideways_and_unplaced_imports(tmp_path: Path) -> None:
    pkg = _write(
        tmp_path,
        {
            "__init__.py": "",
            "low/__init__.py": "",
            "low/a.py": "from pkg.low import b\n",
            "low/b.py": "def f():\n    from pkg.low.a import x\n",  # a lazy import closes the cycle
            "high.py": "from pkg import low\n",
            "side.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.other import y\n",
            "other.py": "from . import high\n",  # relative, upward
            "stray.py": "",
        },
    )
    found = problems(pkg, [["high"], ["side", "other"], ["low"]])
    assert "unit 'stray' is in no layer of [tool.ktnas.layers]; place it" in found
    assert "upward import: pkg.other -> pkg.high (other may not import high)" in found
    assert "sideways import: pkg.side -> pkg.other (side may not import other)" in found
    assert "import cycle: pkg.low.a -> pkg.low.b" in found
    assert not any("pkg.high -> pkg.low" in p for p in found)  # downward is fine
    assert len(found) == 4, found


if __name__ == "__main__":  # python tests/test_architecture.py [PACKAGE_DIR]: print the findings
    package = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "ktnas"
    found = problems(package.resolve(), layers())
    print("\n".join(found) or "no import cycle, no upward or sideways import")
    sys.exit(1 if found else 0)
