"""Compare two models trained on two versions of the data, on the template groups both eval sets share.

A new data version redraws every row (other values, other quotas), so the two test sets hold different
rows even where they hold the same template groups (the split keeps a group's split across versions).
This scores each model's predictions (scripts/eval.py --predictions) on three parts of its own eval set:
all rows, the rows whose group the old set also holds, and the rows of template families the old data
never had (held-out patterns of new families).

    python bench/compare_by_group.py --old-pred OLD/soup/predictions/predictions_test.jsonl \
        --old-rows OLD_DATA/test.jsonl --old-all OLD_DATA/train.jsonl OLD_DATA/dev.jsonl OLD_DATA/test.jsonl \
        --new-pred NEW/soup/predictions/predictions_test.jsonl --new-rows data/eval/test.jsonl

Prints one JSON line per (model, part): rows, tool accuracy, exact match, required-argument accuracy.
"""

from __future__ import annotations

import argparse
import json

from slm_factory.rows import read_jsonl


def template_of(group: str) -> str:
    return group.split("#")[0]


def score(preds: list[dict]) -> dict:
    """Tool accuracy, exact match and required-argument accuracy (over rows that have required arguments)."""
    with_args = [p for p in preds if p.get("required_ok") is not None]
    n = len(preds)
    return {"rows": n,
            "tool_accuracy": round(sum(bool(p["label_correct"]) for p in preds) / n, 4) if n else None,
            "exact_match": round(sum(bool(p["exact"]) for p in preds) / n, 4) if n else None,
            "arguments_required_accuracy": round(sum(bool(p["required_ok"]) for p in with_args) / len(with_args), 4)
            if with_args else None}


def compare(old_pred: list[dict], old_rows: list[dict], old_all: list[dict],
            new_pred: list[dict], new_rows: list[dict]) -> list[dict]:
    """Scores of both models on their own sets, split by whether the old eval set or old data knew the group."""
    group = {r["id"]: r["provenance"]["group"] for r in [*old_rows, *new_rows]}
    old_groups = {group[p["id"]] for p in old_pred}
    old_templates = {template_of(r["provenance"]["group"]) for r in old_all}
    new_shared = [p for p in new_pred if group[p["id"]] in old_groups]
    new_families = [p for p in new_pred if template_of(group[p["id"]]) not in old_templates]
    return [{"model": "old", "part": "all", **score(old_pred)},
            {"model": "new", "part": "all", **score(new_pred)},
            {"model": "new", "part": "groups the old set holds", **score(new_shared)},
            {"model": "new", "part": "families new to the data", **score(new_families)}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old-pred", required=True, help="the old model's predictions on its eval set (JSONL)")
    ap.add_argument("--old-rows", required=True, help="the old data's eval set (rows with provenance.group)")
    ap.add_argument("--old-all", nargs="+", required=True, help="every split of the old data (which templates it had)")
    ap.add_argument("--new-pred", required=True, help="the new model's predictions on its eval set (JSONL)")
    ap.add_argument("--new-rows", required=True, help="the new data's eval set")
    a = ap.parse_args()
    old_all = [r for f in a.old_all for r in read_jsonl(f)]
    for line in compare(read_jsonl(a.old_pred), read_jsonl(a.old_rows), old_all,
                        read_jsonl(a.new_pred), read_jsonl(a.new_rows)):
        print(json.dumps(line))


if __name__ == "__main__":
    main()
