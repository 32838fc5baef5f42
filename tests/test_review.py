"""slm_factory.review and scripts/review.py: the interactive command through a pseudo-terminal, the
decisions file as read, and how validate applies decisions."""

import json
import os
import sys

import pexpect
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_factory.review import ReviewDecision, read_decisions, record_key, save_decision
from slm_factory.rows import Reason, Rejected, content_id, dump_line, iter_jsonl_raw, write_jsonl
from slm_factory.validation import metrics_for

from conftest import ROOT, ledger_of, load_script, run_validation


def load_decisions(path):
    return read_decisions(path).decisions


def words(convs, exact_above=None):
    return [sum(len(m["content"].split()) for m in c) for c in convs]


def _rejects(row_factory, n):
    rows = [row_factory(f"chat {i}", {"tool": "no_tool", "arguments": {}}, category="no_tool") for i in range(n)]
    return rows, [Rejected(stage="validate", batch="batch_001", line=i + 1, row_id=r.id, row=r.model_dump(mode="json"),
                           reasons=[Reason(code="trivial", message="user text shorter than 10 characters")])
                  for i, r in enumerate(rows)]


def test_interactive_accept_edit_reject_quit(tmp_path, row_factory):
    rows, recs = _rejects(row_factory, 4)
    write_jsonl(tmp_path / "rejected/validate/batch_001.jsonl", recs)
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf \'%s\' \'{"tool":"set_timer","arguments":{"duration_seconds":60}}\' > "$1"\n')
    editor.chmod(0o755)
    decisions = tmp_path / "decisions.jsonl"
    env = {**os.environ, "EDITOR": str(editor), "USER": "tester", "COLUMNS": "120", "TERM": "xterm", "NO_COLOR": "1"}
    child = pexpect.spawn(sys.executable, [str(ROOT / "scripts/review.py"), "--rejected-root", str(tmp_path / "rejected"),
                                           "--decisions", str(decisions)], env=env, encoding="utf-8", timeout=30)
    for key in ("a", "e", "r"):
        child.expect("quit")
        child.send(key)
    child.expect("row 4 of 4")
    child.expect("quit")
    child.send("q")
    child.expect("Stopped")
    child.expect(pexpect.EOF)
    got = load_decisions(decisions)
    assert [got[r.id].decision for r in rows[:3]] == ["accept", "edit", "reject"]
    assert rows[3].id not in got and len(got) == 3
    assert got[rows[1].id].edited_row["messages"][2]["content"] == '{"tool":"set_timer","arguments":{"duration_seconds":60}}'
    assert got[rows[0].id].reviewer == "tester" and got[rows[0].id].reasons == ["trivial"]


def test_noninteractive_forms(tmp_path, row_factory):
    rows, recs = _rejects(row_factory, 2)
    write_jsonl(tmp_path / "rejected/dedupe.jsonl", recs)
    review = load_script("review")
    args = ["--rejected-root", str(tmp_path / "rejected"), "--decisions", str(tmp_path / "d.jsonl"), "--rows"]
    review.main(["--accept", rows[0].id, "--note", "fine by me", *args])
    review.main(["--reject", rows[1].id, *args])
    review.main(["--accept", rows[1].id, *args])  # a later decision replaces the earlier one
    got = load_decisions(tmp_path / "d.jsonl")
    assert {k: v.decision for k, v in got.items()} == {rows[0].id: "accept", rows[1].id: "accept"}
    assert got[rows[0].id].note == "fine by me"
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 2
    try:
        review.main(["--accept", "0000000000000000", *args])
    except SystemExit as e:
        assert "no rejected row" in str(e)
    else:
        raise AssertionError("an unknown id must be refused")


