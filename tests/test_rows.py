import pytest
from pydantic import ValidationError

from slm_factory.rows import Row, content_id, make_row, parse_row_line


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
    with pytest.raises(ValidationError, match="system, user, assistant"):
        Row.model_validate(r2)


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
