"""slm_factory.tokens: the length gate's counts are exact wherever the decision could change."""

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from slm_factory.tokens import chat_token_counter


@cache
def _loaded(tokenizer_dir):
    """The tokenizer and the counter, loaded once (hypothesis calls the test many times)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir), chat_token_counter(tokenizer_dir)


def _conv(user: str, answer: str = '{"tool":"no_tool","arguments":{}}'):
    return [{"role": "system", "content": "Route the request."}, {"role": "user", "content": user},
            {"role": "assistant", "content": answer}]


def test_counts_are_exact_near_and_over_the_limit_and_below_it_elsewhere(tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    count = chat_token_counter(tokenizer_dir, margin=8)
    convs = [_conv("hi"), _conv("remind me " * 20), _conv("remind me " * 40), _conv("日本語のテキスト " * 30)]
    exact = [len(tok(tok.apply_chat_template(c, tokenize=False), add_special_tokens=False)["input_ids"])
             for c in convs]
    limit = exact[1] + 2  # conversation 1 sits just under the limit, 2 and 3 are over it
    got = count(convs, exact_above=limit)
    for g, e in zip(got, exact):
        if e >= limit - 8:
            assert g == e  # near or over the limit: exact
        else:
            assert e <= g < limit - 8  # far below: a bound, below the limit like the true count
    assert count(convs) == count(convs, exact_above=None)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=80))
def test_the_byte_bound_never_undercounts(tokenizer_dir, text):
    tok, count = _loaded(tokenizer_dir)
    conv = _conv(text)
    exact = len(tok(tok.apply_chat_template(conv, tokenize=False), add_special_tokens=False)["input_ids"])
    got = count([conv], exact_above=10_000)[0]
    assert got >= exact
