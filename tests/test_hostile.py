"""Hostile bytes and poisoned answers end as one rejected record each, with its reason; counts add up
and nothing crashes (validate's reader and gates, and the output parser every stage shares)."""

import json

import pytest

from conftest import load_script
from slm_factory.gates import parse_output
from slm_factory.rows import dump_line, iter_jsonl_raw


def words(convs, exact_above=None):
    return [sum(len(m["content"].split()) for m in c) for c in convs]


def test_hostile_lines_each_become_one_rejected_record(spec, row_factory, tmp_path):
    good = row_factory("remind me to pay rent on Friday", {"tool": "create_reminder", "arguments": {
        "text": "pay rent", "date": "friday"}})
    good_line = dump_line(good)

    def variant(user, output):
        return dump_line(row_factory(user, output))

    cases = {
        "bad_utf8": (good_line.replace("pay rent", "pay r\x00X").encode().replace(b"\x00X", b"\xff\xfe"), "json_invalid"),
        "huge_int": (f'{{"id": {"9" * 5000}}}'.encode(), "json_invalid"),
        "deep": (("[" * 100000 + "]" * 100000).encode(), "json_invalid"),
        "int_id": (good_line.replace(f'"id":"{good.id}"', '"id":5').encode(), "row_schema"),
        "surrogate": (variant("remind me to call \ud800 mum today", {"tool": "create_reminder", "arguments": {
            "text": "call mum", "date": "today"}}).encode("utf-8", "surrogatepass").replace(b"\xed\xa0\x80", b"\\ud800"),
            "invalid_unicode"),
        "nul": (variant("remind me to call\u0000 mum today", {"tool": "create_reminder", "arguments": {
            "text": "call mum", "date": "today"}}).encode(), "control_characters"),
        "infinity": (variant("convert lots of euros to dollars please", '{"tool":"convert_currency","arguments":'
                             '{"amount":Infinity,"from_currency":"EUR","to_currency":"USD"}}').encode(), "non_finite_number"),
        # a crypto ticker has the shape of a currency code, but ISO 4217 has no such currency
        "crypto": (variant("convert 2 ETH to euros", {"tool": "convert_currency", "arguments": {
            "amount": 2, "from_currency": "ETH", "to_currency": "EUR"}}).encode(), "invalid_value"),
        "feb30": (variant("remind me to pay tax on 2026-02-30", {"tool": "create_reminder", "arguments": {
            "text": "pay tax", "date": "2026-02-30"}}).encode(), "invalid_value"),
        "too_long": (variant("remind me " + "x" * 400_000, {"tool": "no_tool", "arguments": {}}).encode(), "line_too_long"),
        "not_object": (b"[1, 2, 3]", "json_invalid"),
        # a bare \r does not end the line (the row stays one record); raw inside a JSON string it is invalid
        "bare_cr": (good_line.replace("pay rent on Friday", "pay rent\ron Friday").encode(), "json_invalid"),
    }
    path = tmp_path / "batch_001.jsonl"
    # one good row first, then every case; a bare \r inside a line must not split it
    body = good_line.encode() + b"\n" + b"\n".join(raw for raw, _ in cases.values()) + b"\n"
    path.write_bytes(body)
    lines = list(iter_jsonl_raw(path))
    assert len(lines) == 1 + len(cases)
    validate = load_script("validate")
    accepted, rejected, _ = validate.validate_batches({"batch_001": lines}, spec, words, 10_000, 4,
                                                      max_line_bytes=300_000)
    recs = rejected["batch_001"]
    assert [r.id for r in accepted] == [good.id] and len(accepted) + len(recs) == len(lines)
    got = {r.line: r.reasons[0].code for r in recs}
    assert got == {n: code for n, (_, code) in enumerate(cases.values(), 2)}, got
    # every record can be written as JSON (nothing downstream crashes on it)
    for r in recs:
        json.loads(dump_line(r))


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
