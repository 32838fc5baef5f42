"""slm_factory.gates: the per-row checks (system prompt, trivial, template-only, copied values) and the strict
output parser."""

from __future__ import annotations

import pytest

from slm_factory.gates import CopiedCheck, LeakCheck, check_row, parse_output


@pytest.mark.parametrize("text, code", [
    ('{"a": NaN}', "non_finite_number"),
    ('{"a": -Infinity}', "non_finite_number"),
    ("[" * 50000, "output_not_json"),
    ("1" * 6000, "output_not_json"),
    ('Sure: {"a": 1} ok', "output_extra_text"),
    ("", "output_not_json"),
])
def test_parse_output_never_raises(text, code):
    _, reason = parse_output(text)
    assert reason.code == code


def test_system_prompt_and_trivial_gates(spec, row_factory):
    leak = LeakCheck(spec.leak_patterns)
    wrong_sys = row_factory("weather in Lima", {"tool": "get_weather", "arguments": {"location": "Lima"}},
                            system="You are helpful.")
    assert [r.code for r in check_row(wrong_sys, spec, leak, 4)] == ["system_prompt_mismatch"]
    tiny = row_factory("hi", {"tool": "no_tool", "arguments": {}})
    assert [r.code for r in check_row(tiny, spec, leak, 4)] == ["trivial"]
    tpl = row_factory("remind me to {chore} today", {"tool": "no_tool", "arguments": {}})
    assert [r.code for r in check_row(tpl, spec, leak, 4)] == ["template_only"]


@pytest.mark.parametrize("user, location, code", [
    ("weather in glasgow tomorrow", "glasgow", None),
    ("weather in glasgow tomorrow", "Glasgow", "not_copied"),        # recased: not as the user wrote it
    ("weather in NYC tomorrow", "New York", "not_copied"),            # normalised
    ("weather in Glasgowshire tomorrow", "Glasgow", "not_copied"),    # splits a word of the request
])
def test_copied_values_must_be_whole_words_of_the_request(spec, row_factory, user, location, code):
    """specs/eval.yaml declares `location` copied, with copy_boundary: word."""
    leak, copied = LeakCheck(spec.leak_patterns), CopiedCheck(spec)
    row = row_factory(user, {"tool": "get_weather", "arguments": {"location": location}}, category="get_weather")
    reasons = check_row(row, spec, leak, 4, copied=copied)
    assert [r.code for r in reasons] == ([code] if code else [])
    if code:
        assert reasons[0].detail == {"field": "arguments.location", "value": location, "whole_words": True}
        assert ("splits a word of" in reasons[0].message) is (location in user)
    assert check_row(row, spec, leak, 4) == []  # the copied gate runs only when passed; every other gate passes


def test_copied_check_is_off_for_a_task_without_copied_strings(tmp_path, row_factory):
    import shutil

    from slm_factory.spec import TaskSpec

    from conftest import ROOT

    specs = shutil.copytree(ROOT / "specs", tmp_path / "specs")
    text = (specs / "eval.yaml").read_text()
    (specs / "eval.yaml").write_text("\n".join(l for l in text.splitlines() if not l.startswith("    copied: [")))
    row = row_factory("weather in NYC", {"tool": "get_weather", "arguments": {"location": "New York"}})
    assert CopiedCheck(TaskSpec.load(specs))(row) == []
