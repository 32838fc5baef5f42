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
from pathlib import Path

from slm_factory import modeling
from slm_factory.common import get_logger, load_params, write_json
from slm_factory.evaluation import evaluate_model, load_sets, sets_to_score, write_report
from slm_factory.spec import TaskSpec

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
    sets = sets_to_score(load_sets(paths, cfg.limit, spec), spec, pipeline=a.metrics is not None)
    model, tok = modeling.load(a.base_model, a.adapter)
    result = evaluate_model(model, tok, sets, spec, cfg, a.predictions or a.out)
    write_report(result, spec, a.out, a.metrics)
    if a.timings is not None:
        write_json(a.timings, result.speed)
    log.info("%s: %s", ev.headline, {s: r.get(ev.headline) for s, r in result.results.items()})


if __name__ == "__main__":
    main()