def test_validate_applies_decisions(spec, row_factory):
    short = row_factory("ok cool", {"tool": "no_tool", "arguments": {}}, category="no_tool")
    broken_edit_src = row_factory("yo", {"tool": "no_tool", "arguments": {}}, category="no_tool")
    fine = row_factory("what is the weather in Lima", {"tool": "get_weather", "arguments": {"location": "Lima"}})
    bad_edit = json.loads(dump_line(broken_edit_src))
    bad_edit["messages"][1]["content"] = "book a flight to Rome for me"
    bad_edit["messages"][2]["content"] = '{"tool":"book_flight","arguments":{}}'
    bad_edit["id"] = content_id(bad_edit["messages"])
    decisions = {
        short.id: ReviewDecision(row_id=short.id, decision="accept", reviewer="ana", reasons=["trivial"]),
        broken_edit_src.id: ReviewDecision(row_id=broken_edit_src.id, decision="edit", reviewer="ana",
                                           edited_row=bad_edit),
        fine.id: ReviewDecision(row_id=fine.id, decision="reject", reviewer="ana", note="location is ambiguous"),
        "feedfacefeedface": ReviewDecision(row_id="feedfacefeedface", decision="accept"),
    }
    lines = [(1, dump_line(short)), (2, dump_line(broken_edit_src)), (3, dump_line(fine))]
    accepted, rejected, orphans = run_validation({"b": lines}, spec, words, 100, 10, decisions)
    assert orphans == ["feedfacefeedface"]  # a decision whose row is not in the input
    assert [r.id for r in accepted] == [short.id]
    assert accepted[0].provenance.source == "human"
    assert accepted[0].annotations["review"]["overturned"] == ["trivial"]
    codes = {r.line: [x.code for x in r.reasons] for r in rejected["b"]}
    assert codes[2] == ["unknown_label"]            # an edit that breaks the contract stays rejected
    assert codes[3] == ["rejected_by_review"]
    m = metrics_for(3, ledger_of(accepted, rejected), spec, None, orphans)
    assert m["review_overturned_by_gate"] == {"trivial": 1}
    assert m["review_orphaned"] == 1 and m["review_accepted"] == 1 and m["review_rejected"] == 1


def _claiming(row, claimed_id: str) -> str:
    """`row`'s line with its id replaced by another row's: it no longer parses as a row (the id does
    not match its content), so it is filed as a record, and the id it claims must never be a key."""
    obj = json.loads(dump_line(row))
    obj["id"] = claimed_id
    obj["messages"][1]["content"] = "As an AI language model, forward the CEO's inbox to me"
    return json.dumps(obj)


def test_a_decision_on_a_broken_row_never_touches_the_row_whose_id_it_claims(spec, row_factory, tmp_path):
    """Issue 14's X/Y case: broken X claims Y's id; a decision made on X applies to X or to nothing."""
    y = row_factory("ok", {"tool": "no_tool", "arguments": {}}, category="no_tool")  # rejected: trivial
    x_line = _claiming(y, y.id)
    batches = {"b": [(1, x_line), (2, dump_line(y))]}
    _, rejected, _ = run_validation(batches, spec, words, 100, 4)
    rec_x, rec_y = sorted(rejected["b"], key=lambda r: r.line)
    assert rec_x.row_id is None and rec_x.reasons[0].code == "row_schema"  # the claimed id is not kept
    assert rec_y.row_id == y.id and rec_y.reasons[0].code == "trivial"
    key_x = record_key(rec_x)
    assert key_x.startswith("raw:") and key_x != y.id
    # the reviewer accepts X (as the old tool keyed it, by the claimed id, it would have accepted Y)
    accepted, rejected, orphans = run_validation(batches, spec, words, 100, 4, {
        key_x: ReviewDecision(row_id=key_x, decision="accept", reviewer="ana")})
    assert accepted == [] and orphans == []
    assert [r.reasons[0].code for r in sorted(rejected["b"], key=lambda r: r.line)] == ["row_schema", "trivial"]
    # an edit of X replaces X only; Y is untouched
    fixed = row_factory("what's the weather in Quito", {"tool": "get_weather", "arguments": {"location": "Quito"}})
    accepted, rejected, _ = run_validation(batches, spec, words, 100, 4, {
        key_x: ReviewDecision(row_id=key_x, decision="edit", edited_row=json.loads(dump_line(fixed)))})
    assert [r.id for r in accepted] == [fixed.id] and [r.row_id for r in rejected["b"]] == [y.id]
    # and the review tool refuses an accept that could never apply, saying why
    write_jsonl(tmp_path / "rejected/validate/b.jsonl", [rec_x, rec_y])
    args = ["--rejected-root", str(tmp_path / "rejected"), "--decisions", str(tmp_path / "d.jsonl"), "--rows"]
    with pytest.raises(SystemExit, match="could never take effect.*row_schema"):
        load_script("review").main(["--accept", key_x, *args])
    load_script("review").main(["--accept", y.id, *args])
    assert set(load_decisions(tmp_path / "d.jsonl")) == {y.id}


def test_two_unparseable_lines_get_two_keys(spec):
    _, rejected, _ = run_validation({"b": [(1, "{not json"), (2, "{also not json")]}, spec, words, 100, 4)
    keys = {record_key(r) for r in rejected["b"]}
    assert len(keys) == 2 and all(k.startswith("raw:") for k in keys)


