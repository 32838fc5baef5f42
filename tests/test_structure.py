"""The repository's shape: the package imports without cycles, the tests mirror it, and nothing loads code by
file path."""

from __future__ import annotations

import ast
import re

from conftest import ROOT

PKG = ROOT / "slm_factory"


def _module(path) -> str:
    """`slm_factory/training/loop.py` -> `training.loop` (a package's __init__: its own name)."""
    parts = path.relative_to(PKG).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in PKG.rglob("*.py")}


def _imports(path) -> set[str]:
    """slm_factory modules `path` imports at any level (function-local imports count: a cycle through
    them still breaks a partial import), relative imports resolved, as dotted names under the package."""
    here = _module(path).split(".") if path.name != "__init__.py" else _module(path).split(".") + ["__init__"]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level]
                module = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("slm_factory"):
                module = node.module.removeprefix("slm_factory").lstrip(".")
            else:
                continue
            for name in [f"{module}.{a.name}".lstrip(".") for a in node.names] + [module]:
                if name in MODULES:
                    out.add(name)
                    break
        elif isinstance(node, ast.Import):
            out |= {a.name.removeprefix("slm_factory.") for a in node.names
                    if a.name.startswith("slm_factory.") and a.name.removeprefix("slm_factory.") in MODULES}
    return out - {_module(path), ""}


def test_the_package_has_no_import_cycle():
    graph = {name: _imports(p) for name, p in MODULES.items()}
    assert {"modeling", "training.loop", "training.outputs"} <= set(graph)
    assert graph["training.loop"] >= {"modeling", "training.outputs"}  # relative imports, one and two dots
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


# The package's layers, lowest first. A module imports only from its own layer or below (the cycle
# test keeps each layer acyclic); a new module must be placed here.
LAYERS = [
    # foundation: params, files, rows, the task spec, model loading
    {"", "config", "common", "text", "tokens", "registry", "embeddings", "modeling", "evalspec", "rows", "spec"},
    # building blocks: checks, scores, grammars, formats, teachers, training
    {"gates", "metrics", "templates", "formats", "privacy", "ledger", "dedupe", "splitting", "diversity", "summary", "paired",
     "grammar",
     "teachers", "teachers.base", "teachers.template", "teachers.llm", "teachers.anthropic_api",
     "teachers.openai_api", "teachers.factory", "training", "training.backends", "training.data", "training.launch",
     "training.steps", "training.outputs", "training.loop", "training.soup"},
    # stage logic: what a stage script wires together
    {"validation", "review", "judge", "generation", "ingest", "evaluation", "baselines", "error_analysis", "export",
     "parity", "report", "card", "taskkit"},
]


def test_no_module_imports_a_layer_above_its_own():
    layer_of = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    assert set(layer_of) == set(MODULES), f"place these in LAYERS: {sorted(set(MODULES) ^ set(layer_of))}"
    upward = [f"{m} (layer {layer_of[m]}) imports {d} (layer {layer_of[d]})" for m, p in sorted(MODULES.items())
              for d in sorted(_imports(p)) if layer_of[d] > layer_of[m]]
    assert upward == []


def test_the_tests_mirror_the_package():
    """Each package module has its own test module, named after it: `gates.py` -> test_gates.py,
    `training/steps.py` -> test_training_steps.py (stage and end-to-end tests come on top)."""
    missing = [f"{name}: tests/test_{name.replace('.', '_')}.py" for name, p in sorted(MODULES.items())
               if p.name != "__init__.py" and not (ROOT / "tests" / f"test_{name.replace('.', '_')}.py").exists()]
    assert missing == []


def test_the_package_never_imports_a_script_a_backend_or_a_benchmark():
    for p in PKG.rglob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+(scripts|training|bench|tests)\b", p.read_text(), re.M), p.name


def test_no_test_or_benchmark_loads_code_by_file_path():
    """Stage scripts, training backends and benchmarks are imported by name (scripts.<stage>)."""
    offenders = [p.relative_to(ROOT) for d in ("tests", "bench") for p in (ROOT / d).rglob("*.py")
                 if p.name != "test_structure.py" and re.search(r"spec_from_file_location|runpy\.|exec\(open", p.read_text())]
    assert offenders == []


def test_every_flag_of_every_script_is_documented(monkeypatch):
    """`python scripts/<name>.py --help` explains every flag (and every flag of a sub-command)."""
    import argparse
    import importlib

    import pytest

    class Parsed(Exception):
        pass

    undocumented, current = {}, [""]

    def inspect(self, *args, **kwargs):
        actions = [("", a) for a in self._actions]
        for sub in (a for a in self._actions if isinstance(a, argparse._SubParsersAction)):
            actions += [(name, a) for name, p in sub.choices.items() for a in p._actions]
        missing = [f"{cmd} {a.option_strings or a.dest}".strip() for cmd, a in actions
                   if not a.help and a.dest != "help"]
        undocumented[current[0]] = missing
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", inspect)
    scripts = sorted(p.stem for p in (ROOT / "scripts").glob("*.py") if p.stem not in ("__init__", "train"))
    for name in scripts:
        current[0] = name
        with pytest.raises(Parsed):
            importlib.import_module(f"scripts.{name}").main([])
    current[0] = "train"
    with pytest.raises(Parsed):  # train's own flags are its backend's
        importlib.import_module("slm_factory.training.loop").parse_args("train", ["--params", "x"])
    assert len(undocumented) == len(scripts) + 1
    assert not {k: v for k, v in undocumented.items() if v}, undocumented
