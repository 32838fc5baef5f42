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
import math
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from slm_factory.common import get_logger, load_params, read_json, response_cache_dir, write_json, write_metrics
from slm_factory.generation import batch_name, native_tools_labeller, response_to_rows
from slm_factory.ledger import Ledger
from slm_factory.rows import Reason, Rejected
from slm_factory.spec import TaskSpec
from slm_factory.teachers.base import ResponseCache, ask_cached, plan_requests
from slm_factory.teachers.factory import make_teacher

log = get_logger("generate")
PARAMS = ("seed", "n_examples", "repair", "teacher", "generate")  # exactly the stage's params in dvc.yaml

HEADLINE = ["rows", "rejected", "cost_usd"]  # the declared metrics; the rest: --details
# What this run asked and found cached: it differs between two runs that write the same data, so it
# goes to --timings, which no stage reads (a stage depending on it would rerun for nothing).
RUN_FACTS = ("requests", "cache_hits", "teacher_calls")


def run(params: dict, specs: Path, repair_plan: Path | None, cache_dir: Path, out: Path,
        rejected_path: Path) -> dict:
    spec = TaskSpec.load(specs)
    tcfg = params["teacher"]
    gcfg = params["generate"]
    teacher = make_teacher(spec, tcfg, int(params["seed"]), cache_dir)  # fails here on a missing key
    if tcfg.get("mode") == "native_tools":
        teacher.relabel = native_tools_labeller(spec)
    plan_items = []
    if params["repair"] and repair_plan and repair_plan.exists():
        plan_items = read_json(repair_plan).get("items", [])
    per = int(teacher.rows_per_request)
    requests = plan_requests(spec, math.ceil(int(params["n_examples"]) / per),
                             [{**i, "n": math.ceil(int(i["n"]) / per)} for i in plan_items])
    identity = teacher.identity()

    def ask_with_progress(missing, on_response) -> None:
        log.info("%d requests: %d cached, %d to ask %s", len(requests), len(requests) - len(missing),
                 len(missing), teacher.provider)
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} {task.fields[info]}"), TimeElapsedColumn(),
                      console=Console(stderr=True), disable=teacher.provider == "template") as bar:
            task = bar.add_task("generate", total=len(missing), info="")
            teacher.progress = lambda st, budget: bar.update(
                task, completed=st.done + st.failed + st.skipped,
                info=f"failed {st.failed} · tokens {st.input_tokens + st.output_tokens} · ${budget.spent:.4f}")
            teacher.complete(missing, on_response)

    cache = ResponseCache(cache_dir)
    keys, responses, missing = ask_cached(teacher, requests, cache, ask_with_progress)
    cache.close()
    if not missing:
        log.info("%d requests: %d cached, 0 to ask %s", len(requests), len(requests), teacher.provider)
    stats = teacher.stats  # failures and skips of this run's requests (all zero when nothing was asked)

    batch_size = int(gcfg["batch_size"])
    source = "template" if teacher.provider == "template" else "teacher"
    generator = identity.get("model") or teacher.provider
    ledger = Ledger("generate")  # every item of every answer leaves as a row or a rejected record
    for r, k in zip(requests, keys):
        b = batch_name(r, batch_size)
        if responses[k] is None:
            continue  # not answered (error after retries, or the budget stopped it): asked again next run
        rows, rej = response_to_rows(responses[k], r, spec, b, str(generator), source)
        for row in rows:
            ledger.keep(row, b)
        for rec in rej:
            ledger.reject(rec)
    for err in stats.errors:
        ledger.reject(Rejected(stage="generate", batch="errors", reasons=[Reason(
            code="teacher_error", message="request failed after the SDK's retries", detail={"error": err})]))
    ledger.write(out, rejected_path, kept_by_part=True)
    all_rows, batches = ledger.kept_rows(), ledger.kept_parts()
    rejected = ledger.rejected_records()
    usage = Counter()
    for k in keys:
        if responses[k] is not None:
            usage.update(responses[k].usage)
    budget = teacher.budget
    cost = budget.cost(dict(usage))
    unanswered = sum(1 for k in keys if responses[k] is None)
    if budget.exhausted:
        log.warning("stopped at the budget: teacher.max_cost_usd=%s, spent $%.4f; %d requests not sent. "
                    "Every row already paid for is kept; raise the budget and rerun to continue.",
                    budget.limit, cost, unanswered)
    metrics = {
        "requests": len(requests),
        "cache_hits": len(requests) - len(missing),
        "teacher_calls": len(missing) - stats.skipped,
        "unanswered": unanswered,
        "rows": len(all_rows),
        "rejected": len(rejected),
        "batches": len(batches),
        "input_tokens": usage.get("input_tokens", 0),
        "output_tokens": usage.get("output_tokens", 0),
        "cost_usd": round(cost, 6),
        "budget_exhausted": budget.exhausted,
        "by_category": dict(sorted(Counter(r.provenance.category for r in all_rows).items())),
        "by_data_type": dict(sorted(Counter(r.provenance.data_type for r in all_rows).items())),
    }
    log.info("wrote %d rows in %d batches, %d rejected, $%.4f", len(all_rows), len(batches), len(rejected), cost)
    return metrics


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
    metrics = run(load_params(a.params, PARAMS), a.specs, a.repair_plan, response_cache_dir("teacher", a.cache), a.out,
                  a.rejected)
    run_facts = {k: metrics.pop(k) for k in RUN_FACTS}
    write_metrics(a.metrics, a.details, metrics, HEADLINE)
    if a.timings is not None:
        write_json(a.timings, run_facts)


if __name__ == "__main__":
    main()
