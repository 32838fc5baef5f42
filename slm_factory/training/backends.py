"""Model + LoRA setup for the two training backends, shared by the train stage and bench/train_throughput.py.

Both take the same LoRA settings (rank, alpha, dropout, target modules) and the same 4-bit recipe
(NF4, double quantisation, bf16 compute: what unsloth's `load_in_4bit` uses), so a benchmark that
calls these runs the very setup the train stage runs. Nothing here imports torch at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import Params


@dataclass(frozen=True)
class LoraSettings:
    rank: int
    alpha: int
    dropout: float
    target_modules: tuple[str, ...]
    load_in_4bit: bool
    gradient_checkpointing: bool
    seed: int
    cpu_dtype: str  # float32 | bfloat16: the CPU run's weights
    layers: int  # adapt only the top N decoder layers; 0: all

    @classmethod
    def from_params(cls, params: Params) -> "LoraSettings":
        """The train stage's LoRA settings (`lora_rank`, `lora_alpha`, `train:`)."""
        cfg = params.train
        return cls(rank=params.lora_rank, alpha=int(params.lora_alpha), dropout=cfg.lora_dropout,
                   target_modules=tuple(cfg.target_modules), load_in_4bit=cfg.load_in_4bit,
                   gradient_checkpointing=cfg.gradient_checkpointing, seed=cfg.seed, cpu_dtype=cfg.cpu_dtype,
                   layers=cfg.lora_layers)

    def layers_to_transform(self, num_layers: int) -> list[int] | None:
        """PEFT's `layers_to_transform` for a model of `num_layers` decoder layers: the top `layers`
        (None: all). Gradients then flow only through those layers, so the backward pass stops below
        them; the frozen layers underneath still run forward."""
        if not self.layers or self.layers >= num_layers:
            return None
        return list(range(num_layers - self.layers, num_layers))


def local_device() -> int:
    """This process's GPU under `accelerate launch` / torchrun (LOCAL_RANK), else 0."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def load_trl(base_model: str, lora: LoraSettings):
    """(model, tokenizer, peft LoraConfig) for TRL's SFTTrainer, which wraps the model itself.
    The frozen base is bf16 on CUDA and `lora.cpu_dtype` on CPU; PEFT keeps the adapters float32 either
    way. 4-bit needs CUDA (bitsandbytes). A bf16 base made a CPU step 1.34x faster on AMX (a whole
    run 1.10x) and scored a little worse, so float32 is the default: docs/quality.md."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(lora.seed)
    cuda = torch.cuda.is_available()
    tok = AutoTokenizer.from_pretrained(base_model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    kw: dict = {"dtype": torch.bfloat16 if cuda else getattr(torch, lora.cpu_dtype)}
    if cuda:
        kw["device_map"] = {"": local_device()}
    if lora.load_in_4bit:
        if not cuda:
            raise SystemExit("train.load_in_4bit needs CUDA (bitsandbytes); set it to false on CPU")
        from transformers import BitsAndBytesConfig

        kw["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(base_model, **kw)
    config = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=list(lora.target_modules), task_type="CAUSAL_LM", bias="none",
                        layers_to_transform=lora.layers_to_transform(model.config.num_hidden_layers))
    return model, tok, config


def keep_unsloth_padded() -> None:
    """unsloth turns padding-free on by itself unless this is set; it reads it on import, so call
    this before unsloth is imported (the train stage for `train.padding_free: false`, the benchmark)."""
    os.environ["UNSLOTH_DISABLE_AUTO_PADDING_FREE"] = "1"


def load_unsloth(base_model: str, lora: LoraSettings, max_seq_length: int):
    """(PEFT-wrapped model, tokenizer) from unsloth's FastLanguageModel. CUDA only; unsloth must be
    imported before transformers/trl, so callers import this module's function first thing."""
    import unsloth  # noqa: F401  (patches transformers, peft and trl on import)
    from unsloth import FastLanguageModel

    model, tok = FastLanguageModel.from_pretrained(
        model_name=base_model, max_seq_length=max_seq_length, dtype=None, load_in_4bit=lora.load_in_4bit)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = FastLanguageModel.get_peft_model(
        model, r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules), bias="none",
        layers_to_transform=lora.layers_to_transform(model.config.num_hidden_layers),
        use_gradient_checkpointing="unsloth" if lora.gradient_checkpointing else False,
        random_state=lora.seed)
    return model, tok
