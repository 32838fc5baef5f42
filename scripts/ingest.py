"""ingest: import the rows people bring (other tools' datasets, product logs) as the task's rows.

    python scripts/ingest.py --params params.yaml --specs specs --raw data/raw --out data/imported \
        --eval-out data/eval/production.jsonl --rejected data/rejected/ingest.jsonl \
        --metrics metrics/ingest.json --details outputs/details/ingest.json

Every `*.jsonl` file in --raw is read (formats: slm_factory/ingest.py) and passes the privacy gate
(`validate.pii`). Production logs fill the eval set --eval-out first (`ingest.route: eval_first`, up
to `ingest.eval_quota` rows that pass the contract gates); every other row goes to
`--out/import_<stem>.jsonl`, which `validate` reads beside the generated batches, so imported rows pass
the same gates, dedupe and split. A multi-turn trace unrolls into one example per assistant turn; each
example leaves as one row (train or eval) or one rejected record with its reason (examples = imported +
eval + rejected), and every input line as at least one of them. An empty --raw imports nothing.
"""

from __future__ import annotations

import argparse
import shutil
from collections import Counter
from pathlib import Path

from slm_factory.common import get_logger, load_params, write_metrics
from slm_factory.gates import LeakCheck, check_row
from slm_factory.ingest import IngestSettings, ingest_file, protect, route_production
from slm_factory.rows import Reason, Rejected, Row, iter_jsonl_raw, write_jsonl
from slm_factory.spec import TaskSpec

log = get_logger("ingest")
# exactly the stage's params in dvc.yaml: the privacy gate's and the row gates' settings are validate's
PARAMS = ("ingest", "validate.pii", "validate.pii_region", "validate.min_user_chars")
HEADLINE = ["input", "examples", "imported", "eval", "rejected"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--specs", type=Path, required=True, help="the task's specs/ folder")
    ap.add_argument("--raw", type=Path, required=True, help="folder of *.jsonl files to import")
    ap.add_argument("--out", type=Path, required=True, help="out: folder of imported rows (import_<file>.jsonl)")
    ap.add_argument("--eval-out", type=Path, required=True, help="the production eval set (filled first)")
    ap.add_argument("--rejected", type=Path, required=True, help="out: rejected lines, each with its reason")
    ap.add_argument("--metrics", type=Path, required=True, help="out: headline figures (DVC metrics)")
    ap.add_argument("--details", type=Path, help="out: every figure")
    a = ap.parse_args(argv)
    params = load_params(a.params, PARAMS)
    cfg, vcfg = params.ingest, params.validate_
    settings = IngestSettings(format=cfg.format, data_type=cfg.data_type, difficulty=cfg.difficulty,
                              reasoning=cfg.reasoning)
    spec = TaskSpec.load(a.specs)
    files = sorted(a.raw.glob("*.jsonl")) if a.raw.is_dir() else []
    # checked only when there is something to import: a task whose quotas lack the type runs as before
    if files and settings.data_type not in spec.data_types():
        raise SystemExit(f"ingest: ingest.data_type {settings.data_type!r} is not one of quotas.yaml's data types "
                         f"{spec.data_types()}: set ingest.data_type to one of them")
    if a.out.exists():
        shutil.rmtree(a.out)
    a.out.mkdir(parents=True)
    rejected: list[Rejected] = []
    n_input = n_examples = 0
    by_file, by_format = {}, Counter()
    per_file: list[tuple[str, list[Row]]] = []
    for f in files:
        lines, too_long = [], []
        for line_no, text in iter_jsonl_raw(f):
            if len(text.encode("utf-8", "surrogatepass")) > cfg.max_line_bytes:
                too_long.append(Rejected(stage="ingest", batch=f"import_{f.stem}", line=line_no, raw=text[:2000],
                                         reasons=[Reason(code="line_too_long", message=(
                                             f"line over ingest.max_line_bytes ({cfg.max_line_bytes})"),
                                             detail={"chars": len(text)})]))
            else:
                lines.append((line_no, text))
        rows, rej, fmt = ingest_file(f.stem, lines, spec, settings)
        n_examples += len(rows) + len(rej) + len(too_long)
        rows, rej = protect(rows, too_long + rej, vcfg.pii, spec.pii_allowed, vcfg.pii_region)
        rej = sorted(rej, key=lambda r: r.line or 0)
        per_file.append((f.stem, rows))
        rejected += rej
        n_input += len(lines) + len(too_long)
        by_file[f.stem] = {"format": fmt, "input": len(lines) + len(too_long), "examples": len(rows) + len(rej),
                           "rows": len(rows), "rejected": len(rej)}
        by_format[fmt or "none"] += len(rows)
        log.info("%s: %s, %d lines -> %d rows, %d rejected", f.name, fmt, len(lines) + len(too_long), len(rows), len(rej))
    quota = cfg.eval_quota if cfg.route == "eval_first" else 0
    leak = LeakCheck(spec.leak_patterns)
    eval_rows, train_rows, eval_rej = route_production(
        [r for _, rows in per_file for r in rows], quota, lambda r: check_row(r, spec, leak, vcfg.min_user_chars))
    n_rows = 0
    for stem, _ in per_file:
        train = [r for r in train_rows if r.provenance.batch == f"import_{stem}"]
        write_jsonl(a.out / f"import_{stem}.jsonl", train)
        n_rows += len(train)
        by_file[stem].update(imported=len(train), eval=sum(1 for r in eval_rows if r.provenance.batch == f"import_{stem}"))
    for r in eval_rej:  # a production row the contract gates kept out of the eval set
        by_file[r.batch.removeprefix("import_")]["rejected"] += 1
    rejected += eval_rej
    if n_examples != n_rows + len(eval_rows) + len(rejected):  # the no-loss invariant; a bug if it ever fails
        raise AssertionError(f"ingest lost rows: examples {n_examples} != {n_rows} + {len(eval_rows)} + {len(rejected)}")
    write_jsonl(a.rejected, rejected)
    write_jsonl(a.eval_out, eval_rows)
    write_metrics(a.metrics, a.details, {
        "input": n_input, "examples": n_examples, "imported": n_rows, "eval": len(eval_rows), "rejected": len(rejected), "files": len(files),
        "eval_quota": quota, "imported_by_format": dict(sorted(by_format.items())),
        "rejected_by_reason": dict(sorted(Counter(x.code for r in rejected for x in r.reasons).items())),
        "pii_masked_rows": sum(1 for _, rows in per_file for r in rows if "pii_masked" in r.annotations),
        "by_file": by_file}, HEADLINE)
    if eval_rows:
        log.info("%d production rows -> %s (eval first, quota %d)", len(eval_rows), a.eval_out, quota)
    if not files:
        log.info("no *.jsonl files in %s: nothing to import", a.raw)


if __name__ == "__main__":
    main()
