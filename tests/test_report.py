"""slm_factory.report: the comparison table, the markdown report and the run record."""

from slm_factory.config import load
from slm_factory.report import comparison, markdown, run_record
from slm_factory.rows import write_jsonl

from conftest import ROOT, load_script, typed_params

REPORT_PARAMS = load_script("report").PARAMS  # what the report stage declares


def figures(spec, value: float) -> dict:
    return {"n": 2, **{m: value for m in spec.eval.columns()}, "by_data_type": {"canonical": {"n": 2, "exact_match": value}}}


def test_every_system_that_ran_is_a_row_and_a_skipped_one_says_why(spec):
    cols = spec.eval.columns()
    base = {"dev": figures(spec, 0.1)}
    table = comparison({"dev": figures(spec, 0.8)}, {"base": base, "rules": {"skipped": "no route(text)"}}, cols)
    assert list(table) == ["base", "rules", "fine_tuned"]
    assert table["rules"] == {"skipped": "no route(text)"} and table["fine_tuned"]["dev"][cols[0]] == 0.8
    gates = {"all_pass": False, "g": {"set": "dev", "value": 0.8, "required": ">= 0.9", "pass": False}}
    text = markdown(table, gates, {"dev": figures(spec, 0.8)}, {"steps": 3, "train_rows": 10}, spec)
    assert "- rules: skipped (no route(text))" in text and "| g | dev | 0.800 | >= 0.9 | FAIL |" in text
    assert "All gates pass: **False**" in text and "3 steps on 10 rows" in text


def test_the_run_id_is_the_content_of_what_was_run(tmp_path, spec, row_factory):
    write_jsonl(tmp_path / "train.jsonl", [row_factory("set a timer for 1 minute", "x")])
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_model.safetensors").write_bytes(b"weights")
    params = load(ROOT / "params.yaml", REPORT_PARAMS)
    gates = {"all_pass": False}
    one = run_record(spec, params, [tmp_path / "train.jsonl"], tmp_path / "adapter", {"dev": figures(spec, 0.5)},
                     gates, {"steps": 3})
    again = run_record(spec, params, [tmp_path / "train.jsonl"], tmp_path / "adapter", {"dev": figures(spec, 0.5)},
                       gates, {"steps": 3})
    assert one == again and list(one["params"]) == list(REPORT_PARAMS)
    other = typed_params({"lora_rank": 64})
    changed = run_record(spec, other, [tmp_path / "train.jsonl"], tmp_path / "adapter", {"dev": figures(spec, 0.5)},
                         gates, {"steps": 3})
    assert changed["run_id"] != one["run_id"] and changed["params"]["lora_rank"] == 64
