"""Benchmark: eval generation tokens/s, batched vs one-by-one (not a test).

    python bench/eval_batching.py [--rows 48] [--batch-sizes 1 8 16 32] [--adapter outputs/adapters/current]
    python bench/eval_batching.py --rows 128 --batch-sizes 1 8 32 128 --fixed-length   # the GPU figure

Runs the fine-tuned model (or the base model when there is no adapter) over the first dev rows with
greedy decoding at each batch size, through the eval stage's own `modeling.generate` (adapter merged,
bf16 on CUDA); the named baseline is batch size 1, measured in the same run. Prints new tokens/s and
the ratio to batch 1. `--fixed-length` makes every row generate exactly --max-new-tokens tokens (EOS
and the early stop suppressed), so each batch size does identical work, e.g. with random weights.
"""

from __future__ import annotations

import argparse
import json
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
    ap.add_argument("--fixed-length", action="store_true")
    ap.add_argument("--json", help="also append the results here as one JSON line")
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
    device = (torch.cuda.get_device_name() if torch.cuda.is_available()
              else f"cpu x{torch.get_num_threads()} threads")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {device}; torch {torch.__version__}; model "
          f"{'with adapter' if adapter else 'base'}; {len(rows)} dev rows, max_new_tokens {a.max_new_tokens}"
          f"{', fixed length' if a.fixed_length else ''}")
    fixed = {"stop_when_decided": False, "min_new_tokens": a.max_new_tokens} if a.fixed_length else {}
    base, results = None, []
    for bs in a.batch_sizes:
        g = modeling.generate(model, tok, prompts, a.max_new_tokens, bs, **fixed)
        tps = g.new_tokens / g.seconds
        base = base or tps
        results.append({"batch_size": bs, "new_tokens": g.new_tokens, "seconds": round(g.seconds, 3),
                        "tokens_per_second": round(tps, 1), "vs_first": round(tps / base, 2)})
        print(f"batch {bs:>3}: {g.new_tokens} tokens in {g.seconds:.1f}s = {tps:.1f} tokens/s "
              f"({tps / base:.2f}x batch {a.batch_sizes[0]})")
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps({"device": device, "rows": len(rows), "max_new_tokens": a.max_new_tokens,
                                "fixed_length": a.fixed_length, "adapter": bool(adapter),
                                "results": results}) + "\n")


if __name__ == "__main__":
    main()
