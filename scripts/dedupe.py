"""dedupe: drop exact, near (MinHash LSH) and semantic duplicates, inside the set and against the
locked eval sets; write the summary of every rejected row so far.

    python scripts/dedupe.py --params params.yaml --rows data/accepted/validated.jsonl \
        --locked data/eval/golden.jsonl data/eval/adversarial.jsonl --out data/accepted/deduped.jsonl \
        --rejected data/rejected/dedupe.jsonl --rejected-root data/rejected \
        --summary data/rejected/SUMMARY.md --metrics metrics/dedupe.json

Locked eval rows always win: a candidate close to one is the row dropped. Each dropped row records
its kept twin's id, which set the twin is in, the test that fired and the similarity.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from slm_factory import embeddings
from slm_factory.common import get_logger, load_params, write_metrics, write_text_atomic
from slm_factory.dedupe import Thresholds, dedupe_rows
from slm_factory.rows import Rejected, read_jsonl, read_rows
from slm_factory.summary import render_summary

log = get_logger("dedupe")
PARAMS = ("dedupe",)  # exactly the stage's params in dvc.yaml


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--rows", type=Path, required=True, help="rows to deduplicate (validate's accepted rows)")
    ap.add_argument("--locked", type=Path, nargs="*", default=[],
                    help="locked eval sets (golden, adversarial, production): never dropped; a row close to one is")
    ap.add_argument("--out", type=Path, required=True, help="out: the rows kept")
    ap.add_argument("--rejected", type=Path, required=True, help="out: the rows dropped, each with its reason and twin")
    ap.add_argument("--rejected-root", type=Path, required=True,
                    help="every stage's rejected files (read for the summary)")
    ap.add_argument("--summary", type=Path, required=True,
                    help="out: a summary of every rejected row so far (markdown)")
    ap.add_argument("--metrics", type=Path, required=True, help="out: headline figures (DVC metrics)")
    ap.add_argument("--details", type=Path, help="out: every figure")
    a = ap.parse_args(argv)
    cfg = load_params(a.params, PARAMS).dedupe
    rows = read_rows(a.rows)
    locked = [(p.stem, r) for p in a.locked for r in read_rows(p)]
    embed = (lambda texts: embeddings.encode(cfg.embedding_model, texts)) if cfg.semantic else None
    ledger, drops = dedupe_rows(rows, locked, Thresholds.of(cfg), embed)
    ledger.check(len(rows))
    ledger.write(a.out, a.rejected)

    # The summary covers every rejected file under the root, this stage's included.
    files = {}
    for p in sorted(a.rejected_root.rglob("*.jsonl")):
        files[str(p.relative_to(a.rejected_root))] = [Rejected.model_validate(o) for o in read_jsonl(p)]
    write_text_atomic(a.summary, render_summary(files, a.rejected_root))

    kept = ledger.kept_rows()
    write_metrics(a.metrics, a.details, {
        "input": len(rows), "kept": len(kept), "dropped": len(ledger.rejected),
        "dropped_by_reason": ledger.reason_counts(first_only=True),
        "kept_by_category": dict(sorted(Counter(r.provenance.category for r in kept).items())),
        "kept_by_data_type": dict(sorted(Counter(r.provenance.data_type for r in kept).items())),
    }, ["input", "kept", "dropped"])
    log.info("%d in, %d kept, %d dropped %s", len(rows), len(kept), len(ledger.rejected),
             dict(Counter(d.kind for d in drops)))


if __name__ == "__main__":
    main()
