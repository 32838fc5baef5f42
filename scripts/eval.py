"""eval: score the fine-tuned adapter and write the comparison table and release gates.

Pipeline form (dev, golden, adversarial; test too when `eval.release` is true):
    python scripts/eval.py --params params.yaml --specs specs --base-model outputs/base_model \
        --adapter outputs/adapters/current --eval data/eval/dev.jsonl data/eval/golden.jsonl \
        data/eval/adversarial.jsonl --test data/eval/test.jsonl --baselines metrics/baseline.json \
        --train-metrics metrics/train.json --datasets registry/datasets.jsonl --runs registry/runs.jsonl \
        --out outputs/eval_reports --predictions outputs/predictions --metrics metrics/eval.json

Any rows file, outside the pipeline (same metrics, nothing registered):
    python scripts/eval.py --eval some.jsonl --out /tmp/report
(--params, --specs, --base-model and --adapter default to the pipeline's paths.)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

from slm_factory import modeling
from slm_factory.common import get_logger, load_params, read_json, write_json
from slm_factory.evaluation import load_sets, run_model, summaries, write_predictions
from slm_factory.metrics import confusion_rows, release_gates
from slm_factory.registry import append_unique, git_rev, latest, stable_json
from slm_factory.spec import TaskSpec

log = get_logger("eval")
TABLE_METRICS = ["exact_match", "tool_accuracy", "tool_macro_f1", "required_argument_accuracy",
                 "json_parse_rate", "schema_valid_rate", "no_tool_recall", "false_refusal_rate",
                 "unsafe_tool_call_rate"]


def comparison(finetuned: dict, baselines: dict) -> dict:
    """{system: {set: {metric: value}}} for every system that ran; skipped ones carry their reason."""
    table = {}
    for name in ("base", "prompted", "rules", "larger"):
        b = baselines.get(name)
        if b is None:
            continue
        if "skipped" in b:
            table[name] = {"skipped": b["skipped"]}
            continue
        table[name] = {s: {m: v.get(m) for m in TABLE_METRICS} for s, v in b.items() if isinstance(v, dict)
                       and "n" in v}
    table["fine_tuned"] = {s: {m: v.get(m) for m in TABLE_METRICS} for s, v in finetuned.items()}
    return table


def markdown(table: dict, gates: dict, finetuned: dict, speed: dict, train: dict) -> str:
    sets = list(table["fine_tuned"])
    lines = ["# Evaluation report", ""]
    for s in sets:
        lines += [f"## {s} (n={finetuned[s]['n']})", "",
                  "| system | " + " | ".join(TABLE_METRICS) + " |", "|---|" + "---:|" * len(TABLE_METRICS)]
        for name, per_set in table.items():
            if "skipped" in per_set:
                continue
            vals = per_set.get(s)
            if vals is None:
                continue
            cells = ["" if vals.get(m) is None else f"{vals[m]:.3f}" for m in TABLE_METRICS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    skipped = {k: v["skipped"] for k, v in table.items() if "skipped" in v}
    for name, why in skipped.items():
        lines.append(f"- {name}: skipped ({why})")
    lines += ["", "## Release gates", "", "| gate | value | required | pass |", "|---|---:|---|---|"]
    for name, g in gates.items():
        if isinstance(g, dict):
            lines.append(f"| {name} | {g['value']} | {g['required']} | {'PASS' if g['pass'] else 'FAIL'} |")
    lines += ["", f"All gates pass: **{gates['all_pass']}**", "", "## Speed", "",
              f"- generation: {speed.get('tokens_per_second')} new tokens/s batched "
              f"({speed.get('new_tokens')} tokens in {speed.get('generation_seconds')} s)",
              f"- training: {train.get('steps')} steps in {train.get('train_seconds')} s "
              f"({train.get('tokens_per_second')} tokens/s, backend {train.get('backend')})", ""]
    dev = finetuned.get("dev") or next(iter(finetuned.values()))
    lines += ["## Fine-tuned, by data type (first set)", "", "| data type | n | exact | tool acc |", "|---|---:|---:|---:|"]
    for k, v in dev.get("by_data_type", {}).items():
        lines.append(f"| {k} | {v['n']} | {v['exact_match']} | {v['tool_accuracy']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--specs", type=Path, default=Path("specs"))
    ap.add_argument("--base-model", type=Path, default=Path("outputs/base_model"))
    ap.add_argument("--adapter", type=Path, default=Path("outputs/adapters/current"))
    ap.add_argument("--eval", type=Path, nargs="+", required=True)
    ap.add_argument("--test", type=Path, help="scored only when eval.release is true")
    ap.add_argument("--baselines", type=Path)
    ap.add_argument("--train-metrics", type=Path)
    ap.add_argument("--datasets", type=Path)
    ap.add_argument("--runs", type=Path, help="append a run record here (pipeline form only)")
    ap.add_argument("--out", type=Path, required=True, help="folder for the report files")
    ap.add_argument("--predictions", type=Path, help="folder for per-row predictions (default: --out)")
    ap.add_argument("--metrics", type=Path)
    a = ap.parse_args(argv)
    params = load_params(a.params)
    cfg = params["eval"]
    spec = TaskSpec.load(a.specs)
    paths = list(a.eval) + ([a.test] if a.test and cfg.get("release") else [])
    sets = load_sets(paths, int(cfg.get("limit", 0)))
    model, tok = modeling.load(a.base_model, a.adapter)
    scored, speed = run_model(model, tok, sets, spec, spec.system_prompt, [], int(cfg["max_new_tokens"]),
                              int(cfg["batch_size"]))
    a.out.mkdir(parents=True, exist_ok=True)
    write_predictions(a.predictions or a.out, "predictions_", scored)
    results = summaries(scored, spec)
    main_set = "test" if "test" in results else next(iter(results))
    gates = release_gates(results[main_set], results.get("adversarial"))
    first = next(iter(scored))
    with (a.out / "confusion.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["actual", "predicted"])
        w.writeheader()
        w.writerows(confusion_rows(scored[first]))
    baselines = read_json(a.baselines) if a.baselines and a.baselines.exists() else {}
    train = read_json(a.train_metrics) if a.train_metrics and a.train_metrics.exists() else {}
    table = comparison(results, baselines)
    (a.out / "report.md").write_text(markdown(table, gates, results, speed, train))
    write_json(a.out / "comparison.json", table)
    metrics = {**{s: {k: v for k, v in r.items() if k not in ("by_category", "by_data_type",
                                                              "per_argument_accuracy")}
                  for s, r in results.items()},
               "speed": speed, "release_gates": {k: (v["pass"] if isinstance(v, dict) else v)
                                                 for k, v in gates.items()},
               "gates_judged_on": main_set}
    write_json(a.metrics or a.out / "metrics.json", metrics)
    write_json(a.out / "details.json", {"summaries": results, "release_gates": gates})
    log.info("%s", {s: (r.get("exact_match"), r.get("tool_accuracy")) for s, r in results.items()})

    if a.runs:
        dataset = latest(a.datasets) if a.datasets else None
        run_params = {k: params.get(k) for k in ("base_model", "lora_rank", "lora_alpha", "learning_rate",
                                                 "epochs", "train")}
        record = {"dataset_version": (dataset or {}).get("version"), "git_rev": git_rev(),
                  "params": run_params, "train": train, "adapter": str(a.adapter),
                  "metrics": {s: {m: r.get(m) for m in TABLE_METRICS} for s, r in results.items()},
                  "release_gates_pass": gates["all_pass"]}
        # The id is the content of what was run and measured, so a rerun that changes nothing adds no line.
        record = {"run_id": hashlib.sha256(stable_json({k: record[k] for k in ("dataset_version", "params",
                                                                                "metrics")}).encode()).hexdigest()[:12],
                  **record}
        if append_unique(a.runs, record, "run_id"):
            log.info("registered run %s in %s", record["run_id"], a.runs)


if __name__ == "__main__":
    main()
