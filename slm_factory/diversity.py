"""How varied a dataset is: the measured property that decides whether a model learns the task or the
templates. Counted per split: template groups (overall and per category), distinct inputs, distinct-2
(distinct word bigrams / all bigrams of the inputs), and the casing spread of every string value in the
answers (a slot whose values are all capitalised teaches the model to capitalise what users type)."""

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
