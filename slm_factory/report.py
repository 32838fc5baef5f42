"""The evaluation report: the fine-tuned model beside every baseline, its release gates, and the run
record that ties the figures to the exact data, adapter and params that made them.

Built from eval's and baseline's details (deterministic figures, no timings), so a baseline change
reruns only this cheap step after baseline, never eval.
"""

from __future__ import annotations

from pathlib import Path

from .config import Params, as_dict
from .registry import content_version, folder_sha256, record_id
from .spec import TaskSpec

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


def markdown(table: dict, gates: dict, finetuned: dict, train: dict, spec: TaskSpec) -> str:
    """The evaluation report: every system per set, the headline against each, the gates, every
    fine-tuned figure and the figures by data type. Speed is not here: timings live in
    outputs/timings/, which no stage reads, so their noise reruns nothing."""
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
    lines += ["", training_note(train),
              "Speed (generation tokens/s, training time) is in outputs/timings/: no stage reads it.", ""]
    first = finetuned.get(ev.set_with_role("dev") or "") or next(iter(finetuned.values()))
    group_cols = [k for k in next(iter(first.get("by_data_type", {}).values()), {}) if k != "n"]
    lines += ["## Fine-tuned, by data type (dev)", "", "| data type | n | " + " | ".join(group_cols) + " |",
              "|---|---:|" + "---:|" * len(group_cols)]
    for k, v in first.get("by_data_type", {}).items():
        lines.append(f"| {k} | {v['n']} | " + " | ".join(_cell(v.get(c)) for c in group_cols) + " |")
    return "\n".join(lines) + "\n"


def training_note(train: dict) -> str:
    return (f"Training: {train.get('steps')} steps on {train.get('train_rows')} rows, backend "
            f"{train.get('backend')}, final loss {train.get('final_loss')}, dev loss {train.get('final_dev_loss')}.")


def run_record(spec: TaskSpec, params: Params, splits: list[Path], adapter: Path, results: dict,
               gates: dict, train: dict) -> dict:
    """One run: the dataset version of the splits it actually trained and was judged on (the same
    content hash split records), the adapter's hash, every param that shaped it and the headline
    figures. No commit or experiment name: git holds those (registry.history), and a record that
    changed with every commit would rerun the stages reading it."""
    ev = spec.eval
    record = {
        "task": spec.name,
        "dataset_version": content_version(splits),
        "adapter_sha256": folder_sha256(adapter),
        "params": {k: as_dict(params)[k] for k in ("task", "base_model", "lora_rank", "lora_alpha", "learning_rate",
                                                   "epochs", "train", "eval")},
        "train": train,
        "metrics": {s: {m: r.get(m) for m in ev.columns()} for s, r in results.items()},
        "release_gates_pass": gates["all_pass"],
    }
    # The id is the content of what was run and measured: a rerun that changes nothing keeps its id.
    return {"run_id": record_id(record, ("dataset_version", "adapter_sha256", "params", "metrics")), **record}
