"""Diversity figures on tiny in-memory rows."""

from slm_factory.diversity import casing, distinct_n, diversity, value_casing


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
