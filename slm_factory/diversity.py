"""How varied a dataset is: the measured property that decides whether a model learns the task or the
templates. Counted per split: template groups (overall and per category), distinct inputs, distinct-2
(distinct word bigrams / all bigrams of the inputs), and the casing spread of every string value in the
answers (a slot whose values are all capitalised teaches the model to capitalise what users type), and how
many of the values an eval set's answers derive from its inputs train ever shows (value_coverage)."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from typing import Any

from .rows import Row

WORD_RE = re.compile(r"\w+", re.UNICODE)


def distinct_n(texts: list[str], n: int = 2) -> float | None:
    grams = [tuple(ws[i:i + n]) for t in texts for ws in [WORD_RE.findall(t.lower())] for i in range(len(ws) - n + 1)]
    return round(len(set(grams)) / len(grams), 4) if grams else None


def casing(value: str) -> str:
    letters = [c for c in value if c.isalpha()]
    if not letters:
        return "none"
    if all(c.islower() for c in letters):
        return "lower"
    if all(c.isupper() for c in letters):
        return "upper"
    return "capitalised" if letters[0].isupper() else "mixed"  # "Call Mum", "Dr. Okafor" / "iPhone"


def _leaves(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in _leaves(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), obj)]


def value_casing(rows: list[Row], skip: set[str] = frozenset()) -> dict[str, dict[str, int]]:
    """{answer field path: {casing: count}} over string values (fields in `skip`, e.g. the label, left out)."""
    out: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        try:
            obj = json.loads(r.assistant)
        except ValueError:
            continue
        for path, v in _leaves(obj):
            if isinstance(v, str) and path.split(".")[0] not in skip:
                out[path][casing(v)] += 1
    return {k: dict(sorted(c.items())) for k, c in sorted(out.items())}


def diversity(rows: list[Row]) -> dict:
    by_cat: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_cat[r.provenance.category].add(r.provenance.group)
    return {"rows": len(rows), "groups": len({r.provenance.group for r in rows}),
            "distinct_inputs": len({r.user.strip().lower() for r in rows}),
            "distinct_2": distinct_n([r.user for r in rows]),
            "groups_by_category": {c: len(g) for c, g in sorted(by_cat.items())}}


def answer_values(answer: str) -> set[tuple[str, str]]:
    """Every (field path, value as text) of an answer; empty when it is not JSON."""
    try:
        return {(p, str(v)) for p, v in _leaves(json.loads(answer))}
    except ValueError:
        return set()


def values_shown(rows: list[Row]) -> set[tuple[str, str]]:
    """Every (field path, value) that some answer of `rows` holds: what a model trained on them has seen."""
    return {pv for r in rows for pv in answer_values(r.assistant)}


def derived_values(answer: str, user: str) -> list[tuple[str, str]]:
    """(answer field path, value) for each value the answer computes rather than copies: a leaf whose text
    does not occur in the input (case-insensitive), e.g. 315 from "5m15s" or 2026-12-03 from "december 3"."""
    try:
        obj = json.loads(answer)
    except ValueError:
        return []
    said = user.lower()
    return [(path, str(v)) for path, v in _leaves(obj)
            if v is not None and not isinstance(v, bool) and str(v).strip() and str(v).lower() not in said]


def unseen_values(answer: str, user: str, seen: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (field path, value) pairs the answer computes from the input (`derived_values`) that no train
    answer shows at that field (`seen`: `values_shown(train)`)."""
    return [pv for pv in derived_values(answer, user) if pv not in seen]


def value_coverage(train: list[Row], held: list[Row]) -> dict:
    """How many of the values `held`'s answers derive from their inputs appear at the same field in some
    train answer. A small model learns a normalisation (a duration in seconds, a date, a currency code) value
    by value: a held-out row whose derived value train never shows is mostly answered wrong, so a redraw
    that loses coverage loses accuracy before any training. Returns rows (held rows with a derived value),
    rows_covered (share of those whose every derived value train shows) and, per field, derived / unseen /
    coverage, with up to five unseen values."""
    seen = values_shown(train)
    per: dict[str, list[str]] = defaultdict(list)
    unseen: dict[str, list[str]] = defaultdict(list)
    rows = covered = 0
    for r in held:
        pairs = derived_values(r.assistant, r.user)
        if not pairs:
            continue
        missing = [pv for pv in pairs if pv not in seen]  # unseen_values, without parsing the answer again
        rows += 1
        covered += not missing
        for path, v in pairs:
            per[path].append(v)
        for path, v in missing:
            unseen[path].append(v)
    fields = {path: {"derived": len(vs), "unseen": len(unseen[path]),
                     "coverage": round(1 - len(unseen[path]) / len(vs), 4),
                     "unseen_values": sorted(set(unseen[path]))[:5]}
              for path, vs in sorted(per.items())}
    return {"rows": rows, "rows_covered": round(covered / rows, 4) if rows else None, "fields": fields}
