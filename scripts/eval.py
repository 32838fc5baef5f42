"""eval: score the fine-tuned adapter and write the comparison table and release gates.

Pipeline form (every eval set the task's eval.yaml names; test too when `eval.release` is true):
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
from slm_factory.metrics import confusion_rows, headline_figures, release_gates
from slm_factory.registry import append_unique, git_rev, latest, stable_json
from slm_factory.spec import SpecError, TaskSpec

log = get_logger("eval")
SYSTEMS = ("base", "prompted", "rules", "larger")


def comparison(finetuned: dict, baselines: dict, columns: list[str], constrained: dict | None = None) -> dict:
    """{system: {set: {metric: value}}} for every system that ran; skipped ones carry their reason."""
    table = {}
    for name in SYSTEMS:
        b = baselines.get(name)
        if b is None:
            continue
        if "skipped" in b:
            table[name] = {"skipped": b["skipped"]}
            continue
        table[name] = {s: {m: v.get(m) for m in columns} for s, v in b.items() if isinstance(v, dict)
                       and "n" in v}
    table["fine_tuned"] = {s: {m: v.get(m) for m in columns} for s, v in finetuned.items()}
    if constrained:
        table["fine_tuned_constrained"] = {s: {m: v.get(m) for m in columns} for s, v in constrained.items()}
    return table


def _cell(v) -> str:
    return "" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(table: dict, gates: dict, finetuned: dict, speed: dict, train: dict, spec: TaskSpec) -> str:
    ev = spec.eval
    columns = ev.columns()
    sets = list(table["fine_tuned"])
    lines = ["# Evaluation report", "", f"Task `{spec.name}`; headline metric: `{ev.headline}`.", ""]
    for s in sets:
        role = ev.role_of(s)
        lines += [f"## {s} (n={finetuned[s]['n']}{', role ' + role if role else ''})", "",
                  "| system | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
        for name, per_set in table.items():
            vals = None if "skipped" in per_set else per_set.get(s)
            if vals is not None:
                lines.append(f"| {name} | " + " | ".join(_cell(vals.get(m)) for m in columns) + " |")
        lines.append("")
    for name, per_set in table.items():
        if "skipped" in per_set:
            lines.append(f"- {name}: skipped ({per_set['skipped']})")
    lines += ["", "## Headline: fine-tuned against each system", "",
              "| set | fine-tuned | " + " | ".join(n for n in table if n != "fine_tuned" and "skipped" not in table[n])
              + " |", "|---|---:|" + "---:|" * sum(1 for n in table if n != "fine_tuned" and "skipped" not in table[n])]
    for s in sets:
        others = [_cell((table[n].get(s) or {}).get(ev.headline)) for n in table
                  if n != "fine_tuned" and "skipped" not in table[n]]
        lines.append(f"| {s} | {_cell(finetuned[s].get(ev.headline))} | " + " | ".join(others) + " |")
    lines += ["", "## Release gates", "", "| gate | set | value | required | pass |", "|---|---|---:|---|---|"]
    for name, g in gates.items():
        if isinstance(g, dict):
            why = f" ({g['why']})" if g.get("why") else ""
            lines.append(f"| {name} | {g['set']} | {_cell(g['value'])} | {g['required']} | "
                         f"{'PASS' if g['pass'] else 'FAIL'}{why} |")
    lines += ["", f"All gates pass: **{gates['all_pass']}**", "",
              "## Fine-tuned, every figure", "", "| metric | " + " | ".join(sets) + " |", "|---|" + "---:|" * len(sets)]
    for m in ev.metric_names():
        if any(finetuned[s].get(m) is not None for s in sets):
            lines.append(f"| {m} | " + " | ".join(_cell(finetuned[s].get(m)) for s in sets) + " |")
    lines += ["", "## Speed", "",
              f"- generation: {speed.get('tokens_per_second')} new tokens/s batched "
              f"({speed.get('new_tokens')} tokens in {speed.get('generation_seconds')} s)"
              + (f"; constrained decoding: {speed['constrained_tokens_per_second']} tokens/s, "
                 f"{speed['constrained_time_ratio']}x the time" if "constrained_time_ratio" in speed else ""),
              f"- training: {train.get('steps')} steps in {train.get('train_seconds')} s "
              f"({train.get('tokens_per_second')} tokens/s, backend {train.get('backend')})", ""]
    first = finetuned.get(ev.set_with_role("dev") or "") or next(iter(finetuned.values()))
    group_cols = [k for k in next(iter(first.get("by_data_type", {}).values()), {}) if k != "n"]
    lines += ["## Fine-tuned, by data type (dev)", "", "| data type | n | " + " | ".join(group_cols) + " |",
              "|---|---:|" + "---:|" * len(group_cols)]
    for k, v in first.get("by_data_type", {}).items():
        lines.append(f"| {k} | {v['n']} | " + " | ".join(_cell(v.get(c)) for c in group_cols) + " |")
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
    ev = spec.eval
    paths = list(a.eval) + ([a.test] if a.test and cfg.get("release") else [])
    sets = load_sets(paths, int(cfg.get("limit", 0)), spec)
    if a.runs:  # the pipeline form scores every set the spec gives a role (test only on release)
        missing = [s for s, role in ev.sets.items() if role != "test" and s not in sets]
        if missing:
            raise SpecError(f"{spec.eval_path()}: sets: {missing} have roles but no --eval file of that name "
                            f"was given (got {sorted(sets)})")
    model, tok = modeling.load(a.base_model, a.adapter)
    scored, speed = run_model(model, tok, sets, spec, spec.system_prompt, [], int(cfg["max_new_tokens"]),
                              int(cfg["batch_size"]))
    a.out.mkdir(parents=True, exist_ok=True)
    write_predictions(a.predictions or a.out, "predictions_", scored)
    results = summaries(scored, spec)
    constrained = None
    if cfg.get("constrained"):
        # The same model, decoding inside the contract's JSON grammar (xgrammar): what constrained
        # serving would score, and what it costs in speed, measured in this run.
        grammar = modeling.json_grammar(tok, model, spec.json_schema())
        c_scored, c_speed = run_model(model, tok, sets, spec, spec.system_prompt, [], int(cfg["max_new_tokens"]),
                                      int(cfg["batch_size"]), grammar=grammar)
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
    baselines = read_json(a.baselines) if a.baselines and a.baselines.exists() else {}
    train = read_json(a.train_metrics) if a.train_metrics and a.train_metrics.exists() else {}
    table = comparison(results, baselines, ev.columns(), constrained)
    (a.out / "report.md").write_text(markdown(table, gates, results, speed, train, spec))
    write_json(a.out / "comparison.json", table)
    metrics = {**{s: headline_figures(r) for s, r in results.items()},
               "speed": speed, "release_gates": {k: (v["pass"] if isinstance(v, dict) else v)
                                                 for k, v in gates.items()},
               "gates_judged_on": main_set,
               **({"constrained": {s: headline_figures(r) for s, r in constrained.items()}} if constrained else {})}
    write_json(a.metrics or a.out / "metrics.json", metrics)
    write_json(a.out / "details.json", {"summaries": results, "release_gates": gates})
    log.info("%s: %s", ev.headline, {s: r.get(ev.headline) for s, r in results.items()})

    if a.runs:
        dataset = latest(a.datasets) if a.datasets else None
        run_params = {k: params.get(k) for k in ("base_model", "lora_rank", "lora_alpha", "learning_rate",
                                                 "epochs", "train")}
        record = {"task": spec.name, "dataset_version": (dataset or {}).get("version"), "git_rev": git_rev(),
                  "params": run_params, "train": train, "adapter": str(a.adapter),
                  "metrics": {s: {m: r.get(m) for m in ev.columns()} for s, r in results.items()},
                  "release_gates_pass": gates["all_pass"]}
        # The id is the content of what was run and measured, so a rerun that changes nothing adds no line.
        record = {"run_id": hashlib.sha256(stable_json({k: record[k] for k in ("dataset_version", "params",
                                                                                "metrics")}).encode()).hexdigest()[:12],
                  **record}
        if append_unique(a.runs, record, "run_id"):
            log.info("registered run %s in %s", record["run_id"], a.runs)


if __name__ == "__main__":
    main()
