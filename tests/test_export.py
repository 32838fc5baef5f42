"""Export: the Modelfile template is the chat template byte for byte; llama.cpp's own converter and
quantizer make GGUFs whose metadata carry the tokenizer's template and EOS; the parity gate can fail."""

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from slm_factory.export import ExportError, check_quantizations, gguf_metadata, modelfile, ollama_template, stop_tokens
from slm_factory.parity import parity

from conftest import ROOT, load_script, params_with

LLAMA_CPP = Path(sys.executable).parents[1] / "share" / "llama.cpp"


@pytest.fixture(scope="module")
def tok(tokenizer_dir):
    from transformers import AutoTokenizer

    from slm_factory.modeling import fix_special_tokens

    t = AutoTokenizer.from_pretrained(tokenizer_dir)
    fix_special_tokens(t)
    return t


def go_render(template: str, system: str, prompt: str) -> str:
    """What Ollama does with our template (it uses only these two fields)."""
    return template.replace("{{ .System }}", system).replace("{{ .Prompt }}", prompt)


@pytest.mark.parametrize("system, prompt", [("Route the request.", "remind me at 9"),
                                            ("multi\nline {braces}", "emoji 🙂 and \"quotes\"")])
def test_modelfile_template_equals_the_chat_template(tok, system, prompt):
    expected = tok.apply_chat_template([{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                                       tokenize=False, add_generation_prompt=True)
    assert go_render(ollama_template(tok), system, prompt) == expected
    text = modelfile(tok, "model-q4_k_m.gguf", system, stop_tokens(tok))
    assert text.startswith("FROM ./gguf/model-q4_k_m.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in text and "PARAMETER temperature 0" in text


def test_unknown_quantization_is_one_clear_error():
    pytest.importorskip("llama_cpp")
    check_quantizations(["q8_0", "q4_k_m"])
    with pytest.raises(ExportError, match=r"export.quantizations: unknown \['q9_9'\]"):
        check_quantizations(["q8_0", "q9_9"])


def tiny_export(tokenizer_dir, tmp_path):
    """A random 2-layer Llama + a LoRA adapter, exported by the stage script. Seeded: an unseeded random
    model now and then happens to emit its end-of-turn token, which the runaway assertions count."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from slm_factory.modeling import fix_special_tokens

    torch.manual_seed(0)

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    fix_special_tokens(tok)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    base = tmp_path / "base"
    LlamaForCausalLM(cfg).save_pretrained(base)
    tok.save_pretrained(base)
    peft = get_peft_model(LlamaForCausalLM.from_pretrained(base), LoraConfig(r=4, target_modules=["q_proj"]))
    peft.save_pretrained(tmp_path / "adapter")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(params_with({"export": {"quantizations": ["q8_0"], "modelfile_quant": "q8_0"}})))
    (tmp_path / "specs").mkdir()
    shutil.copytree(ROOT / "specs", tmp_path / "specs", dirs_exist_ok=True)
    load_script("export").main(["--params", str(params), "--specs", str(tmp_path / "specs"), "--base-model", str(base),
                                "--adapter", str(tmp_path / "adapter"), "--llama-cpp", str(LLAMA_CPP),
                                "--merged", str(tmp_path / "merged"), "--gguf", str(tmp_path / "gguf"),
                                "--modelfile", str(tmp_path / "Modelfile")])
    return tok


@pytest.mark.skipif(not (LLAMA_CPP / "convert_hf_to_gguf.py").exists(), reason="make setup unpacks llama.cpp's converter")
def test_export_with_llama_cpp_and_run_every_artifact(tokenizer_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    from slm_factory.export import run_gguf, run_transformers
    from slm_factory.rows import read_rows
    from slm_factory.spec import TaskSpec

    tok = tiny_export(tokenizer_dir, tmp_path)
    AutoModelForCausalLM.from_pretrained(tmp_path / "merged")  # plain transformers, no peft
    assert sorted(p.name for p in (tmp_path / "gguf").iterdir()) == ["manifest.json", "model-f16.gguf", "model-q8_0.gguf"]
    listed = json.loads((tmp_path / "gguf/manifest.json").read_text())
    assert [(f["path"], f["bytes"]) for f in listed] == [
        (n, (tmp_path / "gguf" / n).stat().st_size) for n in ("model-f16.gguf", "model-q8_0.gguf")]
    assert listed[1]["sha256"] == hashlib.sha256((tmp_path / "gguf/model-q8_0.gguf").read_bytes()).hexdigest()
    meta = gguf_metadata(tmp_path / "gguf/model-q8_0.gguf")
    assert meta["eos_token"] == "<|im_end|>" and meta["chat_template"] == tok.chat_template
    assert (tmp_path / "Modelfile").read_text().startswith("FROM ./gguf/model-q8_0.gguf")
    spec = TaskSpec.load(tmp_path / "specs")
    sets = {"golden": read_rows(ROOT / "data/eval/golden.jsonl")[:2]}
    for run in (run_gguf(tmp_path / "gguf/model-q8_0.gguf", sets, spec, 8, n_threads=1),
                run_transformers(tmp_path / "merged", sets, spec, 8, 2)):
        assert len(run.scored["golden"]) == 2 and run.peak_rss_mb > 0
        # an untrained model never ends its turn: every row is runaway, which the parity gate refuses
        assert run.runaway == 2
    gate = parity({"q8": {"sets": {"golden": {"exact_match": 0.0}}, "runaway_rows": 2}},
                                             0.0, "golden", 0.02)
    assert gate["pass"] is False and gate["artifacts"]["q8"]["drop"] == 0.0


def test_export_refuses_bad_config_before_any_work(tmp_path):
    pytest.importorskip("llama_cpp")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params_with({"export": {"quantizations": ["q9_9"],
                                                                                  "modelfile_quant": "q9_9"}})))
    with pytest.raises(SystemExit, match="unknown"):
        load_script("export").main(["--params", str(tmp_path / "params.yaml"), "--specs", str(ROOT / "specs"),
                                    "--base-model", str(tmp_path), "--adapter", str(tmp_path / "none"),
                                    "--llama-cpp", str(LLAMA_CPP), "--merged", str(tmp_path / "m"),
                                    "--gguf", str(tmp_path / "g"), "--modelfile", str(tmp_path / "Modelfile")])
    assert not (tmp_path / "m").exists() and not (tmp_path / "g").exists()
