"""Text normalisation shared by the gates, dedupe and the leakage check; where a copy may cut a request."""

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


def cut_allowed(request: str, i: int) -> bool:
    """Whether a copied string may start or end at position `i` of `request` (0..len): anywhere but
    between two letters or digits, so a copy never splits a word ("Glasgow" -> "Gla", "NARA" -> "NAR")."""
    return not (0 < i < len(request) and request[i - 1].isalnum() and request[i].isalnum())


def copied_from(request: str, value: str, whole_words: bool = True) -> bool:
    """Whether `value` is a non-empty substring of `request` that the copy grammar allows: with
    `whole_words`, at some occurrence that starts and ends where `cut_allowed`."""
    i = request.find(value) if value else -1
    while i >= 0:
        if not whole_words or (cut_allowed(request, i) and cut_allowed(request, i + len(value))):
            return True
        i = request.find(value, i + 1)
    return False