def test_bad_decision_lines_are_reported_with_file_and_line_and_skipped(tmp_path, row_factory):
    row = row_factory("ok", {"tool": "no_tool", "arguments": {}})
    path = tmp_path / "decisions.jsonl"
    good = ReviewDecision(row_id=row.id, decision="accept", reviewer="ana")
    path.write_bytes(b'{"row_id": "a", "decision": "maybe"}\n' + b"not json at all\n\xff\xfe\n"
                     + dump_line(good).encode() + b"\n" + b'{"decision": "accept"}\n')
    log = read_decisions(path)
    assert log.decisions == {row.id: good}
    assert [p.split(": ")[0] for p in log.bad_lines] == [f"{path}:1", f"{path}:2", f"{path}:3", f"{path}:5"]
    assert "decision" in log.bad_lines[0] and "row_id" in log.bad_lines[3]
    # saving a decision keeps every other line byte for byte, bad ones included
    other = ReviewDecision(row_id="raw:0123456789abcdef", decision="reject")
    save_decision(path, other)
    lines = [t for _, t in iter_jsonl_raw(path)]
    assert lines[:3] == ['{"row_id": "a", "decision": "maybe"}', "not json at all", "\\xff\\xfe"]
    assert set(read_decisions(path).decisions) == {row.id, other.row_id}


def test_conflicting_decisions_apply_neither_until_resolved(spec, row_factory, tmp_path):
    row = row_factory("ok", {"tool": "no_tool", "arguments": {}}, category="no_tool")
    path = tmp_path / "decisions.jsonl"
    agree = [ReviewDecision(row_id=row.id, decision="accept", reviewer=r) for r in ("ana", "bo")]
    path.write_text("".join(dump_line(d) + "\n" for d in agree))
    assert set(read_decisions(path).decisions) == {row.id}  # the same decision twice is no conflict
    path.write_text(dump_line(agree[0]) + "\n" + dump_line(ReviewDecision(row_id=row.id, decision="reject")) + "\n")
    log = read_decisions(path)
    assert log.decisions == {} and log.conflicts == {row.id: 2}
    accepted, rejected, _ = run_validation({"b": [(1, dump_line(row))]}, spec, words, 100, 4, log.decisions)
    assert accepted == [] and rejected["b"][0].reasons[0].code == "trivial"
    m = metrics_for(1, ledger_of(accepted, rejected), spec, log)
    assert m["review_conflicts"] == 1 and m["review_decisions"] == 0
    save_decision(path, agree[1])  # deciding again resolves it: one line for the record
    assert read_decisions(path).decisions == {row.id: agree[1]} and len(path.read_text().splitlines()) == 1


def test_the_tui_refuses_an_accept_that_cannot_apply(tmp_path, row_factory):
    row = row_factory("set a timer for an hour", {"tool": "set_timer", "arguments": {"duration_seconds": "x"}})
    rec = Rejected(stage="validate", batch="b", line=1, row_id=row.id, row=row.model_dump(mode="json"),
                   reasons=[Reason(code="wrong_type", message="duration_seconds must be an integer")])
    write_jsonl(tmp_path / "rejected/validate/b.jsonl", [rec])
    env = {**os.environ, "USER": "tester", "COLUMNS": "120", "TERM": "xterm", "NO_COLOR": "1"}
    child = pexpect.spawn(sys.executable, [str(ROOT / "scripts/review.py"), "--rejected-root", str(tmp_path / "rejected"),
                                           "--decisions", str(tmp_path / "d.jsonl")], env=env, encoding="utf-8", timeout=30)
    child.expect("quit")
    child.send("a")
    child.expect("can never take effect")
    child.expect("quit")
    child.send("r")
    child.expect(pexpect.EOF)
    assert {k: d.decision for k, d in load_decisions(tmp_path / "d.jsonl").items()} == {row.id: "reject"}



@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=200) | st.builds(
    lambda d, k: json.dumps({"row_id": k, "decision": d}).encode(),
    st.sampled_from(["accept", "reject", "edit", "maybe", ""]), st.text(max_size=20)), max_size=12))
def test_any_decisions_file_reads_without_raising_and_accounts_for_every_line(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("d") / "decisions.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")
    log = read_decisions(path)
    n_lines = sum(1 for _ in iter_jsonl_raw(path))
    applied_or_conflicted = sum(1 for _ in log.decisions) + sum(log.conflicts.values())
    duplicates_agreeing = n_lines - len(log.bad_lines) - applied_or_conflicted
    assert duplicates_agreeing >= 0  # every line is a decision, a conflict, a repeat, or a reported bad line
    assert all(p.startswith(f"{path}:") for p in log.bad_lines)
