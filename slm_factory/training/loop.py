"""The training run both backends share once their model is set up: guards, the timed loop, its
outputs, and the arguments every backend takes."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

from .outputs import TokenCounter, finish, write_dev_curve


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
    from ..modeling import check_special_tokens

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


def parse_args(doc: str, argv: list[str] | None):
    """The arguments every backend takes (the train stage passes them through unchanged)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--params", type=Path, required=True, help="params.yaml (the train stage's keys)")
    ap.add_argument("--base-model", type=Path, required=True, help="the prepared base model folder")
    ap.add_argument("--train", type=Path, required=True, help="training rows (JSONL)")
    ap.add_argument("--out", type=Path, required=True, help="out: the adapter folder")
    ap.add_argument("--loss-csv", type=Path, required=True, help="out: training loss per step (CSV)")
    ap.add_argument("--metrics", type=Path, required=True, help="out: headline figures (DVC metrics)")
    ap.add_argument("--details", type=Path, help="out: every figure (no timings)")
    ap.add_argument("--timings", type=Path, help="out: train seconds and tokens/s (no stage depends on it)")
    ap.add_argument("--dev", type=Path,
                    help="dev rows: the first train.eval_rows are scored every train.eval_every steps")
    ap.add_argument("--dev-curve", type=Path, help="CSV of dev loss/token accuracy during training")
    return ap.parse_args(argv)
