"""How a task is scored, declared in its specs folder (`eval.yaml`) and validated once at load.

The eval core knows field *kinds*, never field names: every figure in a report, every release gate and
every error-analysis cause is derived from this declaration, so a classification, extraction or
structured-output task is scored as fully as the default one.

    fields:                       one entry per output field, in the order reports show them
      <name>: {kind: label}       the class: accuracy, macro-F1, confusion matrix (at most one field)
      <name>: {kind: enum}        accuracy (also: bool)
      <name>: {kind: number, tolerance: 0.01}
      <name>: {kind: text}        normalised exact match and token F1
      <name>: {kind: arguments}   an object of keyword arguments: per-key, required-key, hallucinated keys
      <name>: {kind: enum, nullable: true}   adds null precision / recall
      <name>: {kind: text, copied: true}     the value is copied from the request as written
      <name>: {kind: arguments, copied: [key, ...]}   these arguments are copied from the request
                                  (`eval.constrained: copy` keeps each a substring of the request)
    copy_boundary: word | any     word (default): copied substrings start and end between words only
    negative_label: <value>       the label that means "do nothing" (optional)
    sets: {<eval file stem>: <role>}  roles: dev, golden, safety, test
    headline: field_match         the one figure a fine-tune must win on
    unsafe: {when: any_action | injected_value}   what is unsafe on the safety role
    gates: [{metric: ..., op: ">=", value: 0.98, role: main}]   main = test on release, else dev
    report_columns: [...]         comparison-table columns (default: every headline metric)
    attack_data_types: [...]      data types whose rows are attacks (error analysis checks them as such)
    repair_hints: {<cause>: text} what to generate for each error-analysis cause

Metric names are built from field names (`<field>_accuracy`, `<field>_token_f1`, ...), so the default
task's `tool_accuracy` is the accuracy of its field named `tool`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class SpecError(ValueError):
    """A specs folder is incomplete or inconsistent (raised here and by slm_factory.spec, which exports it)."""


Kind = Literal["label", "enum", "bool", "number", "text", "arguments"]
SetRole = Literal["dev", "golden", "safety", "test"]
GateRole = Literal["main", "dev", "golden", "safety", "test"]
OPS = {">=": lambda v, b: v >= b, "<=": lambda v, b: v <= b, "==": lambda v, b: v == b,
       ">": lambda v, b: v > b, "<": lambda v, b: v < b}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_Strict):
    kind: Kind
    nullable: bool = False
    tolerance: float = Field(0.0, ge=0)  # number: |predicted - expected| <= tolerance counts as right
    # text: true when the value is copied from the request; arguments: the keys whose values are copied
    copied: bool | list[str] = False

    @model_validator(mode="after")
    def _copied_fits_kind(self) -> "FieldSpec":
        if isinstance(self.copied, list) and self.kind != "arguments":
            raise ValueError(f"copied: a list of keys is for kind 'arguments'; kind '{self.kind}' takes true/false")
        if self.copied is True and self.kind != "text":
            raise ValueError(f"copied: true is for kind 'text' (kind 'arguments' lists its copied keys), "
                             f"not kind '{self.kind}'")
        return self


class GateSpec(_Strict):
    metric: str
    op: Literal[">=", "<=", "==", ">", "<"]
    value: float
    role: GateRole = "main"
    name: str | None = None

    @property
    def key(self) -> str:
        return self.name or self.metric

    def passes(self, value: float | None) -> bool:
        return value is not None and OPS[self.op](value, self.value)


class UnsafeSpec(_Strict):
    """any_action: a prediction that acts (label is not the negative label) and is not exactly the expected
    answer. injected_value: the row's `annotations.injected` ({field: value}) names what the attack asked
    for; a prediction that gives any of those values where the expected answer does not obeyed it."""

    when: Literal["any_action", "injected_value"]


class EvalSpec(_Strict):
    fields: dict[str, FieldSpec]
    negative_label: str | None = None
    sets: dict[str, SetRole] = Field(default_factory=lambda: {"dev": "dev", "golden": "golden", "test": "test"})
    headline: str = "exact_match"
    # word: a copied string starts and ends only where the request's letters/digits don't run on
    # ("Gla" is no copy of "Glasgow"); any: every substring. Read by `eval.constrained: copy` alone.
    copy_boundary: Literal["word", "any"] = "word"
    unsafe: UnsafeSpec | None = None
    gates: list[GateSpec] = Field(default_factory=list)
    report_columns: list[str] | None = None
    attack_data_types: list[str] = Field(default_factory=list)
    repair_hints: dict[str, str] = Field(default_factory=dict)
    long_input_chars: int = Field(250, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> "EvalSpec":
        if not self.fields:
            raise ValueError("fields: declare at least one output field")
        labels = [k for k, f in self.fields.items() if f.kind == "label"]
        if len(labels) > 1:
            raise ValueError(f"fields: at most one field of kind 'label', got {labels}")
        if self.negative_label is not None and not labels:
            raise ValueError("negative_label needs a field of kind 'label'")
        if self.unsafe and self.unsafe.when == "any_action" and self.negative_label is None:
            raise ValueError("unsafe.when: any_action needs a negative_label (what 'not acting' is)")
        known = set(self.metric_names())
        for where, name in ([("headline", self.headline)]
                            + [(f"gates[{i}].metric", g.metric) for i, g in enumerate(self.gates)]
                            + [(f"report_columns[{i}]", c) for i, c in enumerate(self.report_columns or [])]):
            if name not in known:
                raise ValueError(f"{where}: unknown metric '{name}'; this spec's metrics: {sorted(known)}")
        for i, g in enumerate(self.gates):
            if g.role not in ("main",) and g.role not in self.sets.values():
                raise ValueError(f"gates[{i}].role: no eval set plays the role '{g.role}' (sets: {self.sets})")
        return self

    # --- derived names ---------------------------------------------------------------------
    @property
    def label_field(self) -> str | None:
        return next((k for k, f in self.fields.items() if f.kind == "label"), None)

    @property
    def whole_word_copies(self) -> bool:
        """Whether a copied string must start and end between words (`copy_boundary: word`): the one
        reading of the rule, shared by copy-constrained decoding and validate's `not_copied` gate."""
        return self.copy_boundary == "word"

    @property
    def copied_names(self) -> frozenset[str]:
        """Names of the output's strings copied from the request: text fields marked `copied: true`
        and the keys an arguments field lists."""
        names = set()
        for name, f in self.fields.items():
            names |= {name} if f.copied is True else set(f.copied or [])
        return frozenset(names)

    @property
    def arguments_field(self) -> str | None:
        return next((k for k, f in self.fields.items() if f.kind == "arguments"), None)

    def field_metrics(self, name: str) -> list[str]:
        f = self.fields[name]
        out = {"label": [f"{name}_accuracy", f"{name}_macro_f1"],
               "text": [f"{name}_exact", f"{name}_token_f1"],
               "arguments": [f"{name}_accuracy", f"{name}_required_accuracy", f"{name}_hallucinated_rate"],
               }.get(f.kind, [f"{name}_accuracy"])
        if f.nullable:
            out += [f"{name}_null_precision", f"{name}_null_recall"]
        return out

    def metric_names(self) -> list[str]:
        """Every summary figure this spec yields, in report order."""
        names = ["exact_match", "field_match"]
        for k in self.fields:
            names += self.field_metrics(k)
        names += ["json_parse_rate", "schema_valid_rate"]
        if self.negative_label is not None:
            neg = self.negative_label
            names += [f"{neg}_precision", f"{neg}_recall", "false_refusal_rate", "action_when_none_rate"]
        if self.unsafe is not None:
            names.append("unsafe_rate")
        return names

    def columns(self) -> list[str]:
        return self.report_columns or self.metric_names()

    def role_of(self, set_name: str) -> str | None:
        return self.sets.get(set_name)

    def set_with_role(self, role: str) -> str | None:
        return next((s for s, r in self.sets.items() if r == role), None)


def default_eval_spec(label_key: str, args_key: str | None, negative_label: str | None) -> EvalSpec:
    """For a specs folder without eval.yaml: its label field, its arguments field if any."""
    fields = {label_key: FieldSpec(kind="label")}
    if args_key:
        fields[args_key] = FieldSpec(kind="arguments")
    return EvalSpec(fields=fields, negative_label=negative_label)


def load_eval_spec(path: Path) -> EvalSpec:
    """Parse and validate eval.yaml; any problem is one error naming the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from None
    try:
        return EvalSpec.model_validate(raw)
    except ValidationError as e:
        errs = []
        for err in e.errors(include_url=False):
            loc = ".".join(str(x) for x in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if loc and isinstance(err.get("input"), (str, int, float)):
                msg += f" (got {err['input']!r})"
            errs.append(f"{loc}: {msg}" if loc else msg)
        raise SpecError(f"{path}: " + "; ".join(errs)) from None
