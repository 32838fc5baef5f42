"""Special tokens: EOS and pad are the chat template's end-of-turn token, a broken tokenizer is refused
before training, and a non-finite loss stops training with a clear error."""

import json
import math
import shutil

import pytest
import yaml

from conftest import load_script
from slm_factory.modeling import TokenizerError, check_special_tokens, end_of_turn_token, fix_special_tokens


def broken_copy(tokenizer_dir, dst):
    """The tokenizer as transformers 5.17 converted SmolLM2: bos = eos = pad = <|im_start|>."""
    shutil.copytree(tokenizer_dir, dst)
    cfg = json.loads((dst / "tokenizer_config.json").read_text())
    cfg.update(eos_token="<|im_start|>", pad_token="<|im_start|>", bos_token="<|im_start|>")
    (dst / "tokenizer_config.json").write_text(json.dumps(cfg))
    return dst


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


def tiny_model_dir(tokenizer_dir, dst):
    """A random 2-layer Llama with the bundled tokenizer: trains in seconds on CPU."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256)
    LlamaForCausalLM(cfg).save_pretrained(dst)
    tok.save_pretrained(dst)
    return dst


def train_argv(tmp_path, base, row_factory, lr=1e-3):
    rows = [row_factory(f"remind me to call mum at {h}pm", {"tool": "create_reminder", "arguments": {
        "text": "call mum", "date": "today", "time": f"{h + 12}:00"}}) for h in range(1, 9)]
    (tmp_path / "train.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rows))
    params = {"seed": 1, "lora_rank": 4, "lora_alpha": 8, "learning_rate": lr, "epochs": 1,
              "train": {"backend": "trl", "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"],
                        "batch_size": 4, "grad_accum": 1, "max_seq_length": 128, "packing": False,
                        "group_by_length": False, "padding_free": False, "gradient_checkpointing": False,
                        "load_in_4bit": False, "num_gpus": 1, "max_steps": 3, "warmup_ratio": 0.0, "seed": 1}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return ["--params", str(tmp_path / "params.yaml"), "--base-model", str(base), "--train",
            str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "adapter"), "--loss-csv",
            str(tmp_path / "loss.csv"), "--metrics", str(tmp_path / "train.json")]


def test_train_refuses_a_broken_tokenizer_and_saves_nothing(tokenizer_dir, tmp_path, row_factory):
    base = tiny_model_dir(broken_copy(tokenizer_dir, tmp_path / "tok"), tmp_path / "base")
    with pytest.raises(TokenizerError, match="not the end-of-turn token"):
        load_script("train_trl_peft").main(train_argv(tmp_path, base, row_factory))
    assert not (tmp_path / "adapter").exists() and not (tmp_path / "train.json").exists()


def test_a_non_finite_loss_stops_training():
    from slm_factory.train_common import NonFiniteError, stop_on_non_finite

    cb = stop_on_non_finite()
    state = type("S", (), {"global_step": 7})()
    cb.on_log(None, state, None, logs={"loss": 1.5, "grad_norm": 0.3})
    with pytest.raises(NonFiniteError, match="grad_norm is nan at step 7"):
        cb.on_log(None, state, None, logs={"loss": 1.5, "grad_norm": math.nan})
    with pytest.raises(NonFiniteError, match="loss is inf"):
        cb.on_log(None, state, None, logs={"loss": math.inf})
