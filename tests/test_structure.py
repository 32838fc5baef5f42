"""The repository's shape: the package imports without cycles, and nothing loads code by file path."""

from __future__ import annotations

import ast
import re

from conftest import ROOT

PKG = ROOT / "slm_factory"


def _imports(path) -> set[str]:
    """slm_factory modules `path` imports at any level (function-local imports count: a cycle through
    them still breaks a partial import)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1:
                names = [base] if base else [a.name for a in node.names]
            elif base.startswith("slm_factory."):
                names = [base.removeprefix("slm_factory.")]
            elif base == "slm_factory":
                names = [a.name for a in node.names]
            else:
                continue
            out |= {n.split(".")[0] for n in names if (PKG / f"{n.split('.')[0]}.py").exists()}
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("slm_factory.")}
    return out - {path.stem}


def test_the_package_has_no_import_cycle():
    graph = {p.stem: _imports(p) for p in PKG.glob("*.py")}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(mod: str, path: list[str]) -> None:
        state[mod] = 1
        for dep in sorted(graph.get(mod, ())):
            assert state.get(dep) != 1, f"import cycle: {' -> '.join(path + [mod, dep])}"
            if dep not in state:
                visit(dep, path + [mod])
        state[mod] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [])


def test_the_package_never_imports_a_script_a_backend_or_a_benchmark():
    for p in PKG.glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+(scripts|training|bench|tests)\b", p.read_text(), re.M), p.name


def test_no_test_or_benchmark_loads_code_by_file_path():
    """Stage scripts, training backends and benchmarks are imported by name (scripts.<stage>)."""
    offenders = [p.relative_to(ROOT) for d in ("tests", "bench") for p in (ROOT / d).rglob("*.py")
                 if p.name != "test_structure.py" and re.search(r"spec_from_file_location|runpy\.|exec\(open", p.read_text())]
    assert offenders == []
