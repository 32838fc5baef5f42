"""Compare two versions of a dataset part by part, before any training: rows per template (or category),
and how many rows are unchanged.

A data round means to change some families. Whatever else moves comes with it unasked: a family added to a
quota cell takes rows from the cell's other families, and a change to a shared slot or generator redraws
every row that uses it. Round 14 (docs/quality.md) found both only after a GPU run. This finds them in a
second, on the CPU, from the two row files:

    python -m bench.compare_data --old OLD/train.jsonl --new data/train.jsonl [--by category] [--all]

Prints one JSON line per part, the parts that lost the largest share of their rows first: `old` and `new`
rows, `kept` (rows of the new version whose content-derived id the old version also has, i.e. the same
row) and `change` (new - old). Without `--all`, parts the change left exactly as they were are not printed
but counted on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from slm_factory.rows import read_jsonl

from bench.compare_by_group import part_of


def _parts(rows: list[dict], by: str) -> pd.DataFrame:
    return pd.DataFrame({"id": [r["id"] for r in rows], "part": [part_of(r, by) for r in rows]},
                        columns=["id", "part"])


def compare(old: list[dict], new: list[dict], by: str = "template") -> list[dict]:
    """One record per part of either version: its old and new row counts, the new rows that are the very
    rows of the old version (same id), and the change; the largest relative loss first."""
    o, n = _parts(old, by), _parts(new, by)
    kept = n[n["id"].isin(set(o["id"]))]
    table = pd.DataFrame({"old": o.groupby("part").size(), "new": n.groupby("part").size(),
                          "kept": kept.groupby("part").size()}).fillna(0).astype(int)
    table["change"] = table["new"] - table["old"]
    table["_order"] = table["change"] / table["old"].clip(lower=1)
    table = table.sort_values(["_order", "change"], kind="stable").drop(columns="_order")
    return [{"part": part, **{k: int(v) for k, v in row.items()}} for part, row in table.iterrows()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True, help="the earlier version's rows (e.g. its train.jsonl)")
    ap.add_argument("--new", required=True, help="the new version's rows")
    ap.add_argument("--by", choices=["template", "category"], default="template")
    ap.add_argument("--all", action="store_true", help="also print the parts that did not change at all")
    a = ap.parse_args()
    lines = compare(read_jsonl(a.old), read_jsonl(a.new), a.by)
    same = [x for x in lines if x["old"] == x["new"] == x["kept"]]
    for line in lines:
        if a.all or line not in same:
            print(json.dumps(line, ensure_ascii=False))
    print(f"{len(same)} of {len(lines)} parts (by {a.by}) unchanged, row for row", file=sys.stderr)


if __name__ == "__main__":
    main()
