"""validate: run every quality gate that needs no LLM over the generated batches.

    python scripts/validate.py --params params.yaml --specs specs --generated data/generated \
        --base-model outputs/base_model --accepted data/accepted/validated.jsonl \
        --rejected data/rejected/validate --metrics metrics/validate.json

Each input line leaves as exactly one accepted row or one rejected record (one rejected file per
input batch, reasons with codes, messages and the offending part). input = accepted + rejected.
"""

from __future__ import annotations

import argparse
import shutil
from collections import Counter
from pathlib import Path

from slm_factory.common import get_logger, load_params, write_json
from slm_factory.gates import LeakCheck, check_row, label_conflicts, length_reasons
from slm_factory.rows import Rejected, Row, iter_jsonl_raw, parse_row_line, write_jsonl
from slm_factory.spec import TaskSpec
from slm_factory.tokens import chat_token_counter

log = get_logger("validate")


def validate_batches(batches: dict[str, list[tuple[int, str]]], spec: TaskSpec, count_tokens,
                     max_seq_length: int, min_user_chars: int) -> tuple[list[Row], dict[str, list[Rejected]]]:
    """Pure core: {batch: [(line_no, text)]} -> (accepted rows, {batch: rejected records})."""
    leak = LeakCheck(spec.leak_patterns)
    rejected: dict[str, list[Rejected]] = {b: [] for b in batches}
    candidates: list[tuple[str, int, Row]] = []
    for b, lines in batches.items():
        for line_no, text in lines:
            row, obj, reason = parse_row_line(text)
            if reason is not None:
                rejected[b].append(Rejected(stage="validate", batch=b, line=line_no, reasons=[reason],
                                            row=obj, raw=None if obj is not None else text,
                                            row_id=(obj or {}).get("id")))
                continue
            reasons = check_row(row, spec, leak, min_user_chars)
            if reasons:
                rejected[b].append(Rejected(stage="validate", batch=b, line=line_no, row_id=row.id,
                                            reasons=reasons, row=row.model_dump(mode="json")))
            else:
                candidates.append((b, line_no, row))
    too_long = length_reasons([r for _, _, r in candidates], count_tokens, max_seq_length)
    conflicts = label_conflicts([r for _, _, r in candidates if r.id not in too_long], spec)
    accepted = []
    for b, line_no, row in candidates:
        reasons = [x for x in (too_long.get(row.id), conflicts.get(row.id)) if x is not None]
        if reasons:
            rejected[b].append(Rejected(stage="validate", batch=b, line=line_no, row_id=row.id,
                                        reasons=reasons, row=row.model_dump(mode="json")))
        else:
            accepted.append(row)
    return accepted, rejected


def metrics_for(n_input: int, accepted: list[Row], rejected: dict[str, list[Rejected]], spec: TaskSpec) -> dict:
    rej = [r for rs in rejected.values() for r in rs]
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
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True)
    ap.add_argument("--specs", type=Path, required=True)
    ap.add_argument("--generated", type=Path, required=True)
    ap.add_argument("--base-model", type=Path, required=True)
    ap.add_argument("--accepted", type=Path, required=True)
    ap.add_argument("--rejected", type=Path, required=True)
    ap.add_argument("--metrics", type=Path, required=True)
    a = ap.parse_args(argv)
    params = load_params(a.params)
    vcfg = params.get("validate", {}) or {}
    spec = TaskSpec.load(a.specs)
    files = sorted(a.generated.glob("*.jsonl"))
    if not files:
        raise SystemExit(f"validate: no *.jsonl batches in {a.generated}")
    batches = {f.stem: list(iter_jsonl_raw(f)) for f in files}
    n_input = sum(len(v) for v in batches.values())
    accepted, rejected = validate_batches(
        batches, spec, chat_token_counter(a.base_model), int(params["train"]["max_seq_length"]),
        int(vcfg.get("min_user_chars", 4)))
    metrics = metrics_for(n_input, accepted, rejected, spec)
    write_jsonl(a.accepted, accepted)
    if a.rejected.exists():
        shutil.rmtree(a.rejected)
    a.rejected.mkdir(parents=True)
    for b, recs in sorted(rejected.items()):
        write_jsonl(a.rejected / f"{b}.jsonl", recs)
    write_json(a.metrics, metrics)
    log.info("%d in, %d accepted, %d rejected %s", n_input, metrics["accepted"], metrics["rejected"],
             metrics["rejected_by_reason"])
    if metrics["missing_data_types"]:
        log.warning("no accepted rows for data types: %s", metrics["missing_data_types"])


if __name__ == "__main__":
    main()
