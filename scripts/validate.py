"""validate: run every quality gate that needs no LLM over the generated batches.

    python scripts/validate.py --params params.yaml --specs specs --generated data/generated \
        --imported data/imported --base-model outputs/base_model --decisions data/review/decisions.jsonl \
        --accepted data/accepted/validated.jsonl \
        --rejected data/rejected/validate --metrics metrics/validate.json

Each input line leaves as exactly one accepted row or one rejected record (one rejected file per
input batch, reasons with codes, messages and the offending part). input = accepted + rejected.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import Counter
from pathlib import Path

from slm_factory.common import get_logger, load_params, response_cache_dir, write_metrics
from slm_factory.gates import LeakCheck, check_row, label_conflicts, length_reasons
from slm_factory.privacy import mask_obj, mask_text, privacy_gate
from slm_factory.review import OVERRIDABLE, ReviewDecision, load_decisions
from slm_factory.rows import Reason, Rejected, Row, iter_jsonl_raw, parse_row_line, write_jsonl
from slm_factory.spec import TaskSpec
from slm_factory.tokens import chat_token_counter

log = get_logger("validate")
PARAMS = ("seed", "validate", "train.max_seq_length")  # exactly the stage's params in dvc.yaml


def validate_batches(batches: dict[str, list[tuple[int, str]]], spec: TaskSpec, count_tokens,
                     max_seq_length: int, min_user_chars: int,
                     decisions: dict[str, ReviewDecision] | None = None, max_line_bytes: int | None = None,
                     pii: str = "off", pii_region: str = "US"
                     ) -> tuple[list[Row], dict[str, list[Rejected]], list[str]]:
    """Pure core: {batch: [(line_no, text)]} -> (accepted rows, {batch: rejected records}, orphans).

    The privacy gate runs first (`pii`: mask | reject | off; the kinds in the task's `pii_allowed`
    stay): a masked row continues under its new id; a rejected one is filed masked. Review decisions
    (keyed by row id, the original or the masked one) are applied here: `accept` overrules judgement
    gates only, `edit` replaces the row and re-runs every gate on it, `reject` keeps or makes a row
    rejected. Orphans: ids of decisions whose row is not in the input (not applied; the caller
    reports them).
    """
    decisions = decisions or {}
    allowed = spec.pii_allowed

    def gate(row: Row | None) -> tuple[Row | None, list[Reason]]:
        return privacy_gate(row, pii, allowed, pii_region) if row is not None else (None, [])
    input_ids: set[str] = set()
    leak = LeakCheck(spec.leak_patterns)
    rejected: dict[str, list[Rejected]] = {b: [] for b in batches}
    candidates: list[tuple[str, int, Row, list[Reason], ReviewDecision | None]] = []
    for b, lines in batches.items():
        for line_no, text in lines:
            if max_line_bytes and len(text.encode("utf-8", "surrogatepass")) > max_line_bytes:
                rejected[b].append(Rejected(stage="validate", batch=b, line=line_no, raw=text[:2000], reasons=[
                    Reason(code="line_too_long", message=f"line over validate.max_line_bytes ({max_line_bytes})",
                           detail={"chars": len(text)})]))
                continue
            row, obj, reason = parse_row_line(text)
            row_id = obj.get("id") if obj else None
            if isinstance(row_id, str):
                input_ids.add(row_id)
            row, pii_reasons = gate(row)
            if row is not None:
                input_ids.add(row.id)
            decision = (decisions.get(row_id) if isinstance(row_id, str) else None) or \
                (decisions.get(row.id) if row is not None else None)
            if decision and decision.decision == "edit" and decision.edited_row:
                row, obj, reason = parse_row_line(json.dumps(decision.edited_row))
                row, pii_reasons = gate(row)
            if reason is not None:
                rejected[b].append(Rejected(stage="validate", batch=b, line=line_no, reasons=[reason],
                                            row=mask_obj(obj, pii, allowed, pii_region),
                                            raw=None if obj is not None else mask_text(text, pii, allowed, pii_region),
                                            row_id=row_id if isinstance(row_id, str) else None))
                continue
            candidates.append((b, line_no, row, pii_reasons + check_row(row, spec, leak, min_user_chars), decision))
    too_long = length_reasons([r for _, _, r, _, _ in candidates], count_tokens, max_seq_length)
    conflicts = label_conflicts([r for _, _, r, rs, _ in candidates if not rs and r.id not in too_long], spec)
    accepted = []
    for b, line_no, row, reasons, decision in candidates:
        reasons = reasons + [x for x in (too_long.get(row.id), conflicts.get(row.id)) if x is not None]
        if decision is not None:
            row, reasons = apply_decision(row, reasons, decision)
        if reasons:
            rejected[b].append(Rejected(stage="validate", batch=b, line=line_no, row_id=row.id,
                                        reasons=reasons, row=row.model_dump(mode="json")))
        else:
            accepted.append(row)
    return accepted, rejected, sorted(set(decisions) - input_ids)


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


def metrics_for(n_input: int, accepted: list[Row], rejected: dict[str, list[Rejected]], spec: TaskSpec,
                decisions: dict[str, ReviewDecision] | None = None, orphans: list[str] = ()) -> dict:
    """Stage metrics; `orphans` are decisions whose row is not in the input (not applied)."""
    rej = [r for rs in rejected.values() for r in rs]
    reviewed = [r.annotations["review"] for r in accepted if "review" in r.annotations]
    if n_input != len(accepted) + len(rej):  # the no-loss invariant; a bug if it ever fails
        raise AssertionError(f"validate lost rows: input {n_input} != {len(accepted)} + {len(rej)}")
    by_type = Counter(r.provenance.data_type for r in accepted)
    return {
        "input": n_input,
        "accepted": len(accepted),
        "rejected": len(rej),
        "acceptance_rate": round(len(accepted) / n_input, 4) if n_input else 0.0,
        "rejected_by_reason": dict(sorted(Counter(x.code for r in rej for x in r.reasons).items())),
        "accepted_by_category": dict(sorted(Counter(r.provenance.category for r in accepted).items())),
        "accepted_by_data_type": dict(sorted(by_type.items())),
        "accepted_by_difficulty": dict(sorted(Counter(r.provenance.difficulty for r in accepted).items())),
        "missing_data_types": [t for t in spec.data_types() if by_type[t] == 0],
        "pii_masked_rows": sum(1 for r in accepted if "pii_masked" in r.annotations),
        "pii_masked_by_kind": dict(sorted(sum((Counter(r.annotations.get("pii_masked", {})) for r in accepted),
                                              Counter()).items())),
        "review_decisions": len(decisions or {}),
        "review_accepted": len(reviewed),
        "review_rejected": sum(1 for r in rej for x in r.reasons if x.code == "rejected_by_review"),
        # a gate that people overturn often is a gate (or prompt) to fix
        "review_overturned_by_gate": dict(sorted(Counter(c for r in reviewed for c in r["overturned"]).items())),
        "review_orphaned": len(orphans),
    }


def apply_judge(rows: list[Row], spec: TaskSpec, cfg: dict, seed: int, cache_dir: Path,
                batches: set[str]) -> tuple[list[Row], dict[str, list[Rejected]]]:
    """Rows that passed every gate go to the LLM judge; its scores are saved on the row. A rejection is
    filed under the input batch the row names, or `unknown_batch`: a row's content never names a path."""
    from slm_factory.judge import Judge

    verdicts = Judge(spec, cfg, seed, cache_dir).judge(rows)
    kept, rejected = [], {}
    for row in rows:
        verdict, reason = verdicts[row.id]
        row = row.model_copy(update={"annotations": {**row.annotations, "judge": verdict}})
        if reason is None:
            kept.append(row)
        else:
            batch = row.provenance.batch if row.provenance.batch in batches else "unknown_batch"
            rejected.setdefault(batch, []).append(Rejected(
                stage="validate", batch=batch, row_id=row.id, reasons=[reason],
                row=row.model_dump(mode="json")))
    return kept, rejected


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True)
    ap.add_argument("--specs", type=Path, required=True)
    ap.add_argument("--generated", type=Path, required=True)
    ap.add_argument("--imported", type=Path, help="rows the ingest stage imported (import_*.jsonl), validated alike")
    ap.add_argument("--base-model", type=Path, required=True)
    ap.add_argument("--decisions", type=Path, help="review decisions (data/review/decisions.jsonl)")
    ap.add_argument("--accepted", type=Path, required=True)
    ap.add_argument("--rejected", type=Path, required=True)
    ap.add_argument("--metrics", type=Path, required=True, help="out: headline figures (DVC metrics)")
    ap.add_argument("--details", type=Path, help="out: every figure")
    ap.add_argument("--judge-cache", type=Path,
                    help="where LLM judge answers are cached (default: $SLM_FACTORY_CACHE/judge, else "
                         "~/.cache/slm_factory/judge)")
    a = ap.parse_args(argv)
    params = load_params(a.params, PARAMS)
    vcfg = params.get("validate", {}) or {}
    spec = TaskSpec.load(a.specs)
    files = sorted(a.generated.glob("*.jsonl"))
    if a.imported is not None and a.imported.is_dir():
        files += sorted(a.imported.glob("import_*.jsonl"))
    if not files:
        raise SystemExit(f"validate: no *.jsonl batches in {a.generated}")
    batches = {f.stem: list(iter_jsonl_raw(f)) for f in files}
    n_input = sum(len(v) for v in batches.values())
    decisions = load_decisions(a.decisions)
    accepted, rejected, orphans = validate_batches(
        batches, spec, chat_token_counter(a.base_model), int(params["train"]["max_seq_length"]),
        int(vcfg["min_user_chars"]), decisions, int(vcfg["max_line_bytes"]),
        pii=str(vcfg["pii"]), pii_region=str(vcfg["pii_region"]))
    jcfg = (vcfg.get("judge") or {})
    if jcfg.get("provider"):
        accepted, judged = apply_judge(accepted, spec, jcfg, int(params["seed"]), response_cache_dir("judge", a.judge_cache),
                                       set(batches))
        for b, recs in judged.items():
            rejected.setdefault(b, []).extend(recs)
    metrics = metrics_for(n_input, accepted, rejected, spec, decisions, orphans)
    if orphans:
        log.warning("%d review decisions name rows that no longer exist (not applied): %s", len(orphans),
                    orphans[:10])
    write_jsonl(a.accepted, accepted)
    if a.rejected.exists():
        shutil.rmtree(a.rejected)
    a.rejected.mkdir(parents=True)
    for b, recs in sorted(rejected.items()):
        write_jsonl(a.rejected / f"{b}.jsonl", recs)
    write_metrics(a.metrics, a.details, metrics, HEADLINE)
    log.info("%d in, %d accepted, %d rejected %s", n_input, metrics["accepted"], metrics["rejected"],
             metrics["rejected_by_reason"])
    if metrics["missing_data_types"]:
        log.warning("no accepted rows for data types: %s", metrics["missing_data_types"])


if __name__ == "__main__":
    main()
