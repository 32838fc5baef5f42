"""Exact, near-duplicate (MinHash LSH) and semantic (embedding cosine) duplicate detection.

`greedy_dedupe` keeps the first occurrence in input order; reference items (the locked eval sets)
are always kept and go first, so a candidate close to an eval row is the one dropped.
`find_overlaps` answers the leakage question between two sets with the same three tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from datasketch import MinHash, MinHashLSH

from .config import Dedupe as DedupeConfig
from .ledger import Ledger
from .rows import Reason, Rejected, Row
from .text import shingles, text_hash


@dataclass(frozen=True)
class Thresholds:
    minhash: float  # estimated Jaccard of character shingles at or above which two texts are near-dupes
    semantic: float  # cosine similarity at or above which two texts are semantic dupes
    num_perm: int  # MinHash permutations
    shingle_size: int  # characters per shingle

    @classmethod
    def of(cls, cfg: DedupeConfig) -> "Thresholds":
        """The thresholds `dedupe:` sets (split's leakage check uses the same ones)."""
        return cls(minhash=cfg.minhash_threshold, semantic=cfg.semantic_threshold, num_perm=cfg.num_perm,
                   shingle_size=cfg.shingle_size)


@dataclass(frozen=True)
class Drop:
    index: int  # index into the candidate list
    kind: str  # exact | minhash | semantic
    twin: int  # index of the kept twin: >= 0 a candidate, < 0 a reference (-1 - ref_index)
    similarity: float


def minhashes(texts: list[str], th: Thresholds) -> list[MinHash]:
    sets = [[s.encode("utf-8") for s in shingles(t, th.shingle_size)] for t in texts]
    return MinHash.bulk(sets, num_perm=th.num_perm)


def greedy_dedupe(texts: list[str], th: Thresholds, embed=None, refs: list[str] = (),
                  block: int = 2048) -> list[Drop]:
    """Which candidates to drop. `embed(texts) -> normalised np.ndarray`; None skips the semantic test."""
    drops: dict[int, Drop] = {}
    n_ref = len(refs)
    all_texts = list(refs) + list(texts)

    # 1. exact: normalised-text hash
    seen: dict[str, int] = {}
    for j, t in enumerate(all_texts):
        h = text_hash(t)
        if h in seen and j >= n_ref:
            drops[j - n_ref] = Drop(j - n_ref, "exact", _twin(seen[h], n_ref), 1.0)
        else:
            seen.setdefault(h, j)

    # 2. near-duplicates: MinHash LSH over character shingles
    alive = [j for j in range(len(all_texts)) if j < n_ref or (j - n_ref) not in drops]
    mh = minhashes([all_texts[j] for j in alive], th)
    lsh = MinHashLSH(threshold=th.minhash, num_perm=th.num_perm)
    indexed: dict[int, MinHash] = {}
    for j, m in zip(alive, mh):
        best, best_sim = None, 0.0
        if j >= n_ref:
            for key in lsh.query(m):
                sim = m.jaccard(indexed[key])
                if sim >= th.minhash and sim > best_sim:
                    best, best_sim = key, sim
        if best is not None:
            drops[j - n_ref] = Drop(j - n_ref, "minhash", _twin(best, n_ref), round(best_sim, 4))
        else:
            lsh.insert(j, m)
            indexed[j] = m

    # 3. semantic: greedy over normalised embeddings, in blocks so memory stays bounded
    if embed is not None:
        alive = [j for j in range(len(all_texts)) if j < n_ref or (j - n_ref) not in drops]
        emb = embed([all_texts[j] for j in alive])
        kept = np.empty_like(emb)
        kept_ids: list[int] = []
        for start in range(0, len(alive), block):
            e = emb[start:start + block]
            prev = e @ kept[:len(kept_ids)].T if kept_ids else np.zeros((len(e), 0), np.float32)
            inner = e @ e.T
            block_kept: list[int] = []
            for i in range(len(e)):
                j = alive[start + i]
                best_sim, best = -1.0, None
                if prev.shape[1]:
                    k = int(prev[i].argmax())
                    best_sim, best = float(prev[i, k]), kept_ids[k]
                if block_kept:
                    sims = inner[i, block_kept]
                    k = int(sims.argmax())
                    if sims[k] > best_sim:
                        best_sim, best = float(sims[k]), alive[start + block_kept[k]]
                if j >= n_ref and best is not None and best_sim >= th.semantic:
                    drops[j - n_ref] = Drop(j - n_ref, "semantic", _twin(best, n_ref), round(best_sim, 4))
                else:
                    block_kept.append(i)
            for i in block_kept:
                kept[len(kept_ids)] = e[i]
                kept_ids.append(alive[start + i])
    return sorted(drops.values(), key=lambda d: d.index)


def _twin(j: int, n_ref: int) -> int:
    return j - n_ref if j >= n_ref else -1 - j


def find_overlaps(queries: list[str], refs: list[str], th: Thresholds, embed=None) -> list[Drop]:
    """Every query within a threshold of some reference (twin indexes `refs`, encoded as -1 - i)."""
    found: dict[int, Drop] = {}
    ref_hash = {text_hash(t): i for i, t in enumerate(refs)}
    for i, t in enumerate(queries):
        h = text_hash(t)
        if h in ref_hash:
            found[i] = Drop(i, "exact", -1 - ref_hash[h], 1.0)
    ref_mh = minhashes(list(refs), th)
    lsh = MinHashLSH(threshold=th.minhash, num_perm=th.num_perm)
    for i, m in enumerate(ref_mh):
        lsh.insert(i, m)
    for i, m in enumerate(minhashes(list(queries), th)):
        if i in found:
            continue
        sims = [(m.jaccard(ref_mh[k]), k) for k in lsh.query(m)]
        sims = [(s, k) for s, k in sims if s >= th.minhash]
        if sims:
            s, k = max(sims)
            found[i] = Drop(i, "minhash", -1 - k, round(s, 4))
    if embed is not None and queries and refs:
        sim = embed(list(queries)) @ embed(list(refs)).T
        for i in range(len(queries)):
            k = int(sim[i].argmax())
            if i not in found and sim[i, k] >= th.semantic:
                found[i] = Drop(i, "semantic", -1 - k, round(float(sim[i, k]), 4))
    return sorted(found.values(), key=lambda d: d.index)


MESSAGES = {
    "exact": "same text as a kept row (after normalising case, punctuation and spaces)",
    "minhash": "near-duplicate of a kept row (MinHash Jaccard of character shingles)",
    "semantic": "says the same as a kept row (embedding cosine similarity)",
}


def dedupe_rows(rows: list[Row], locked: list[tuple[str, Row]], th: Thresholds, embed) -> tuple[Ledger, list[Drop]]:
    """The dedupe stage's core. `locked` is [(set name, row)]: references, never dropped (a candidate
    close to one is the row dropped). Each dropped row records its kept twin's id, the set the twin is
    in, the test that fired and the similarity. The ledger keeps rows in input order."""
    drops = greedy_dedupe([r.prompt_text for r in rows], th, embed, refs=[r.prompt_text for _, r in locked])
    dropped = {d.index: d for d in drops}
    ledger = Ledger("dedupe")
    for i, row in enumerate(rows):
        if i not in dropped:
            ledger.keep(row)
    for d in drops:
        row = rows[d.index]
        if d.twin >= 0:
            twin, twin_set = rows[d.twin], "generated"
        else:
            twin_set, twin = locked[-1 - d.twin]
        code = f"duplicate_{d.kind}" if twin_set == "generated" else f"eval_overlap_{d.kind}"
        ledger.reject(Rejected(
            stage="dedupe", batch=row.provenance.batch, row_id=row.id, row=row.model_dump(mode="json"),
            reasons=[Reason(code=code, message=MESSAGES[d.kind] + (f" in the locked {twin_set} set"
                                                                 if twin_set != "generated" else ""),
                            detail={"twin_id": twin.id, "twin_set": twin_set, "similarity": d.similarity,
                                    "twin_user": twin.prompt_text})]))
    return ledger, drops
