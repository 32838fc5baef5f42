"""slm_factory.ingest (and scripts/ingest.py, and validate reading what it imports): rows people bring."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
import yaml

from slm_factory.formats import convert, tools_from_schema
from slm_factory.ingest import IngestSettings, detect_format, ingest_file
from slm_factory.rows import iter_jsonl_raw, read_jsonl, read_rows

from conftest import ROOT, load_script, params_with

DATA = ROOT / "tests" / "data"
AUTO = IngestSettings(format="auto", data_type="production_like", difficulty="medium")


def ingest(name: str, spec, cfg: IngestSettings = AUTO):
    return ingest_file(name, list(iter_jsonl_raw(DATA / f"{name}.jsonl")), spec, cfg)


@pytest.mark.parametrize("name, fmt, rows, reasons, turns", [
    # trace-0006: weather call, a plain-text reply (no category), then a timer call: 3 turns, 2 rows
    ("openai_tools", "openai", 6, {"unmappable": 1, "unknown_category": 2, "json_invalid": 1}, 2),
    # sg-4: a function call, then the text after the observation
    ("sharegpt", "sharegpt", 4, {"unknown_category": 1, "unmappable": 1}, 1),
    ("alpaca", "alpaca", 3, {"unmappable": 1}, 0),
    ("production", "production", 5, {"unknown_format": 1}, 0),
    ("mixed", "production", 2, {"format_mismatch": 1}, 0),
    # a 3-turn trace (3 rows); a trace whose 2nd call names a tool outside the catalog; parallel calls;
    # a tool message with no call before it
    ("trace", "openai", 4, {"unknown_category": 1, "unmappable": 2}, 3),
])
def test_each_example_file_imports_with_the_expected_counts(spec, name, fmt, rows, reasons, turns):
    got, rejected, file_fmt = ingest(name, spec)
    n_lines = sum(1 for _ in iter_jsonl_raw(DATA / f"{name}.jsonl"))
    assert file_fmt == fmt
    # nothing lost: every line leaves as rows or rejected records, and each extra record is one more
    # assistant turn of an unrolled trace
    assert len(got) == rows and len(got) + len(rejected) == n_lines + turns
    lines = {r.annotations["import"]["line"] for r in got} | {r.line for r in rejected}
    assert lines == set(range(1, n_lines + 1))
    assert Counter(x.code for r in rejected for x in r.reasons) == reasons
    assert all(r.line and r.batch == f"import_{name}" and r.stage == "ingest" for r in rejected)
    for row in got:  # every imported row is the task's: its prompt, a category, provenance, and where it came from
        assert row.system == spec.system_prompt and row.provenance.category == spec.label_of(json.loads(row.assistant))
        assert row.provenance.source == "human" and row.provenance.generator == f"import:{fmt}"
        assert row.annotations["import"]["file"] == name and row.annotations["import"]["format"] == fmt


def test_tool_calls_and_corrections_become_the_task_answer(spec):
    rows, _, _ = ingest("openai_tools", spec)
    by_user = {r.user: r for r in rows}
    money = by_user["how much is 40 quid in euros"]
    assert json.loads(money.assistant) == {"tool": "convert_currency", "arguments": {
        "amount": 40, "from_currency": "GBP", "to_currency": "EUR"}}
    # an imported system prompt that is not the task's is kept, not trained on
    assert money.annotations["import"]["system_prompt"] == "You are the scheduling assistant for Acme Home."
    assert money.provenance.group == "import:openai_tools:trace-0003"
    rows, _, _ = ingest("production", spec)
    by_user = {r.user: r for r in rows}
    assert json.loads(by_user["convert 2k yen to usd"].assistant)["arguments"]["amount"] == 2000
    assert json.loads(by_user["convert 2k yen to usd"].annotations["import"]["corrected_output"])["arguments"]["amount"] == 2
    assert json.loads(by_user["weather in cork"].assistant)["arguments"]["location"] == "cork"  # an object log
    rows, _, _ = ingest("sharegpt", spec)
    assert json.loads(rows[0].assistant) == {"tool": "send_message", "arguments": {
        "recipient": "#ops-alerts", "channel": "slack", "body": "the nightly backup failed again"}}


def test_a_three_turn_trace_gives_three_rows_with_their_history(spec):
    rows, rejected, _ = ingest("trace", spec, IngestSettings("auto", "production_like", "medium", "last"))
    trace = [r for r in rows if r.annotations["import"]["original_id"] == "run-7f3a"]
    assert [r.annotations["import"]["turn"] for r in trace] == [1, 2, 3]
    assert [[m.role for m in r.messages] for r in trace] == [
        ["system", "user", "assistant"],
        ["system", "user", "assistant", "tool", "user", "assistant"],
        ["system", "user", "assistant", "tool", "user", "assistant", "tool", "user", "assistant"]]
    last = trace[2]
    assert last.user == "and text maya that I'll bring the umbrella"
    # history's calls read as the task's answers, i.e. what the model itself says; tool results stay
    assert last.messages[2].content == trace[0].assistant == spec.canonical(
        {"tool": "get_weather", "arguments": {"location": "lisbon", "date": "tomorrow"}})
    assert last.messages[3].content == '{"high_c": 19, "low_c": 12, "rain_chance": 0.7}'
    # reasoning: `last` keeps it on the learned turn only
    assert last.messages[-1].reasoning == "A message to Maya; no channel named, so sms."
    assert all(m.reasoning is None for m in last.messages[:-1])
    assert len({r.provenance.group for r in trace}) == 1 and len({r.id for r in trace}) == 3  # split keeps them together
    assert last.annotations["import"]["tools"] == ["create_reminder", "get_weather", "send_message", "set_timer"]
    # the tool outside the catalog is turned away with its turn number; the turn before it is a row
    pizza = next(r for r in rejected if r.reasons[0].code == "unknown_category")
    assert pizza.line == 2 and pizza.reasons[0].detail == {"label": "order_food", "turn": 2}
    assert any(r.annotations["import"].get("original_id") == "run-8c01" for r in rows)
    assert {r.reasons[0].message.split(": ", 1)[1] for r in rejected if r.reasons[0].code == "unmappable"} == {
        "2 tool calls in one turn: the task's answer is one call",
        "a tool message must follow an assistant turn (its call) or another tool message"}
    # `all` keeps every turn's reasoning, `none` (the default: a JSON-only contract) none
    every, _, _ = ingest("trace", spec, IngestSettings("auto", "production_like", "medium", "all"))
    assert [m.reasoning is not None for m in every[2].messages if m.role == "assistant"] == [True, True, True]
    bare, _, _ = ingest("trace", spec)
    assert all(m.reasoning is None for r in bare for m in r.messages)
    assert [r.id for r in bare] != [r.id for r in rows]  # reasoning is part of the content


def test_a_greeting_before_the_first_request_is_no_example(spec):
    """A product log that opens with the assistant's greeting: the greeting is turned away (no request
    before it), and the next turn's row starts at the request."""
    call = {"id": "c1", "type": "function", "function": {"name": "set_timer", "arguments": '{"duration_seconds": 300}'}}
    line = json.dumps({"messages": [{"role": "assistant", "content": "Hi! How can I help?"},
                                    {"role": "user", "content": "five minute timer please"},
                                    {"role": "assistant", "tool_calls": [call]}]})
    rows, rejected, _ = ingest_file("greet", [(1, line)], spec, AUTO)
    assert [[m.role for m in r.messages] for r in rows] == [["system", "user", "assistant"]]
    assert rows[0].annotations["import"]["turn"] == 2
    assert [(r.reasons[0].code, r.reasons[0].detail["turn"]) for r in rejected] == [("unmappable", 1)]


