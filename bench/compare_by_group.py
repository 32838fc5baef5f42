"""Compare two models trained on two versions of the data, on the template groups both eval sets share.

A new data version redraws every row (other values, other quotas), so the two test sets hold different
rows even where they hold the same template groups (the split keeps a group's split across versions).
This scores each model's predictions (scripts/eval.py --predictions) on three parts of its own eval set:
all rows, the rows whose group the old set also holds, and the rows of template families the old data
never had (held-out patterns of new families).

    python bench/compare_by_group.py --old-pred OLD/soup/predictions/predictions_test.jsonl \
        --old-rows OLD_DATA/test.jsonl --old-all OLD_DATA/train.jsonl OLD_DATA/dev.jsonl OLD_DATA/test.jsonl \
        --new-pred NEW/soup/predictions/predictions_test.jsonl --new-rows data/eval/test.jsonl

`--templates ID ...` adds, for each model, its score on the rows of each named template (every pattern of
it, held-out ones included): the families a data change targeted.

Prints one JSON line per (model, part) with every scalar figure eval reports (`metrics.summarize`, so the
definitions are eval's own), e.g. exact_match, tool_accuracy and arguments_required_accuracy.
"""

from __future__ import annotations

import argparse
import json

from slm_factory.error_analysis import template_of
from slm_factory.metrics import Scored, summarize
from slm_factory.rows import read_jsonl
from slm_factory.spec import TaskSpec


def part_of(row: dict, by: str) -> str:
    """The part of a data set a row belongs to: its category, or its template (the group's family)."""
    return row["provenance"]["category"] if by == "category" else template_of(row["provenance"]["group"])


def score(preds: list[dict], spec: TaskSpec) -> dict:
    """Eval's scalar figures over these prediction records (scripts/eval.py writes them as Scored)."""
    summary = summarize([Scored(**p) for p in preds], spec)
    return {k: v for k, v in summary.items() if not isinstance(v, dict)}


def compare(old_pred: list[dict], old_rows: list[dict], old_all: list[dict],
            new_pred: list[dict], new_rows: list[dict], spec: TaskSpec) -> list[dict]:
    """Scores of both models on their own sets, split by whether the old eval set or old data knew the group."""
    group = {r["id"]: r["provenance"]["group"] for r in [*old_rows, *new_rows]}
    old_groups = {group[p["id"]] for p in old_pred}
    old_templates = {template_of(r["provenance"]["group"]) for r in old_all}
    new_shared = [p for p in new_pred if group[p["id"]] in old_groups]
    new_families = [p for p in new_pred if template_of(group[p["id"]]) not in old_templates]
    return [{"model": "old", "part": "all", **score(old_pred, spec)},
            {"model": "new", "part": "all", **score(new_pred, spec)},
            {"model": "new", "part": "groups the old set holds", **score(new_shared, spec)},
            {"model": "new", "part": "families new to the data", **score(new_families, spec)}]


def by_template(model: str, preds: list[dict], rows: list[dict], templates: list[str], spec: TaskSpec) -> list[dict]:
    """Scores of one model on the rows of each named template (all its patterns) in its own eval set: a
    family a data change targeted, measured on both versions although their rows differ."""
    group = {r["id"]: r["provenance"]["group"] for r in rows}
    out = []
    for t in templates:
        mine = [p for p in preds if template_of(group[p["id"]]) == t]
        out.append({"model": model, "part": f"template {t}", **(score(mine, spec) if mine else {"n": 0})})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old-pred", required=True, help="the old model's predictions on its eval set (JSONL)")
    ap.add_argument("--old-rows", required=True, help="the old data's eval set (rows with provenance.group)")
    ap.add_argument("--old-all", nargs="+", required=True, help="every split of the old data (which templates it had)")
    ap.add_argument("--new-pred", required=True, help="the new model's predictions on its eval set (JSONL)")
    ap.add_argument("--new-rows", required=True, help="the new data's eval set")
    ap.add_argument("--specs", default="specs", help="the task's specs folder (how the predictions are scored)")
    ap.add_argument("--templates", nargs="*", default=[],
                    help="template ids (e.g. none_injection_riding): also score each model on each one's rows")
    a = ap.parse_args()
    spec = TaskSpec.load(a.specs)
    old_all = [r for f in a.old_all for r in read_jsonl(f)]
    old_pred, old_rows = read_jsonl(a.old_pred), read_jsonl(a.old_rows)
    new_pred, new_rows = read_jsonl(a.new_pred), read_jsonl(a.new_rows)
    lines = [*compare(old_pred, old_rows, old_all, new_pred, new_rows, spec),
             *by_template("old", old_pred, old_rows, a.templates, spec),
             *by_template("new", new_pred, new_rows, a.templates, spec)]
    for line in lines:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
