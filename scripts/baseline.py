"""baseline: score the alternatives the fine-tune must beat, on every eval set.

    python scripts/baseline.py --params params.yaml --specs specs --base-model outputs/base_model \
        --train data/train.jsonl --eval data/eval/dev.jsonl data/eval/golden.jsonl \
        data/eval/adversarial.jsonl --out outputs/baselines --metrics metrics/baseline.json \
        --timings outputs/timings/baseline.json

The systems (base, prompted, rules, larger) and how each is run: slm_factory/baselines.py. Writes each
system's per-row predictions (<system>_<set>.jsonl) and summary.json to --out, the headline per system
and set to --metrics, and speed to --timings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from slm_factory.baselines import run_baselines
from slm_factory.common import get_logger, load_params, write_json
from slm_factory.evaluation import load_sets, write_predictions
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
    spec = TaskSpec.load(a.specs)
    got = run_baselines(spec, load_sets(a.eval, params.baseline.limit), read_rows(a.train), a.base_model,
                        params.baseline, params.teacher, params.seed)
    for system, scored in got.scored.items():
        write_predictions(a.out, f"{system}_", scored)
    a.out.mkdir(parents=True, exist_ok=True)
    write_json(a.out / "summary.json", got.results)
    write_json(a.metrics, got.headline(spec.eval.headline))
    if a.timings is not None:
        write_json(a.timings, got.timings)


if __name__ == "__main__":
    main()
