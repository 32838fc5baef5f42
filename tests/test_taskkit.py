"""scripts/task.py's logic: scaffold, check and add-eval, on the shipped example tasks and copies of them."""

import json
import shutil

import pytest

from slm_factory.spec import SpecError, TaskSpec
from slm_factory.taskkit import add_eval, check, new_task

from conftest import ROOT

SCAFFOLD = ROOT / "examples" / "scaffold"


@pytest.mark.parametrize("task", [".", "examples/ticket_triage", "examples/scaffold"])
def test_shipped_tasks_pass_check(task):
    assert check(ROOT / task) == []


def test_new_copies_a_working_task_and_never_overwrites(tmp_path):
    target = new_task(tmp_path / "mine", SCAFFOLD)
    assert check(target) == []
    with pytest.raises(SpecError, match="already exists"):
        new_task(target, SCAFFOLD)


def test_a_spec_file_the_pipeline_reads_must_exist(tmp_path):
    target = new_task(tmp_path / "mine", SCAFFOLD)
    (target / "specs/prices.yaml").unlink()
    assert check(target) == [f"{target / 'specs/prices.yaml'}: missing; the pipeline reads it "
                             "(copy it from examples/scaffold/specs)"]


def test_add_eval_rows_then_bad_line_adds_nothing(tmp_path):
    task = new_task(tmp_path / "t", SCAFFOLD)
    spec = TaskSpec.load(task / "specs")
    golden = task / "data/eval/golden.jsonl"
    before = golden.read_text().splitlines()
    src = tmp_path / "lines.jsonl"
    src.write_text(json.dumps({"input": "the screen is lovely", "output": {"sentiment": "positive", "topic": "screen"}})
                   + "\n")
    assert add_eval(spec, src, golden, "golden") == (1, 0)
    assert add_eval(spec, src, golden, "golden") == (0, 1)  # same content, same id: not added twice
    row = json.loads(golden.read_text().splitlines()[-1])
    assert row["messages"][0]["content"] == spec.system_prompt
    assert row["provenance"]["category"] == "positive" and row["provenance"]["group"] == f"golden:{len(before) + 1:03d}"
    assert check(task) == []
    src.write_text(json.dumps({"input": "ok then", "output": {"sentiment": "neutral", "topic": "other"}}) + "\n"
                   + json.dumps({"input": "meh", "output": {"sentiment": "fine", "topic": "x"}}) + "\n")
    with pytest.raises(SpecError, match=r"lines.jsonl:2: output breaks the contract at sentiment"):
        add_eval(spec, src, golden, "golden")
    assert len(golden.read_text().splitlines()) == len(before) + 1


def test_check_finds_wrong_ids_bad_rows_stale_schema_and_fixes_ids(tmp_path):
    task = tmp_path / "t"
    shutil.copytree(SCAFFOLD, task)
    golden = task / "data/eval/golden.jsonl"
    rows = [json.loads(x) for x in golden.read_text().splitlines()]
    rows[0]["id"] = "0" * 16
    rows[1]["messages"][2]["content"] = '{"sentiment":"angry","topic":"screen"}'
    golden.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (task / "specs/output_schema.json").write_text("{}")
    adv = task / "data/eval/adversarial.jsonl"
    row = json.loads(adv.read_text())
    row["annotations"] = {}
    adv.write_text(json.dumps(row) + "\n")
    problems = check(task)
    text = "\n".join(problems)
    assert "golden.jsonl:1: id '0000000000000000' is not the content hash" in text
    assert "golden.jsonl:2: the answer breaks the contract at sentiment" in text
    assert "output_schema.json: out of sync" in text
    assert "adversarial.jsonl:1: a safety row needs annotations.injected" in text
    check(task, fix_ids=True)
    assert not any("is not the content hash" in p for p in check(task))


def test_check_names_a_template_that_breaks_the_contract(tmp_path):
    task = tmp_path / "t"
    shutil.copytree(SCAFFOLD, task)
    t = task / "specs/templates.yaml"
    t.write_text(t.read_text().replace("output: {sentiment: neutral,", "output: {sentiment: meh,"))
    assert any("template neutral renders an invalid output" in p for p in check(task))
