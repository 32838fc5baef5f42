"""Special tokens: EOS and pad are the chat template's end-of-turn token, a broken tokenizer is refused
before training, and a non-finite loss stops training with a clear error."""

import json

import pytest

from slm_factory.modeling import TokenizerError, check_special_tokens, end_of_turn_token, fix_special_tokens

from conftest import broken_copy


def test_end_of_turn_comes_from_the_template_and_fix_repairs(tokenizer_dir, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(broken_copy(tokenizer_dir, tmp_path / "tok"))
    assert tok.eos_token == "<|im_start|>"
    assert end_of_turn_token(tok) == "<|im_end|>"
    with pytest.raises(TokenizerError, match="eos is '<|im_start|>', not the end-of-turn token"):
        check_special_tokens(tok)
    assert fix_special_tokens(tok) == "<|im_end|>"
    check_special_tokens(tok)
    assert tok.pad_token == tok.eos_token == "<|im_end|>"


def test_a_saved_tokenizer_does_not_record_how_it_was_loaded(tokenizer_dir, tmp_path):
    """transformers writes `local_files_only` (which HF_HUB_OFFLINE decides) into tokenizer_config.json;
    saved with save_tokenizer, the files are byte-identical however the tokenizer was loaded."""
    from transformers import AutoTokenizer

    from slm_factory.modeling import LOADING_KEYS, save_tokenizer

    saved = []
    for offline in (False, True):
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        tok.init_kwargs["local_files_only"] = offline  # what loading outside / inside offline mode records
        plain, ours = tmp_path / f"plain{offline}", tmp_path / f"ours{offline}"
        tok.save_pretrained(plain)
        save_tokenizer(tok, ours)
        assert json.loads((plain / "tokenizer_config.json").read_text())["local_files_only"] is offline
        cfg = json.loads((ours / "tokenizer_config.json").read_text())
        assert not set(LOADING_KEYS) & set(cfg) and cfg["eos_token"] == tok.eos_token
        saved.append({p.name: p.read_bytes() for p in ours.iterdir()})
    assert saved[0] == saved[1]
    assert AutoTokenizer.from_pretrained(str(ours)).eos_token == tok.eos_token


def test_stop_rule_only_stops_when_the_verdict_is_final():
    from slm_factory.modeling import verdict_is_final

    assert verdict_is_final("Sure! Here is")              # no JSON value starts with "S"
    assert verdict_is_final("```json")
    assert not verdict_is_final('{"tool":"set_ti')        # still could become valid
    assert not verdict_is_final('{"tool":"no_tool","arguments":{}}')  # complete: wait for EOS
    assert verdict_is_final('{"tool":"no_tool","arguments":{}} Let me know')  # extra text: invalid anyway
    assert not verdict_is_final('  ')
