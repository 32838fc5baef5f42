"""ingest: import the rows people bring (other tools' datasets, product logs) as the task's rows.

    python scripts/ingest.py --params params.yaml --specs specs --raw data/raw --out data/imported \
        --rejected data/rejected/ingest.jsonl --metrics metrics/ingest.json --details outputs/details/ingest.json

Every `*.jsonl` file in --raw is read (formats: slm_factory/ingest.py); its rows go to
`--out/import_<stem>.jsonl`, which `validate` reads beside the generated batches, so imported rows pass
the same gates, dedupe and split. Each input line leaves as one row or one rejected record with its
reason (input = imported + rejected). An empty --raw imports nothing.
"""

from __future__ import annotations

import argparse
import shutil
from collections import Counter
from pathlib import Path

from slm_factory.common import get_logger, load_params, write_metrics
from slm_factory.ingest import IngestSettings, ingest_file
from slm_factory.rows import Reason, Rejected, iter_jsonl_raw, write_jsonl
from slm_factory.spec import TaskSpec

log = get_logger("ingest")
PARAMS = ("ingest",)  # exactly the stage's params in dvc.yaml
HEADLINE = ["input", "imported", "rejected"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True)
    ap.add_argument("--specs", type=Path, required=True)
    ap.add_argument("--raw", type=Path, required=True, help="folder of *.jsonl files to import")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rejected", type=Path, required=True)
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--details", type=Path)
    a = ap.parse_args(argv)
    cfg = load_params(a.params, PARAMS)["ingest"]
    settings = IngestSettings(format=cfg["format"], data_type=cfg["data_type"], difficulty=cfg["difficulty"])
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
    n_input = n_rows = 0
    by_file, by_format = {}, Counter()
    for f in files:
        lines, too_long = [], []
        for line_no, text in iter_jsonl_raw(f):
            if len(text.encode("utf-8", "surrogatepass")) > cfg["max_line_bytes"]:
                too_long.append(Rejected(stage="ingest", batch=f"import_{f.stem}", line=line_no, raw=text[:2000],
                                         reasons=[Reason(code="line_too_long", message=(
                                             f"line over ingest.max_line_bytes ({cfg['max_line_bytes']})"),
                                             detail={"chars": len(text)})]))
            else:
                lines.append((line_no, text))
        rows, rej, fmt = ingest_file(f.stem, lines, spec, settings)
        rej = sorted(too_long + rej, key=lambda r: r.line or 0)
        write_jsonl(a.out / f"import_{f.stem}.jsonl", rows)
        rejected += rej
        n_input += len(lines) + len(too_long)
        n_rows += len(rows)
        by_file[f.stem] = {"format": fmt, "input": len(lines) + len(too_long), "imported": len(rows), "rejected": len(rej)}
        by_format[fmt or "none"] += len(rows)
        log.info("%s: %s, %d lines -> %d rows, %d rejected", f.name, fmt, len(lines) + len(too_long), len(rows), len(rej))
    if n_input != n_rows + len(rejected):  # the no-loss invariant; a bug if it ever fails
        raise AssertionError(f"ingest lost rows: input {n_input} != {n_rows} + {len(rejected)}")
    write_jsonl(a.rejected, rejected)
    write_metrics(a.metrics, a.details, {
        "input": n_input, "imported": n_rows, "rejected": len(rejected), "files": len(files),
        "imported_by_format": dict(sorted(by_format.items())),
        "rejected_by_reason": dict(sorted(Counter(x.code for r in rejected for x in r.reasons).items())),
        "by_file": by_file}, HEADLINE)
    if not files:
        log.info("no *.jsonl files in %s: nothing to import", a.raw)


if __name__ == "__main__":
    main()
