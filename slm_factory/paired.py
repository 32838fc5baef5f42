"""Two models scored on the same rows, compared row by row.

Seeds of one recipe differ by a few points of exact match, so a difference between two runs' headline
figures says little until the rows behind it are counted. Only the discordant rows (one model right, the
other wrong) carry information about which is better; McNemar's exact test asks whether their split is
more lopsided than a fair coin would make it.
"""

from __future__ import annotations

from scipy.stats import binomtest


def paired(first: dict[str, bool], this: dict[str, bool]) -> dict:
    """Two models' exact-match verdicts (row id -> right), compared on the ids both have: `n` shared rows,
    `first_right` and `this_right` (each model's right rows among them), `only_first_right` and
    `only_this_right` (the discordant rows), and `p_sign`, the exact two-sided sign test on those rows
    (McNemar's exact test; 1.0 when there are none), rounded to 4 places."""
    shared = first.keys() & this.keys()
    only_first = sum(first[i] and not this[i] for i in shared)
    only_this = sum(this[i] and not first[i] for i in shared)
    n = only_first + only_this
    return {"n": len(shared), "first_right": sum(first[i] for i in shared), "this_right": sum(this[i] for i in shared),
            "only_first_right": only_first, "only_this_right": only_this,
            "p_sign": round(binomtest(only_this, n).pvalue, 4) if n else 1.0}


def verdicts(predictions: list[dict]) -> dict[str, bool]:
    """Eval's prediction lines (predictions_<set>.jsonl) as row id -> exactly right."""
    return {p["id"]: bool(p["exact"]) for p in predictions}
