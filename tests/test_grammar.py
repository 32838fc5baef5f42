"""slm_factory.grammar: the contract's JSON grammar, and per request the same grammar with every copied
string kept a substring of the request (quote, backslash and emoji written as the contract writes them)."""

import json

import pytest

from slm_factory.grammar import COPIED, ContractGrammar, copy_rules, mark_copied

from conftest import tiny_model_dir

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["tool", "arguments"],
          "properties": {"tool": {"const": "note"}, "arguments": {"$ref": "#/$defs/Args"}},
          "$defs": {"Args": {"type": "object", "additionalProperties": False, "required": ["title"],
                             "properties": {"title": {"type": "string", "minLength": 1},
                                            "count": {"type": "integer"}, "label": {"type": "integer"}}}}}


def accepts(ebnf: str, text: str) -> bool:
    import xgrammar as xgr

    return xgr.testing._is_grammar_accept_string(xgr.Grammar.from_ebnf(ebnf), text)


def test_only_string_properties_of_the_copied_names_are_marked():
    marked, n = mark_copied(SCHEMA, {"title", "label", "absent"})
    assert n == 1  # label is an integer here: nothing to copy
    assert marked["$defs"]["Args"]["properties"]["title"] == {"const": COPIED}
    assert marked["$defs"]["Args"]["properties"]["label"] == {"type": "integer"}
    assert SCHEMA["$defs"]["Args"]["properties"]["title"]["type"] == "string"  # the input is untouched


REQUEST = 'Dinner "at" Phoenix, AZ 🙏 caf\u00e9\\x\n2'


@pytest.mark.parametrize("value, ok", [
    ("Phoenix, AZ", True), ('\\"at\\" Ph', True), ("AZ 🙏 caf\u00e9", True), ("\\\\x\\n2", True),
    ("Phoen, AZ", False), ("phoenix", False), ("", False), ('"at" Ph', False), ("Dinner at", False)])
def test_a_copied_value_is_any_substring_of_the_request_as_json_writes_it(value, ok):
    root = "root ::= copied_value\n" + copy_rules(REQUEST, whole_words=False)
    assert accepts(root, f'"{value}"') is ok


@pytest.mark.parametrize("value, ok", [
    ("Phoenix, AZ", True), ("Phoenix", True), ("at", True), ('\\"at\\"', True), ("AZ 🙏 caf\u00e9", True),
    ("🙏", True), (" ", True), ("\\\\x\\n2", True), ("x", True), ("Dinner", True),
    ('\\"at\\" Ph', False), ("Ph", False), ("hoenix", False), ("Phoen", False), ("caf", False), ("inner", False),
    ("Phoen, AZ", False), ("", False)])
def test_a_copied_value_starts_and_ends_between_words(value, ok):
    """The default: a copy that would split a word of the request ("Phoen" of "Phoenix") is refused,
    so decoding can't close a name early where the model drifted from the request."""
    root = "root ::= copied_value\n" + copy_rules(REQUEST)
    assert accepts(root, f'"{value}"') is ok


def test_a_request_with_nothing_to_copy_allows_only_the_empty_string():
    assert accepts("root ::= copied_value\n" + copy_rules(""), '""')


@pytest.fixture(scope="module")
def tiny(tokenizer_dir, tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import torch

    torch.manual_seed(0)  # the random weights: the same model whichever tests ran before
    base = tiny_model_dir(tokenizer_dir, tmp_path_factory.mktemp("grammar") / "base")
    tok = AutoTokenizer.from_pretrained(base)
    tok.padding_side = "left"
    return AutoModelForCausalLM.from_pretrained(base).eval(), tok


PROMPTS = ["<|im_start|>user\nhow are you<|im_end|>\n<|im_start|>assistant\n", "<|im_start|>user\nhm<|im_end|>\n"]


def test_constrained_decoding_keeps_a_random_model_inside_the_contract(tiny):
    """xgrammar compiles the contract's schema; even an untrained model can then only write valid JSON."""
    from slm_factory.modeling import generate

    model, tok = tiny
    schema = {"type": "object", "properties": {"mood": {"enum": ["up", "down"]}, "ok": {"type": "boolean"}},
              "required": ["mood", "ok"], "additionalProperties": False}
    free = generate(model, tok, PROMPTS, 24, 2)
    assert not all(t.startswith('{"mood"') for t in free.texts)  # unconstrained, it writes noise
    out = generate(model, tok, PROMPTS, 24, 2, grammar=ContractGrammar(tok, model, schema).for_requests([]))
    for text in out.texts:
        obj = json.loads(text)
        assert set(obj) == {"mood", "ok"} and obj["mood"] in ("up", "down") and isinstance(obj["ok"], bool)
        assert text == json.dumps(obj, separators=(",", ":"))  # compact, as the contract's canonical form


def test_each_row_copies_from_its_own_request(tiny):
    """One grammar per request, kept in prompt order through generate's length-sorted batches."""
    from slm_factory.modeling import generate

    model, tok = tiny
    # Only bounded values, so every answer ends within the token budget: a random model may otherwise write
    # an integer (SCHEMA's count) until the budget cuts the JSON off.
    schema = {**SCHEMA, "$defs": {"Args": {**SCHEMA["$defs"]["Args"],
                                           "properties": {"title": {"type": "string", "minLength": 1}}}}}
    grammar = ContractGrammar(tok, model, schema, frozenset({"title"}))
    requests = ["Zoë's \"big\" day", "bo"]
    out = generate(model, tok, PROMPTS, 96, 2, grammar=grammar.for_requests(requests))
    for text, request in zip(out.texts, requests):
        obj = json.loads(text)
        assert obj["tool"] == "note" and obj["arguments"]["title"] in request
        assert text == json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def test_copied_names_the_contract_lacks_are_refused(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match=r"no string property of the contract's schema is named \['label'\]"):
        ContractGrammar(tok, model, SCHEMA, frozenset({"label"}))
