"""report: set the fine-tuned model's figures beside every baseline, and register the run.

    python scripts/report.py --params params.yaml --specs specs --details outputs/eval_reports/details.json \
        --baselines outputs/baselines/summary.json --train-details outputs/details/train.json \
        --splits data/train.jsonl data/eval/dev.jsonl data/eval/test.jsonl --adapter outputs/adapters/current \
        --report outputs/eval_reports/report.md --comparison outputs/eval_reports/comparison.json \
        --run registry/run.json

Reads only deterministic figures (eval's and baseline's details, train's figures), so a baseline
change reruns baseline and this step, never eval; a timing never reruns it. Every run ever committed
or run as an experiment: `python scripts/runs.py list`; one run's data and adapter back:
`python scripts/runs.py restore RUN_ID`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from slm_factory.common import get_logger, load_params, read_json, write_json
from slm_factory.report import comparison, markdown, run_record
from slm_factory.spec import TaskSpec

log = get_logger("report")
# exactly the stage's params in dvc.yaml
PARAMS = (
    "task", "base_model", "lora_rank", "lora_alpha", "learning_rate", "epochs", "train", "eval",
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True,
                    help="params.yaml (only the keys this stage declares in dvc.yaml are read, validated first)")
    ap.add_argument("--specs", type=Path, required=True, help="the task's specs/ folder")
    ap.add_argument("--details", type=Path, required=True, help="eval's details.json")
    ap.add_argument("--baselines", type=Path, required=True, help="baseline's summary.json")
    ap.add_argument("--train-details", type=Path, required=True, help="train's figures (no timings)")
    ap.add_argument("--splits", type=Path, nargs=3, required=True, help="train, dev and test rows: the dataset "
                                                                         "version the run trained on")
    ap.add_argument("--adapter", type=Path, required=True, help="the adapter folder (hashed into the record)")
    ap.add_argument("--report", type=Path, required=True, help="out: the markdown report")
    ap.add_argument("--comparison", type=Path, required=True, help="out: {system: {set: {metric: value}}}")
    ap.add_argument("--run", type=Path, required=True, help="out: this run's record (JSON)")
    a = ap.parse_args(argv)
    params = load_params(a.params, PARAMS)
    spec = TaskSpec.load(a.specs)
    details, train = read_json(a.details), read_json(a.train_details)
    results, gates = details["summaries"], details["release_gates"]
    table = comparison(results, read_json(a.baselines), spec.eval.columns(), details.get("constrained"))
    a.report.parent.mkdir(parents=True, exist_ok=True)
    a.report.write_text(markdown(table, gates, results, train, spec))
    write_json(a.comparison, table)
    record = run_record(spec, params, list(a.splits), a.adapter, results, gates, train)
    write_json(a.run, record)
    log.info("run %s: dataset %s, adapter %s", record["run_id"], record["dataset_version"], record["adapter_sha256"])


if __name__ == "__main__":
    main()
