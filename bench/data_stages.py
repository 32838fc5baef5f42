"""Benchmark: validate and dedupe throughput on synthetic sets (not a test).

    python bench/data_stages.py [--sizes 10000 100000] [--semantic-sizes 10000]

Rows come from the default task's template teacher (distinct seeds per size). Prints, per size:
validate rows/s (all gates, real tokenizer), exact+MinHash dedupe seconds and rows/s, and the
semantic stage's time against the named baseline "raw MiniLM encode of the same rows", measured in
the same run, and validate's time against "pydantic parsing the same lines into rows". Goals (2-core machine): validate >= 10k rows/s; exact+MinHash on 100k <= 30 s;
semantic stage <= 1.25x raw encode.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def synthetic(n: int, seed: int):
    from slm_factory.generation import response_to_rows
    from slm_factory.spec import TaskSpec
    from slm_factory.teachers.base import plan_requests
    from slm_factory.teachers.template import TemplateTeacher

    spec = TaskSpec.load(ROOT / "specs")
    teacher = TemplateTeacher(spec, seed)
    reqs = plan_requests(spec, n)
    rows = []
    for r, resp in zip(reqs, teacher.complete(reqs)):
        rows.extend(response_to_rows(resp, r, spec, "bench", "template", "template")[0])
    return spec, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--semantic-sizes", type=int, nargs="+", default=[10_000])
    ap.add_argument("--tokenizer", default=str(ROOT / "outputs/base_model"))
    a = ap.parse_args()
    import numpy as np
    import torch

    from slm_factory import embeddings
    from slm_factory.dedupe import Thresholds, greedy_dedupe
    from slm_factory.rows import Row, dump_line
    from slm_factory.tokens import chat_token_counter

    from slm_factory.validation import validate_batches

    count = chat_token_counter(a.tokenizer)
    th = Thresholds(minhash=0.8, semantic=0.95, num_perm=128, shingle_size=5)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, torch threads {torch.get_num_threads()}")
    results = {}
    for n in sorted(set(a.sizes) | set(a.semantic_sizes)):
        spec, rows = synthetic(n, seed=n)
        lines = {"bench": [(i + 1, dump_line(r)) for i, r in enumerate(rows)]}
        t = time.perf_counter()
        validate_batches(lines, spec, count, 256, 4)
        v = time.perf_counter() - t
        # The named baseline: pydantic alone parsing the same lines into rows (what any reader pays).
        t = time.perf_counter()
        for _, line in lines["bench"]:
            Row.model_validate_json(line)
        parse = time.perf_counter() - t
        texts = [r.user for r in rows]
        t = time.perf_counter()
        drops = greedy_dedupe(texts, th, embed=None)
        d = time.perf_counter() - t
        res = {"rows": n, "validate_rows_per_s": round(n / v), "validate_s": round(v, 2),
               "pydantic_parse_s": round(parse, 2), "validate_over_pydantic_parse": round(v / parse, 2),
               "exact_minhash_s": round(d, 2), "exact_minhash_rows_per_s": round(n / d),
               "dropped_exact_minhash": len(drops)}
        if n in a.semantic_sizes:
            embeddings.load(embeddings.BUNDLED)  # model load is not part of either timing
            alive = [texts[i] for i in range(n) if i not in {x.index for x in drops}]
            t = time.perf_counter()
            embeddings.encode(embeddings.BUNDLED, alive)
            enc = time.perf_counter() - t
            t = time.perf_counter()
            greedy_dedupe(texts, th, embed=lambda xs: embeddings.encode(embeddings.BUNDLED, xs))
            full = time.perf_counter() - t
            sem = full - d  # the semantic stage on top of exact+MinHash
            res.update(raw_encode_s=round(enc, 2), semantic_stage_s=round(sem, 2),
                       semantic_over_raw_encode=round(sem / enc, 3))
        results[n] = res
        print(json.dumps(res))
    del np


if __name__ == "__main__":
    main()
