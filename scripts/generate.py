"""generate: ask the teacher for rows by quota cell, into data/generated/batch_NNN.jsonl.

    python scripts/generate.py --params params.yaml --specs specs --repair-plan data/repair_plan.json \
        --out data/generated --rejected data/rejected/generate.jsonl \
        --metrics metrics/generate.json --details outputs/details/generate.json \
        --timings outputs/timings/generate.json

Every response is cached under --cache (outside DVC's outputs) the moment it arrives, so raising
`n_examples` or rerunning after a crash only asks for what is missing. With `repair: true` the
repair plan (copied from outputs/eval_reports/repair_plan.json) adds targeted rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from slm_factory.common import get_logger, load_params, response_cache_dir, write_json, write_metrics
from slm_factory.generation import HEADLINE, RUN_FACTS, generate

log = get_logger("generate")
PARAMS = ("seed", "n_examples", "repair", "teacher", "generate")  # exactly the stage's params in dvc.yaml


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--specs", type=Path, required=True, help="the task's specs/ folder")
    ap.add_argument("--repair-plan", type=Path, help="the repair plan, used when params `repair: true`")
    ap.add_argument("--cache", type=Path, help="the response cache (default: $SLM_FACTORY_CACHE/teacher, else "
                                               "~/.cache/slm_factory/teacher: shared by clones and experiments)")
    ap.add_argument("--out", type=Path, required=True, help="out: folder of generated batches (batch_NNN.jsonl)")
    ap.add_argument("--rejected", type=Path, required=True, help="out: rejected teacher answers, each with its reason")
    ap.add_argument("--metrics", type=Path, required=True, help="out: headline figures (DVC metrics)")
    ap.add_argument("--details", type=Path, help="out: every figure of the data written")
    ap.add_argument("--timings", type=Path, help="out: requests asked and cache hits this run (no stage reads it)")
    a = ap.parse_args(argv)
    metrics = generate(load_params(a.params, PARAMS), a.specs, a.repair_plan, response_cache_dir("teacher", a.cache),
                       a.out, a.rejected)
    run_facts = {k: metrics.pop(k) for k in RUN_FACTS}
    write_metrics(a.metrics, a.details, metrics, HEADLINE)
    if a.timings is not None:
        write_json(a.timings, run_facts)


if __name__ == "__main__":
    main()
