"""generate: ask the teacher for rows by quota cell, into data/generated/batch_NNN.jsonl.

    python scripts/generate.py --params params.yaml --specs specs --repair-plan data/repair_plan.json \
        --cache .cache/teacher --out data/generated --rejected data/rejected/generate.jsonl \
        --metrics metrics/generate.json

Every response is cached under --cache (outside DVC's outputs) the moment it arrives, so raising
`n_examples` or rerunning after a crash only asks for what is missing. With `repair: true` the
repair plan (copied from outputs/eval_reports/repair_plan.json) adds targeted rows.
"""

from __future__ import annotations

import argparse
import shutil
from collections import Counter, defaultdict
from pathlib import Path

from slm_factory.common import get_logger, load_params, read_json, write_json
from slm_factory.generation import batch_name, response_to_rows
from slm_factory.rows import write_jsonl
from slm_factory.spec import TaskSpec
from slm_factory.teacher import ResponseCache, make_teacher, plan_requests

log = get_logger("generate")


def run(params: dict, specs: Path, repair_plan: Path | None, cache_dir: Path, out: Path,
        rejected_path: Path) -> dict:
    spec = TaskSpec.load(specs)
    tcfg = params.get("teacher", {}) or {}
    gcfg = params.get("generate", {}) or {}
    teacher = make_teacher(spec, tcfg, int(params["seed"]))
    plan_items = []
    if params.get("repair") and repair_plan and repair_plan.exists():
        plan_items = read_json(repair_plan).get("items", [])
    requests = plan_requests(spec, int(params["n_examples"]), plan_items)
    identity = teacher.identity()
    cache = ResponseCache(cache_dir)
    keys = [ResponseCache.key(identity, teacher.prompt_for(r), r) for r in requests]
    responses = {k: cache.get(k) for k in keys}
    missing = [(r, k) for r, k in zip(requests, keys) if responses[k] is None]
    log.info("%d requests: %d cached, %d to ask %s", len(requests), len(requests) - len(missing),
             len(missing), teacher.provider)
    chunk = int(gcfg.get("request_chunk", 64))
    for start in range(0, len(missing), chunk):
        part = missing[start:start + chunk]
        for (r, k), resp in zip(part, teacher.complete([r for r, _ in part])):
            cache.put(k, resp)  # durable before anything else happens with it
            responses[k] = resp
    cache.close()

    batch_size = int(gcfg.get("batch_size", 200))
    source = "template" if teacher.provider == "template" else "teacher"
    generator = identity.get("model") or teacher.provider
    batches: dict[str, list] = defaultdict(list)
    rejected = []
    for r, k in zip(requests, keys):
        b = batch_name(r, batch_size)
        rows, rej = response_to_rows(responses[k], r, spec, b, str(generator), source)
        batches[b].extend(rows)
        rejected.extend(rej)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for b, rows in sorted(batches.items()):
        write_jsonl(out / f"{b}.jsonl", rows)
    write_jsonl(rejected_path, rejected)
    all_rows = [row for rows in batches.values() for row in rows]
    usage = Counter()
    for k in keys:
        usage.update(responses[k].usage)
    metrics = {
        "requests": len(requests),
        "cache_hits": len(requests) - len(missing),
        "teacher_calls": len(missing),
        "rows": len(all_rows),
        "rejected": len(rejected),
        "batches": len(batches),
        "input_tokens": usage.get("input_tokens", 0),
        "output_tokens": usage.get("output_tokens", 0),
        "cost_usd": 0.0,
        "by_category": dict(sorted(Counter(r.provenance.category for r in all_rows).items())),
        "by_data_type": dict(sorted(Counter(r.provenance.data_type for r in all_rows).items())),
    }
    log.info("wrote %d rows in %d batches, %d rejected", len(all_rows), len(batches), len(rejected))
    return metrics


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True)
    ap.add_argument("--specs", type=Path, required=True)
    ap.add_argument("--repair-plan", type=Path)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rejected", type=Path, required=True)
    ap.add_argument("--metrics", type=Path, required=True)
    a = ap.parse_args(argv)
    metrics = run(load_params(a.params), a.specs, a.repair_plan, a.cache, a.out, a.rejected)
    write_json(a.metrics, metrics)


if __name__ == "__main__":
    main()
