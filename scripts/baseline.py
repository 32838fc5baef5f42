"""baseline: score the alternatives the fine-tune must beat, on every eval set.

    python scripts/baseline.py --params params.yaml --specs specs --base-model outputs/base_model \
        --train data/train.jsonl --eval data/eval/dev.jsonl data/eval/golden.jsonl \
        data/eval/adversarial.jsonl --out outputs/baselines --metrics metrics/baseline.json \
        --timings outputs/timings/baseline.json

(a) base: the base model with the task's system prompt; (b) prompted: the base model with the full
catalog prompt and few-shot examples from train; (c) rules: specs/rules.py's route(text), when it has one;
(d) larger: a bigger model through the teacher provider, when one is configured (else skipped, with
the reason recorded). Baselines depend on data and the base model, never on LoRA params.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from slm_factory import modeling
from slm_factory.common import get_logger, load_params, write_json
from slm_factory.evaluation import few_shot, load_sets, run_function, run_model, summaries, write_predictions
from slm_factory.metrics import score_row
from slm_factory.teachers.factory import llm_teacher
from slm_factory.rows import read_rows
from slm_factory.spec import TaskSpec

log = get_logger("baseline")
PARAMS = ("seed", "baseline", "teacher")  # exactly the stage's params in dvc.yaml


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--specs", type=Path, required=True, help="the task's specs/ folder")
    ap.add_argument("--base-model", type=Path, required=True,
                    help="the prepared base model folder (prepare_base's output)")
    ap.add_argument("--train", type=Path, required=True, help="training rows (the few-shot examples come from here)")
    ap.add_argument("--eval", type=Path, nargs="+", required=True, help="eval sets to score (JSONL rows)")
    ap.add_argument("--out", type=Path, required=True,
                    help="out: per-row predictions and summary.json (every figure of every system)")
    ap.add_argument("--metrics", type=Path, required=True, help="out: each system's headline per set (DVC metrics)")
    ap.add_argument("--timings", type=Path, help="out: generation speed per system (no stage depends on it)")
    a = ap.parse_args(argv)
    params = load_params(a.params, PARAMS)
    cfg = params.baseline
    spec = TaskSpec.load(a.specs)
    sets = load_sets(a.eval, cfg.limit)
    results: dict[str, dict] = {}

    model, tok = modeling.load(a.base_model)
    mnt, bs = cfg.max_new_tokens, cfg.batch_size
    scored, speed = run_model(model, tok, sets, spec, spec.system_prompt, [], mnt, bs)
    write_predictions(a.out, "base_", scored)
    timings = {"base": speed}
    results["base"] = summaries(scored, spec)
    head = spec.eval.headline
    log.info("base: %s %s", head, {k: v.get(head) for k, v in results["base"].items() if isinstance(v, dict)})

    shots = few_shot(read_rows(a.train), cfg.few_shot, params.seed)
    scored, speed = run_model(model, tok, sets, spec, spec.prompted_system_prompt, shots, mnt, bs)
    write_predictions(a.out, "prompted_", scored)
    timings["prompted"] = speed
    results["prompted"] = {**summaries(scored, spec), "few_shot_ids": [s.id for s in shots]}
    log.info("prompted: %s %s", head, {k: v.get(head) for k, v in results["prompted"].items() if isinstance(v, dict)})

    rules = spec.rules_module()
    if rules is not None and callable(getattr(rules, "route", None)):
        scored = run_function(lambda text: spec.canonical(rules.route(text)), sets, spec)
        write_predictions(a.out, "rules_", scored)
        results["rules"] = summaries(scored, spec)
        log.info("rules: %s %s", head, {k: v.get(head) for k, v in results["rules"].items()})
    else:
        results["rules"] = {"skipped": f"{a.specs}/{spec.raw.get('rules', 'rules.py')} defines no route(text)"}

    tcfg = params.teacher
    if tcfg.provider == "template":
        results["larger"] = {"skipped": "teacher.provider is 'template': no larger model is configured"}
    else:
        llm = llm_teacher(spec, tcfg, params.seed)
        scored, seconds = {}, 0.0
        for name, rows in sets.items():
            texts, took = llm.answer_all(spec.prompted_system_prompt, [r.user for r in rows], mnt * 4)
            seconds += took
            scored[name] = [score_row(r, t, spec, name) for r, t in zip(rows, texts)]
        timings["larger"] = {"seconds": round(seconds, 2)}
        write_predictions(a.out, "larger_", scored)
        results["larger"] = {**summaries(scored, spec), "model": tcfg.model,
                             "errors": len(llm.stats.errors)}
        log.info("larger (%s): %s %s", tcfg.model, head, {k: v.get(head) for k, v in results["larger"].items()
                                                                 if isinstance(v, dict)})
    a.out.mkdir(parents=True, exist_ok=True)
    write_json(a.out / "summary.json", results)
    write_json(a.metrics, headline(results, head))
    if a.timings is not None:
        write_json(a.timings, timings)


def headline(results: dict[str, dict], metric: str) -> dict[str, dict]:
    """{system: {set: headline figure}} for the systems that ran: what `dvc exp show` lists."""
    return {name: {s: v.get(metric) for s, v in per_set.items() if isinstance(v, dict) and "n" in v}
            for name, per_set in results.items() if "skipped" not in per_set}


if __name__ == "__main__":
    main()
