"""Hostile bytes and poisoned answers end as one rejected record each, with its reason; counts add up
and nothing crashes (validate's reader and gates, and the output parser every stage shares)."""

import json

import pytest

from slm_factory.rows import dump_line, iter_jsonl_raw

from conftest import run_validation


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
    accepted, rejected, _ = run_validation({"batch_001": lines}, spec, words, 10_000, 4,
                                                      max_line_bytes=300_000)
    recs = rejected["batch_001"]
    assert [r.id for r in accepted] == [good.id] and len(accepted) + len(recs) == len(lines)
    got = {r.line: r.reasons[0].code for r in recs}
    assert got == {n: code for n, (_, code) in enumerate(cases.values(), 2)}, got
    # every record can be written as JSON (nothing downstream crashes on it)
    for r in recs:
        json.loads(dump_line(r))


# --- crafted cases, generated from the shapes they attack ---------------------------------------

ROW_FIELDS = ["id", "messages", "provenance", "annotations", "split"]
WRONG = {"null": None, "int": 7, "list": [1], "text": "x", "object": {"a": 1}, "bool": True}


def _row_variants(good: dict) -> dict[str, tuple[str, str]]:
    """Every row field, and every field of a message and of the provenance, given a value of the wrong
    type (or removed): each must end as one `row_schema` rejection naming where."""
    out = {}
    for field in ROW_FIELDS:
        for name, value in WRONG.items():
            if field in good and type(good[field]) is not type(value) and not (field == "split" and value is None):
                out[f"{field}={name}"] = (json.dumps({**good, field: value}), "row_schema")
    for key in ("role", "content"):
        for name, value in (("null", None), ("int", 3), ("bad", "wizard" if key == "role" else ["x"])):
            msgs = [dict(m) for m in good["messages"]]
            msgs[1][key] = value
            out[f"message.{key}={name}"] = (json.dumps({**good, "messages": msgs}), "row_schema")
    for key in ("category", "source", "batch"):
        for name, value in (("null", None), ("int", 3)):
            out[f"provenance.{key}={name}"] = (json.dumps({**good, "provenance": {**good["provenance"], key: value}}),
                                               "row_schema")
    out["no_messages"] = (json.dumps({**good, "messages": []}), "row_schema")
    out["assistant_first"] = (json.dumps({**good, "messages": good["messages"][::-1]}), "row_schema")
    out["wrong_id"] = (json.dumps({**good, "id": "0" * 16}), "row_schema")
    out["extra_key"] = (json.dumps({**good, "sneaky": 1}), "row_schema")
    return out


def test_every_field_of_a_row_given_the_wrong_type_is_one_rejected_record(spec, row_factory):
    good = json.loads(dump_line(row_factory("remind me to water the plants tomorrow", {
        "tool": "create_reminder", "arguments": {"text": "water the plants", "date": "tomorrow"}})))
    cases = _row_variants(good)
    assert len(cases) >= 30
    lines = [(1, json.dumps(good))] + [(i, raw) for i, (raw, _) in enumerate(cases.values(), 2)]
    accepted, rejected, _ = run_validation({"b": lines}, spec, words, 10_000, 4)
    recs = rejected["b"]
    assert len(accepted) == 1 and len(accepted) + len(recs) == len(lines)
    got = {r.line: r.reasons[0].code for r in recs}
    assert got == {i: code for i, (_, code) in enumerate(cases.values(), 2)}


def _leaves(node, prefix=""):
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _leaves(value, dotted + ".")
        else:
            yield dotted, value


def test_every_params_key_with_a_wrong_value_stops_before_any_work_naming_it(tmp_path):
    """Each key of params.yaml, given a value of the wrong shape, is one ConfigError that names it."""
    import yaml

    from slm_factory.config import ConfigError, load

    from conftest import ROOT

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    groups = [k if k != "validate" else "validate" for k in params]
    keys = list(_leaves(params))
    assert len(keys) >= 60
    checked = 0
    for dotted, value in keys:
        bad = {"x": [1]} if not isinstance(value, dict) else [1]
        broken = yaml.safe_load((ROOT / "params.yaml").read_text())
        node = broken
        *parents, last = dotted.split(".")
        for p in parents:
            node = node[p]
        node[last] = bad
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(broken))
        with pytest.raises(ConfigError) as e:
            load(path, groups)
        assert dotted in str(e.value) and "\n" not in str(e.value), (dotted, str(e.value))
        checked += 1
    assert checked == len(keys)
