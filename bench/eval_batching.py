"""Benchmark: eval generation tokens/s, batched vs one-by-one (not a test).

    python bench/eval_batching.py [--rows 48] [--batch-sizes 1 8 16 32] [--adapter outputs/adapters/current]

Runs the fine-tuned model (or the base model when there is no adapter) over the first dev rows with
greedy decoding at each batch size; the named baseline is batch size 1, measured in the same run.
Prints new tokens/s and the ratio to batch 1.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=48)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 16, 32])
    ap.add_argument("--base-model", default=str(ROOT / "outputs/base_model"))
    ap.add_argument("--adapter", default=str(ROOT / "outputs/adapters/current"))
    ap.add_argument("--dev", default=str(ROOT / "data/eval/dev.jsonl"))
    ap.add_argument("--max-new-tokens", type=int, default=64)
    a = ap.parse_args()
    import torch

    from slm_factory import modeling
    from slm_factory.evaluation import messages_for
    from slm_factory.rows import read_rows
    from slm_factory.spec import TaskSpec

    spec = TaskSpec.load(ROOT / "specs")
    adapter = a.adapter if Path(a.adapter).exists() else None
    model, tok = modeling.load(a.base_model, adapter)
    rows = read_rows(a.dev)[: a.rows]
    prompts = [modeling.render(tok, messages_for(r, spec.system_prompt)) for r in rows]
    modeling.generate(model, tok, prompts[:4], 8, 4)  # warm-up, not timed
    device = "cuda" if torch.cuda.is_available() else f"cpu x{torch.get_num_threads()} threads"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {device}; model "
          f"{'with adapter' if adapter else 'base'}; {len(rows)} dev rows, max_new_tokens {a.max_new_tokens}")
    base = None
    for bs in a.batch_sizes:
        g = modeling.generate(model, tok, prompts, a.max_new_tokens, bs)
        tps = g.new_tokens / g.seconds
        base = base or tps
        print(f"batch {bs:>3}: {g.new_tokens} tokens in {g.seconds:.1f}s = {tps:.1f} tokens/s "
              f"({tps / base:.2f}x batch {a.batch_sizes[0]})")


if __name__ == "__main__":
    main()