def test_a_forced_format_rejects_lines_of_another(spec):
    rows, rejected, fmt = ingest("mixed", spec, IngestSettings("alpaca", "production_like", "medium"))
    assert fmt == "alpaca" and len(rows) == 1
    assert [r.reasons[0].code for r in rejected] == ["format_mismatch", "format_mismatch"]
    assert "file is read as alpaca" in rejected[0].reasons[0].message


@pytest.mark.parametrize("fmt", ["openai", "openai_tools", "sharegpt", "alpaca"])
def test_import_of_an_export_returns_the_same_rows(spec, row_factory, fmt):
    # answers in the contract's canonical JSON (emoji as themselves), as validated rows hold them
    rows = [
        row_factory("remind me to call Sam tomorrow at 9am", spec.canonical(
            {"tool": "create_reminder", "arguments": {"text": "call Sam", "date": "tomorrow", "time": "09:00"}})),
        row_factory("txt hana im late 😅", spec.canonical({"tool": "send_message", "arguments": {
            "recipient": "hana", "channel": "sms", "body": "im late 😅"}}), category="send_message"),
        row_factory("tell me a joke", spec.canonical({"tool": "no_tool", "arguments": {}}), category="no_tool"),
    ]
    tools = tools_from_schema(spec.json_schema(), spec.label_key, spec.args_key, spec.negative_label)
    examples, dropped = convert(rows, fmt, tools=tools, label_key=spec.label_key, args_key=spec.args_key)
    assert not dropped
    lines = [(i, json.dumps(ex, ensure_ascii=False)) for i, ex in enumerate(examples, 1)]
    back, rejected, _ = ingest_file("export", lines, spec, AUTO)
    assert not rejected
    assert [r.id for r in back] == [r.id for r in rows]  # the id is the content's: same messages, same id


