"""Human review decisions: the versioned file people write with scripts/review.py and validate reads.

data/review/decisions.jsonl holds one line per reviewed row, keyed by the row's content hash (its id),
so a decision survives regeneration: the same content gets the same id whatever batch it lands in.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from .rows import dump_line, read_jsonl

Decision = Literal["accept", "reject", "edit"]

# Gates a person may overrule: judgements. Contract and length gates are facts about the row and are
# re-checked on every accepted or edited row, so review cannot smuggle a malformed row in.
OVERRIDABLE = {"trivial", "template_only", "leaked_instructions", "label_conflict",
               "duplicate_exact", "duplicate_minhash", "duplicate_semantic", "judge_rejected"}


class ReviewDecision(BaseModel):
    row_id: str
    decision: Decision
    note: str = ""
    reviewer: str = ""
    reasons: list[str] = []  # the reason codes the row had when it was reviewed
    edited_row: dict[str, Any] | None = None


def reviewer_name() -> str:
    return os.environ.get("USER") or getpass.getuser() or "unknown"


def load_decisions(path: str | Path | None) -> dict[str, ReviewDecision]:
    if path is None or not Path(path).exists():
        return {}
    out = {}
    for obj in read_jsonl(path):
        d = ReviewDecision.model_validate(obj)
        out[d.row_id] = d  # a later line for the same row replaces an earlier one
    return out


def save_decision(path: str | Path, decision: ReviewDecision) -> None:
    """Insert or replace the decision for this row; one sorted-key line per row keeps diffs readable."""
    path = Path(path)
    current = load_decisions(path)
    current[decision.row_id] = decision
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(json.loads(dump_line(d)), sort_keys=True, ensure_ascii=False) for d in current.values()]
    path.write_text("".join(line + "\n" for line in lines))
