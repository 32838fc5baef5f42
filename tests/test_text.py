"""slm_factory.text: the normal form exact matching, hashing and shingling share."""

import pytest

from slm_factory.text import copied_from, cut_allowed, normalize, shingles, text_hash


def test_normal_form_ignores_case_width_punctuation_and_spacing():
    assert normalize("  Remind ME,\tto water   the plants!! ") == "remind me to water the plants"
    assert normalize("ＡＢＣ") == "abc"  # full-width letters (NFKC)
    assert normalize("Ødegaard café") == "ødegaard café"  # letters are kept, not stripped of accents


def test_equal_normal_forms_hash_equal():
    assert text_hash("Set a timer, 5 min.") == text_hash("set a timer 5 min")
    assert text_hash("set a timer 5 min") != text_hash("set a timer 6 min")


def test_shingles_are_character_grams_of_the_normal_form():
    assert shingles("Ab, c", 3) == {"ab ", "b c"}
    assert shingles("Hi!", 5) == {"hi"}  # shorter than k: the text itself


@pytest.mark.parametrize("request_, i, ok", [
    ("Glasgow", 0, True), ("Glasgow", 3, False), ("Glasgow", 7, True), ("a b", 1, True), ("a b", 2, True),
    ("NARA2", 4, False), ("Zoë's", 3, True), ("Zoë's", 2, False), ("", 0, True)])
def test_cut_allowed_only_outside_runs_of_letters_and_digits(request_, i, ok):
    assert cut_allowed(request_, i) is ok


@pytest.mark.parametrize("value, whole, ok", [
    ("Glasgow", True, True), ("Gla", True, False), ("Gla", False, True), ("glasgow", False, False),
    ("in Glasgow, UK", True, True), ("UK", True, True), ("", False, False),
    # the first "ana" splits "banana"; a later occurrence stands alone
    ("ana", True, True)])
def test_copied_from_finds_a_whole_word_occurrence(value, whole, ok):
    request = "banana bread in Glasgow, UK with ana"
    assert copied_from(request, value, whole_words=whole) is ok
