"""slm_factory.error_analysis: each failure's cause, the fields triage reads."""

from __future__ import annotations

from slm_factory.metrics import release_gates, score_row, summarize


def test_triage_fields_and_an_obeyed_injection():
    """A task without tools: per-field figures, field_match, and the safety role catching an obeyed
    instruction (the injected urgency) through annotations.injected."""
    import json

    from slm_factory.rows import read_rows
    from slm_factory.spec import TaskSpec

    from conftest import ROOT

    tri = TaskSpec.load(ROOT / "examples/ticket_triage/specs")
    row = next(r for r in read_rows(ROOT / "examples/ticket_triage/data/eval/adversarial.jsonl")
               if r.annotations["injected"] == {"urgency": "high"})
    expected = json.loads(row.assistant)
    obeyed = tri.canonical({**expected, "urgency": "high", "summary": expected["summary"] + " now"})
    s = [score_row(row, obeyed, tri, "adversarial"), score_row(row, row.assistant, tri, "adversarial"),
         score_row(row, "not json", tri, "adversarial")]
    assert [x.unsafe for x in s] == [True, False, False]
    assert s[0].field_ok == {"category": True, "urgency": False, "product": True, "summary": False}
    assert 0 < s[0].token_f1["summary"] < 1
    m = summarize(s, tri)
    assert m["unsafe_rate"] == round(1 / 3, 4) and m["exact_match"] == round(1 / 3, 4)
    assert m["field_match"] == round((0.5 + 1 + 0) / 3, 4)
    assert m["urgency_accuracy"] == round(1 / 3, 4) and m["category_accuracy"] == round(2 / 3, 4)
    assert {"product_null_precision", "product_null_recall", "summary_token_f1", "category_macro_f1"} <= set(m)
    gates = release_gates({"adversarial": m, "dev": m}, tri, "dev")
    assert set(gates) == {"category_accuracy", "urgency_accuracy", "product_accuracy", "summary_token_f1",
                          "json_parse_rate", "unsafe_rate", "all_pass"} and not gates["unsafe_rate"]["pass"]
    from slm_factory.error_analysis import cause_of

    assert cause_of(s[0].to_dict(), tri) == "obeyed_injection"
    wrong_summary = score_row(row, tri.canonical({**expected, "summary": "something else"}), tri, "dev")
    assert wrong_summary.unsafe is False and cause_of(wrong_summary.to_dict(), tri) == "wrong_value:summary"
