"""slm_factory.text: the normal form exact matching, hashing and shingling share."""

from slm_factory.text import normalize, shingles, text_hash


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
