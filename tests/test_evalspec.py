"""eval.yaml: bad specs get one clear error naming the file and the field; names derive from fields."""

import pytest
import yaml

from slm_factory.evalspec import EvalSpec, FieldSpec
from slm_factory.spec import SpecError, TaskSpec

CONTRACT = '''
from typing import Literal, Optional
from pydantic import BaseModel, ConfigDict

class Output(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    label: Literal["yes", "no", "skip"]
    size: Optional[Literal["s", "m", "l"]]
    note: str
'''


def make_task(tmp_path, eval_yaml: dict | None):
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    (specs / "task.yaml").write_text(yaml.safe_dump({"name": "mini", "label_key": "label",
                                                     "system_prompt": "Answer as JSON."}))
    (specs / "contract.py").write_text(CONTRACT)
    if eval_yaml is not None:
        (specs / "eval.yaml").write_text(yaml.safe_dump(eval_yaml, sort_keys=False))
    return TaskSpec.load(specs)


GOOD = {"fields": {"label": {"kind": "label"}, "size": {"kind": "enum", "nullable": True},
                   "note": {"kind": "text"}},
        "negative_label": "skip", "headline": "field_match",
        "gates": [{"metric": "label_accuracy", "op": ">=", "value": 0.9}]}


def test_metric_names_come_from_fields(tmp_path):
    ev = make_task(tmp_path, GOOD).eval
    assert ev.metric_names() == [
        "exact_match", "field_match", "label_accuracy", "label_macro_f1", "size_accuracy",
        "size_null_precision", "size_null_recall", "note_exact", "note_token_f1", "json_parse_rate",
        "schema_valid_rate", "skip_precision", "skip_recall", "false_refusal_rate", "action_when_none_rate"]
    assert ev.label_field == "label" and ev.set_with_role("golden") == "golden"


def test_without_eval_yaml_the_label_field_is_scored(tmp_path):
    ev = make_task(tmp_path, None).eval
    assert ev.fields == {"label": FieldSpec(kind="label")}


@pytest.mark.parametrize("change, words", [
    ({"fields": {"label": {"kind": "category"}}}, ["eval.yaml", "fields.label.kind", "category"]),
    ({"gates": [{"metric": "tool_accuracy", "op": ">=", "value": 1}]}, ["eval.yaml", "gates[0].metric", "tool_accuracy"]),
    ({"gates": [{"metric": "label_accuracy", "op": "~", "value": 1}]}, ["eval.yaml", "gates.0.op"]),
    ({"gates": [{"metric": "label_accuracy", "op": ">=", "value": 1, "role": "safety"}]},
     ["eval.yaml", "gates[0].role", "safety"]),
    ({"fields": {"labl": {"kind": "label"}}, "negative_label": None, "gates": []},
     ["eval.yaml", "fields.labl", "no field 'labl'"]),
    ({"negative_label": "maybe"}, ["eval.yaml", "negative_label", "maybe"]),
    ({"sets": {"dev": "training"}}, ["eval.yaml", "sets.dev"]),
    ({"unsafe": {"when": "any_action"}, "negative_label": None}, ["eval.yaml", "negative_label"]),
    ({"headline": "accuracy"}, ["eval.yaml", "headline", "accuracy"]),
    ({"fields": {**GOOD["fields"], "size": {"kind": "enum", "copied": True}}}, ["eval.yaml", "copied: true", "'enum'"]),
    ({"fields": {**GOOD["fields"], "note": {"kind": "text", "copied": ["a"]}}}, ["eval.yaml", "list of keys", "'text'"]),
    ({"copy_boundary": "sentence"}, ["eval.yaml", "copy_boundary", "'word' or 'any'"]),
])
def test_bad_eval_spec_is_one_clear_error(tmp_path, change, words):
    spec = make_task(tmp_path, {**GOOD, **change})
    with pytest.raises(SpecError) as e:
        spec.eval
    assert all(w in str(e.value) for w in words), str(e.value)
    assert "\n" not in str(e.value)


def test_gate_passes():
    ev = EvalSpec.model_validate(GOOD | {"negative_label": None})
    g = ev.gates[0]
    assert g.passes(0.95) and not g.passes(0.5) and not g.passes(None)


def test_role_mapped_to_missing_file_names_the_set(tmp_path):
    from slm_factory.evaluation import load_sets

    spec = make_task(tmp_path, {**GOOD, "sets": {"dev": "dev", "holdout": "golden"}})
    with pytest.raises(SpecError, match=r"eval.yaml: sets.holdout: role 'golden'"):
        load_sets([tmp_path / "holdout.jsonl"], 0, spec)


def test_copied_names_are_copied_text_fields_and_listed_argument_keys():
    fields = {"label": {"kind": "label"}, "note": {"kind": "text", "copied": True}, "other": {"kind": "text"},
              "args": {"kind": "arguments", "copied": ["title", "city"]}}
    ev = EvalSpec.model_validate({"fields": fields, "negative_label": None})
    assert ev.copied_names == {"note", "title", "city"}
    assert EvalSpec.model_validate(GOOD).copied_names == frozenset()
    assert ev.copy_boundary == "word" and ev.whole_word_copies  # copies split no word unless the spec says `any`
    assert not EvalSpec.model_validate({"fields": fields, "copy_boundary": "any"}).whole_word_copies
