"""Running a model (or any predictor) over eval sets and scoring it (baseline, eval, export_eval), and the eval
stage's report of a model (`evaluate_model`, `write_report`)."""

from __future__ import annotations

import csv
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import modeling
from .common import write_json
from .grammar import ContractGrammar
from .metrics import Scored, confusion_rows, headline_figures, release_gates, score_row, summarize
from .rows import Row, read_rows, write_jsonl
from .spec import SpecError, TaskSpec

log = logging.getLogger("slm_factory.eval")  # the stage script gives it its handler (common.get_logger)


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
              max_new_tokens: int, batch_size: int, grammar: ContractGrammar | None = None
              ) -> tuple[dict[str, list[Scored]], dict]:
    """`grammar`: decode inside it (per request where it is per-request; compiling those is timed apart
    from generation, as `grammar_seconds`)."""
    scored, seconds, new_tokens, latencies, grammar_seconds = {}, 0.0, 0, [], 0.0
    # The system prompt and few-shot turns are the same for every row: encode them once.
    prefix = None
    if shots:
        prefix = modeling.render(tok, messages_for(shots[0], system, shots)[:-1], add_generation_prompt=False)
    for name, rows in sets.items():
        prompts = [modeling.render(tok, messages_for(r, system, shots)) for r in rows]
        t0 = time.perf_counter()
        compiled = grammar.for_requests([r.requests for r in rows]) if grammar is not None else None
        grammar_seconds += time.perf_counter() - t0
        gen = modeling.generate(model, tok, prompts, max_new_tokens, batch_size,
                                prefix=prefix if prefix and all(p.startswith(prefix) for p in prompts) else None,
                                grammar=compiled)
        seconds += gen.seconds
        new_tokens += gen.new_tokens
        latencies += gen.latencies
        scored[name] = [score_row(r, t, spec, name) for r, t in zip(rows, gen.texts)]
    # Timings go to the stage's timings file only: no other stage may depend on run-to-run noise.
    speed = {"generation_seconds": round(seconds, 2), "new_tokens": new_tokens,
             "tokens_per_second": round(new_tokens / seconds, 1) if seconds else None,
             "latency_ms_mean": round(1000 * sum(latencies) / len(latencies), 2) if latencies else None}
    if grammar is not None and grammar.per_request:
        speed["grammar_seconds"] = round(grammar_seconds, 2)
    return scored, speed


def run_function(fn: Callable[[str], str], sets: dict[str, list[Row]], spec: TaskSpec) -> dict[str, list[Scored]]:
    return {name: [score_row(r, fn(r.user), spec, name) for r in rows] for name, rows in sets.items()}


def summaries(scored: dict[str, list[Scored]], spec: TaskSpec) -> dict[str, dict]:
    return {name: summarize(s, spec) for name, s in scored.items()}


def write_predictions(out_dir: Path, prefix: str, scored: dict[str, list[Scored]]) -> None:
    for name, s in scored.items():
        write_jsonl(out_dir / f"{prefix}{name}.jsonl", [x.to_dict() for x in s])


def sets_to_score(sets: dict[str, list[Row]], spec: TaskSpec, pipeline: bool) -> dict[str, list[Row]]:
    """The eval stage's sets: an empty set no role names is dropped (data/eval/production.jsonl before any
    production log is imported: no figure is better than a 0/0 one). In the pipeline form every set the
    spec gives a role must be there (test only on release); a missing one is a SpecError."""
    ev = spec.eval
    for name in [s for s, rows in sets.items() if not rows and s not in ev.sets]:
        log.info("%s: empty, not scored", name)
    kept = {s: rows for s, rows in sets.items() if rows or s in ev.sets}
    if pipeline:
        missing = [s for s, role in ev.sets.items() if role != "test" and s not in kept]
        if missing:
            raise SpecError(f"{spec.eval_path()}: sets: {missing} have roles but no --eval file of that name "
                            f"was given (got {sorted(kept)})")
    return kept


