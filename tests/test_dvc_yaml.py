"""dvc.yaml declares exactly what each stage runs: the package modules its scripts import (the static
import closure, lazy imports included), no more and no less, so a package edit reruns only the stages
that import the edited module. Which data and spec files a stage reads is checked by the end-to-end
run (tests/audit), which records every file each stage opens."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from conftest import ROOT

PACKAGE = "slm_factory"


def imported_modules(path: Path) -> set[str]:
    """Dotted names of the package modules one file imports (relative imports resolved)."""
    found: set[str] = set()
    here = path.relative_to(ROOT).with_suffix("").parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[: len(here) - node.level])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            # `from slm_factory import modeling` names a module, not an attribute
            found.update(f"{module}.{a.name}" for a in node.names
                         if (ROOT / module.replace(".", "/") / f"{a.name}.py").exists())
    return found


def module_file(name: str) -> Path | None:
    base = ROOT / name.replace(".", "/")
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.exists():
            return p
    return None


def closure(entry_files: list[Path]) -> set[str]:
    """Every package file (repo-relative) reachable by imports from the entry files."""
    seen: set[Path] = set()
    todo = [m for f in entry_files for m in imported_modules(f)]
    while todo:
        name = todo.pop()
        # importing slm_factory.x runs slm_factory/__init__.py first
        for prefix in [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)]:
            f = module_file(prefix)
            if f is not None and f not in seen:
                seen.add(f)
                todo.extend(imported_modules(f))
    return {str(p.relative_to(ROOT)) for p in seen}


def stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def entry_files(deps: list[str]) -> list[Path]:
    files: list[Path] = []
    for d in deps:
        if d.split("/")[0] in ("scripts", "training"):
            p = ROOT / d
            files += sorted(p.glob("*.py")) if p.is_dir() else [p]
    return files


def test_every_stage_declares_exactly_the_package_modules_it_imports():
    problems = []
    for name, stage in stages().items():
        deps = [d for d in stage.get("deps", []) if isinstance(d, str)]
        declared = {d for d in deps if d.split("/")[0] == PACKAGE}
        assert PACKAGE not in declared, f"{name}: depends on the whole package; list its modules"
        # a sub-package named as a folder stands for all of its modules
        declared = {str(f.relative_to(ROOT)) for d in declared
                    for f in (sorted((ROOT / d).glob("*.py")) if (ROOT / d).is_dir() else [ROOT / d])}
        needed = closure(entry_files(deps))
        if declared != needed:
            problems.append(f"{name}: missing {sorted(needed - declared)}, not imported {sorted(declared - needed)}")
    assert not problems, "\n".join(problems)


def test_every_stage_runs_its_own_script():
    for name, stage in stages().items():
        assert f"scripts/{name}.py" in stage["deps"], name
        assert stage["cmd"].startswith(f"python scripts/{name}.py"), name


def test_closure_follows_relative_and_lazy_imports(tmp_path):
    # the train stage's backends import the package lazily and relatively: both reach the closure
    got = closure([ROOT / "training/train_trl_peft.py"])
    assert {"slm_factory/__init__.py", "slm_factory/training/loop.py", "slm_factory/modeling.py"} <= got
    assert "slm_factory/teachers/base.py" not in got


def declared_params(path: Path) -> list[str]:
    """The PARAMS tuple a stage script (or training backend) passes to load_params, read statically."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PARAMS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{path} defines no PARAMS")


def test_every_stage_loads_exactly_the_params_dvc_yaml_declares():
    # load_params hands a stage only what it declares, so this also means no stage reads an undeclared key
    for name, stage in stages().items():
        for f in entry_files(stage["deps"]):
            assert declared_params(f) == stage.get("params", []), f"{name}: {f.relative_to(ROOT)}"


def test_every_key_in_params_yaml_is_declared_by_some_stage():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    declared = {p for stage in stages().values() for p in stage.get("params", [])}
    unused = []
    for key, value in params.items():
        if key in declared:
            continue
        subkeys = value if isinstance(value, dict) else {}
        missing = [f"{key}.{k}" for k in subkeys if f"{key}.{k}" not in declared]
        if not subkeys or missing:
            unused += missing or [key]
    assert not unused, f"params.yaml keys no stage declares (and so none reads): {unused}"


def test_the_spec_files_stages_read_exist_in_every_shipped_task():
    from slm_factory.taskkit import PIPELINE_FILES

    declared = {d.split("${task}/specs/")[1] for stage in stages().values() for d in stage["deps"]
                if isinstance(d, str) and d.startswith("${task}/specs/")}
    assert declared == set(PIPELINE_FILES)
    for task in (ROOT, ROOT / "examples/ticket_triage", ROOT / "examples/scaffold"):
        assert [f for f in PIPELINE_FILES if not (task / "specs" / f).exists()] == [], task


def test_every_key_in_params_yaml_is_read_by_some_code():
    """A key no code reads would invalidate stages for nothing: each field of each config model is
    read as an attribute (`cfg.field`) by the package, a script or a training backend."""
    from pydantic import BaseModel

    from slm_factory.config import Params

    code = "\n".join(p.read_text() for folder in ("slm_factory", "scripts", "training")
                     for p in sorted((ROOT / folder).rglob("*.py")) if p.name != "config.py")
    unread = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            key = f"{prefix}{field.alias or name}"
            if not re.search(rf"\.{name}\b", code):
                unread.append(key)
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                walk(sub, key + ".")

    walk(Params, "")
    assert not unread, f"params keys no code reads: {unread}"
