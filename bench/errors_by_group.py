"""A model's wrong rows with each row's template group, and where they cluster.

Eval's prediction records (scripts/eval.py, `predictions_*.jsonl`) carry a row's id but not its template
group, which lives in the eval set's provenance. A held-out pattern that fails as a whole shows only when the
two are joined: that is how the GPU rounds in docs/quality.md name the groups behind a missed gate.

    python bench/errors_by_group.py PRED.jsonl --rows data/eval/dev.jsonl [--out errors_dev.jsonl]

Writes one JSON line per row that is not exact (id, group, user, expected, predicted, label_correct,
required_ok) to --out, or to stdout, and prints to stderr the wrong-tool rows per group and the
right-tool, wrong-required-argument rows per template.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from slm_factory.error_analysis import template_of
from slm_factory.rows import read_jsonl

KEPT = ("user", "expected", "predicted", "label_correct", "required_ok")  # after id and group


def errors(preds: list[dict], rows: list[dict]) -> list[dict]:
    """The records of `preds` that are not exact, in order, each with its row's template group. Raises
    KeyError naming the first prediction whose id no row of `rows` has: predictions scored on another
    eval set would otherwise be joined to nothing in silence."""
    group = {r["id"]: r["provenance"]["group"] for r in rows}
    missing = [p["id"] for p in preds if p["id"] not in group]
    if missing:
        raise KeyError(f"{len(missing)} predictions have no row in the eval set given, e.g. {missing[0]}")
    return [{"id": p["id"], "group": group[p["id"]], **{k: p.get(k) for k in KEPT}}
            for p in preds if not p["exact"]]


def clusters(errs: list[dict]) -> dict[str, dict[str, int]]:
    """Wrong-tool rows per group, and right-tool rows with a wrong required argument per template, most first."""
    tool = Counter(e["group"] for e in errs if not e["label_correct"])
    args = Counter(template_of(e["group"]) for e in errs if e["label_correct"] and e["required_ok"] is False)
    return {"wrong_tool_by_group": dict(tool.most_common()), "wrong_required_args_by_template": dict(args.most_common())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("predictions", help="eval's prediction records for one set (JSONL)")
    ap.add_argument("--rows", required=True, help="that set's rows, with provenance.group")
    ap.add_argument("--out", help="where the wrong rows go (default: stdout)")
    a = ap.parse_args()
    errs = errors(read_jsonl(a.predictions), read_jsonl(a.rows))
    lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errs)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(lines)
    else:
        sys.stdout.write(lines)
    print(json.dumps({"wrong": len(errs), **clusters(errs)}), file=sys.stderr)


if __name__ == "__main__":
    main()
