"""Benchmark: what copy-constrained decoding costs, free vs any-substring vs whole-word copies (not a test).

    python bench/copy_grammar.py [--rows 64] [--repeats 3] [--batch-size 16] [--adapter outputs/adapters/current]

Runs the fine-tuned model over the first eval rows three ways through the eval stage's own
`modeling.generate`: free (the named baseline), inside `grammar.ContractGrammar` with `copy_boundary:
any`, and with `word`. Each repeat runs the three in a rotated order, so drift on a shared machine does
not always fall on one mode. Compiling the per-row grammars is timed apart from generation. Prints the
median and the spread (min-max) of the generation seconds, the ratio of each median to free's, the
compile time a row, and how many answers differ between the modes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--base-model", default=str(ROOT / "outputs/base_model"))
    ap.add_argument("--adapter", default=str(ROOT / "outputs/adapters/current"))
    ap.add_argument("--eval", default=str(ROOT / "data/eval/dev.jsonl"))
    ap.add_argument("--specs", default=str(ROOT / "specs"))
    ap.add_argument("--max-new-tokens", type=int, default=64)
    a = ap.parse_args()
    import torch

    from slm_factory import modeling
    from slm_factory.evaluation import messages_for
    from slm_factory.grammar import ContractGrammar
    from slm_factory.rows import read_rows
    from slm_factory.spec import TaskSpec

    spec = TaskSpec.load(Path(a.specs))
    adapter = a.adapter if Path(a.adapter).exists() else None
    model, tok = modeling.load(a.base_model, adapter)
    rows = read_rows(a.eval)[: a.rows]
    prompts = [modeling.render(tok, messages_for(r, spec.system_prompt)) for r in rows]
    requests = [r.requests for r in rows]
    modeling.generate(model, tok, prompts[:4], 8, 4)  # warm-up, not timed
    grammars, compile_s = {"free": None}, {}
    for mode in ("any", "word"):
        cg = ContractGrammar(tok, model, spec.json_schema(), spec.eval.copied_names, whole_words=mode == "word")
        t0 = time.perf_counter()
        grammars[mode] = cg.for_requests(requests)
        compile_s[mode] = time.perf_counter() - t0
    device = (torch.cuda.get_device_name() if torch.cuda.is_available()
              else f"cpu x{torch.get_num_threads()} threads")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {device}; torch {torch.__version__}; "
          f"{len(rows)} rows of {Path(a.eval).name}, batch {a.batch_size}, {a.repeats} repeats")
    modes = list(grammars)
    seconds: dict[str, list[float]] = {m: [] for m in modes}
    texts: dict[str, list[str]] = {}
    for r in range(a.repeats):
        for m in modes[r % len(modes):] + modes[: r % len(modes)]:
            g = modeling.generate(model, tok, prompts, a.max_new_tokens, a.batch_size, grammar=grammars[m])
            seconds[m].append(g.seconds)
            texts[m] = g.texts
    base = statistics.median(seconds["free"])
    for m in modes:
        med = statistics.median(seconds[m])
        extra = f", compile {1000 * compile_s[m] / len(rows):.1f} ms a row" if m in compile_s else ""
        print(f"{m:>5}: median {med:.1f}s (min {min(seconds[m]):.1f}, max {max(seconds[m]):.1f}), "
              f"{med / base:.2f}x free{extra}")
    for m in ("any", "word"):
        print(f"answers differing from free ({m}): {sum(x != y for x, y in zip(texts['free'], texts[m]))}")
    print(f"answers differing any vs word: {sum(x != y for x, y in zip(texts['any'], texts['word']))}")


if __name__ == "__main__":
    main()
