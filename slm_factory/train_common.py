"""What both training backends share: data shaping, step arithmetic, and the outputs they write."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

from .common import write_json, write_metrics
from .rows import Row


def prompt_completion(rows: list[Row]) -> list[dict]:
    """Conversational prompt/completion pairs: TRL puts the loss on the completion (assistant) only,
    and renders both with the tokenizer's own chat template, exactly as eval renders prompts."""
    return [{"prompt": r.prompt, "completion": [r.messages[-1].chat()]} for r in rows]


def world_size() -> int:
    """Processes training together (`accelerate launch` sets WORLD_SIZE; 1 for a plain run)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def total_steps(n_rows: int, batch_size: int, grad_accum: int, epochs: float, max_steps: int,
                processes: int = 1) -> int:
    """Optimizer steps; each one consumes batch_size * grad_accum rows on every process."""
    if max_steps and max_steps > 0:
        return max_steps
    return max(1, math.ceil(n_rows / (batch_size * grad_accum * processes)) * math.ceil(epochs))


def dev_rows(path: Path | None, params: dict) -> list[Row]:
    """The fixed dev subset scored during training (`train.eval_rows` first rows; none when
    `train.eval_every` is 0 or no dev file is given): a learning curve on held-out phrasings."""
    from .rows import read_rows

    cfg = params["train"]
    n, every = int(cfg.get("eval_rows", 0) or 0), int(cfg.get("eval_every", 0) or 0)
    if path is None or n <= 0 or every <= 0:
        return []
    return read_rows(path)[:n]


def write_dev_curve(log_history: list[dict], path: Path) -> None:
    """Dev loss and token accuracy at each evaluation during training (a DVC plot)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "dev_loss", "dev_token_accuracy"])
        for h in log_history:
            if "eval_loss" in h:
                acc = h.get("eval_mean_token_accuracy")
                w.writerow([h["step"], round(float(h["eval_loss"]), 5), "" if acc is None else round(float(acc), 4)])


def write_outputs(log_history: list[dict], loss_csv: Path, extra: dict) -> dict:
    """Loss curve as CSV (a DVC plot); returns the stage's figures (loss first and last, then `extra`)."""
    loss_csv.parent.mkdir(parents=True, exist_ok=True)
    points = [h for h in log_history if "loss" in h and "step" in h]
    with loss_csv.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "loss", "learning_rate"])
        for h in points:
            w.writerow([h["step"], round(float(h["loss"]), 5), h.get("learning_rate", "")])
    final = points[-1]["loss"] if points else None
    evals = [h for h in log_history if "eval_loss" in h]
    metrics = {"final_loss": round(float(final), 5) if final is not None else None,
               "first_loss": round(float(points[0]["loss"]), 5) if points else None,
               **({"final_dev_loss": round(float(evals[-1]["eval_loss"]), 5)} if evals else {}), **extra}
    return metrics


def padding_free(cfg: dict, cuda: bool) -> bool | None:
    """`train.padding_free`: true, false, or auto. Auto is on for CPU, where it trained the default
    data 1.25-1.40x faster at the same loss (bench/train_padding.py), and on CUDA leaves the choice to
    the backend (None): unsloth turns it on by itself, which was slower than padded on an image
    without flash-attention (docs/benchmarks.md); `false` keeps batches padded there."""
    value = cfg.get("padding_free", "auto")
    if value == "auto":
        return None if cuda else True
    if isinstance(value, bool):
        return value
    raise ValueError(f"train.padding_free must be true, false or auto, not {value!r}")