@pytest.mark.parametrize("fmt", ["openai_tools", "openai", "sharegpt", "alpaca"])
def test_an_unrolled_trace_exports_where_the_format_can_hold_it(spec, fmt):
    """A trace's last row carries its whole history: the native tool shape re-imports it as the same
    rows; a format that cannot hold a tool result after a call, or any history, drops it with a reason."""
    rows, _, _ = ingest("trace", spec)
    trace = [r for r in rows if r.annotations["import"].get("original_id") == "run-7f3a"]
    tools = tools_from_schema(spec.json_schema(), spec.label_key, spec.args_key, spec.negative_label)
    examples, dropped = convert(trace[-1:], fmt, tools=tools, label_key=spec.label_key, args_key=spec.args_key)
    if fmt != "openai_tools":
        reason = {"openai": "tool_message_without_call", "sharegpt": "turns_not_alternating",
                  "alpaca": "multi_turn_history"}[fmt]
        assert not examples and reason in dropped[0]["reasons"]
        return
    assert not dropped
    back, rejected, _ = ingest_file("export", [(1, json.dumps(examples[0]))], spec, AUTO)
    assert not rejected and [r.id for r in back] == [r.id for r in trace]  # unrolled again: the same 3 rows


def test_detect_format():
    assert detect_format({"messages": []}) == "openai"
    assert detect_format({"conversations": []}) == "sharegpt"
    assert detect_format({"instruction": "", "input": "", "output": ""}) == "alpaca"
    assert detect_format({"input": "", "output": ""}) == "production"
    assert detect_format({"prompt": "", "completion": ""}) is None


