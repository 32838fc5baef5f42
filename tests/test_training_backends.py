"""slm_factory.training.backends: the LoRA settings both training backends read from params."""

import subprocess
import sys

import pytest

from slm_factory.config import load
from slm_factory.training.backends import LoraSettings

from conftest import ROOT


def test_settings_from_the_default_params():
    lora = LoraSettings.from_params(load(ROOT / "params.yaml", ("lora_rank", "lora_alpha", "train")))
    assert lora.cpu_dtype == "float32" and lora.layers == 0
    assert lora.layers_to_transform(30) is None  # every layer


@pytest.mark.parametrize("layers, expected", [(0, None), (3, [27, 28, 29]), (30, None), (40, None)])
def test_top_layers_only(layers, expected):
    lora = LoraSettings(rank=4, alpha=8, dropout=0.0, target_modules=("q_proj",), load_in_4bit=False,
                        gradient_checkpointing=False, seed=0, cpu_dtype="float32", layers=layers)
    assert lora.layers_to_transform(30) == expected


def test_a_bf16_base_keeps_float32_adapters(tmp_path, tokenizer_dir):
    """`train.cpu_dtype: bfloat16` loads the frozen base in bf16; PEFT still makes the adapters float32,
    and `lora_layers` puts them on the top layers only."""
    import shutil

    import torch
    from peft import get_peft_model
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from slm_factory.training.backends import load_trl

    model_dir = tmp_path / "m"
    shutil.copytree(tokenizer_dir, model_dir)
    vocab = len(AutoTokenizer.from_pretrained(model_dir))
    LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                 num_attention_heads=2, num_key_value_heads=2)).save_pretrained(model_dir)
    lora = LoraSettings(rank=2, alpha=4, dropout=0.0, target_modules=("q_proj",), load_in_4bit=False,
                        gradient_checkpointing=False, seed=0, cpu_dtype="bfloat16", layers=1)
    model, _, config = load_trl(str(model_dir), lora)
    peft_model = get_peft_model(model, config)
    base = [p for n, p in peft_model.named_parameters() if "lora_" not in n]
    adapters = {n: p for n, p in peft_model.named_parameters() if "lora_" in n}
    assert all(p.dtype == torch.bfloat16 for p in base)
    assert adapters and all(p.dtype == torch.float32 for p in adapters.values())
    assert all(".layers.1." in n for n in adapters)  # the top layer only


def test_importing_the_backends_module_imports_no_training_library():
    code = ("import sys, slm_factory.training.backends, slm_factory.training.loop, slm_factory.training.launch;"
            "print([m for m in ('unsloth', 'torch', 'trl', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
