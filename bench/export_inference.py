"""Benchmark: batch-1 generation speed of the exported GGUFs under llama.cpp against the merged model
under transformers (the baseline, measured in the same run on the same prompts).

    python bench/export_inference.py --merged outputs/merged --gguf outputs/gguf \
        --rows data/eval/golden.jsonl --specs specs --n 20 --repeat 3

Prints new tokens/s per artifact (median and spread over the repeats) and the ratio to transformers
batch 1. Every artifact answers the same prompts greedily, one at a time (the way a local assistant
calls it); the token limit is eval.max_new_tokens' default, 64.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from pathlib import Path

from slm_factory.export import run_gguf, run_transformers
from slm_factory.rows import read_rows
from slm_factory.spec import TaskSpec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--merged", type=Path, default=Path("outputs/merged"))
    ap.add_argument("--gguf", type=Path, default=Path("outputs/gguf"))
    ap.add_argument("--rows", type=Path, default=Path("data/eval/golden.jsonl"))
    ap.add_argument("--specs", type=Path, default=Path("specs"))
    ap.add_argument("--n", type=int, default=20, help="prompts per repeat")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    a = ap.parse_args()
    spec = TaskSpec.load(a.specs)
    sets = {"bench": read_rows(a.rows)[:a.n]}
    runners = {"transformers batch 1 (merged, fp32)":
               lambda: run_transformers(a.merged, sets, spec, a.max_new_tokens, 1)}
    for q in ("q8_0", "q4_k_m"):
        path = a.gguf / f"model-{q}.gguf"
        if path.exists():
            runners[f"llama.cpp {q}"] = lambda p=path: run_gguf(p, sets, spec, a.max_new_tokens, os.cpu_count())
    rates: dict[str, list[float]] = {}
    for _ in range(a.repeat):
        for name, run in runners.items():
            r = run()
            rates.setdefault(name, []).append(r.new_tokens / r.seconds)
    base = statistics.median(rates["transformers batch 1 (merged, fp32)"])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{a.n} prompts x {a.repeat} repeats")
    print("| artifact | tokens/s median | min-max | vs transformers batch 1 |")
    print("|---|---:|---:|---:|")
    for name, xs in rates.items():
        med = statistics.median(xs)
        print(f"| {name} | {med:.1f} | {min(xs):.1f}-{max(xs):.1f} | {med / base:.2f}x |")


if __name__ == "__main__":
    main()
