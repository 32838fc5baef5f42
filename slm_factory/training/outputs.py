"""What a training run leaves: the adapter and tokenizer, the loss and dev curves, figures and timings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..common import write_json, write_metrics
from .steps import world_size


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
    from ..modeling import save_tokenizer

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
