"""Leakage-safe, category-stratified train/dev/test assignment.

Rows that share a group key (the template pattern or scenario they came from) or sit in one semantic
cluster are merged into one unit; whole units are assigned greedily to the split whose per-category
quota is furthest from full, so categories keep the requested ratios and no unit straddles splits.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict


class UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def units(groups: list[str], edges: list[tuple[int, int]] = ()) -> list[int]:
    """Unit id per row: rows with equal group keys, or joined by an edge, share a unit."""
    uf = UnionFind(len(groups))
    first: dict[str, int] = {}
    for i, g in enumerate(groups):
        if g in first:
            uf.union(first[g], i)
        else:
            first[g] = i
    for a, b in edges:
        uf.union(a, b)
    return [uf.find(i) for i in range(len(groups))]


def assign(categories: list[str], unit_ids: list[int], ratios: dict[str, float], seed: int) -> list[str]:
    """Split name per row. Ratios need not sum to 1; they are normalised."""
    total = sum(ratios.values())
    names = list(ratios)
    cat_count = Counter(categories)
    target = {s: {c: ratios[s] / total * n for c, n in cat_count.items()} for s in names}
    current = {s: defaultdict(float) for s in names}
    members: dict[int, list[int]] = defaultdict(list)
    for i, u in enumerate(unit_ids):
        members[u].append(i)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda u: -len(members[u]))  # big units first; stable sort keeps the seeded order
    out = [""] * len(categories)
    for u in order:
        cats = Counter(categories[i] for i in members[u])

        def deficit(s: str) -> float:
            return sum(n * (target[s][c] - current[s][c]) / max(target[s][c], 1e-9) for c, n in cats.items())

        best = max(names, key=lambda s: (deficit(s), -names.index(s)))
        for c, n in cats.items():
            current[best][c] += n
        for i in members[u]:
            out[i] = best
    return out
