"""Step maths and the SFTConfig both backends train with, built from params.yaml."""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from pathlib import Path
from typing import Literal

from ..config import Params


def world_size() -> int:
    """Processes training together (`accelerate launch` sets WORLD_SIZE; 1 for a plain run)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def total_steps(n_rows: int, batch_size: int, grad_accum: int, epochs: float, max_steps: int,
                processes: int = 1) -> int:
    """Optimizer steps; each one consumes batch_size * grad_accum rows on every process."""
    if max_steps and max_steps > 0:
        return max_steps
    return max(1, math.ceil(n_rows / (batch_size * grad_accum * processes)) * math.ceil(epochs))


def padding_free(value: bool | Literal["auto"], cuda: bool) -> bool | None:
    """`train.padding_free`: true, false, or auto. Auto is on for CPU, where it trained the default
    data 1.25-1.40x faster at the same loss (bench/train_padding.py), and on CUDA leaves the choice to
    the backend (None): unsloth turns it on by itself, which was slower than padded on an image
    without flash-attention (docs/benchmarks.md); `false` keeps batches padded there."""
    if value == "auto":
        return None if cuda else True
    return value


def sft_config(params: Params, out: Path, n_rows: int, cuda: bool, n_dev: int = 0, **overrides):
    """(SFTConfig, optimizer steps) both backends train with, built from params.yaml. With `n_dev` dev
    rows, the dev loss is measured every `train.eval_every` steps."""
    from trl import SFTConfig

    cfg = params.train
    # `train.max_steps` > 0 caps training; 0 or less means "train for `epochs`". The Trainer reads only
    # -1 that way: given 0 (transformers 5.23) it stopped after one step.
    cap = cfg.max_steps if cfg.max_steps > 0 else -1
    steps = total_steps(n_rows, cfg.batch_size, cfg.grad_accum, params.epochs, cap, world_size())
    kw = dict(
        # Nothing is saved from here (save_strategy "no"), but the Trainer wants a folder: a temporary
        # one, so the stage writes nothing it does not declare.
        output_dir=tempfile.mkdtemp(prefix="slm_factory_trainer_"),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=params.learning_rate,
        num_train_epochs=params.epochs,
        max_steps=cap,
        warmup_steps=int(cfg.warmup_ratio * steps),
        lr_scheduler_type="cosine",
        logging_steps=max(1, steps // 50),
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=cuda,
        max_length=cfg.max_seq_length,
        packing=cfg.packing,
        completion_only_loss=True,
        use_cpu=not cuda,
        disable_tqdm=True,
        # Recomputing activations saves memory a small model does not need, at ~30% more time.
        gradient_checkpointing=cfg.gradient_checkpointing,
        # LoRA leaves most weights frozen; DDP's search for unused parameters would only cost time.
        ddp_find_unused_parameters=False if world_size() > 1 else None,
    )
    if n_dev:
        kw.update(eval_strategy="steps", eval_steps=cfg.eval_every, per_device_eval_batch_size=cfg.batch_size)
    # Batches of similar length waste less padding compute, but each batch then holds one kind of row.
    # (transformers >= 5.20 names this train_sampling_strategy; earlier releases, group_by_length.)
    grouped = cfg.group_by_length
    if "train_sampling_strategy" in {f.name for f in dataclasses.fields(SFTConfig)}:
        kw["train_sampling_strategy"] = "group_by_length" if grouped else "random"
    else:
        kw["group_by_length"] = grouped
    free = padding_free(cfg.padding_free, cuda)
    if free is not None and not kw["packing"]:
        # Padding-free: each batch is one flat sequence with position_ids; attention stays within each
        # row (SDPA's packed-sequence mask, or flash-attention). The rows are those of the padded run,
        # in the same order, so only the padding compute goes. TRL does not truncate padding-free rows;
        # validate's length gate has already rejected every row over max_seq_length.
        kw["padding_free"] = free
        if free:
            kw["max_length"] = None
    kw.update(overrides)
    return SFTConfig(**kw), steps
