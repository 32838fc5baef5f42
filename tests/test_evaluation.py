"""slm_factory.evaluation: eval sets loaded by name and limit, prompts rendered as the model sees them, the eval
stage's sets and report."""

from __future__ import annotations

import json

import pytest

from slm_factory.evaluation import few_shot, load_sets, messages_for, run_function, summaries, write_predictions
from slm_factory.rows import write_jsonl
from slm_factory.spec import SpecError


def test_sets_are_named_by_file_and_cut_by_limit(tmp_path, row_factory, spec):
    rows = [row_factory(f"set a timer for {n} minutes", {"tool": "set_timer", "arguments": {"duration_seconds": 60 * n}},
                        category="set_timer") for n in range(1, 6)]
    write_jsonl(tmp_path / "dev.jsonl", rows)
    assert [r.id for r in load_sets([tmp_path / "dev.jsonl"], 2)["dev"]] == [r.id for r in rows[:2]]
    assert len(load_sets([tmp_path / "dev.jsonl"], 0)["dev"]) == 5
    with pytest.raises(SpecError, match="sets.golden: role 'golden'"):
        load_sets([tmp_path / "golden.jsonl"], 0, spec)  # a set with a role must exist


def test_few_shot_shows_every_category_before_repeating(row_factory):
    rows = [row_factory(f"a{i}", "x", category="a") for i in range(5)] + [row_factory("b0", "y", category="b")]
    shots = few_shot(rows, 3, seed=1)
    assert {s.provenance.category for s in shots[:2]} == {"a", "b"} and len(shots) == 3
    assert [s.id for s in few_shot(rows, 3, seed=1)] == [s.id for s in shots]  # seeded


def test_the_prompt_is_system_shots_then_the_row(row_factory):
    row = row_factory("weather in Lima", {"tool": "get_weather", "arguments": {"location": "Lima"}})
    shot = row_factory("set a timer for 1 minute", {"tool": "set_timer", "arguments": {"duration_seconds": 60}})
    msgs = messages_for(row, "SYS", [shot])
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[0]["content"] == "SYS" and msgs[2]["content"] == shot.assistant and msgs[-1]["content"] == row.user


def test_a_function_is_scored_like_a_model_and_predictions_are_written(tmp_path, row_factory, spec):
    rows = [row_factory("weather in Lima", {"tool": "get_weather", "arguments": {"location": "Lima"}},
                        category="get_weather")]
    scored = run_function(lambda text: rows[0].assistant, {"dev": rows}, spec)
    assert summaries(scored, spec)["dev"]["exact_match"] == 1.0
    write_predictions(tmp_path, "rules_", scored)
    line = json.loads((tmp_path / "rules_dev.jsonl").read_text())
    assert line["id"] == rows[0].id


def test_the_eval_stage_drops_an_empty_unnamed_set_and_needs_every_role(row_factory, spec):
    from slm_factory.evaluation import sets_to_score

    row = row_factory("weather in Lima", {"tool": "get_weather", "arguments": {"location": "Lima"}})
    sets = {"dev": [row], "golden": [row], "adversarial": [row], "production": []}
    assert list(sets_to_score(sets, spec, pipeline=True)) == ["dev", "golden", "adversarial"]
    assert list(sets_to_score({"dev": [row]}, spec, pipeline=False)) == ["dev"]  # any file, outside the pipeline
    with pytest.raises(SpecError, match=r"\['golden', 'adversarial'\] have roles"):
        sets_to_score({"dev": [row]}, spec, pipeline=True)


