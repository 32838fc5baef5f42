"""Benchmark: training tokens/s, step time and peak GPU memory, unsloth vs TRL+PEFT (not a test).

    python bench/train_throughput.py --tokenizer outputs/base_model --rows data/train.jsonl \
        --archs qwen3-0.6b llama-3.2-1b --ranks 16 64 --quant lora qlora --backends trl unsloth \
        --out bench_train.jsonl
    python bench/train_throughput.py ... --backends trl --gpus 1 2      # DDP scaling (accelerate launch)

The named baseline is TRL+PEFT (`trl`), measured in the same run. Fair by construction:
- one randomly initialised model per architecture (a real config, built here: throughput does not
  depend on weight values), saved once and loaded by both backends;
- both backends are set up by `slm_factory.training.backends` (what the train stage runs): same LoRA targets
  (all linear layers), rank, alpha = 2 x rank, dropout 0, same NF4 recipe for QLoRA;
- the same rows (the train split, shaped by the train stage's `prompt_completion`), the same
  SFTConfig (batch size, max length, seed, so the same batches in the same order), the same padding
  policy (`--policy padded`: both pad each batch to its longest row; `padding_free`: both flatten
  batches, which TRL only supports correctly with flash attention) and the same gradient
  checkpointing setting; `--policy unsloth-default` leaves unsloth's own choices (auto padding-free)
  against padded TRL, to show where a difference comes from;
- batches padded to a multiple of 64 (`--pad-multiple`) so few distinct shapes occur; an unrecorded
  priming run per model and process, and the first `--warmup` steps of every run (compilation,
  autotuning, allocator growth) are excluded: times are taken between step ends with the GPU
  synchronised; tokens are counted from each collated batch (real and padded), the same way for both
  backends, so equal `padded_tokens` shows both did the same work.

Each backend runs in its own process (unsloth patches transformers on import, so TRL must never share
a process with it); results are JSON lines in --out, and a table with unsloth/trl ratios is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Public configs of the real models (only the shapes matter); tiny-llama is for the CPU test.
ARCHS: dict[str, dict] = {
    "qwen3-0.6b": dict(
        model_type="qwen3", hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
        num_attention_heads=16, num_key_value_heads=8, head_dim=128, vocab_size=151936,
        max_position_embeddings=40960, rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
        hidden_act="silu", attention_bias=False),
    "llama-3.2-1b": dict(
        model_type="llama", hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
        num_attention_heads=32, num_key_value_heads=8, head_dim=64, vocab_size=128256,
        max_position_embeddings=131072, rope_theta=500_000.0, rms_norm_eps=1e-5, tie_word_embeddings=True,
        hidden_act="silu", rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
    "qwen2.5-1.5b": dict(
        model_type="qwen2", hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
        num_attention_heads=12, num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768,
        rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, hidden_act="silu"),
    "smollm2-135m": dict(
        model_type="llama", hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, head_dim=64, vocab_size=49152, max_position_embeddings=8192,
        rope_theta=100_000.0, rms_norm_eps=1e-5, tie_word_embeddings=True, hidden_act="silu"),
    "tiny-llama": dict(
        model_type="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, vocab_size=49152, max_position_embeddings=2048,
        tie_word_embeddings=True, hidden_act="silu"),
}
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def build_model_dir(arch: str, tokenizer_dir: str, out: Path, seed: int) -> Path:
    """A randomly initialised `arch` in bf16 with the given tokenizer, saved as a normal model folder."""
    if (out / "config.json").exists():
        return out
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    kw = dict(ARCHS[arch])
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    config = AutoConfig.for_model(kw.pop("model_type"), **kw, bos_token_id=tok.bos_token_id,
                                  eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def pair_ratios(results: list[dict]) -> list[dict]:
    """For every unsloth result, its ratios to the TRL result of the same architecture, rank,
    quantisation and GPU count (tokens/s: >1 means unsloth is faster; memory: <1 means it uses less)."""
    def key(r: dict) -> tuple:
        # TRL has no unsloth defaults to leave on: unsloth-default is set against padded TRL.
        policy = "padding_free" if r["policy"] == "padding_free" else "padded"
        return r["arch"], r["rank"], r["quant"], r["gpus"], r["gradient_checkpointing"], policy

    trl = {key(r): r for r in results if r["backend"] == "trl"}
    out = []
    for r in results:
        if r["backend"] != "unsloth":
            continue
        base = trl.get(key(r))
        if base is None or not base.get("step_time_s"):
            continue
        tps, btps = r.get("tokens_per_s"), base.get("tokens_per_s")
        out.append({**{k: r[k] for k in ("arch", "rank", "quant", "gpus", "policy", "gradient_checkpointing")},
                    "speed_ratio": round(tps / btps, 2) if tps and btps else round(base["step_time_s"] / r["step_time_s"], 2),
                    "memory_ratio": round(r["peak_mem_gib"] / base["peak_mem_gib"], 2)})
    return out


def scaling(results: list[dict]) -> list[dict]:
    """tokens/s on N GPUs over tokens/s on one, per backend, arch, rank and quantisation."""
    one = {(r["backend"], r["arch"], r["rank"], r["quant"], r["policy"]): r for r in results if r["gpus"] == 1}
    out = []
    for r in results:
        b = one.get((r["backend"], r["arch"], r["rank"], r["quant"], r["policy"]))
        if r["gpus"] > 1 and b and b.get("tokens_per_s") and r.get("tokens_per_s"):
            out.append({"backend": r["backend"], "arch": r["arch"], "rank": r["rank"], "quant": r["quant"],
                        "gpus": r["gpus"], "strategy": r.get("strategy", "ddp"), "speedup": round(r["tokens_per_s"] / b["tokens_per_s"], 2),
                        "efficiency": round(r["tokens_per_s"] / b["tokens_per_s"] / r["gpus"], 2)})
    return out


# ----------------------------------------------------------------------------- worker (one backend)

def run_one(backend: str, model_dir: str, rows_path: str, rank: int, quant: str, policy: str, grad_ckpt: bool,
            steps: int, warmup: int, batch_size: int, max_length: int, seed: int, pad_multiple: int) -> dict:
    import gc

    import torch
    from transformers import TrainerCallback

    from slm_factory.training.backends import LoraSettings, load_trl, load_unsloth
    from slm_factory.rows import read_rows
    from slm_factory.training.data import prompt_completion
    from slm_factory.training.outputs import TokenCounter
    from slm_factory.training.steps import sft_config, world_size

    cuda = torch.cuda.is_available()
    lora = LoraSettings(rank=rank, alpha=2 * rank, dropout=0.0, target_modules=TARGETS,
                        load_in_4bit=quant == "qlora", gradient_checkpointing=grad_ckpt, seed=seed,
                        cpu_dtype="float32", layers=0)
    if cuda:
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    if backend == "unsloth":
        model, tok = load_unsloth(model_dir, lora, max_length)
        peft_config = None
    else:
        model, tok, peft_config = load_trl(model_dir, lora)
    from datasets import Dataset
    from trl import SFTTrainer

    rows = read_rows(rows_path)
    need = steps * batch_size * world_size()
    data = prompt_completion((rows * (need // max(1, len(rows)) + 1))[:need])
    from slm_factory.config import changed, load

    shipped = load(ROOT / "params.yaml", ("learning_rate", "epochs", "train"))
    train = changed(shipped.train, batch_size=batch_size, grad_accum=1, max_steps=steps, max_seq_length=max_length,
                    seed=seed, gradient_checkpointing=grad_ckpt, warmup_ratio=0.0, packing=False,
                    group_by_length=False, eval_every=0,
                    # unsloth-default: on CUDA, "auto" leaves padding-free to the backend
                    padding_free="auto" if policy == "unsloth-default" else policy == "padding_free")
    params = shipped.model_copy(update={"learning_rate": 1e-4, "epochs": 1.0, "train": train})
    overrides = {"logging_steps": 1, "pad_to_multiple_of": pad_multiple or None}
    if grad_ckpt and backend == "trl":
        overrides["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    args, _ = sft_config(params, Path(f"/tmp/bench_train_{os.getpid()}/adapter"), len(data), cuda, **overrides)

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.ends: list[float] = []

        def on_step_end(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            self.ends.append(time.perf_counter())

    timer = StepTimer()
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(data), processing_class=tok,
                         peft_config=peft_config, callbacks=[timer])
    counter = TokenCounter(trainer)  # real and padded tokens per batch, the same way for both backends
    trainer.train()
    timed = len(timer.ends) - warmup
    seconds = timer.ends[-1] - timer.ends[warmup - 1]
    local = counter.real(warmup, steps)  # the batches of the timed steps (one per step, grad_accum 1)
    tokens_at = {int(h["step"]): int(h["num_tokens"]) for h in trainer.state.log_history
                 if "num_tokens" in h and "step" in h}
    trl_tokens = (tokens_at[steps] - tokens_at[warmup]) if steps in tokens_at and warmup in tokens_at else None
    # Under DDP each process counts its own batches; TRL's count is already summed over processes.
    tokens = trl_tokens if world_size() > 1 and trl_tokens else local * world_size()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    result = {
        "backend": backend, "arch": Path(model_dir).name, "rank": rank, "quant": quant, "policy": policy,
        "gradient_checkpointing": grad_ckpt, "gpus": world_size(), "batch_size_per_gpu": batch_size,
        "max_length": max_length, "timed_steps": timed, "step_time_s": round(seconds / timed, 4),
        "tokens": tokens, "tokens_per_s": round(tokens / seconds, 1) if tokens else None,
        "padded_tokens": counter.padded(warmup, steps) * world_size(), "trl_logged_tokens": trl_tokens,
        "pad_multiple": pad_multiple,
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None,
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 3) if cuda else None,
        "padding_free_used": bool(getattr(trainer.args, "padding_free", False)),
        "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
    }
    del trainer, model
    return result


def worker(a) -> None:
    if a.policy == "padded" and a.backend == "unsloth":
        from slm_factory.training.backends import keep_unsloth_padded

        keep_unsloth_padded()
    if a.backend == "unsloth":
        import unsloth  # noqa: F401  (before transformers, as unsloth requires)
    import importlib.metadata as md

    import torch

    versions = {}
    for name in ("torch", "transformers", "trl", "peft", "unsloth", "bitsandbytes", "accelerate"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu ({platform.machine()})"
    main_proc = int(os.environ.get("RANK", "0")) == 0
    for model_dir in a.model_dirs:
        if a.prime:
            # A short unrecorded run first: the first run of a model in a process pays one-off costs
            # (kernel selection and compilation for each new shape) that 10 warm-up steps do not cover.
            try:
                run_one(a.backend, model_dir, a.rows, a.ranks[0], a.quant[0], a.policy, a.grad_ckpt, a.steps,
                        a.warmup, a.batch_size, a.max_length, a.seed, a.pad_multiple)
            except Exception as e:
                print(f"priming run failed: {e}", file=sys.stderr)
        for quant in a.quant:
            for rank in a.ranks:
                try:
                    r = run_one(a.backend, model_dir, a.rows, rank, quant, a.policy, a.grad_ckpt, a.steps,
                                a.warmup, a.batch_size, a.max_length, a.seed, a.pad_multiple)
                except Exception as e:  # one failing configuration must not lose the others' figures
                    r = {"backend": a.backend, "arch": Path(model_dir).name, "rank": rank, "quant": quant,
                         "policy": a.policy, "gpus": int(os.environ.get("WORLD_SIZE", "1")),
                         "error": f"{type(e).__name__}: {e}"[:500]}
                r.update(device=device, versions=versions, strategy=os.environ.get("BENCH_STRATEGY", "single"))
                if main_proc:
                    with open(a.out, "a") as f:
                        f.write(json.dumps(r) + "\n")
                    print(json.dumps(r), file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- driver

def table(results: list[dict]) -> str:
    lines = ["| backend | arch | quant | rank | policy | gc | gpus | step s | tokens/s | peak GiB |",
             "|---|---|---|---:|---|---|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['backend']} | {r['arch']} | {r['quant']} | {r['rank']} | {r['policy']} | | "
                         f"{r['gpus']} {r.get('strategy', '')} | error: {r['error'][:80]} | | |")
            continue
        lines.append(f"| {r['backend']} | {r['arch']} | {r['quant']} | {r['rank']} | {r['policy']} | "
                     f"{'on' if r['gradient_checkpointing'] else 'off'} | {r['gpus']} {r.get('strategy', '')} | {r['step_time_s']} | "
                     f"{r['tokens_per_s']} | {r['peak_mem_gib']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backend", help=argparse.SUPPRESS)
    ap.add_argument("--model-dirs", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--tokenizer", default=str(ROOT / "outputs/base_model"))
    ap.add_argument("--rows", default=str(ROOT / "data/train.jsonl"))
    ap.add_argument("--archs", nargs="+", default=["qwen3-0.6b", "llama-3.2-1b"], choices=sorted(ARCHS))
    ap.add_argument("--ranks", nargs="+", type=int, default=[16, 64])
    ap.add_argument("--quant", nargs="+", default=["lora", "qlora"], choices=["lora", "qlora"])
    ap.add_argument("--backends", nargs="+", default=["trl", "unsloth"], choices=["trl", "unsloth"])
    ap.add_argument("--policy", default="padded", choices=["padded", "padding_free", "unsloth-default"])
    ap.add_argument("--grad-ckpt", action="store_true", help="gradient checkpointing on (both backends)")
    ap.add_argument("--gpus", nargs="+", type=int, default=[1], help="processes (GPUs) per run; >1 uses accelerate")
    ap.add_argument("--accelerate-config", help="for runs on >1 GPU: an accelerate config file (configs/accelerate/"
                    "zero2.yaml, fsdp.yaml) instead of plain DDP")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pad-multiple", type=int, default=64, help="pad batches to a multiple of this (0: longest row)")
    ap.add_argument("--no-prime", dest="prime", action="store_false", help="skip the unrecorded first run per model")
    ap.add_argument("--workdir", default="/tmp/bench_models")
    ap.add_argument("--out", default="bench_train.jsonl")
    ap.add_argument("--build-only", action="store_true", help="only save the random models; print their folders")
    a = ap.parse_args()
    if a.warmup < 1 or a.steps <= a.warmup:
        ap.error("need 1 <= --warmup < --steps")
    if a.worker:
        return worker(a)

    dirs = [str(build_model_dir(arch, a.tokenizer, Path(a.workdir) / arch, a.seed)) for arch in a.archs]
    if a.build_only:
        print("\n".join(dirs))
        return
    start = sum(1 for _ in open(a.out)) if Path(a.out).exists() else 0
    common = ["--rows", a.rows, "--ranks", *map(str, a.ranks), "--quant", *a.quant, "--policy", a.policy,
              "--steps", str(a.steps), "--warmup", str(a.warmup), "--batch-size", str(a.batch_size),
              "--max-length", str(a.max_length), "--seed", str(a.seed), "--out", a.out, "--model-dirs", *dirs,
              "--pad-multiple", str(a.pad_multiple)]
    if a.grad_ckpt:
        common.append("--grad-ckpt")
    if not a.prime:
        common.append("--no-prime")
    for gpus in a.gpus:
        for backend in a.backends:
            launcher = [sys.executable]
            strategy = "single"
            if gpus > 1:
                launcher += ["-m", "accelerate.commands.launch", "--num_processes", str(gpus)]
                launcher += ["--config_file", a.accelerate_config] if a.accelerate_config else ["--multi_gpu"]
                strategy = Path(a.accelerate_config).stem if a.accelerate_config else "ddp"
            cmd = [*launcher, __file__, "--worker", "--backend", backend, *common]
            print(f"== {backend} on {gpus} GPU(s), {strategy}", file=sys.stderr, flush=True)
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
                   "BENCH_STRATEGY": strategy}
            if gpus == 1 and "CUDA_VISIBLE_DEVICES" not in env:
                env["CUDA_VISIBLE_DEVICES"] = "0"  # else HF Trainer uses nn.DataParallel, which SFTTrainer refuses
            rc = subprocess.call(cmd, env=env)
            if rc:
                print(f"   worker exited {rc}", file=sys.stderr)
    results = [json.loads(x) for x in open(a.out).read().splitlines()[start:]] if Path(a.out).exists() else []
    ok = [r for r in results if "error" not in r]
    print(table(results))
    for p in pair_ratios(ok):
        print(f"unsloth/trl {p['arch']} {p['quant']} r{p['rank']} {p['policy']}: tokens/s x{p['speed_ratio']}, "
              f"peak memory x{p['memory_ratio']}")
    for s in scaling(ok):
        print(f"scaling {s['backend']} {s['arch']} {s['quant']} r{s['rank']}: {s['gpus']} GPUs ({s['strategy']}) = x{s['speedup']} "
              f"one GPU's tokens/s (efficiency {s['efficiency']})")


if __name__ == "__main__":
    main()
