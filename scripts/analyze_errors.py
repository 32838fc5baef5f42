"""analyze_errors: give every dev failure a cause, cluster failures within a cause, plan repair data.

    python scripts/analyze_errors.py --params params.yaml --specs specs \
        --predictions outputs/predictions/predictions_dev.jsonl --train data/train.jsonl \
        --dev data/eval/dev.jsonl --report outputs/eval_reports/error_analysis.md \
        --plan outputs/eval_reports/repair_plan.json --metrics metrics/analyze_errors.json

Dev template groups (patterns) wrong as a whole are listed apart: a phrasing train lacks, which new
patterns fix and more rows do not. The repair plan names categories and data types with a row count
each. To act on it, copy it to data/repair_plan.json and run `dvc exp run -S repair=true` (generate
reads it then).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from slm_factory import embeddings
from slm_factory.common import get_logger, load_params, write_json, write_metrics, write_text_atomic
from slm_factory.diversity import values_shown
from slm_factory.error_analysis import analyze, failing_groups, report, wrong_field_counts
from slm_factory.rows import read_jsonl, read_rows
from slm_factory.spec import TaskSpec

log = get_logger("analyze_errors")
PARAMS = ("analyze_errors", "dedupe.embedding_model")  # exactly the stage's params in dvc.yaml

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--specs", type=Path, required=True, help="the task's specs/ folder")
    ap.add_argument("--predictions", type=Path, required=True, help="eval's predictions on dev (JSONL)")
    ap.add_argument("--train", type=Path, required=True,
                    help="the rows trained on: a wrong value no train answer shows is named unseen_value")
    ap.add_argument("--dev", type=Path, required=True,
                    help="the dev rows the predictions score (their template groups: which phrasings fail whole)")
    ap.add_argument("--report", type=Path, required=True, help="out: the error analysis (markdown)")
    ap.add_argument("--plan", type=Path, required=True, help="out: the repair plan (JSON), for `repair: true`")
    ap.add_argument("--metrics", type=Path, required=True, help="out: headline figures (DVC metrics)")
    ap.add_argument("--details", type=Path, help="out: every figure")
    a = ap.parse_args(argv)
    params = load_params(a.params, PARAMS)
    cfg = params.analyze_errors
    spec = TaskSpec.load(a.specs)
    preds = read_jsonl(a.predictions)
    model = params.dedupe.embedding_model
    seen = values_shown(read_rows(a.train))
    clusters, plan = analyze(preds, spec, lambda t: embeddings.encode(model, t), cfg.cluster_threshold,
                             cfg.rows_per_cluster, seen)
    groups = failing_groups(preds, {r.id: r.provenance.group for r in read_rows(a.dev)},
                            cfg.group_failure_share, cfg.group_min_rows)
    write_text_atomic(a.report, report(clusters, plan, cfg.max_examples, groups))
    write_json(a.plan, plan)
    write_metrics(a.metrics, a.details, {"failures": plan["failures"], "clusters": len(clusters),
                           "by_cause": dict(Counter(c["cause"] for c in clusters for _ in c["examples"])),
                           "repair_rows_planned": sum(i["n"] for i in plan["items"]),
                           "wrong_fields": wrong_field_counts([p for c in clusters for p in c["examples"]]),
                           "groups_failed_whole": len(groups),
                           "failures_in_groups_failed_whole": sum(g["wrong"] for g in groups),
                           "groups_failed_whole_list": [{k: g[k] for k in ("group", "category", "rows", "wrong")}
                                                        for g in groups]},
                  ["failures", "clusters", "repair_rows_planned"])  # headline only: `dvc exp show` stays readable
    log.info("%d failures in %d clusters; %d held-out groups wrong as a whole (%d failures)", plan["failures"],
             len(clusters), len(groups), sum(g["wrong"] for g in groups))


if __name__ == "__main__":
    main()