def test_the_report_judges_gates_on_test_and_writes_every_figure(tmp_path, row_factory, spec):
    from slm_factory.evaluation import ModelEval, write_report

    good = row_factory("weather in Lima", {"tool": "get_weather", "arguments": {"location": "Lima"}},
                       category="get_weather")
    bad = row_factory("set a timer for 1 minute", {"tool": "set_timer", "arguments": {"duration_seconds": 60}},
                      category="set_timer")
    scored = run_function(lambda text: good.assistant, {"dev": [good, bad], "test": [good]}, spec)
    result = ModelEval(scored, summaries(scored, spec), None, {})
    gates = write_report(result, spec, tmp_path / "out", tmp_path / "eval.json")
    details = json.loads((tmp_path / "out/details.json").read_text())
    assert details["gates_judged_on"] == "test" and details["release_gates"] == gates
    assert details["summaries"]["dev"]["exact_match"] == 0.5 and "constrained" not in details
    metrics = json.loads((tmp_path / "eval.json").read_text())
    assert metrics["dev"] == {"exact_match": 0.5} and metrics["release_gates"]["all_pass"] == gates["all_pass"]
    confusion = (tmp_path / "out/confusion.csv").read_text().splitlines()
    assert confusion[0] == "actual,predicted" and "set_timer,get_weather" in confusion
    write_report(result, spec, tmp_path / "any", None)  # outside the pipeline: every headline figure, per set
    assert set(json.loads((tmp_path / "any/metrics.json").read_text())) == {"dev", "test"}


def test_copy_constrained_eval_copies_every_copied_value_from_its_request(tmp_path, row_factory, spec, tokenizer_dir):
    """eval.constrained: copy on an untrained model: whatever it writes, each copied argument it writes
    is a substring of that row's request that splits no word, and compiling the per-row grammars is timed apart."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slm_factory.config import Eval
    from slm_factory.evaluation import evaluate_model
    from slm_factory.text import copied_from

    from conftest import tiny_model_dir

    torch.manual_seed(0)  # the random weights, so which tool it writes is fixed
    base = tiny_model_dir(tokenizer_dir, tmp_path / "base")
    tok = AutoTokenizer.from_pretrained(base)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    rows = [row_factory("weather in Lima", {"tool": "get_weather", "arguments": {"location": "Lima"}},
                        category="get_weather"),
            row_factory('text Zoë "on my way"', {"tool": "send_message", "arguments": {
                "recipient": "Zoë", "channel": "sms", "body": "on my way"}}, category="send_message")]
    cfg = Eval(batch_size=2, max_new_tokens=64, release=False, constrained="copy", limit=0)
    result = evaluate_model(model, tok, {"dev": rows}, spec, cfg, tmp_path / "p")
    assert result.constrained is not None and "constrained_grammar_seconds" in result.speed
    written = [json.loads(line) for line in (tmp_path / "p" / "constrained_dev.jsonl").read_text().splitlines()]
    copied = 0
    for row, line in zip(rows, written):
        answer = json.loads(line["predicted"])  # the grammar bounds every value: nothing is cut off
        assert line["schema_valid"], line["predicted"]
        for key in spec.eval.copied_names & answer["arguments"].keys():
            value = answer["arguments"][key]
            assert value in row.user, (key, line["predicted"])
            # eval.yaml's copy_boundary: word: some occurrence of it starts and ends between words
            assert copied_from(row.user, value, whole_words=True), value
            copied += 1
    assert copied  # the seeded model writes a copied argument (create_event's title) on both rows


def test_copy_constrained_eval_without_copied_strings_is_a_spec_error(tmp_path, row_factory):
    """eval.constrained: copy on a task whose eval.yaml declares no copied strings stops with an error that
    names the file and what to declare, before any decoding (no model is even needed to reach it)."""
    import shutil

    from slm_factory.config import Eval
    from slm_factory.evaluation import evaluate_model
    from slm_factory.spec import TaskSpec

    from conftest import ROOT

    specs = shutil.copytree(ROOT / "specs", tmp_path / "specs")
    text = (specs / "eval.yaml").read_text()
    assert "    copied: [" in text
    (specs / "eval.yaml").write_text("\n".join(l for l in text.splitlines() if not l.startswith("    copied: [")))
    spec = TaskSpec.load(specs)
    rows = [row_factory("weather in Lima", {"tool": "get_weather", "arguments": {"location": "Lima"}},
                        category="get_weather")]
    cfg = Eval(batch_size=1, max_new_tokens=8, release=False, constrained="copy", limit=0)
    with pytest.raises(SpecError, match=r"eval\.yaml.*copied: true.*copied: \[keys\]"):
        evaluate_model(None, None, {"dev": rows}, spec, cfg, tmp_path / "p")
    assert not (tmp_path / "p").exists()  # nothing was decoded or written