def test_ingest_stage_then_validate_keep_every_row(tmp_path, spec, tokenizer_dir):
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in DATA.glob("*.jsonl"):
        shutil.copy(f, raw / f.name)
    (raw / "huge.jsonl").write_text(json.dumps({"input": "x" * 3000, "output": "{}"}) + "\n")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(params_with({"ingest": {"max_line_bytes": 2000, "route": "train"}})))
    out = tmp_path / "imported"
    (out / "stale.jsonl").parent.mkdir()
    (out / "stale.jsonl").write_text("left from an earlier run\n")
    load_script("ingest").main(["--params", str(params), "--specs", str(ROOT / "specs"), "--raw", str(raw),
                                "--out", str(out), "--eval-out", str(tmp_path / "production.jsonl"),
                                "--rejected", str(tmp_path / "rejected.jsonl"),
                                "--metrics", str(tmp_path / "m.json"), "--details", str(tmp_path / "d.json")])
    m = json.loads((tmp_path / "d.json").read_text())
    n_lines = sum(1 for f in raw.glob("*.jsonl") for _ in iter_jsonl_raw(f))
    # 6 more examples than lines: the unrolled traces' extra assistant turns (see the counts test)
    assert m["input"] == n_lines and m["examples"] == n_lines + 6 == m["imported"] + m["rejected"]
    assert m["imported"] == 24 and m["eval"] == 0
    assert m["rejected_by_reason"]["line_too_long"] == 1 and m["by_file"]["huge"]["rejected"] == 1
    assert sorted(p.name for p in out.iterdir()) == sorted(f"import_{f.stem}.jsonl" for f in raw.glob("*.jsonl"))
    assert len(read_jsonl(tmp_path / "rejected.jsonl")) == m["rejected"]
    # validate reads the imported files beside the generated batches, and accounts for every row
    gen = tmp_path / "generated"
    gen.mkdir()
    (gen / "batch_001.jsonl").write_text("")
    vparams = tmp_path / "vparams.yaml"
    vparams.write_text(yaml.safe_dump(params_with({})))
    load_script("validate").main([
        "--params", str(vparams), "--specs", str(ROOT / "specs"), "--generated", str(gen), "--imported", str(out),
        "--base-model", str(tokenizer_dir), "--accepted", str(tmp_path / "accepted.jsonl"),
        "--rejected", str(tmp_path / "vrej"), "--metrics", str(tmp_path / "vm.json")])
    vm = json.loads((tmp_path / "vm.json").read_text())
    assert vm["input"] == m["imported"] == vm["accepted"] + vm["rejected"]
    accepted = read_rows(tmp_path / "accepted.jsonl")
    assert {r.provenance.batch for r in accepted} <= {f"import_{f.stem}" for f in raw.glob("*.jsonl")}
    assert vm["accepted"] >= 20  # the example files hold contract-valid answers but for a few
    # the 3-turn trace passes validate whole: its rows keep their history
    assert sum(1 for r in accepted if r.annotations["import"].get("original_id") == "run-7f3a") == 3



def test_a_50_mb_line_is_rejected_and_the_rest_of_its_file_imported(tmp_path):
    """With the shipped max_line_bytes, a 50 MB line (a dump pasted into a log) is one rejected record
    holding its first 2000 characters; the lines around it import."""
    raw = tmp_path / "raw"
    raw.mkdir()
    good = json.dumps({"input": "set a timer for 5 minutes", "output": {"tool": "set_timer", "arguments": {"duration_seconds": 300}}})
    with (raw / "logs.jsonl").open("w") as f:
        f.write(good + "\n")
        f.write('{"input": "' + "x" * 50_000_000 + '", "output": "{}"}\n')
        f.write(good.replace("5 minutes", "five minutes") + "\n")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(params_with({"ingest": {"route": "train"}})))
    load_script("ingest").main(["--params", str(params), "--specs", str(ROOT / "specs"), "--raw", str(raw),
                                "--out", str(tmp_path / "imported"), "--eval-out", str(tmp_path / "production.jsonl"),
                                "--rejected", str(tmp_path / "rejected.jsonl"), "--metrics", str(tmp_path / "m.json")])
    m = json.loads((tmp_path / "m.json").read_text())
    assert m == {"input": 3, "examples": 3, "imported": 2, "eval": 0, "rejected": 1}
    rej = read_jsonl(tmp_path / "rejected.jsonl")
    assert rej[0]["line"] == 2 and rej[0]["reasons"][0]["code"] == "line_too_long" and len(rej[0]["raw"]) == 2000


def test_a_data_type_the_task_lacks_is_an_error_only_with_files_to_import(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(params_with({"ingest": {"data_type": "no_such_type"}})))
    raw = tmp_path / "raw"
    raw.mkdir()

    def run():
        load_script("ingest").main(["--params", str(params), "--specs", str(ROOT / "specs"), "--raw", str(raw),
                                    "--out", str(tmp_path / "out"), "--eval-out", str(tmp_path / "p.jsonl"),
                                    "--rejected", str(tmp_path / "rej.jsonl"), "--metrics", str(tmp_path / "m.json")])

    run()  # nothing to import: the stage runs (a task without that data type still reproduces)
    assert json.loads((tmp_path / "m.json").read_text()) == {"input": 0, "examples": 0, "imported": 0, "eval": 0, "rejected": 0}
    shutil.copy(DATA / "alpaca.jsonl", raw / "alpaca.jsonl")
    with pytest.raises(SystemExit, match="ingest.data_type 'no_such_type' is not one of"):
        run()


