"""The validate stage's logic: every quality gate that needs no LLM, review decisions, and the judge.

Each input line leaves as exactly one accepted row or one rejected record (reasons with codes,
messages and the offending part), through a `Ledger`: input = accepted + rejected.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from .config import Judge as JudgeConfig
from .gates import CopiedCheck, InjectionCheck, LeakCheck, check_row, label_conflicts, length_reasons
from .ledger import Ledger
from .privacy import mask_obj, mask_text, privacy_gate
from .review import OVERRIDABLE, DecisionLog, ReviewDecision, record_key
from .rows import Reason, Rejected, Row, parse_row_line
from .spec import TaskSpec


@contextmanager
def _cyclic_gc_paused():
    """Validation builds long-lived, acyclic objects (rows, records): CPython's cyclic collector would
    rescan all of them again and again as they pile up (over half of validate's time at 10k rows, on
    2 cores) and free nothing. Reference counting still frees everything; the collector resumes after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate_batches(batches: dict[str, list[tuple[int, str]]], spec: TaskSpec, count_tokens,
                     max_seq_length: int, min_user_chars: int,
                     decisions: dict[str, ReviewDecision] | None = None, max_line_bytes: int | None = None,
                     pii: str = "off", pii_region: str = "US") -> tuple[Ledger, list[str]]:
    """Pure core: {batch: [(line_no, text)]} -> (ledger of accepted rows and rejected records by batch,
    orphans).

    The privacy gate runs first (`pii`: mask | reject | off; the kinds in the task's `pii_allowed`
    stay): a masked row continues under its new id; a rejected one is filed masked. Review decisions
    bind to content (`review.record_key`): a row's decision is found by its verified id (the original
    or the masked one), a line that is no row by the hash of the record it was shown as, never by an
    id the line claims. `accept` overrules judgement gates only, `edit` replaces the row (or the broken
    line) and re-runs every gate on it, `reject` keeps or makes a row rejected. Orphans: keys of
    decisions whose record is not in the input (not applied; the caller reports them).
    """
    with _cyclic_gc_paused():
        return _validate(batches, spec, count_tokens, max_seq_length, min_user_chars, decisions or {},
                         max_line_bytes, pii, pii_region)


def _validate(batches: dict[str, list[tuple[int, str]]], spec: TaskSpec, count_tokens, max_seq_length: int,
              min_user_chars: int, decisions: dict[str, ReviewDecision], max_line_bytes: int | None,
              pii: str, pii_region: str) -> tuple[Ledger, list[str]]:
    allowed = spec.pii_allowed
    seen: set[str] = set()
    leak, injection, copied = LeakCheck(spec.leak_patterns), InjectionCheck(spec), CopiedCheck(spec)
    ledger = Ledger("validate")
    candidates: list[tuple[str, int, Row, list[Reason], ReviewDecision | None]] = []

    def gate(row: Row | None) -> tuple[Row | None, list[Reason]]:
        return privacy_gate(row, pii, allowed, pii_region) if row is not None else (None, [])

    for b, lines in batches.items():
        for line_no, text in lines:
            if max_line_bytes and len(text.encode("utf-8", "surrogatepass")) > max_line_bytes:
                ledger.reject(Rejected(stage="validate", batch=b, line=line_no, raw=text[:2000], reasons=[
                    Reason(code="line_too_long", message=f"line over validate.max_line_bytes ({max_line_bytes})",
                           detail={"chars": len(text)})]), b)
                continue
            original, obj, reason = parse_row_line(text)
            row, pii_reasons = gate(original)
            if row is not None:
                keys = [original.id, row.id]
                broken = None
            else:  # the record the reviewer is shown, and so the only thing a decision can name
                broken = Rejected(stage="validate", batch=b, line=line_no, reasons=[reason],
                                  row=mask_obj(obj, pii, allowed, pii_region),
                                  raw=None if obj is not None else mask_text(text, pii, allowed, pii_region))
                keys = [record_key(broken)]
            seen.update(keys)
            decision = next((decisions[k] for k in keys if k in decisions), None)
            if decision and decision.decision == "edit" and decision.edited_row:
                row, _, reason = parse_row_line(json.dumps(decision.edited_row))
                row, pii_reasons = gate(row)
                if row is None:  # the edit itself is broken: file it, as edited
                    broken = Rejected(stage="validate", batch=b, line=line_no, reasons=[reason],
                                      row=mask_obj(decision.edited_row, pii, allowed, pii_region))
            if row is None:
                ledger.reject(broken, b)
                continue
            reasons = pii_reasons + check_row(row, spec, leak, min_user_chars, injection, copied)
            candidates.append((b, line_no, row, reasons, decision))
    too_long = length_reasons([r for _, _, r, _, _ in candidates], count_tokens, max_seq_length)
    conflicts = label_conflicts([r for _, _, r, rs, _ in candidates if not rs and r.id not in too_long], spec)
    rejected_later = []
    for b, line_no, row, reasons, decision in candidates:
        reasons = reasons + [x for x in (too_long.get(row.id), conflicts.get(row.id)) if x is not None]
        if decision is not None:
            row, reasons = apply_decision(row, reasons, decision)
        if reasons:
            rejected_later.append((b, Rejected(stage="validate", batch=b, line=line_no, row_id=row.id,
                                               reasons=reasons, row=row.model_dump(mode="json"))))
        else:
            ledger.keep(row)
    for b, rec in rejected_later:
        ledger.reject(rec, b)
    return ledger, sorted(set(decisions) - seen)


