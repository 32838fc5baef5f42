"""slm_factory.gates: the per-row checks (system prompt, trivial, template-only) and the strict output parser."""

from __future__ import annotations

import pytest

from slm_factory.gates import LeakCheck, check_row, parse_output


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
