"""eval: score the fine-tuned adapter on every eval set and judge its release gates.

Pipeline form (every eval set the task's eval.yaml names; test too when `eval.release` is true):
    python scripts/eval.py --params params.yaml --specs specs --base-model outputs/base_model \
        --adapter outputs/adapters/current --eval data/eval/dev.jsonl data/eval/golden.jsonl \
        data/eval/adversarial.jsonl --test data/eval/test.jsonl --out outputs/eval_reports \
        --predictions outputs/predictions --metrics metrics/eval.json --timings outputs/timings/eval.json

Writes details.json (every figure and gate) and confusion.csv under --out; the report stage sets these
beside the baselines. Any rows file, outside the pipeline (same figures in --out/metrics.json):
    python scripts/eval.py --eval some.jsonl --out /tmp/report
(--params, --specs, --base-model and --adapter default to the pipeline's paths.)
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from slm_factory import modeling
from slm_factory.common import get_logger, load_params, write_json
from slm_factory.evaluation import load_sets, run_model, summaries, write_predictions
from slm_factory.metrics import confusion_rows, headline_figures, release_gates
from slm_factory.spec import SpecError, TaskSpec

log = get_logger("eval")
PARAMS = ("eval",)  # exactly the stage's params in dvc.yaml
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"),
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--specs", type=Path, default=Path("specs"), help="the task's specs/ folder")
    ap.add_argument("--base-model", type=Path, default=Path("outputs/base_model"),
                    help="the prepared base model folder (prepare_base's output)")
    ap.add_argument("--adapter", type=Path, default=Path("outputs/adapters/current"),
                    help="the trained LoRA adapter folder")
    ap.add_argument("--eval", type=Path, nargs="+", required=True, help="eval sets to score (JSONL rows)")
    ap.add_argument("--test", type=Path, help="scored only when eval.release is true")
    ap.add_argument("--out", type=Path, required=True, help="folder for details.json and confusion.csv")
    ap.add_argument("--predictions", type=Path, help="folder for per-row predictions (default: --out)")
    ap.add_argument("--metrics", type=Path, help="pipeline form: the headline figures (DVC metrics); every set "
                                                 "the spec gives a role must then be given")
    ap.add_argument("--timings", type=Path, help="out: generation speed (no stage depends on it)")
    a = ap.parse_args(argv)
    params = load_params(a.params, PARAMS)
    cfg = params.eval
    spec = TaskSpec.load(a.specs)
    ev = spec.eval
    paths = list(a.eval) + ([a.test] if a.test and cfg.release else [])
    sets = load_sets(paths, cfg.limit, spec)
    # A set no role names may be empty (data/eval/production.jsonl before any production log is
    # imported): there is nothing to score, and no figure is better than a 0/0 one.
    for name in [s for s, rows in sets.items() if not rows and s not in ev.sets]:
        log.info("%s: empty, not scored", name)
        del sets[name]
    if a.metrics:  # the pipeline form scores every set the spec gives a role (test only on release)
        missing = [s for s, role in ev.sets.items() if role != "test" and s not in sets]
        if missing:
            raise SpecError(f"{spec.eval_path()}: sets: {missing} have roles but no --eval file of that name "
                            f"was given (got {sorted(sets)})")
    model, tok = modeling.load(a.base_model, a.adapter)
    scored, speed = run_model(model, tok, sets, spec, spec.system_prompt, [], cfg.max_new_tokens, cfg.batch_size)
    a.out.mkdir(parents=True, exist_ok=True)
    write_predictions(a.predictions or a.out, "predictions_", scored)
    results = summaries(scored, spec)
    constrained = None
    if cfg.constrained:
        # The same model, decoding inside the contract's JSON grammar (xgrammar): what constrained
        # serving would score, and what it costs in speed, measured in this run.
        grammar = modeling.json_grammar(tok, model, spec.json_schema())
        c_scored, c_speed = run_model(model, tok, sets, spec, spec.system_prompt, [], cfg.max_new_tokens,
                                      cfg.batch_size, grammar=grammar)
        write_predictions(a.predictions or a.out, "constrained_", c_scored)
        constrained = summaries(c_scored, spec)
        speed.update(constrained_tokens_per_second=c_speed["tokens_per_second"],
                     constrained_seconds=c_speed["generation_seconds"],
                     constrained_time_ratio=round(c_speed["generation_seconds"] / speed["generation_seconds"], 2)
                     if speed["generation_seconds"] else None)
    # Gates are judged on test when it was scored (a release decision), else on dev.
    main_set = next((s for role in ("test", "dev") for s in results if ev.role_of(s) == role), next(iter(results)))
    gates = release_gates(results, spec, main_set)
    first = next(iter(scored))
    with (a.out / "confusion.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["actual", "predicted"])
        w.writeheader()
        w.writerows(confusion_rows(scored[first]))
    write_json(a.out / "details.json", {"summaries": results, "release_gates": gates, "gates_judged_on": main_set,
                                        **({"constrained": constrained} if constrained else {})})
    if a.metrics:
        write_json(a.metrics, {**{s: {ev.headline: r.get(ev.headline)} for s, r in results.items()},
                               "release_gates": {"all_pass": gates["all_pass"],
                                                 "passed": sum(1 for g in gates.values()
                                                               if isinstance(g, dict) and g["pass"])},
                               **({"constrained": {s: {ev.headline: r.get(ev.headline)} for s, r in constrained.items()}}
                                  if constrained else {})})
    else:
        write_json(a.out / "metrics.json", {s: headline_figures(r) for s, r in results.items()})
    if a.timings is not None:
        write_json(a.timings, speed)
    log.info("%s: %s", ev.headline, {s: r.get(ev.headline) for s, r in results.items()})


if __name__ == "__main__":
    main()
