"""Loading a task from its `specs/` folder. Nothing task-specific lives in this package.

A specs folder holds:
  task.yaml           name, system prompts, label/argument keys, file names below
  contract.py         pydantic output contract: a type named `Output` (a model or a discriminated union)
  output_schema.json  JSON schema exported from `Output` (kept in sync by a test)
  quotas.yaml         category and difficulty weights; the data types every dataset must cover
  templates.yaml      the offline template grammar (see slm_factory.templates)
  generation_prompts/ prompts for LLM teachers
  rules.py            optional deterministic baseline: `route(user_text) -> dict`
  eval.yaml           how the task is scored (slm_factory.evalspec); without it: label + arguments fields
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from .evalspec import EvalSpec, SpecError, default_eval_spec, load_eval_spec


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves forward refs through sys.modules
    spec.loader.exec_module(module)
    return module


@dataclass
class TaskSpec:
    root: Path
    name: str
    system_prompt: str
    label_key: str
    args_key: str | None
    negative_label: str | None
    prompted_system_prompt: str
    leak_patterns: list[str]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def load(cls, root: str | Path) -> "TaskSpec":
        root = Path(root)
        task_file = root / "task.yaml"
        if not task_file.exists():
            raise SpecError(f"{task_file} not found: a specs folder needs task.yaml")
        raw = yaml.safe_load(task_file.read_text()) or {}
        for key in ("name", "system_prompt", "label_key"):
            if key not in raw:
                raise SpecError(f"{task_file}: missing required key '{key}'")
        return cls(
            root=root,
            name=raw["name"],
            system_prompt=raw["system_prompt"].strip(),
            label_key=raw["label_key"],
            args_key=raw.get("args_key"),
            negative_label=raw.get("negative_label"),
            prompted_system_prompt=(raw.get("prompted_system_prompt") or raw["system_prompt"]).strip(),
            leak_patterns=list(raw.get("leak_patterns", [])),
            raw=raw,
        )

    @cached_property
    def injection_patterns(self) -> list[str]:
        """`injection_patterns`: the task's own attack patterns (regex), on top of the gates' defaults."""
        pats = self.raw.get("injection_patterns") or []
        if not isinstance(pats, list) or not all(isinstance(p, str) for p in pats):
            raise SpecError(f"{self.root / 'task.yaml'}: injection_patterns must be a list of regex strings")
        for p in pats:
            try:
                re.compile(p)
            except re.error as e:
                raise SpecError(f"{self.root / 'task.yaml'}: injection_patterns: {p!r} is not a regex: {e}") from None
        return pats

    @cached_property
    def pii_allowed(self) -> frozenset[str]:
        """`pii_allowed`: kinds of personal data that are the task's own data (the privacy gate keeps
        them; it also checks the names, so this module needs no import of the gate)."""
        kinds = self.raw.get("pii_allowed") or []
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise SpecError(f"{self.root / 'task.yaml'}: pii_allowed must be a list of kind names, got {kinds!r}")
        return frozenset(kinds)

    @cached_property
    def quotas(self) -> dict[str, Any]:
        """quotas.yaml, read on first use: only the stages that plan or count data read it (and
        declare it in dvc.yaml), so editing it reruns only those."""
        path = self.root / self.raw.get("quotas", "quotas.yaml")
        return (yaml.safe_load(path.read_text()) if path.exists() else None) or {}

    # --- contract -------------------------------------------------------------------------
    @cached_property
    def contract(self) -> ModuleType:
        path = self.root / self.raw.get("contract", "contract.py")
        if not path.exists():
            raise SpecError(f"{path} not found: the output contract is required")
        module = load_module(path, f"_task_contract_{self.name}_{abs(hash(str(path.resolve())))}")
        if not hasattr(module, "Output"):
            raise SpecError(f"{path} must define a type named Output")
        return module

    @cached_property
    def adapter(self) -> TypeAdapter:
        return TypeAdapter(self.contract.Output)

    @cached_property
    def _schema(self) -> dict:
        return self.adapter.json_schema()

    def json_schema(self) -> dict:
        return self._schema

    def schema_path(self) -> Path:
        return self.root / self.raw.get("output_schema", "output_schema.json")

    def validate_output(self, obj: Any) -> list[dict]:
        """Validate a parsed assistant object against the contract; returns pydantic's errors ([] if ok)."""
        try:
            self.adapter.validate_python(obj)
        except ValidationError as e:
            return e.errors(include_url=False)
        return []

    @staticmethod
    def canonical(obj: Any) -> str:
        """The one serialisation the contract accepts: compact JSON, keys in the order given."""
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

    def label_of(self, obj: Any) -> str | None:
        if isinstance(obj, dict):
            value = obj.get(self.label_key)
            return value if isinstance(value, str) else None
        return None

    def args_of(self, obj: Any) -> dict:
        if self.args_key is None or not isinstance(obj, dict):
            return {}
        args = obj.get(self.args_key)
        return args if isinstance(args, dict) else {}

    def labels(self) -> list[str]:
        """Every label value the contract allows, read from the exported schema."""
        return self.labels_of(self.label_key)

    def required_args(self, label: str, label_key: str | None = None, args_key: str | None = None) -> list[str]:
        """Required argument names for a label (empty when the task has no arguments)."""
        label_key, args_key = label_key or self.label_key, args_key or self.args_key
        if args_key is None:
            return []
        schema = self.json_schema()
        defs = schema.get("$defs", {})
        for node in list(defs.values()) + [schema]:
            props = node.get("properties", {})
            lab = props.get(label_key, {})
            if lab.get("const") == label or label in lab.get("enum", []):
                args = props.get(args_key, {})
                if "$ref" in args:
                    args = defs[args["$ref"].split("/")[-1]]
                return list(args.get("required", []))
        return []

    def eval_path(self) -> Path:
        return self.root / self.raw.get("eval", "eval.yaml")

    @cached_property
    def eval(self) -> EvalSpec:
        """How the task is scored; field names are checked against the output schema."""
        path = self.eval_path()
        if not path.exists():
            return default_eval_spec(self.label_key, self.args_key, self.negative_label)
        ev = load_eval_spec(path)
        props = _property_names(self.json_schema())
        for name in ev.fields:
            if name not in props:
                raise SpecError(f"{path}: fields.{name}: the output contract has no field '{name}' "
                                f"(fields: {sorted(props)})")
        if ev.negative_label is not None and ev.negative_label not in self.labels_of(ev.label_field):
            raise SpecError(f"{path}: negative_label: '{ev.negative_label}' is not a value of "
                            f"'{ev.label_field}' in the contract")
        return ev

    def labels_of(self, field_name: str | None) -> list[str]:
        """Every value the contract allows for one field (const/enum), read from the exported schema."""
        if field_name is None:
            return []
        found: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                lab = node.get("properties", {}).get(field_name)
                if isinstance(lab, dict):
                    for alt in [lab] + lab.get("anyOf", []):
                        if "const" in alt:
                            found.append(alt["const"])
                        found.extend(alt.get("enum", []))
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(self.json_schema())
        return sorted(dict.fromkeys(x for x in found if x is not None))

    # --- other spec files ----------------------------------------------------------------
    def templates_path(self) -> Path:
        return self.root / self.raw.get("templates", "templates.yaml")

    def prompt_parts(self, name: str) -> tuple[dict[str, Any], str]:
        """(front matter, body) of a prompt file; front matter is optional YAML between '---' lines."""
        path = self.root / "generation_prompts" / name
        if not path.exists():
            raise SpecError(f"{path} not found")
        text = path.read_text()
        if text.startswith("---\n"):
            head, sep, body = text[4:].partition("\n---\n")
            if not sep:
                raise SpecError(f"{path}: front matter opened with '---' is never closed")
            try:
                meta = yaml.safe_load(head) or {}
            except yaml.YAMLError as e:
                raise SpecError(f"{path}: front matter is not valid YAML: {e}") from None
            if not isinstance(meta, dict):
                raise SpecError(f"{path}: front matter must be a mapping")
            return meta, body
        return {}, text

    def prompt_text(self, name: str) -> str:
        return self.prompt_parts(name)[1]

    def rules_module(self) -> ModuleType | None:
        path = self.root / self.raw.get("rules", "rules.py")
        if not path.exists():
            return None
        return load_module(path, f"_task_rules_{self.name}")

    def data_types(self) -> list[str]:
        return list(self.quotas.get("data_types", []))

    def cells(self) -> list[tuple[str, str, float]]:
        """(category, difficulty, weight) for every quota cell: category weight x difficulty weight."""
        cats = self.quotas.get("categories", {})
        diffs = self.quotas.get("difficulties", {})
        if not cats or not diffs:
            raise SpecError(f"{self.root}/quotas.yaml needs non-empty 'categories' and 'difficulties'")
        total_c, total_d = sum(cats.values()), sum(diffs.values())
        return [(c, d, (wc / total_c) * (wd / total_d)) for c, wc in cats.items() for d, wd in diffs.items()
                if wc > 0 and wd > 0]


def _property_names(schema: Any) -> set[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                names.update(props)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return names


def export_schema(root: str | Path) -> Path:
    """Write output_schema.json from the contract's Output type (run after editing contract.py)."""
    spec = TaskSpec.load(root)
    path = spec.schema_path()
    path.write_text(json.dumps(spec.json_schema(), indent=2, ensure_ascii=False) + "\n")
    return path


if __name__ == "__main__":
    # python -m slm_factory.spec specs   -> regenerates specs/output_schema.json
    print(export_schema(sys.argv[1] if len(sys.argv) > 1 else "specs"))