def sft_config(params: dict, out: Path, n_rows: int, cuda: bool, n_dev: int = 0, **overrides):
    """(SFTConfig, optimizer steps) both backends train with, built from params.yaml. With `n_dev` dev
    rows, the dev loss is measured every `train.eval_every` steps."""
    from trl import SFTConfig

    cfg = params["train"]
    # `train.max_steps` > 0 caps training; 0 or less means "train for `epochs`". The Trainer reads only
    # -1 that way: given 0 (transformers 5.23) it stopped after one step.
    cap = int(cfg.get("max_steps", -1))
    cap = cap if cap > 0 else -1
    steps = total_steps(n_rows, int(cfg["batch_size"]), int(cfg["grad_accum"]), float(params["epochs"]), cap,
                        world_size())
    kw = dict(
        # Nothing is saved from here (save_strategy "no"), but the Trainer wants a folder: a temporary
        # one, so the stage writes nothing it does not declare.
        output_dir=tempfile.mkdtemp(prefix="slm_factory_trainer_"),
        per_device_train_batch_size=int(cfg["batch_size"]),
        gradient_accumulation_steps=int(cfg["grad_accum"]),
        learning_rate=float(params["learning_rate"]),
        num_train_epochs=float(params["epochs"]),
        max_steps=cap,
        warmup_steps=int(float(cfg.get("warmup_ratio", 0.0)) * steps),
        lr_scheduler_type="cosine",
        logging_steps=max(1, steps // 50),
        save_strategy="no",
        report_to="none",
        seed=int(cfg["seed"]),
        data_seed=int(cfg["seed"]),
        bf16=cuda,
        max_length=int(cfg["max_seq_length"]),
        packing=bool(cfg.get("packing", False)),
        completion_only_loss=True,
        use_cpu=not cuda,
        disable_tqdm=True,
        # Recomputing activations saves memory a small model does not need, at ~30% more time.
        gradient_checkpointing=bool(cfg.get("gradient_checkpointing", False)),
        # LoRA leaves most weights frozen; DDP's search for unused parameters would only cost time.
        ddp_find_unused_parameters=False if world_size() > 1 else None,
    )
    if n_dev:
        kw.update(eval_strategy="steps", eval_steps=int(cfg["eval_every"]),
                  per_device_eval_batch_size=int(cfg["batch_size"]))
    # Batches of similar length waste less padding compute, but each batch then holds one kind of row.
    # (transformers >= 5.20 names this train_sampling_strategy; earlier releases, group_by_length.)
    grouped = bool(cfg.get("group_by_length", False))
    if "train_sampling_strategy" in {f.name for f in dataclasses.fields(SFTConfig)}:
        kw["train_sampling_strategy"] = "group_by_length" if grouped else "random"
    else:
        kw["group_by_length"] = grouped
    free = padding_free(cfg, cuda)
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


class TokenCounter:
    """Wraps a trainer's data collator to record, per collated batch and in order, the real tokens
    (attention mask; every token when a padding-free batch has no mask) and the padded batch size.
    Works the same for both backends (unsloth's trainer logs no `num_tokens`). Counts are this
    process's own; multiply by the process count under DDP."""

    def __init__(self, trainer):
        self.batches: list[tuple[int, int]] = []
        self._collate = trainer.data_collator
        trainer.data_collator = self

    def __call__(self, features):
        batch = self._collate(features)
        ids = batch["input_ids"]
        real = int(batch["attention_mask"].sum()) if "attention_mask" in batch else int(ids.numel())
        self.batches.append((real, int(ids.numel())))
        return batch

    def real(self, start: int = 0, stop: int | None = None) -> int:
        return sum(r for r, _ in self.batches[start:stop])

    def padded(self, start: int = 0, stop: int | None = None) -> int:
        return sum(p for _, p in self.batches[start:stop])


class NonFiniteError(RuntimeError):
    """Training produced a NaN or infinite loss or gradient norm."""


def stop_on_non_finite():
    """A TrainerCallback that ends training with a clear error at the first logged NaN/inf loss or
    gradient norm, instead of saving an adapter that learned garbage."""
    from transformers import TrainerCallback

    class StopOnNonFinite(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            for key in ("loss", "grad_norm"):
                value = (logs or {}).get(key)
                if value is not None and not math.isfinite(float(value)):
                    raise NonFiniteError(
                        f"train: {key} is {value} at step {state.global_step}; nothing was saved. Check the "
                        "base model's tokenizer (eos/pad) and lower learning_rate.")

    return StopOnNonFinite()


def score_completion_only() -> bool:
    """Make TRL's fused LM head score only the completion positions on the CPU too; True when it does.

    TRL (1.16) projects through the LM head only the positions that carry a label where Triton runs,
    but every position elsewhere, so that compilers such as Neuron's see one tile shape. Eager CPU
    training compiles nothing, and there the prompt positions (most of a tool-routing row) cost about
    a fifth of each step for logits whose loss is masked anyway: the same loss and gradients, 1.23x
    faster steps on the default data (measured: 68.3 s -> 55.5 s for 12 steps, same loss to 5 digits).
    The decision is `trl.trainer.utils._use_triton`; the kernels keep their own binding, so the
    torch tiles still run on the CPU. If TRL moves it, training goes on unchanged (and slower)."""
    try:
        import trl.trainer.utils as trl_utils
    except ImportError:  # pragma: no cover - TRL is a dependency of both backends
        return False
    original = getattr(trl_utils, "_use_triton", None)
    if original is None:
        return False
    if getattr(original, "_slm_factory_cpu_compact", False):
        return True

    def use_compact(device) -> bool:
        return device.type == "cpu" or original(device)

    use_compact._slm_factory_cpu_compact = True
    trl_utils._use_triton = use_compact
    return True


def train_and_finish(trainer, tok, a, backend: str, n_rows: int) -> dict:
    """Train (timed, tokens counted) and write the stage's outputs; what both backends do after setup.
    Refuses a tokenizer with broken special tokens, and stops at the first non-finite loss. The
    trainer's scratch folder (sft_config's temporary output_dir) is removed afterwards."""
    from .modeling import check_special_tokens

    check_special_tokens(tok, str(a.base_model))
    trainer.add_callback(stop_on_non_finite())
    score_completion_only()
    counter = TokenCounter(trainer)
    try:
        t0 = time.perf_counter()
        trainer.train()
    finally:
        shutil.rmtree(trainer.args.output_dir, ignore_errors=True)
    # Training time excludes the dev evaluations, so tokens/s stays comparable with and without them.
    seconds = time.perf_counter() - t0 - sum(h.get("eval_runtime", 0.0) for h in trainer.state.log_history)
    metrics = finish(trainer, tok, a, backend, seconds, n_rows, counter)
    if getattr(a, "dev_curve", None) and trainer.is_world_process_zero():
        write_dev_curve(trainer.state.log_history, a.dev_curve)
    return metrics


def stable_adapter_config(path: Path) -> None:
    """PEFT writes `target_modules` from a set, in the order of the process's string hash seed, so two
    trainings with the same weights wrote different files and every stage after train reran. Sorted,
    the same training writes the same bytes."""
    if not path.exists():
        return
    config = json.loads(path.read_text())
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


HEADLINE = ["final_loss", "final_dev_loss", "steps"]  # the declared metrics; the rest: --details


def finish(trainer, tok, a, backend: str, seconds: float, n_rows: int, counter: TokenCounter) -> dict:
    """Save the adapter and tokenizer, the loss curve, the figures and the timings (on the main process
    only when several train together; `num_tokens` in TRL's logs is already summed over processes).
    Timings go to their own file (`--timings`): no stage depends on it, so their noise reruns nothing."""
    from .modeling import save_tokenizer

    sharded = getattr(trainer, "is_fsdp_enabled", False)
    if sharded:  # FSDP: every process takes part in gathering the weights; the trainer writes on rank 0
        trainer.save_model(str(a.out))
    if not trainer.is_world_process_zero():
        return {}
    if sharded:
        (a.out / "training_args.bin").unlink(missing_ok=True)  # the trainer's pickle: not the adapter's
    else:
        trainer.model.save_pretrained(str(a.out))
    save_tokenizer(tok, a.out)
    stable_adapter_config(a.out / "adapter_config.json")
    # Only the batches optimizer steps consumed (the loader may have collated one more).
    used = trainer.state.global_step * trainer.args.gradient_accumulation_steps
    seen = counter.real(0, used) * world_size()
    figures = write_outputs(trainer.state.log_history, a.loss_csv, {
        "backend": backend, "steps": trainer.state.global_step, "train_rows": n_rows, "tokens_seen": seen,
        "trainable_params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "processes": world_size(),
    })
    write_metrics(a.metrics, a.details, figures, HEADLINE)
    if a.timings is not None:
        write_json(a.timings, {"train_seconds": round(seconds, 1),
                               "tokens_per_second": round(seen / seconds, 1) if seconds else None})
    return figures


def parse_args(doc: str, argv: list[str] | None):
    """The arguments every backend takes (the train stage passes them through unchanged)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True)
    ap.add_argument("--base-model", type=Path, required=True)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--loss-csv", type=Path, required=True)
    ap.add_argument("--metrics", type=Path, required=True, help="out: headline figures (DVC metrics)")
    ap.add_argument("--details", type=Path, help="out: every figure (no timings)")
    ap.add_argument("--timings", type=Path, help="out: train seconds and tokens/s (no stage depends on it)")
    ap.add_argument("--dev", type=Path, help="dev rows: the first train.eval_rows are scored every train.eval_every steps")
    ap.add_argument("--dev-curve", type=Path, help="CSV of dev loss/token accuracy during training")
    return ap.parse_args(argv)
