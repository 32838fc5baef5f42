"""Diversity figures on tiny in-memory rows."""

from slm_factory.diversity import (casing, distinct_n, diversity, unseen_values, value_casing, value_coverage,
                                   values_shown)


def test_distinct_and_casing(row_factory):
    rows = [row_factory("remind me to call mum", {"tool": "create_reminder", "arguments": {"text": "call mum",
                                                                                         "date": "today"}}, group="a"),
            row_factory("remind me to call mum", {"tool": "create_reminder", "arguments": {"text": "Call Mum",
                                                                                         "date": "today"}}, group="a"),
            row_factory("weather in lisbon", {"tool": "get_weather", "arguments": {"location": "lisbon"}},
                        category="get_weather", group="b")]
    assert distinct_n(["a b a b"], 2) == round(2 / 3, 4) and distinct_n([""]) is None
    assert [casing(x) for x in ("abc", "Abc Def", "ABC", "aBc", "12")] == ["lower", "capitalised", "upper", "mixed", "none"]
    d = diversity(rows)
    assert d["groups"] == 2 and d["distinct_inputs"] == 2
    assert d["groups_by_category"] == {"create_reminder": 1, "get_weather": 1}
    assert value_casing(rows, skip={"tool"}) == {"arguments.date": {"lower": 2}, "arguments.location": {"lower": 1},
                                                 "arguments.text": {"capitalised": 1, "lower": 1}}


def test_value_coverage_counts_the_computed_values_train_never_shows(row_factory):
    def timer(text, seconds):
        return row_factory(text, {"tool": "set_timer", "arguments": {"duration_seconds": seconds}},
                           category="set_timer")
    def weather(text, place):
        return row_factory(text, {"tool": "get_weather", "arguments": {"location": place}}, category="get_weather")
    train = [timer("timer 5 minutes", 300), weather("weather in Lisbon", "Lisbon")]
    held = [timer("5 min timer please", 300), timer("count 5m15s", 315), weather("weather in Oslo", "Oslo")]
    c = value_coverage(train, held)
    # Oslo is copied from the input, so not a derived value; "get_weather" is derived and seen in train
    assert c["rows"] == 3 and c["rows_covered"] == round(2 / 3, 4)
    assert c["fields"]["arguments.duration_seconds"] == {"derived": 2, "unseen": 1, "coverage": 0.5,
                                                        "unseen_values": ["315"]}
    assert "arguments.location" not in c["fields"] and c["fields"]["tool"]["unseen"] == 0
    assert value_coverage(train, []) == {"rows": 0, "rows_covered": None, "fields": {}}


def test_unseen_values_are_the_computed_values_absent_at_their_field(row_factory):
    seen = values_shown([row_factory("timer 5 minutes", {"tool": "set_timer", "arguments": {"duration_seconds": 300}},
                                     category="set_timer")])
    answer = '{"tool":"set_timer","arguments":{"duration_seconds":315}}'
    assert unseen_values(answer, "count 5m15s", seen) == [("arguments.duration_seconds", "315")]
    # 300 is shown at that field; "315" typed by the user is copied, not computed; bad JSON derives nothing
    assert unseen_values(answer.replace("315", "300"), "5 min", seen) == []
    assert unseen_values(answer, "a 315 second timer", seen) == []
    assert unseen_values("not json", "x", seen) == []
