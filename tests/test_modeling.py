"""Special tokens: EOS and pad are the chat template's end-of-turn token, a broken tokenizer is refused
before training, and a non-finite loss stops training with a clear error."""

import json
import math
import shutil

import pytest
import yaml

from conftest import load_script, params_with
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


def train_argv(tmp_path, base, row_factory, lr=1e-3, eval_every=0):
    rows = [row_factory(f"remind me to call mum at {h}pm", {"tool": "create_reminder", "arguments": {
        "text": "call mum", "date": "today", "time": f"{h + 12}:00"}}) for h in range(1, 9)]
    (tmp_path / "train.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rows))
    params = params_with({"seed": 1, "lora_rank": 4, "lora_alpha": 8, "learning_rate": lr, "epochs": 1,
              "train": {"backend": "trl", "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"],
                        "batch_size": 4, "grad_accum": 1, "max_seq_length": 128, "packing": False,
                        "group_by_length": False, "padding_free": False, "gradient_checkpointing": False,
                        "load_in_4bit": False, "num_gpus": 1, "max_steps": 3, "warmup_ratio": 0.0, "seed": 1,
                        "eval_every": eval_every, "eval_rows": 4}})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return ["--params", str(tmp_path / "params.yaml"), "--base-model", str(base), "--train",
            str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "adapter"), "--loss-csv",
            str(tmp_path / "loss.csv"), "--metrics", str(tmp_path / "train.json"), "--dev", str(tmp_path / "train.jsonl"),
            "--dev-curve", str(tmp_path / "dev_curve.csv")]


def test_train_refuses_a_broken_tokenizer_and_saves_nothing(tokenizer_dir, tmp_path, row_factory):
    base = tiny_model_dir(broken_copy(tokenizer_dir, tmp_path / "tok"), tmp_path / "base")
    with pytest.raises(TokenizerError, match="not the end-of-turn token"):
        load_script("train_trl_peft").main(train_argv(tmp_path, base, row_factory))
    assert not (tmp_path / "adapter").exists() and not (tmp_path / "train.json").exists()


def test_train_measures_the_dev_subset_during_training(tokenizer_dir, tmp_path, row_factory):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    fix_special_tokens(tok)
    tok.save_pretrained(tmp_path / "tok")
    base = tiny_model_dir(tmp_path / "tok", tmp_path / "base")
    load_script("train_trl_peft").main(train_argv(tmp_path, base, row_factory, eval_every=1))
    curve = (tmp_path / "dev_curve.csv").read_text().splitlines()
    assert curve[0] == "step,dev_loss,dev_token_accuracy" and [x.split(",")[0] for x in curve[1:]] == ["1", "2", "3"]
    metrics = json.loads((tmp_path / "train.json").read_text())
    assert metrics["steps"] == 3 and metrics["final_dev_loss"] == float(curve[-1].split(",")[1])
    assert (tmp_path / "adapter/adapter_config.json").exists()


def test_a_non_finite_loss_stops_training():
    from slm_factory.training.loop import NonFiniteError, stop_on_non_finite

    cb = stop_on_non_finite()
    state = type("S", (), {"global_step": 7})()
    cb.on_log(None, state, None, logs={"loss": 1.5, "grad_norm": 0.3})
    with pytest.raises(NonFiniteError, match="grad_norm is nan at step 7"):
        cb.on_log(None, state, None, logs={"loss": 1.5, "grad_norm": math.nan})
    with pytest.raises(NonFiniteError, match="loss is inf"):
        cb.on_log(None, state, None, logs={"loss": math.inf})


def test_constrained_decoding_keeps_a_random_model_inside_the_contract(tokenizer_dir, tmp_path):
    """xgrammar compiles the contract's schema; even an untrained model can then only write valid JSON."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slm_factory.modeling import generate, json_grammar

    base = tiny_model_dir(tokenizer_dir, tmp_path / "base")
    tok = AutoTokenizer.from_pretrained(base)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    schema = {"type": "object", "properties": {"mood": {"enum": ["up", "down"]}, "ok": {"type": "boolean"}},
              "required": ["mood", "ok"], "additionalProperties": False}
    prompts = ["<|im_start|>user\nhow are you<|im_end|>\n<|im_start|>assistant\n", "<|im_start|>user\nhm<|im_end|>\n"]
    free = generate(model, tok, prompts, 24, 2)
    assert not all(t.startswith('{"mood"') for t in free.texts)  # unconstrained, it writes noise
    out = generate(model, tok, prompts, 24, 2, grammar=json_grammar(tok, model, schema))
    for text in out.texts:
        obj = json.loads(text)
        assert set(obj) == {"mood", "ok"} and obj["mood"] in ("up", "down") and isinstance(obj["ok"], bool)
        assert text == json.dumps(obj, separators=(",", ":"))  # compact, as the contract's canonical form


def test_adapter_config_is_written_the_same_whatever_the_hash_seed(tmp_path):
    from slm_factory.training.outputs import stable_adapter_config

    path = tmp_path / "adapter_config.json"
    path.write_text('{"target_modules": ["v_proj", "q_proj", "o_proj"], "r": 8}')
    stable_adapter_config(path)
    first = path.read_bytes()
    path.write_text('{"r": 8, "target_modules": ["o_proj", "v_proj", "q_proj"]}')
    stable_adapter_config(path)
    assert path.read_bytes() == first and json.loads(first)["target_modules"] == ["o_proj", "q_proj", "v_proj"]


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
