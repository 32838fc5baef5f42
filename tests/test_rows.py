import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from slm_factory.rows import Message, Row, content_id, dump_line, make_row, parse_row_line, role_problem


def test_id_is_content_derived(row_factory):
    a = row_factory("remind me to stretch today", {"tool": "no_tool", "arguments": {}})
    b = row_factory("remind me to stretch today", {"tool": "no_tool", "arguments": {}}, category="other")
    assert a.id == b.id == content_id(a.messages)
    c = row_factory("remind me to stretch tomorrow", {"tool": "no_tool", "arguments": {}})
    assert c.id != a.id


def test_row_rejects_tampered_id_and_wrong_roles(row_factory):
    r = row_factory("hello there", {"tool": "no_tool", "arguments": {}}).model_dump()
    r["messages"][1]["content"] = "changed"
    with pytest.raises(ValidationError, match="content hash"):
        Row.model_validate(r)
    r2 = row_factory("hello there", {"tool": "no_tool", "arguments": {}}).model_dump()
    r2["messages"] = r2["messages"][1:]
    with pytest.raises(ValidationError, match="a system prompt, a user turn"):
        Row.model_validate(r2)


@pytest.mark.parametrize("roles, problem", [
    (["system", "user", "assistant"], None),
    (["system", "user", "assistant", "tool", "user", "assistant"], None),
    (["system", "user", "assistant", "tool", "tool", "assistant"], None),
    (["system", "user", "tool", "assistant"], "tool message must follow"),
    (["system", "user", "assistant", "system", "user", "assistant"], "only the first"),
    (["system", "user", "assistant", "user"], "assistant turn last"),
    (["user", "assistant"], "a system prompt"),
])
def test_role_sequences(roles, problem):
    got = role_problem(roles)
    assert (got is None) if problem is None else (problem in got)


def test_a_multi_turn_row_keeps_its_history_and_reasoning(row_factory):
    single = row_factory("hello there", {"tool": "no_tool", "arguments": {}})
    assert single.history == [] and single.prompt_text == "hello there"
    assert single.prompt == [{"role": "system", "content": single.system}, {"role": "user", "content": "hello there"}]
    assert "reasoning" not in single.model_dump(mode="json")["messages"][-1]  # rows without it read as before
    history = [Message(role="user", content="weather in Oslo?"),
               Message(role="assistant", content='{"tool":"get_weather","arguments":{"location":"Oslo"}}'),
               Message(role="tool", content='{"temp_c": 4}')]
    row = make_row(single.system, "yes, do it", '{"tool":"no_tool","arguments":{}}', single.provenance,
                   history=history, reasoning="the user only agrees")
    assert row.user == "yes, do it" and row.history == history
    assert row.prompt_text.startswith("user: weather in Oslo?\n") and row.prompt_text.endswith("user: yes, do it")
    assert row.prompt[-1] == {"role": "user", "content": "yes, do it"} and len(row.prompt) == 5
    assert row.messages[-1].chat()["reasoning_content"] == "the user only agrees"
    back = Row.model_validate_json(dump_line(row))
    assert back == row  # reasoning survives the JSONL round trip
    other = make_row(single.system, "yes, do it", '{"tool":"no_tool","arguments":{}}', single.provenance,
                     history=history)
    assert other.id != row.id  # the reasoning is content

def test_parse_row_line_reasons():
    assert parse_row_line("{not json")[2].code == "json_invalid"
    assert parse_row_line("[1, 2]")[2].code == "json_invalid"
    row, obj, reason = parse_row_line('{"id": "x", "messages": []}')
    assert row is None and obj is not None and reason.code == "row_schema"


def test_rows_load_with_datasets(tmp_path, row_factory):
    from datasets import load_dataset

    from slm_factory.rows import write_jsonl

    rows = [row_factory(f"set a timer for {i} minutes", {"tool": "set_timer", "arguments": {"duration_seconds": 60 * i}},
                        category="set_timer") for i in range(1, 4)]
    write_jsonl(tmp_path / "r.jsonl", rows)
    ds = load_dataset("json", data_files=str(tmp_path / "r.jsonl"), split="train")
    assert len(ds) == 3 and ds[0]["messages"][2]["role"] == "assistant"
    assert ds[0]["provenance"]["category"] == "set_timer"


# Property-based: the row reader never raises, whatever the bytes; every line ends accepted or with a reason.

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_line_is_a_row_or_a_reason(line):
    row, _, reason = parse_row_line(line)
    assert (row is None) != (reason is None)
    if reason is not None:
        assert reason.code in {"json_invalid", "row_schema"} and reason.message


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_json_value_is_a_row_or_a_reason(value):
    row, _, reason = parse_row_line(json.dumps(value))
    assert (row is None) != (reason is None)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b), max_size=8))
def test_reader_is_byte_safe_and_keeps_line_numbers(tmp_path, lines):
    """Only b'\\n' ends a line (a bare '\\r' stays inside), each line decodes on its own, and the numbers
    are the file's own line numbers."""
    from slm_factory.rows import iter_jsonl_raw

    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"\n".join(lines))
    got = list(iter_jsonl_raw(path))
    expected = [(i, b.decode("utf-8", errors="backslashreplace").strip()) for i, b in enumerate(lines, 1)]
    assert got == [(i, text) for i, text in expected if text]
