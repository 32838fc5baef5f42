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
from slm_factory.common import get_logger, load_params, write_metrics
from slm_factory.dedupe import Drop, Thresholds, greedy_dedupe
from slm_factory.rows import Reason, Rejected, Row, read_jsonl, read_rows, write_jsonl
from slm_factory.summary import render_summary

log = get_logger("dedupe")
PARAMS = ("dedupe",)  # exactly the stage's params in dvc.yaml

MESSAGES = {
    "exact": "same text as a kept row (after normalising case, punctuation and spaces)",
    "minhash": "near-duplicate of a kept row (MinHash Jaccard of character shingles)",
    "semantic": "says the same as a kept row (embedding cosine similarity)",
}


def thresholds(cfg: dict) -> Thresholds:
    return Thresholds(minhash=float(cfg["minhash_threshold"]), semantic=float(cfg["semantic_threshold"]),
                      num_perm=int(cfg.get("num_perm", 128)), shingle_size=int(cfg.get("shingle_size", 5)))


def dedupe_rows(rows: list[Row], locked: list[tuple[str, Row]], th: Thresholds,
                embed) -> tuple[list[Row], list[Rejected], list[Drop]]:
    """Pure core. `locked` is [(set name, row)]; they are references, never dropped."""
    drops = greedy_dedupe([r.prompt_text for r in rows], th, embed, refs=[r.prompt_text for _, r in locked])
    dropped = {d.index: d for d in drops}
    kept = [r for i, r in enumerate(rows) if i not in dropped]
    rejected = []
    for d in drops:
        row = rows[d.index]
        if d.twin >= 0:
            twin, twin_set = rows[d.twin], "generated"
        else:
            twin_set, twin = locked[-1 - d.twin]
        code = f"duplicate_{d.kind}" if twin_set == "generated" else f"eval_overlap_{d.kind}"
        rejected.append(Rejected(
            stage="dedupe", batch=row.provenance.batch, row_id=row.id, row=row.model_dump(mode="json"),
            reasons=[Reason(code=code, message=MESSAGES[d.kind] + (f" in the locked {twin_set} set"
                                                                 if twin_set != "generated" else ""),
                            detail={"twin_id": twin.id, "twin_set": twin_set, "similarity": d.similarity,
                                    "twin_user": twin.prompt_text})]))
    return kept, rejected, drops


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True)
    ap.add_argument("--rows", type=Path, required=True)
    ap.add_argument("--locked", type=Path, nargs="*", default=[])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rejected", type=Path, required=True)
    ap.add_argument("--rejected-root", type=Path, required=True)
    ap.add_argument("--summary", type=Path, required=True)
    ap.add_argument("--metrics", type=Path, required=True, help="out: headline figures (DVC metrics)")
    ap.add_argument("--details", type=Path, help="out: every figure")
    a = ap.parse_args(argv)
    cfg = load_params(a.params, PARAMS)["dedupe"]
    rows = read_rows(a.rows)
    locked = [(p.stem, r) for p in a.locked for r in read_rows(p)]
    model = cfg.get("embedding_model", embeddings.BUNDLED)
    embed = (lambda texts: embeddings.encode(model, texts)) if cfg.get("semantic", True) else None
    kept, rejected, drops = dedupe_rows(rows, locked, thresholds(cfg), embed)
    write_jsonl(a.out, kept)
    write_jsonl(a.rejected, rejected)

    # The summary covers every rejected file under the root, this stage's included.
    files = {}
    for p in sorted(a.rejected_root.rglob("*.jsonl")):
        files[str(p.relative_to(a.rejected_root))] = [Rejected.model_validate(o) for o in read_jsonl(p)]
    a.summary.write_text(render_summary(files, a.rejected_root))

    if len(rows) != len(kept) + len(rejected):
        raise AssertionError("dedupe lost rows")
    write_metrics(a.metrics, a.details, {
        "input": len(rows), "kept": len(kept), "dropped": len(rejected),
        "dropped_by_reason": dict(sorted(Counter(r.reasons[0].code for r in rejected).items())),
        "kept_by_category": dict(sorted(Counter(r.provenance.category for r in kept).items())),
        "kept_by_data_type": dict(sorted(Counter(r.provenance.data_type for r in kept).items())),
    }, ["input", "kept", "dropped"])
    log.info("%d in, %d kept, %d dropped %s", len(rows), len(kept), len(rejected),
             dict(Counter(d.kind for d in drops)))


if __name__ == "__main__":
    main()
