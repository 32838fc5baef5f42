"""Review: the interactive command through a pseudo-terminal, and how validate applies decisions."""

import json
import os
import sys

import pexpect

from slm_factory.review import ReviewDecision, load_decisions
from slm_factory.rows import Reason, Rejected, dump_line, write_jsonl

from conftest import ROOT, load_script


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
    validate = load_script("validate")
    short = row_factory("ok cool", {"tool": "no_tool", "arguments": {}}, category="no_tool")
    broken_edit_src = row_factory("yo", {"tool": "no_tool", "arguments": {}}, category="no_tool")
    fine = row_factory("what is the weather in Lima", {"tool": "get_weather", "arguments": {"location": "Lima"}})
    bad_edit = json.loads(dump_line(broken_edit_src))
    bad_edit["messages"][1]["content"] = "book a flight to Rome for me"
    bad_edit["messages"][2]["content"] = '{"tool":"book_flight","arguments":{}}'
    from slm_factory.rows import content_id
    bad_edit["id"] = content_id(bad_edit["messages"])
    decisions = {
        short.id: ReviewDecision(row_id=short.id, decision="accept", reviewer="ana", reasons=["trivial"]),
        broken_edit_src.id: ReviewDecision(row_id=broken_edit_src.id, decision="edit", reviewer="ana",
                                           edited_row=bad_edit),
        fine.id: ReviewDecision(row_id=fine.id, decision="reject", reviewer="ana", note="location is ambiguous"),
        "feedfacefeedface": ReviewDecision(row_id="feedfacefeedface", decision="accept"),
    }
    lines = [(1, dump_line(short)), (2, dump_line(broken_edit_src)), (3, dump_line(fine))]
    accepted, rejected, orphans = validate.validate_batches({"b": lines}, spec, words, 100, 10, decisions)
    assert orphans == ["feedfacefeedface"]  # a decision whose row is not in the input
    assert [r.id for r in accepted] == [short.id]
    assert accepted[0].provenance.source == "human"
    assert accepted[0].annotations["review"]["overturned"] == ["trivial"]
    codes = {r.line: [x.code for x in r.reasons] for r in rejected["b"]}
    assert codes[2] == ["unknown_label"]            # an edit that breaks the contract stays rejected
    assert codes[3] == ["rejected_by_review"]
    m = validate.metrics_for(3, accepted, rejected, spec, decisions, orphans)
    assert m["review_overturned_by_gate"] == {"trivial": 1}
    assert m["review_orphaned"] == 1 and m["review_accepted"] == 1 and m["review_rejected"] == 1
