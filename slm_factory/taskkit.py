"""What a task author needs besides the pipeline: scaffold a task folder, check it, add eval rows.

A task folder holds `task.md`, `specs/` and `data/eval/` (the hand-written locked sets). `check` is
what a pipeline run would trip over, found in seconds: the contract and its exported schema in sync,
eval.yaml valid against the contract, every quota cell covered by a template, every rendered template
valid and filling every scored field, every locked eval row valid with the right content-hash id.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

from .rows import Message, conversation_row, make_row, read_jsonl
from .spec import SpecError, TaskSpec
from .templates import ALL_EXTRAS, Grammar

RENDERS_PER_TEMPLATE = 8
# The spec files dvc.yaml names as stage dependencies (DVC needs each to exist); tests/test_dvc_yaml.py
# keeps this list equal to dvc.yaml's. rules.py may set `route = None` and prices.yaml may list no model.
PIPELINE_FILES = ("task.yaml", "quotas.yaml", "contract.py", "eval.yaml", "templates.yaml", "rules.py",
                  "prices.yaml", "generation_prompts/generate.md", "generation_prompts/judge.md")


def check(task_dir: Path, fix_ids: bool = False) -> list[str]:
    """Problems found in a task folder, one line each naming the file (empty when it is sound).
    With `fix_ids`, eval rows whose id is not their content hash are rewritten with the right id."""
    specs = task_dir / "specs"
    problems = [f"{specs / name}: missing; the pipeline reads it (copy it from examples/scaffold/specs)"
                for name in PIPELINE_FILES if not (specs / name).exists()]
    try:
        spec = TaskSpec.load(specs)
        schema = spec.json_schema()
        ev = spec.eval
    except SpecError as e:
        return [str(e)]
    saved = spec.schema_path()
    if not saved.exists() or json.loads(saved.read_text()) != schema:
        problems.append(f"{saved}: out of sync with contract.py; run `python -m slm_factory.spec {specs}`")
    if spec.templates_path().exists():
        problems += _check_templates(spec)
    for stem, role in ev.sets.items():
        path = task_dir / "data" / "eval" / f"{stem}.jsonl"
        if role in ("golden", "safety"):
            if not path.exists():
                problems.append(f"{spec.eval_path()}: sets.{stem}: role '{role}' but {path} does not exist")
                continue
            problems += _check_eval_file(spec, path, role, fix_ids)
    return problems


def _check_templates(spec: TaskSpec) -> list[str]:
    path = spec.templates_path()
    try:
        grammar = Grammar.load(path, ALL_EXTRAS)  # every extension must render valid rows too
    except SpecError as e:
        return [str(e)]
    problems = [f"{path}: no template for quota cell ({c}, {d})" for c, d, _ in spec.cells()
                if not grammar.candidates(c, d)]
    rng = random.Random(0)
    for t in grammar.templates:
        for _ in range(RENDERS_PER_TEMPLATE):
            out = grammar.render(t, rng)["output"]
            errors = spec.validate_output(out)
            missing = [f for f in spec.eval.fields if not isinstance(out, dict) or f not in out]
            if errors or missing:
                why = f"missing scored fields {missing}" if missing else errors[0]["msg"]
                problems.append(f"{path}: template {t.id} renders an invalid output {json.dumps(out)}: {why}")
                break
    return problems


def _check_eval_file(spec: TaskSpec, path: Path, role: str, fix_ids: bool) -> list[str]:
    problems, rows, changed = [], [], False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            raw = json.loads(line)
            row = conversation_row([Message(**m) for m in raw["messages"]], raw["provenance"],
                                   **raw.get("annotations", {}))
        except (ValueError, KeyError, IndexError, TypeError) as e:
            problems.append(f"{where}: not a row: {e}")
            continue
        if row.id != raw.get("id"):
            if fix_ids:
                changed = True
            else:
                problems.append(f"{where}: id {raw.get('id')!r} is not the content hash {row.id!r} (--fix-ids)")
        if row.system != spec.system_prompt:
            problems.append(f"{where}: system prompt differs from specs/task.yaml")
        try:
            obj = json.loads(row.assistant)
        except ValueError:
            problems.append(f"{where}: the answer is not JSON")
            continue
        errors = spec.validate_output(obj)
        if errors:
            loc = ".".join(str(x) for x in errors[0]["loc"])
            problems.append(f"{where}: the answer breaks the contract at {loc or 'top level'}: {errors[0]['msg']}")
        if role == "safety" and spec.eval.unsafe and spec.eval.unsafe.when == "injected_value" \
                and not isinstance(row.annotations.get("injected"), dict):
            problems.append(f"{where}: a safety row needs annotations.injected (what the attack asks for)")
        rows.append(row)
    if fix_ids and changed:
        path.write_text("".join(r.model_dump_json() + "\n" for r in rows), encoding="utf-8")
    return problems


def add_eval(spec: TaskSpec, source: Path, out: Path, set_name: str) -> tuple[int, int]:
    """Append `{"input", "output"[, "data_type", "difficulty", "annotations"]}` lines of `source` to `out`
    as eval rows (task system prompt, canonical answer, content-hash id). Every line is checked against
    the contract first; one bad line stops everything, so nothing is half-added. Returns (added, skipped
    as already present)."""
    existing = {r["id"] for r in read_jsonl(out)} if out.exists() else set()
    rows = []
    lf = spec.eval.label_field
    for n, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item: dict[str, Any] = json.loads(line)
            user, output = item["input"], item["output"]
        except (ValueError, KeyError, TypeError) as e:
            raise SpecError(f"{source}:{n}: expected an object with 'input' and 'output' ({e})") from None
        errors = spec.validate_output(output)
        if errors:
            loc = ".".join(str(x) for x in errors[0]["loc"])
            raise SpecError(f"{source}:{n}: output breaks the contract at {loc or 'top level'}: {errors[0]['msg']}")
        category = str(output.get(lf)) if lf and isinstance(output, dict) else set_name
        seq = len(existing) + len(rows) + 1
        row = make_row(spec.system_prompt, str(user), spec.canonical(output), dict(
            category=category, data_type=item.get("data_type", "canonical"),
            difficulty=item.get("difficulty", "medium"), source="human", batch=set_name,
            group=f"{set_name}:{seq:03d}", generator="hand-written"), **item.get("annotations", {}))
        rows.append(row)
    new = [r for r in rows if r.id not in existing]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as f:
        for r in new:
            f.write(r.model_dump_json() + "\n")
    return len(new), len(rows) - len(new)


def new_task(target: Path, scaffold: Path) -> Path:
    """Copy the scaffold (a small, commented, working task) to `target`; refuses to overwrite."""
    if target.exists():
        raise SpecError(f"{target} already exists; choose a new folder")
    shutil.copytree(scaffold, target)
    return target
