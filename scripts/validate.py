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
from pathlib import Path

from slm_factory.common import get_logger, load_params, response_cache_dir, write_metrics
from slm_factory.review import read_decisions
from slm_factory.rows import iter_jsonl_raw
from slm_factory.spec import TaskSpec
from slm_factory.tokens import chat_token_counter
from slm_factory.validation import HEADLINE, apply_judge, metrics_for, validate_batches

log = get_logger("validate")
PARAMS = ("seed", "validate", "train.max_seq_length")  # exactly the stage's params in dvc.yaml


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--specs", type=Path, required=True, help="the task's specs/ folder")
    ap.add_argument("--generated", type=Path, required=True, help="folder of generated batches (*.jsonl)")
    ap.add_argument("--imported", type=Path, help="rows the ingest stage imported (import_*.jsonl), validated alike")
    ap.add_argument("--base-model", type=Path, required=True,
                    help="the prepared base model folder (prepare_base's output)")
    ap.add_argument("--decisions", type=Path, help="review decisions (data/review/decisions.jsonl)")
    ap.add_argument("--accepted", type=Path, required=True, help="out: the accepted rows")
    ap.add_argument("--rejected", type=Path, required=True,
                    help="out: folder of rejected records, one file per input batch")
    ap.add_argument("--metrics", type=Path, required=True, help="out: headline figures (DVC metrics)")
    ap.add_argument("--details", type=Path, help="out: every figure")
    ap.add_argument("--judge-cache", type=Path,
                    help="where LLM judge answers are cached (default: $SLM_FACTORY_CACHE/judge, else "
                         "~/.cache/slm_factory/judge)")
    a = ap.parse_args(argv)
    params = load_params(a.params, PARAMS)
    vcfg = params.validate_
    spec = TaskSpec.load(a.specs)
    files = sorted(a.generated.glob("*.jsonl"))
    if a.imported is not None and a.imported.is_dir():
        files += sorted(a.imported.glob("import_*.jsonl"))
    if not files:
        raise SystemExit(f"validate: no *.jsonl batches in {a.generated}")
    batches = {f.stem: list(iter_jsonl_raw(f)) for f in files}
    n_input = sum(len(v) for v in batches.values())
    review = read_decisions(a.decisions)
    for problem in review.bad_lines:
        log.warning("skipped a bad decisions line: %s", problem)
    if review.conflicts:
        log.warning("%d records have conflicting review decisions (none applied; keep one line each, or "
                    "decide again with scripts/review.py): %s", len(review.conflicts), sorted(review.conflicts)[:10])
    ledger, orphans = validate_batches(
        batches, spec, chat_token_counter(a.base_model), params.train.max_seq_length,
        vcfg.min_user_chars, review.decisions, vcfg.max_line_bytes, pii=vcfg.pii, pii_region=vcfg.pii_region)
    if vcfg.judge.provider:
        ledger = apply_judge(ledger, spec, vcfg.judge, params.seed, response_cache_dir("judge", a.judge_cache),
                             set(batches))
    metrics = metrics_for(n_input, ledger, spec, review, orphans)
    if orphans:
        log.warning("%d review decisions name records that are not in the input (not applied): %s", len(orphans),
                    orphans[:10])
    ledger.write(a.accepted, a.rejected, rejected_by_part=True, rejected_parts=list(batches))
    write_metrics(a.metrics, a.details, metrics, HEADLINE)
    log.info("%d in, %d accepted, %d rejected %s", n_input, metrics["accepted"], metrics["rejected"],
             metrics["rejected_by_reason"])
    if metrics["missing_data_types"]:
        log.warning("no accepted rows for data types: %s", metrics["missing_data_types"])


if __name__ == "__main__":
    main()
