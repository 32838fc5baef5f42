"""slm_factory.paired: row-by-row comparison of two models on the same rows."""

from __future__ import annotations

from slm_factory.paired import paired, verdicts


def test_ten_rows_one_way_and_none_the_other_is_beyond_chance():
    """10 rows only the second model gets right and none the other way: p = 2 * 0.5**10."""
    first = {str(i): i >= 10 for i in range(20)}
    assert paired(first, {str(i): True for i in range(20)}) == {
        "n": 20, "first_right": 10, "this_right": 20, "only_first_right": 0, "only_this_right": 10,
        "p_sign": round(2 * 0.5 ** 10, 4)}


def test_six_against_four_is_not_a_difference_and_no_discordant_row_gives_p_one():
    mixed = {str(i): (i < 6) or (i >= 10) for i in range(20)}
    flipped = {str(i): (6 <= i < 10) or (i >= 10) for i in range(20)}
    out = paired(mixed, flipped)
    assert (out["only_first_right"], out["only_this_right"]) == (6, 4) and out["p_sign"] > 0.5
    assert paired(mixed, mixed) == {"n": 20, "first_right": 16, "this_right": 16, "only_first_right": 0,
                                    "only_this_right": 0, "p_sign": 1.0}


def test_only_rows_both_models_scored_count():
    """A row one model has no verdict for is left out, not counted as wrong."""
    out = paired({"a": True, "b": False, "c": True}, {"a": False, "b": True, "d": True})
    assert (out["n"], out["only_first_right"], out["only_this_right"]) == (2, 1, 1)
    assert (out["first_right"], out["this_right"]) == (1, 1)  # c and d, scored by one model only, are left out


def test_verdicts_reads_eval_prediction_lines():
    assert verdicts([{"id": "a", "exact": True}, {"id": "b", "exact": False}]) == {"a": True, "b": False}
