"""slm_factory.ledger: kept + rejected = input, reasons required, files replaced whole."""

import pytest

from slm_factory.ledger import Ledger, RowsLost
from slm_factory.rows import Reason, Rejected, read_jsonl, read_rows


def _rec(row, code="trivial", batch="b1"):
    return Rejected(stage="t", batch=batch, row_id=row.id, row=row.model_dump(mode="json"),
                    reasons=[Reason(code=code, message=code), Reason(code="extra", message="x")])


def test_counts_must_add_up_and_every_rejection_says_why(row_factory):
    a, b, c = (row_factory(f"remind me to call {n} today", {"tool": "no_tool", "arguments": {}}) for n in "abc")
    ledger = Ledger("t")
    ledger.keep(a, "b1")
    ledger.reject(_rec(b), "b1")
    ledger.reject(_rec(c, "too_long", "b2"), "b2")
    ledger.check(3)
    with pytest.raises(RowsLost, match="t lost rows: input 4 != kept 1 \\+ rejected 2"):
        ledger.check(4)
    with pytest.raises(ValueError, match="must say why"):
        ledger.reject(Rejected(stage="t", batch="b1", reasons=[]))
    assert ledger.reason_counts() == {"extra": 2, "too_long": 1, "trivial": 1}
    assert ledger.reason_counts(first_only=True) == {"too_long": 1, "trivial": 1}
    assert set(ledger.rejected_parts(["b1", "b3"])) == {"b1", "b2", "b3"}


def test_write_replaces_files_and_folders_whole(tmp_path, row_factory):
    rows = [row_factory(f"remind me to call {n} today", {"tool": "no_tool", "arguments": {}}) for n in "abcd"]
    out, rej = tmp_path / "kept", tmp_path / "rejected"
    rej.mkdir()
    (rej / "stale.jsonl").write_text("{}\n")  # a part from an earlier run must not survive
    ledger = Ledger("t")
    ledger.keep(rows[0], "p1")
    ledger.keep(rows[1], "p2")
    ledger.reject(_rec(rows[2]), "p1")
    ledger.write(out, rej, kept_by_part=True, rejected_by_part=True, rejected_parts=["p1", "p2"])
    assert sorted(p.name for p in out.iterdir()) == ["p1.jsonl", "p2.jsonl"]
    assert sorted(p.name for p in rej.iterdir()) == ["p1.jsonl", "p2.jsonl"]  # p2 rejected nothing: empty
    assert [r.id for r in read_rows(out / "p2.jsonl")] == [rows[1].id]
    assert read_jsonl(rej / "p2.jsonl") == []
    ledger.write(tmp_path / "kept.jsonl", tmp_path / "rejected.jsonl")
    assert [r.id for r in read_rows(tmp_path / "kept.jsonl")] == [rows[0].id, rows[1].id]
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]  # no temporary file left behind
