"""Score models trained on different versions of the data on the same rows.

Each data version draws its own dev and test rows, so two versions' own scores come from different rows.
This builds one set that every version can be scored on: an earlier eval set, minus the rows whose
template group any of the newer train sets holds (those would be seen in training, not held out). Then it
scores each model's predictions on that set, using only the rows every model was scored on.

    python -m bench.shared_heldout build --old OLD/test.jsonl --train data/train.jsonl [OTHER/train.jsonl ...] \
        --out shared.jsonl
    EXTRA_EVAL=shared.jsonl bash bench/gpu_soup.sh OUT model.gguf "42 7" "42 7"   # predictions_shared.jsonl
    python -m bench.shared_heldout score --rows shared.jsonl \
        --pred old=OLD/soup-42-7/predictions/predictions_test.jsonl new=OUT/soup-42-7/predictions/predictions_shared.jsonl

`build` prints how many rows and groups it kept, and for each train set how many kept rows have every
computed answer value (a duration in seconds, a date) in that train set (`slm_factory.diversity.value_coverage`),
with the fields below full coverage: a version that lost a value the shared rows ask for loses those rows.
`score` prints one JSON line per model, with eval's own figures (`metrics.summarize`), n (the number of
shared rows) and wrong (those not exactly right); `--by category` (or `template`) adds one line per model
and category, so a gain in one place and a loss in another do not cancel out unseen. Each model after the
first is also compared with the first, row by row (`slm_factory.paired`): `only_first_right`,
`only_this_right` and `p_sign`, the exact two-sided sign test on those discordant rows (McNemar's exact
test). Seeds of one recipe differ by a few points, so a difference with a large p is not yet a difference.
"""

from __future__ import annotations

import argparse
import json
import sys

from slm_factory.diversity import value_coverage
from slm_factory.paired import paired, verdicts
from slm_factory.rows import Row, read_jsonl, write_jsonl
from slm_factory.spec import TaskSpec

from bench.compare_by_group import part_of, score


def heldout_rows(old_rows: list[dict], trains: list[list[dict]]) -> list[dict]:
    """The old eval rows whose template group is in none of the train sets, in their order."""
    trained = {r["provenance"]["group"] for rows in trains for r in rows}
    return [r for r in old_rows if r["provenance"]["group"] not in trained]


def score_shared(rows: list[dict], preds: dict[str, list[dict]], spec: TaskSpec,
                 by: str | None = None) -> list[dict]:
    """Each model's figures on the rows of `rows` that every model has a prediction for: one line per
    model for all of them, then (with `by`: "category" or "template") one per model and part, so a change
    that helps one category and costs another shows where. `wrong` counts the rows not exactly right.
    Every model after the first also carries `only_first_right`, `only_this_right` and `p_sign` against the
    first (`slm_factory.paired.paired`), on the same rows."""
    ids = {r["id"] for r in rows}
    for p in preds.values():
        ids &= {x["id"] for x in p}
    part = {r["id"]: part_of(r, by) for r in rows} if by else {}
    out = []
    for want in ["all", *sorted({part[i] for i in ids})] if by else ["all"]:
        first = None
        for name, p in preds.items():
            mine = [x for x in p if x["id"] in ids and want in ("all", part.get(x["id"]))]
            label = want if want == "all" else f"{by} {want}"
            line = {"model": name, "part": label, "wrong": sum(not x["exact"] for x in mine), **score(mine, spec)}
            right = verdicts(mine)
            if first is None:
                first = right
            else:  # the same rows for every model here, so paired's n is this line's n
                line.update({k: v for k, v in paired(first, right).items() if k.startswith(("only_", "p_"))})
            out.append(line)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="an old eval set minus the groups the newer train sets hold")
    b.add_argument("--old", required=True, help="the earlier eval set (rows with provenance.group)")
    b.add_argument("--train", nargs="+", required=True, help="the newer versions' train sets")
    b.add_argument("--out", required=True)
    s = sub.add_parser("score", help="score every model on the rows all of them were scored on")
    s.add_argument("--rows", required=True, help="the file `build` wrote")
    s.add_argument("--pred", nargs="+", required=True, metavar="NAME=FILE", help="predictions (scripts/eval.py)")
    s.add_argument("--specs", default="specs", help="the task's specs folder (how the predictions are scored)")
    s.add_argument("--by", choices=["category", "template"], help="also score each category or template apart")
    a = ap.parse_args()
    if a.cmd == "build":
        old = read_jsonl(a.old)
        trains = [read_jsonl(f) for f in a.train]
        kept = heldout_rows(old, trains)
        write_jsonl(a.out, kept)
        groups = len({r["provenance"]["group"] for r in kept})
        print(f"kept {len(kept)} of {len(old)} rows, {groups} groups -> {a.out}", file=sys.stderr)
        held = [Row.model_validate(r) for r in kept]
        for name, rows in zip(a.train, trains):
            c = value_coverage([Row.model_validate(r) for r in rows], held)
            low = {p: (f["coverage"], f["unseen_values"]) for p, f in c["fields"].items() if f["unseen"]}
            print(f"{name}: values covered in {c['rows_covered']} of kept rows; {low}", file=sys.stderr)
        return
    named = dict(x.split("=", 1) for x in a.pred)
    lines = score_shared(read_jsonl(a.rows), {k: read_jsonl(v) for k, v in named.items()}, TaskSpec.load(a.specs),
                         by=a.by)
    for line in lines:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
