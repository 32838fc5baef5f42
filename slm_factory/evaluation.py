"""Running a model (or any predictor) over eval sets and scoring it; shared by baseline and eval."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

from . import modeling
from .metrics import Scored, score_row, summarize
from .rows import Row, read_rows, write_jsonl
from .spec import SpecError, TaskSpec


def load_sets(paths: list[Path], limit: int = 0, spec: TaskSpec | None = None) -> dict[str, list[Row]]:
    """{set name (file stem): rows}; `limit` > 0 keeps the first rows of each (CI's tiny profile).
    With a spec, a set the spec gives a role must exist: its absence is a spec error naming the set."""
    sets = {}
    for p in paths:
        if spec is not None and not p.exists() and p.stem in spec.eval.sets:
            raise SpecError(f"{spec.eval_path()}: sets.{p.stem}: role '{spec.eval.sets[p.stem]}' maps to "
                            f"{p}, which does not exist")
        rows = read_rows(p)
        sets[p.stem] = rows[:limit] if limit and limit > 0 else rows
    return sets


def few_shot(train: list[Row], k: int, seed: int) -> list[Row]:
    """k training rows, one category after another so every category is shown before any repeats."""
    rng = random.Random(seed)
    by_cat: dict[str, list[Row]] = {}
    for r in train:
        by_cat.setdefault(r.provenance.category, []).append(r)
    pools = {c: rng.sample(v, len(v)) for c, v in sorted(by_cat.items())}
    out: list[Row] = []
    while len(out) < k and any(pools.values()):
        for c in list(pools):
            if pools[c] and len(out) < k:
                out.append(pools[c].pop())
    return out


def messages_for(row: Row, system: str, shots: list[Row] = ()) -> list[dict]:
    """The prompt the model answers `row` from: `system`, the few-shot exchanges, then the row's own
    conversation up to its answer (its history, for a multi-turn row, and the request)."""
    msgs = [{"role": "system", "content": system}]
    for s in shots:
        msgs += [{"role": "user", "content": s.user}, {"role": "assistant", "content": s.assistant}]
    return msgs + row.prompt[1:]


def run_model(model, tok, sets: dict[str, list[Row]], spec: TaskSpec, system: str, shots: list[Row],
              max_new_tokens: int, batch_size: int, grammar=None) -> tuple[dict[str, list[Scored]], dict]:
    scored, seconds, new_tokens, latencies = {}, 0.0, 0, []
    # The system prompt and few-shot turns are the same for every row: encode them once.
    prefix = None
    if shots:
        prefix = modeling.render(tok, messages_for(shots[0], system, shots)[:-1], add_generation_prompt=False)
    for name, rows in sets.items():
        prompts = [modeling.render(tok, messages_for(r, system, shots)) for r in rows]
        gen = modeling.generate(model, tok, prompts, max_new_tokens, batch_size,
                                prefix=prefix if prefix and all(p.startswith(prefix) for p in prompts) else None,
                                grammar=grammar)
        seconds += gen.seconds
        new_tokens += gen.new_tokens
        latencies += gen.latencies
        scored[name] = [score_row(r, t, spec, name) for r, t in zip(rows, gen.texts)]
    # Timings go to the stage's timings file only: no other stage may depend on run-to-run noise.
    speed = {"generation_seconds": round(seconds, 2), "new_tokens": new_tokens,
             "tokens_per_second": round(new_tokens / seconds, 1) if seconds else None,
             "latency_ms_mean": round(1000 * sum(latencies) / len(latencies), 2) if latencies else None}
    return scored, speed


def run_function(fn: Callable[[str], str], sets: dict[str, list[Row]], spec: TaskSpec) -> dict[str, list[Scored]]:
    return {name: [score_row(r, fn(r.user), spec, name) for r in rows] for name, rows in sets.items()}


def summaries(scored: dict[str, list[Scored]], spec: TaskSpec) -> dict[str, dict]:
    return {name: summarize(s, spec) for name, s in scored.items()}


def write_predictions(out_dir: Path, prefix: str, scored: dict[str, list[Scored]]) -> None:
    for name, s in scored.items():
        write_jsonl(out_dir / f"{prefix}{name}.jsonl", [x.to_dict() for x in s])
