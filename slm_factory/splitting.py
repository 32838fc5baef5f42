"""Leakage-safe, category-stratified train/dev/test assignment.

Rows that share a group key (the template pattern or scenario they came from) or sit in one semantic
cluster are merged into one unit; no unit straddles splits. Within each category the group keys are
ordered by a seeded hash and cut at the requested ratios, so categories keep the ratios and a group's
split survives growing the dataset (see `assign`).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

import numpy as np

from .dedupe import Thresholds, find_overlaps
from .rows import Row


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


def unit_rank(key: str, seed: int) -> float:
    """A group key's seeded place in [0, 1): the same key and seed give the same place in every dataset."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(categories: list[str], unit_ids: list[int], keys: list[str], ratios: dict[str, float],
           seed: int) -> list[str]:
    """Split name per row. Ratios need not sum to 1; they are normalised.

    Every group key gets a split of its own: within its (majority) category the keys are laid out by
    `unit_rank` and cut at the ratios, counting keys, so categories keep the ratios. A unit then goes
    where its first-ranked key goes, whole. A key's split depends only on the keys of its category, not
    on how many rows each holds: rows added to existing groups (a repair plan's rows come from the same
    templates) move nothing but the units a new semantic link joins, and new groups move about one key
    per cut each. Comparing test figures across dataset versions stays meaningful, and an old test row
    does not turn up in the next version's train. Row ratios hold as closely as group sizes allow."""
    total = sum(ratios.values())
    names = list(ratios)
    cuts, acc = [], 0.0
    for s in names:
        acc += ratios[s] / total
        cuts.append(acc)
    key_cats: dict[str, Counter] = defaultdict(Counter)
    for k, c in zip(keys, categories):
        key_cats[k][c] += 1
    by_cat: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for k, cats in key_cats.items():
        cat = min(cats.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        by_cat[cat].append((unit_rank(k, seed), k))
    key_split: dict[str, str] = {}
    rank: dict[str, tuple[float, str]] = {}
    for placed in by_cat.values():
        placed.sort()
        for n, (r, k) in enumerate(placed):
            middle = (n + 0.5) / len(placed)
            key_split[k] = next((s for s, cut in zip(names, cuts) if middle < cut), names[-1])
            rank[k] = (r, k)
    first: dict[int, str] = {}
    for k, u in zip(keys, unit_ids):
        if u not in first or rank[k] < rank[first[u]]:
            first[u] = k
    fill_empty_splits(key_split, set(first.values()), by_cat, [s for s in names if ratios[s] > 0])
    return [key_split[first[u]] for u in unit_ids]


def fill_empty_splits(key_split: dict[str, str], movable: set[str], by_cat: dict[str, list[tuple[float, str]]],
                      wanted: list[str]) -> None:
    """Each category is cut on its own, so a small task (a few groups per category) can leave a split with
    no group at all, and an empty dev or test set scores nothing. Give each empty split one key: from the
    split holding the most unit-deciding keys, in the category with the most of them there, the
    last-ranked one (nearest the next cut). Only keys that decide a unit (`movable`) move; a split that is not empty is untouched,
    so this never changes a dataset whose splits all have groups."""
    for target in wanted:
        # Count only the keys that decide a unit: a key whose rows all follow another key holds no rows.
        held = Counter(key_split[k] for k in movable)
        if held[target]:
            continue
        donor = max(wanted, key=lambda s: (held[s], -wanted.index(s)))
        if held[donor] < 2:
            return
        donor_keys = {cat: [k for _, k in placed if k in movable and key_split[k] == donor]
                      for cat, placed in by_cat.items()}
        donor_keys = {cat: ks for cat, ks in donor_keys.items() if ks}
        if not donor_keys:
            return
        # the category with the most donor keys; its last-ranked one
        cat = max(donor_keys, key=lambda c: (len(donor_keys[c]), c))
        key_split[donor_keys[cat][-1]] = target


class LeakageError(RuntimeError):
    """Train rows within the dedupe thresholds of an eval row: the split would leak."""


def cluster_edges(emb: np.ndarray, threshold: float, block: int = 2048) -> list[tuple[int, int]]:
    """Pairs (i < j) of rows whose (normalised) embeddings have cosine >= threshold, in row blocks."""
    edges = []
    for s in range(0, len(emb), block):
        sim = emb[s:s + block] @ emb.T
        for i, j in zip(*np.nonzero(sim >= threshold)):
            if s + i < j:
                edges.append((int(s + i), int(j)))
    return edges


def split_rows(rows: list[Row], ratios: dict[str, float], seed: int, emb: np.ndarray | None,
               cluster_threshold: float) -> dict[str, list[Row]]:
    """The split stage's core: rows -> {split name: rows}, groups and semantic clusters kept whole."""
    edges = cluster_edges(emb, cluster_threshold) if emb is not None else []
    groups = [r.provenance.group for r in rows]
    unit_ids = units(groups, edges)
    names = assign([r.provenance.category for r in rows], unit_ids, groups, ratios, seed)
    return {s: [r for r, n in zip(rows, names) if n == s] for s in ratios}


def leakage(train: list[Row], evals: list[tuple[str, Row]], th: Thresholds, embed) -> list[dict]:
    """Train rows within the dedupe thresholds of an eval row (`evals`: [(set name, row)])."""
    found = find_overlaps([r.prompt_text for r in train], [r.prompt_text for _, r in evals], th, embed)
    return [{"train_id": train[d.index].id, "eval_set": evals[-1 - d.twin][0], "eval_id": evals[-1 - d.twin][1].id,
             "kind": d.kind, "similarity": d.similarity} for d in found]
