"""Human review decisions: the versioned file people write with scripts/review.py and validate reads.

data/review/decisions.jsonl holds one line per reviewed record, keyed by the content of exactly what
the reviewer saw (`record_key`): a row that parsed is keyed by its id, which the row model verifies is
the hash of its messages, so a decision survives regeneration (the same content gets the same id
whatever batch it lands in); a line that did not parse as a row is keyed by the hash of its text. An
id a broken line merely claims is never a key: a decision made on one record can only ever apply to
that record, and one whose record changed is orphaned, never re-targeted.

The file is edited by hand and merged by git, so reading it is forgiving: a bad line is reported with
file:line and skipped; two lines that disagree about one record are a conflict, reported, and neither
applies until someone resolves it (deletes one, or decides again with the review tool).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from .common import write_text_atomic
from .rows import Rejected, dump_line, iter_jsonl_raw

Decision = Literal["accept", "reject", "edit"]

# Gates a person may overrule: judgements. Contract and length gates are facts about the row and are
# re-checked on every accepted or edited row, so review cannot smuggle a malformed row in.
OVERRIDABLE = {"trivial", "template_only", "leaked_instructions", "label_conflict",
               "duplicate_exact", "duplicate_minhash", "duplicate_semantic", "judge_rejected",
               "obeys_injection"}  # a pattern match: a person may judge it a false alarm


class ReviewDecision(BaseModel):
    row_id: str  # the record's key (`record_key`): a row id, or `raw:<hash>` for a line that was no row
    decision: Decision
    note: str = ""
    reviewer: str = ""
    reasons: list[str] = []  # the reason codes the row had when it was reviewed
    edited_row: dict[str, Any] | None = None


def record_key(rejected: Rejected) -> str:
    """The key a decision on this rejected record is saved under. `row_id` is set only for rows that
    parsed (their id is verified against their content); anything else is keyed by the sha256 of what
    the record shows: its raw text, or the JSON object it parsed to."""
    if rejected.row_id is not None:
        return rejected.row_id
    shown = rejected.raw if rejected.raw is not None else json.dumps(rejected.row, sort_keys=True, ensure_ascii=False)
    return "raw:" + hashlib.sha256(shown.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def unoverridable(codes: list[str]) -> list[str]:
    """The reason codes an `accept` cannot overrule (an accept on such a record never takes effect)."""
    return sorted({c for c in codes if c not in OVERRIDABLE})


def reviewer_name() -> str:
    return os.environ.get("USER") or getpass.getuser() or "unknown"


@dataclass
class DecisionLog:
    """A decisions file as read: the decisions that apply, and what could not be applied."""
    decisions: dict[str, ReviewDecision] = field(default_factory=dict)
    bad_lines: list[str] = field(default_factory=list)  # "file:line: why", skipped
    conflicts: dict[str, int] = field(default_factory=dict)  # key -> disagreeing lines (none applied)


def read_decisions(path: str | Path | None) -> DecisionLog:
    """Read a decisions file; never raises on its content (see the module docstring)."""
    log = DecisionLog()
    if path is None or not Path(path).exists():
        return log
    by_key: dict[str, list[ReviewDecision]] = defaultdict(list)
    for line_no, text in iter_jsonl_raw(path):
        try:
            d = ReviewDecision.model_validate_json(text)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            log.bad_lines.append(f"{path}:{line_no}: {err['msg']}" + (f" at '{where}'" if where else ""))
            continue
        by_key[d.row_id].append(d)
    for key, ds in by_key.items():
        if len({dump_line(d.model_dump(include={"decision", "edited_row"})) for d in ds}) > 1:
            log.conflicts[key] = len(ds)
        else:
            log.decisions[key] = ds[-1]
    return log


def save_decision(path: str | Path, decision: ReviewDecision) -> None:
    """Record this decision, replacing every earlier line about the same record (which also resolves a
    conflict there). Every other line is kept as read, bad ones included (undecodable bytes as
    backslash escapes): nothing is lost."""
    path = Path(path)
    kept = []
    for _, text in (iter_jsonl_raw(path) if path.exists() else ()):
        try:
            if ReviewDecision.model_validate_json(text).row_id == decision.row_id:
                continue
        except ValidationError:
            pass
        kept.append(text)
    kept.append(json.dumps(json.loads(dump_line(decision)), sort_keys=True, ensure_ascii=False))
    write_text_atomic(path, "".join(line + "\n" for line in kept))
