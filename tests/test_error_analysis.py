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


def test_a_wrong_value_train_never_shows_is_named_and_listed(spec, row_factory):
    """analyze(seen=...): a wrong duration that no train answer holds becomes unseen_value:FIELD and its
    cluster lists the value; a wrong value train does show stays wrong_value; the report names it."""
    import json

    from slm_factory.diversity import values_shown
    from slm_factory.error_analysis import analyze, report

    def timer(text, seconds):
        return row_factory(text, {"tool": "set_timer", "arguments": {"duration_seconds": seconds}},
                           category="set_timer")
    train = [timer("timer 5 minutes", 300), timer("timer 6 min", 360)]
    seen = values_shown(train)
    held = [(timer("count 5m15s", 315), 390), (timer("five min timer", 300), 360), (timer("2 min", 120), 120)]
    preds = [score_row(r, json.dumps({"tool": "set_timer", "arguments": {"duration_seconds": got}}), spec,
                       "dev").to_dict() for r, got in held]
    clusters, plan = analyze(preds, spec, None, 0.9, 5, seen)
    by = {c["cause"]: c for c in clusters}
    assert plan["failures"] == 2 and set(by) == {"unseen_value:arguments.duration_seconds", "wrong_value:arguments"}
    assert by["unseen_value:arguments.duration_seconds"]["unseen_values"] == ["315"]
    assert by["wrong_value:arguments"]["unseen_values"] == []
    assert "Values no train answer shows: 315." in report(clusters, plan, 3)
    # without train rows the causes are as before
    assert {c["cause"] for c in analyze(preds, spec, None, 0.9, 5)[0]} == {"wrong_value:arguments"}


def test_a_held_out_group_wrong_as_a_whole_is_listed_apart(spec, row_factory):
    """failing_groups: a group with at least min_rows rows and min_share of them wrong is listed (most wrong
    first, with an example); a group mostly right, a single-row group and a row without a group are not;
    the report names the group and shows the example's expected and predicted answers."""
    import json

    from slm_factory.error_analysis import analyze, failing_groups, report, template_of

    def weather(text, group):
        return row_factory(text, {"tool": "get_weather", "arguments": {"location": "Oslo"}},
                           category="get_weather", group=group)
    refuse = json.dumps({"tool": "no_tool", "arguments": {}})
    right = json.dumps({"tool": "get_weather", "arguments": {"location": "Oslo"}})
    rows = [(weather("should I pack a jacket for Oslo", "weather_umbrella#1"), refuse),
            (weather("should I pack a coat for Oslo", "weather_umbrella#1"), refuse),
            (weather("should I pack gloves for Oslo", "weather_umbrella#1"), right),
            (weather("weather Oslo", "weather_ask#0"), right),
            (weather("Oslo weather pls", "weather_ask#0"), refuse),
            (weather("Oslo weather?", "weather_ask#0"), right),
            (weather("wthr oslo", "weather_short#0"), refuse),
            (weather("forecast Oslo", "weather_more#0"), refuse)]
    preds = [score_row(r, got, spec, "dev").to_dict() for r, got in rows]
    group_of = {r.id: r.provenance.group for r, _ in rows[:-1]}  # the last row's group is unknown
    groups = failing_groups(preds, group_of, 0.5, 2)
    assert [(g["group"], g["template"], g["wrong"], g["rows"]) for g in groups] == [
        ("weather_umbrella#1", "weather_umbrella", 2, 3)]
    assert groups[0]["example"] == "should I pack a jacket for Oslo" and groups[0]["predicted"] == refuse
    assert [g["group"] for g in failing_groups(preds, group_of, 0.5, 1)] == ["weather_umbrella#1", "weather_short#0"]
    assert failing_groups(preds, group_of, 0.7, 2) == []
    assert template_of("ns:3:0") == "ns:3:0"  # a teacher's or an import's group is its own family
    clusters, plan = analyze(preds, spec, None, 0.9, 5)
    text = report(clusters, plan, 3, groups)
    assert "## Held-out phrasings wrong as a whole" in text and "| weather_umbrella#1 | get_weather | 2 / 3 |" in text
    # the row shows what was expected beside what came out
    assert json.loads(groups[0]["expected"]) == json.loads(right)
    assert f"| `{groups[0]['expected']}` | `{refuse}` |" in text
    assert "Held-out phrasings" not in report(clusters, plan, 3)


def test_wrong_fields_count_every_wrong_argument_not_only_the_first(spec, row_factory):
    """wrong_field_counts: a row counts once under each field and each TOOL.ARG it gets wrong (the cause names
    only the first); a right row counts nowhere; the report's first table lists them, most first."""
    import json

    from slm_factory.error_analysis import analyze, report, wrong_field_counts

    def event(text, minutes, start):
        return row_factory(text, {"tool": "create_event", "arguments": {
            "title": "gym", "date": "monday", "start_time": start, "duration_minutes": minutes}},
            category="create_event")
    rows = [(event("gym monday 2pm for 90 min", 90, "14:00"), (90, "15:00")),   # start wrong
            (event("gym monday 3pm 1h", 60, "15:00"), (15, "16:00")),          # both wrong
            (event("gym monday 9am, 2 hours", 120, "09:00"), (120, "09:00"))]  # right
    preds = [score_row(r, json.dumps({"tool": "create_event", "arguments": {
        "title": "gym", "date": "monday", "start_time": start, "duration_minutes": minutes}}), spec, "dev").to_dict()
        for r, (minutes, start) in rows]
    clusters, plan = analyze(preds, spec, None, 0.9, 5)
    failures = [p for c in clusters for p in c["examples"]]
    assert wrong_field_counts(failures) == {"arguments": 2, "create_event.start_time": 2,
                                            "create_event.duration_minutes": 1}
    assert wrong_field_counts([p for p in preds if p["exact"]]) == {}
    text = report(clusters, plan, 3)
    assert text.index("## Wrong fields") < text.index("| cluster |")
    assert "| create_event.start_time | 2 |\n| create_event.duration_minutes | 1 |" in text
