"""The baseline stage's logic: the alternatives the fine-tune must beat, scored on every eval set.

(a) base: the base model with the task's system prompt; (b) prompted: the base model with the full
catalog prompt and few-shot examples from train; (c) rules: the task's rules.py `route(text)`, when it
has one; (d) larger: a bigger model through the teacher's API, when one is configured (else skipped,
with the reason). Baselines depend on data, the base model and the teacher, never on LoRA params.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from . import modeling
from .config import Baseline, Teacher
from .evaluation import few_shot, run_function, run_model, summaries
from .metrics import Scored, score_row
from .rows import Row
from .spec import TaskSpec
from .teachers.factory import llm_teacher

log = logging.getLogger("slm_factory.baseline")


@dataclass
class Baselines:
    """Per system: every figure per set (or {"skipped": why}), the per-row scores, the speed."""
    results: dict[str, dict] = field(default_factory=dict)
    scored: dict[str, dict[str, list[Scored]]] = field(default_factory=dict)
    timings: dict[str, dict] = field(default_factory=dict)

    def headline(self, metric: str) -> dict[str, dict]:
        """{system: {set: headline figure}} for the systems that ran: what `dvc exp show` lists."""
        return {name: {s: v.get(metric) for s, v in per_set.items() if isinstance(v, dict) and "n" in v}
                for name, per_set in self.results.items() if "skipped" not in per_set}


def run_baselines(spec: TaskSpec, sets: dict[str, list[Row]], train: list[Row], base_model: Path, cfg: Baseline,
                  teacher: Teacher, seed: int) -> Baselines:
    """Score base, prompted, rules and larger on `sets` (see the module docstring)."""
    out = Baselines()
    head = spec.eval.headline

    def note(name: str) -> None:
        log.info("%s: %s %s", name, head, {k: v.get(head) for k, v in out.results[name].items() if isinstance(v, dict)})

    model, tok = modeling.load(base_model)
    out.scored["base"], out.timings["base"] = run_model(model, tok, sets, spec, spec.system_prompt, [],
                                                        cfg.max_new_tokens, cfg.batch_size)
    out.results["base"] = summaries(out.scored["base"], spec)
    note("base")

    shots = few_shot(train, cfg.few_shot, seed)
    out.scored["prompted"], out.timings["prompted"] = run_model(model, tok, sets, spec, spec.prompted_system_prompt,
                                                                shots, cfg.max_new_tokens, cfg.batch_size)
    out.results["prompted"] = {**summaries(out.scored["prompted"], spec), "few_shot_ids": [s.id for s in shots]}
    note("prompted")

    rules = spec.rules_module()
    if rules is not None and callable(getattr(rules, "route", None)):
        out.scored["rules"] = run_function(lambda text: spec.canonical(rules.route(text)), sets, spec)
        out.results["rules"] = summaries(out.scored["rules"], spec)
        note("rules")
    else:
        out.results["rules"] = {"skipped": f"{spec.root}/{spec.raw.get('rules', 'rules.py')} defines no route(text)"}

    if teacher.provider == "template":
        out.results["larger"] = {"skipped": "teacher.provider is 'template': no larger model is configured"}
        return out
    llm = llm_teacher(spec, teacher, seed)
    scored, seconds = {}, 0.0
    for name, rows in sets.items():
        texts, took = llm.answer_all(spec.prompted_system_prompt, [r.user for r in rows], cfg.max_new_tokens * 4)
        seconds += took
        scored[name] = [score_row(r, t, spec, name) for r, t in zip(rows, texts)]
    out.scored["larger"], out.timings["larger"] = scored, {"seconds": round(seconds, 2)}
    out.results["larger"] = {**summaries(scored, spec), "model": teacher.model, "errors": len(llm.stats.errors)}
    note(f"larger ({teacher.model})")
    return out