def apply_decision(row: Row, reasons: list[Reason], d: ReviewDecision) -> tuple[Row, list[Reason]]:
    """A reviewed row: who decided what, and which gates (if any) were overturned."""
    if d.decision == "reject":
        return row, reasons or [Reason(code="rejected_by_review", message=f"rejected by {d.reviewer}: {d.note}",
                                       detail={"reviewer": d.reviewer, "note": d.note})]
    hard = [r for r in reasons if r.code not in OVERRIDABLE]
    if hard:  # review cannot overrule the contract, the length limit, or a broken edit
        return row, hard
    overturned = sorted({r.code for r in reasons} | set(d.reasons))
    prov = row.provenance.model_copy(update={"source": "human"})
    note = {"decision": d.decision, "reviewer": d.reviewer, "note": d.note, "overturned": overturned,
            "original_id": d.row_id}
    return row.model_copy(update={"provenance": prov, "annotations": {**row.annotations, "review": note}}), []


HEADLINE = ["input", "accepted", "rejected"]  # the declared metrics; the rest: --details


def metrics_for(n_input: int, ledger: Ledger, spec: TaskSpec, review: DecisionLog | None = None,
                orphans: list[str] = ()) -> dict:
    """Stage metrics (after the no-loss check); `orphans` are decisions whose record is not in the
    input, `review` the decisions file as read (its bad lines and conflicts are counted)."""
    ledger.check(n_input)
    review = review or DecisionLog()
    accepted, rej = ledger.kept_rows(), ledger.rejected_records()
    reviewed = [r.annotations["review"] for r in accepted if "review" in r.annotations]
    by_type = Counter(r.provenance.data_type for r in accepted)
    return {
        "input": n_input,
        "accepted": len(accepted),
        "rejected": len(rej),
        "acceptance_rate": round(len(accepted) / n_input, 4) if n_input else 0.0,
        "rejected_by_reason": ledger.reason_counts(),
        "accepted_by_category": dict(sorted(Counter(r.provenance.category for r in accepted).items())),
        "accepted_by_data_type": dict(sorted(by_type.items())),
        "accepted_by_difficulty": dict(sorted(Counter(r.provenance.difficulty for r in accepted).items())),
        "missing_data_types": [t for t in spec.data_types() if by_type[t] == 0],
        "pii_masked_rows": sum(1 for r in accepted if "pii_masked" in r.annotations),
        "pii_masked_by_kind": dict(sorted(sum((Counter(r.annotations.get("pii_masked", {})) for r in accepted),
                                              Counter()).items())),
        "review_decisions": len(review.decisions),
        "review_accepted": len(reviewed),
        "review_rejected": sum(1 for r in rej for x in r.reasons if x.code == "rejected_by_review"),
        # a gate that people overturn often is a gate (or prompt) to fix
        "review_overturned_by_gate": dict(sorted(Counter(c for r in reviewed for c in r["overturned"]).items())),
        "review_orphaned": len(orphans),
        "review_conflicts": len(review.conflicts),
        "review_bad_lines": len(review.bad_lines),
    }


def apply_judge(ledger: Ledger, spec: TaskSpec, cfg: JudgeConfig, seed: int, cache_dir: Path,
                batches: set[str]) -> Ledger:
    """Rows that passed every gate go to the LLM judge; its scores are saved on the row. A rejection is
    filed under the input batch the row names, or `unknown_batch`: a row's content never names a path.
    Returns a new ledger: the earlier rejections, then the judge's."""
    from .judge import Judge

    rows = ledger.kept_rows()
    verdicts = Judge(spec, cfg, seed, cache_dir).judge(rows)
    out = Ledger(ledger.stage, rejected=list(ledger.rejected))
    for row in rows:
        verdict, reason = verdicts[row.id]
        row = row.model_copy(update={"annotations": {**row.annotations, "judge": verdict}})
        if reason is None:
            out.keep(row)
        else:
            batch = row.provenance.batch if row.provenance.batch in batches else "unknown_batch"
            out.reject(Rejected(stage="validate", batch=batch, row_id=row.id, reasons=[reason],
                                row=row.model_dump(mode="json")), batch)
    return out
