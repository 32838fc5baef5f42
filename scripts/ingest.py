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
from pathlib import Path

from slm_factory.common import get_logger, load_params, write_metrics
from slm_factory.ingest import IngestSettings, import_files
from slm_factory.rows import write_jsonl
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
    quota = cfg.eval_quota if cfg.route == "eval_first" else 0
    got = import_files(files, spec, settings, max_line_bytes=cfg.max_line_bytes, pii=vcfg.pii,
                       pii_region=vcfg.pii_region, eval_quota=quota, min_user_chars=vcfg.min_user_chars)
    if a.out.exists():
        shutil.rmtree(a.out)
    a.out.mkdir(parents=True)
    for stem, rows in got.train.items():
        write_jsonl(a.out / f"import_{stem}.jsonl", rows)
    write_jsonl(a.rejected, got.rejected)
    write_jsonl(a.eval_out, got.eval_rows)
    write_metrics(a.metrics, a.details, got.metrics, HEADLINE)
    if got.eval_rows:
        log.info("%d production rows -> %s (eval first, quota %d)", len(got.eval_rows), a.eval_out, quota)
    if not files:
        log.info("no *.jsonl files in %s: nothing to import", a.raw)


if __name__ == "__main__":
    main()
