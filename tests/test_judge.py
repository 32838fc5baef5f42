"""slm_factory.judge: the LLM judge scores rows on the rubric, rejects with its reason, never crashes on its answer."""

from __future__ import annotations

import json

import pytest
import yaml

from slm_factory.rows import dump_line

from conftest import ROOT, gen_args, load_script, params_file
from fakes.fake_llm import FakeLLM


def test_judge_scores_rows_and_rejects_with_its_reason(tmp_path, keys, tokenizer_dir):
    gen_params = params_file(tmp_path, {"provider": "template"}, 12)
    load_script("generate").main(gen_args(tmp_path, gen_params))
    with FakeLLM(ROOT / "specs", faults={2: "judge_reject", 5: "malformed"}) as fake:
        p = yaml.safe_load(gen_params.read_text())
        p["validate"]["judge"].update(provider="openai", model="gpt-4o-mini", base_url=fake.url + "/v1",
                                      concurrency=4, max_tokens=256)
        params = tmp_path / "judge_params.yaml"
        params.write_text(yaml.safe_dump(p))
        args = ["--params", str(params), "--specs", str(ROOT / "specs"), "--generated", str(tmp_path / "data/generated"),
                "--base-model", str(tokenizer_dir), "--accepted", str(tmp_path / "acc.jsonl"),
                "--rejected", str(tmp_path / "rej"), "--metrics", str(tmp_path / "headline.json"),
                "--details", str(tmp_path / "v.json"),
                "--judge-cache", str(tmp_path / "judge-cache")]
        load_script("validate").main(args)
        calls = len(fake.log)
        load_script("validate").main(args)  # judged rows are cached: nothing is asked twice
        assert len(fake.log) == calls == 12
    v = json.loads((tmp_path / "v.json").read_text())
    assert v["input"] == v["accepted"] + v["rejected"] == 12
    assert v["rejected_by_reason"] == {"judge_rejected": 1, "judge_error": 1}
    acc = [json.loads(x) for x in (tmp_path / "acc.jsonl").read_text().splitlines()]
    assert all(r["annotations"]["judge"]["scores"]["format"] == 5 for r in acc)


DIMS = ["realism", "correctness", "format", "difficulty", "diversity", "learnability", "safety"]  # judge.md


def _scores(**changed) -> str:
    """Top scores on every dimension, JSON; `changed` sets some to raw JSON text (`None` drops one)."""
    parts = {d: "5" for d in DIMS}
    for d, v in changed.items():
        parts[d] = v
    return "{" + ", ".join(f'"{d}": {v}' for d, v in parts.items() if v is not None) + "}"


JUDGE_ANSWERS = {  # answer -> the reason code the row gets (None: accepted)
    "accept": ('{"decision": "accept", "scores": %s, "reason": "fine"}' % _scores(), None),
    "fenced": ('```json\n{"decision": "accept", "scores": %s}\n```' % _scores(), None),
    "float_integral": ('{"decision": "accept", "scores": %s}' % _scores(correctness="5.0"), None),
    "reject": ('{"decision": "reject", "scores": %s, "reason": "label is wrong"}' % _scores(), "judge_rejected"),
    "low_scores": ('{"decision": "accept", "scores": %s}' % _scores(**{d: "1" for d in DIMS}), "judge_rejected"),
    "below_a_minimum": ('{"decision": "accept", "scores": %s}' % _scores(format="4"), "judge_rejected"),
    "surrogate_reason": ('{"decision": "reject", "scores": %s, "reason": "bad \\ud800 row"}' % _scores(),
                         "judge_rejected"),
    "empty": ("", "judge_error"),
    "prose": ("The row looks fine to me.", "judge_error"),
    "list": ("[1, 2, 3]", "judge_error"),
    "string": ('"accept"', "judge_error"),
    "null": ("null", "judge_error"),
    "deep": ("[" * 100_000, "judge_error"),
    "huge_int": ('{"decision": "accept", "scores": %s}' % _scores(correctness="9" * 6000), "judge_error"),
    "nan_score": ('{"decision": "accept", "scores": %s}' % _scores(correctness="NaN"), "judge_error"),
    "infinite_score": ('{"decision": "accept", "scores": %s}' % _scores(correctness="1e400"), "judge_error"),
    "bool_score": ('{"decision": "accept", "scores": %s}' % _scores(correctness="true"), "judge_error"),
    "fraction_score": ('{"decision": "accept", "scores": %s}' % _scores(correctness="4.5"), "judge_error"),
    "out_of_scale": ('{"decision": "accept", "scores": %s}' % _scores(correctness="99"), "judge_error"),
    "negative_score": ('{"decision": "accept", "scores": %s}' % _scores(correctness="-5"), "judge_error"),
    "string_score": ('{"decision": "accept", "scores": %s}' % _scores(correctness='"5"'), "judge_error"),
    "missing_dimension": ('{"decision": "accept", "scores": %s}' % _scores(safety=None), "judge_error"),
    "scores_a_list": ('{"decision": "accept", "scores": [5, 5, 5, 5, 5, 5, 5]}', "judge_error"),
    "no_decision": ('{"scores": %s}' % _scores(), "judge_error"),
    "odd_decision": ('{"decision": "maybe", "scores": %s}' % _scores(), "judge_error"),
    "decision_a_dict": ('{"decision": {"accept": true}, "scores": %s}' % _scores(), "judge_error"),
    "reason_an_object": ('{"decision": "reject", "scores": %s, "reason": {"why": [1, 2]}}' % _scores(),
                         "judge_rejected"),
    "giant_reason": ('{"decision": "reject", "scores": %s, "reason": "%s"}' % (_scores(), "x" * 100_000),
                     "judge_rejected"),
}


@pytest.mark.parametrize("name", sorted(JUDGE_ANSWERS))
def test_a_poisoned_judge_answer_is_a_reason_never_a_crash(spec, row_factory, name):
    """Every judge answer ends as an accepted row or one rejected record that can be written as JSON."""
    from slm_factory.judge import Rubric, read_verdict
    from slm_factory.rows import Rejected

    rubric = Rubric.of(spec)
    assert rubric.dimensions == DIMS
    text, code = JUDGE_ANSWERS[name]
    verdict, reason = read_verdict(text, rubric)
    assert (reason.code if reason else None) == code
    row = row_factory("what's the weather in Oslo", {"tool": "get_weather", "arguments": {"location": "Oslo"}})
    row = row.model_copy(update={"annotations": {"judge": verdict}})
    record = Rejected(stage="validate", batch="b", row_id=row.id, reasons=[reason] if reason else [],
                      row=row.model_dump(mode="json"))
    line = dump_line(record)
    line.encode("utf-8")  # no lone surrogate survives
    assert json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in a written line"))
    if verdict is not None:
        assert set(verdict) == {"decision", "scores", "reason"} and len(verdict["reason"]) <= 500