CHORES = ["move the car", "water the ferns", "call the bank", "book the vet", "pay the nanny", "renew the lease",
          "order toner", "fix the gate", "email the tutor", "pick up the cake"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _production_log(n: int) -> list[str]:
    """n product-log lines, each with personal data: a phone number as the recipient, or a card number
    or a password said inside a reminder."""
    lines = []
    for i in range(n):
        phone = f"+1 415-555-{2600 + i}"
        if i % 3 == 0:
            user = f"text {phone} that {CHORES[i % 10]} is done, ticket {i}"
            out = {"tool": "send_message", "arguments": {"recipient": phone, "channel": "sms",
                                                         "body": f"{CHORES[i % 10]} is done, ticket {i}"}}
        elif i % 3 == 1:
            user = f"remind me to {CHORES[i % 10]} on {DAYS[i % 7]}, my password is hunter{i}xyz"
            out = {"tool": "create_reminder", "arguments": {"text": CHORES[i % 10], "date": DAYS[i % 7]}}
        else:
            user = f"remind me to pay card 4111 1111 1111 1111 bill #{i} on {DAYS[i % 7]}"
            out = {"tool": "create_reminder", "arguments": {"text": f"pay card 4111 1111 1111 1111 bill #{i}",
                                                            "date": DAYS[i % 7]}}
        if i == 3:  # a logged answer that breaks the contract: never an eval row
            out["arguments"]["colour"] = "red"
        lines.append(json.dumps({"id": f"log-{i}", "input": user, "output": out}))
    return lines


def test_production_logs_fill_the_eval_set_first_and_no_pii_survives(tmp_path, tokenizer_dir):
    """Issue 16's acceptance: 100 production rows with PII; the eval set fills first (quota 40), the
    rest go to training; no PII in any output; no eval row or near-duplicate of one reaches the
    deduped training rows (dedupe with the production set locked, as in dvc.yaml)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    logs = _production_log(100)
    (raw / "app_logs.jsonl").write_text("\n".join(logs) + "\n")
    # near-duplicates of the first eval rows, arriving from another tool's export
    near = [{"messages": [{"role": "user", "content": json.loads(line)["input"] + " please"},
                          {"role": "assistant", "content": json.dumps(json.loads(line)["output"], separators=(",", ":"))}]}
            for line in logs[:7] if json.loads(line)["id"] != "log-3"]
    (raw / "chat_export.jsonl").write_text("\n".join(json.dumps(r) for r in near) + "\n")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(params_with({"ingest": {"eval_quota": 40}})))
    out, prod = tmp_path / "imported", tmp_path / "eval" / "production.jsonl"
    load_script("ingest").main(["--params", str(params), "--specs", str(ROOT / "specs"), "--raw", str(raw),
                                "--out", str(out), "--eval-out", str(prod), "--rejected", str(tmp_path / "rej.jsonl"),
                                "--metrics", str(tmp_path / "m.json"), "--details", str(tmp_path / "d.json")])
    m = json.loads((tmp_path / "d.json").read_text())
    assert m["input"] == 106 == m["imported"] + m["eval"] + m["rejected"]
    assert sum(f["imported"] + f["eval"] + f["rejected"] for f in m["by_file"].values()) == 106
    eval_rows = read_rows(prod)
    assert m["eval"] == len(eval_rows) == 40 and m["pii_masked_rows"] == 106
    # the first 40 production lines that pass the contract gates, in file order
    assert [r.annotations["import"]["line"] for r in eval_rows] == sorted(r.annotations["import"]["line"] for r in eval_rows)
    assert eval_rows[0].annotations["import"]["original_id"] == "log-0"
    assert "log-3" not in {r.annotations["import"]["original_id"] for r in eval_rows}  # the next row took its place
    assert m["by_file"]["app_logs"] == {"format": "production", "input": 100, "examples": 100, "rows": 100, "rejected": 1,
                                        "imported": 59, "eval": 40}
    assert [x["code"] for r in read_jsonl(tmp_path / "rej.jsonl") for x in r["reasons"]] == ["extra_field"]
    assert all(r.provenance.generator == "import:production" for r in eval_rows)
    assert eval_rows[0].user.startswith("text <PHONE_1> that") and '"recipient":"<PHONE_1>"' in eval_rows[0].assistant
    # validate, then dedupe with the production set locked: the near-duplicates of eval rows are dropped
    gen = tmp_path / "generated"
    gen.mkdir()
    (gen / "batch_001.jsonl").write_text("")
    load_script("validate").main([
        "--params", str(params), "--specs", str(ROOT / "specs"), "--generated", str(gen), "--imported", str(out),
        "--base-model", str(tokenizer_dir), "--accepted", str(tmp_path / "accepted.jsonl"),
        "--rejected", str(tmp_path / "vrej"), "--metrics", str(tmp_path / "vm.json")])
    load_script("dedupe").main([
        "--params", str(params), "--rows", str(tmp_path / "accepted.jsonl"), "--locked", str(prod),
        "--out", str(tmp_path / "deduped.jsonl"), "--rejected", str(tmp_path / "drej.jsonl"),
        "--rejected-root", str(tmp_path / "rejroot"), "--summary", str(tmp_path / "SUMMARY.md"),
        "--metrics", str(tmp_path / "dm.json")])
    train = read_rows(tmp_path / "deduped.jsonl")
    near_drops = [r["reasons"][0] for r in read_jsonl(tmp_path / "drej.jsonl")
                  if r["row"]["messages"][1]["content"].endswith(" please")]
    assert len(near_drops) == 6
    assert all(x["code"].startswith("eval_overlap_") and x["detail"]["twin_set"] == "production" for x in near_drops)
    eval_users = {r.user for r in eval_rows}
    assert train and not any(r.user in eval_users or r.user.removesuffix(" please") in eval_users for r in train)
    assert {r.annotations["import"]["original_id"] for r in train}.isdisjoint(
        {r.annotations["import"]["original_id"] for r in eval_rows})
    # no personal data in anything the stages wrote
    written = [p for p in tmp_path.rglob("*") if p.is_file() and raw not in p.parents and p.suffix in (".jsonl", ".json", ".md")]
    assert len(written) >= 8
    for p in written:
        text = p.read_text()
        for secret in ("415-555-26", "4111 1111 1111 1111", "hunter1xyz"):
            assert secret not in text, f"{secret} in {p}"


def test_import_files_routes_production_rows_and_accounts_for_each_example(tmp_path, spec):
    """The stage's function, without the script: two files, a line over the byte bound, a production
    row the contract gate refuses, a quota of one; every example leaves exactly once."""
    from slm_factory.ingest import import_files

    timer = {"tool": "set_timer", "arguments": {"duration_seconds": 300}}
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(o) for o in [
        {"input": "hi", "output": {"tool": "no_tool", "arguments": {}}},  # too short for the eval gate
        {"input": "set a timer for 5 minutes", "output": timer},
        {"input": "set a timer for five minutes please", "output": timer},
        {"input": "set a timer for 5 minutes " + "y" * 400, "output": timer}]) + "\n")
    (tmp_path / "b.jsonl").write_text("")
    settings = IngestSettings(format="auto", data_type="production_like", difficulty="medium", reasoning="last")
    got = import_files([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], spec, settings, max_line_bytes=300, pii="mask",
                       pii_region="US", eval_quota=1, min_user_chars=4)
    assert [r.user for r in got.eval_rows] == ["set a timer for 5 minutes"]
    assert [r.user for r in got.train["a"]] == ["set a timer for five minutes please"] and got.train["b"] == []
    assert sorted(x.code for r in got.rejected for x in r.reasons) == ["line_too_long", "trivial"]
    m = got.metrics
    assert m["examples"] == m["imported"] + m["eval"] + m["rejected"] == 4 and m["files"] == 2