@dataclass
class ModelEval:
    """One model scored on eval sets: per-row scores and per-set summaries, the same inside the contract's
    JSON grammar when asked for (else None), and generation speed."""
    scored: dict[str, list[Scored]]
    results: dict[str, dict]
    constrained: dict[str, dict] | None
    speed: dict


def evaluate_model(model, tok, sets: dict[str, list[Row]], spec: TaskSpec, cfg, predictions: Path) -> ModelEval:
    """Score `sets` with the model (`cfg`: the eval params group) and write each row's prediction under
    `predictions` (predictions_<set>.jsonl; constrained_<set>.jsonl too when `cfg.constrained`)."""
    # Checked before any decoding: a spec error must not cost a whole free pass first.
    copied = spec.eval.copied_names if cfg.constrained == "copy" else frozenset()
    if cfg.constrained == "copy" and not copied:
        raise SpecError(f"eval.constrained: copy needs the copied strings declared in {spec.eval_path()} "
                        f"(fields: <name>: {{kind: text, copied: true}} or {{kind: arguments, copied: [keys]}})")
    scored, speed = run_model(model, tok, sets, spec, spec.system_prompt, [], cfg.max_new_tokens, cfg.batch_size)
    write_predictions(predictions, "predictions_", scored)
    constrained = None
    if cfg.constrained:
        # The same model, decoding inside the contract's JSON grammar (xgrammar), and with `copy` also
        # copying eval.yaml's copied strings from the request: what constrained serving would score,
        # and what it costs in speed, measured in this run.
        grammar = ContractGrammar(tok, model, spec.json_schema(), copied,
                                  whole_words=spec.eval.whole_word_copies)
        c_scored, c_speed = run_model(model, tok, sets, spec, spec.system_prompt, [], cfg.max_new_tokens,
                                      cfg.batch_size, grammar=grammar)
        write_predictions(predictions, "constrained_", c_scored)
        constrained = summaries(c_scored, spec)
        speed.update(constrained_tokens_per_second=c_speed["tokens_per_second"],
                     constrained_seconds=c_speed["generation_seconds"],
                     constrained_time_ratio=round(c_speed["generation_seconds"] / speed["generation_seconds"], 2)
                     if speed["generation_seconds"] else None)
        if "grammar_seconds" in c_speed:
            speed["constrained_grammar_seconds"] = c_speed["grammar_seconds"]
    return ModelEval(scored, summaries(scored, spec), constrained, speed)


def write_report(result: ModelEval, spec: TaskSpec, out: Path, metrics: Path | None) -> dict:
    """details.json (every figure and gate) and confusion.csv (of the first set) under `out`, and the headline
    figures: to `metrics` (the pipeline's DVC metrics) or else out/metrics.json. Gates are judged on test
    when it was scored (a release decision), else on dev. Returns the gates."""
    ev, results, constrained = spec.eval, result.results, result.constrained
    main_set = next((s for role in ("test", "dev") for s in results if ev.role_of(s) == role), next(iter(results)))
    gates = release_gates(results, spec, main_set)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "confusion.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["actual", "predicted"])
        w.writeheader()
        w.writerows(confusion_rows(result.scored[next(iter(result.scored))]))
    write_json(out / "details.json", {"summaries": results, "release_gates": gates, "gates_judged_on": main_set,
                                      **({"constrained": constrained} if constrained else {})})

    def headline(sets: dict[str, dict]) -> dict:
        return {s: {ev.headline: r.get(ev.headline)} for s, r in sets.items()}

    passed = sum(1 for g in gates.values() if isinstance(g, dict) and g["pass"])
    if metrics:
        write_json(metrics, {**headline(results), "release_gates": {"all_pass": gates["all_pass"], "passed": passed},
                             **({"constrained": headline(constrained)} if constrained else {})})
    else:
        write_json(out / "metrics.json", {s: headline_figures(r) for s, r in results.items()})
    return gates
