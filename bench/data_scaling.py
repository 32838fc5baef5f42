"""Subsets of a training file for a data-scaling curve: fewer template groups, or fewer rows per group.

    python bench/data_scaling.py --train data/train.jsonl --out /tmp/scaling --groups 0.25 0.5 --rows 0.5

Writes OUT/groups_<f>/train.jsonl (a fraction f of each category's template groups, every row of the
groups kept) and OUT/rows_<f>/train.jsonl (every group, a fraction f of each group's rows, at least one),
and OUT/subsets.json with the rows and groups of each. Groups and rows are picked by a seeded hash
(`slm_factory.splitting.unit_rank`), so a smaller subset is contained in a larger one and reruns pick the
same rows. `bench/data_scaling.sh` trains and scores each subset.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from slm_factory.rows import Row, read_rows, write_jsonl
from slm_factory.splitting import unit_rank


def by_group(rows: list[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        groups[r.provenance.group].append(r)
    return groups


def fewer_groups(rows: list[Row], fraction: float, seed: int) -> list[Row]:
    """`fraction` of each category's groups (at least one), whole; rows keep their file order."""
    groups = by_group(rows)
    per_cat: dict[str, list[str]] = defaultdict(list)
    for g, members in groups.items():
        per_cat[members[0].provenance.category].append(g)
    keep = set()
    for gs in per_cat.values():
        gs.sort(key=lambda g: (unit_rank(g, seed), g))
        keep.update(gs[:max(1, math.ceil(fraction * len(gs)))])
    return [r for r in rows if r.provenance.group in keep]


def fewer_rows(rows: list[Row], fraction: float, seed: int) -> list[Row]:
    """Every group, with `fraction` of its rows (at least one); rows keep their file order."""
    keep = set()
    for members in by_group(rows).values():
        ranked = sorted(members, key=lambda r: (unit_rank(r.id, seed), r.id))
        keep.update(r.id for r in ranked[:max(1, math.ceil(fraction * len(members)))])
    return [r for r in rows if r.id in keep]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--groups", type=float, nargs="*", default=[0.25, 0.5])
    ap.add_argument("--rows", type=float, nargs="*", default=[0.5])
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args(argv)
    for f in [*a.groups, *a.rows]:
        if not 0 < f <= 1:
            raise SystemExit(f"fractions must be in (0, 1], got {f}")
    rows = read_rows(a.train)
    subsets = {"full": rows}
    subsets.update({f"groups_{f:g}": fewer_groups(rows, f, a.seed) for f in a.groups})
    subsets.update({f"rows_{f:g}": fewer_rows(rows, f, a.seed) for f in a.rows})
    summary = {}
    for name, subset in subsets.items():
        write_jsonl(a.out / name / "train.jsonl", subset)
        summary[name] = {"rows": len(subset), "groups": len({r.provenance.group for r in subset})}
    (a.out / "subsets.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
