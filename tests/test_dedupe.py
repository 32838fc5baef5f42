"""slm_factory.dedupe: exact, MinHash and semantic duplicates, within a set and against locked rows."""

from __future__ import annotations

from slm_factory import embeddings
from slm_factory.dedupe import Thresholds, find_overlaps, greedy_dedupe

TH = Thresholds(minhash=0.8, semantic=0.95, num_perm=128, shingle_size=5)


def embed(texts):
    return embeddings.encode(embeddings.BUNDLED, texts)


def test_exact_minhash_semantic_and_against_refs():
    texts = [
        "Remind me to water the plants on Friday at 9am",          # 0 kept
        "remind me to water the plants on friday at 9am!!",        # 1 exact dup of 0
        "Remind me to water the plant on Friday at 9am",           # 2 near dup of 0 (MinHash)
        "What's the weather in Lisbon tomorrow?",                  # 3 kept
        "Set a timer for ten minutes",                             # 4 twin of a locked eval row
        "Convert 50 euros to dollars",                             # 5 kept
    ]
    drops = {d.index: d for d in greedy_dedupe(texts, TH, embed, refs=["set a timer for ten minutes."])}
    assert drops[1].kind == "exact" and drops[1].twin == 0
    assert drops[2].kind == "minhash" and drops[2].twin == 0 and drops[2].similarity >= 0.8
    assert drops[4].twin == -1  # the reference (locked eval) row won
    assert set(drops) == {1, 2, 4}


def test_semantic_duplicate_caught_when_shingles_differ():
    texts = ["What is the weather forecast for Paris tomorrow?", "Tomorrow's weather forecast for Paris, what is it?"]
    drops = greedy_dedupe(texts, Thresholds(minhash=0.95, semantic=0.9, num_perm=128, shingle_size=5), embed)
    assert [d.kind for d in drops] == ["semantic"]


def test_find_overlaps_reports_leaks():
    found = find_overlaps(["convert 50 euros to dollars", "play jazz"], ["Convert 50 euros to dollars."], TH, embed)
    assert [(d.index, d.kind) for d in found] == [(0, "exact")]
