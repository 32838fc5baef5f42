"""Text normalisation shared by the gates, dedupe and the leakage check."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1 << 16)  # validate asks for one user text twice (trivial gate, label conflicts)
def normalize(text: str) -> str:
    """Case-, accent-width-, punctuation- and whitespace-insensitive form used for exact matching."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def text_hash(text: str) -> str:
    return hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()


def shingles(text: str, k: int) -> set[str]:
    """Character k-grams of the normalised text (a short text yields itself)."""
    t = normalize(text)
    if len(t) <= k:
        return {t}
    return {t[i:i + k] for i in range(len(t) - k + 1)}
